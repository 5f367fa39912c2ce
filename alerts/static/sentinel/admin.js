// Sentinel's admin: SQL highlighting, Test query, Backtest, the schedule preview as you type,
// the silence form, and a warning before editing an alert that comes from a file.
"use strict";
(function () {
  const KEYWORDS = new Set(("select from where and or not in is null as case when then else end group by order having " +
    "limit offset join left right inner outer full cross on with union all distinct count sum avg min max " +
    "coalesce cast interval now current_timestamp true false like ilike between exists desc asc over partition " +
    "filter extract date_trunc").split(" "));

  function escapeHtml(text) {
    return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
  }

  function highlight(sql) {
    const token = /(--[^\n]*|\/\*[\s\S]*?\*\/)|('(?:[^']|'')*'?)|(\b\d+(?:\.\d+)?\b)|([A-Za-z_][A-Za-z0-9_]*)|([\s\S])/g;
    let out = "", m;
    while ((m = token.exec(sql)) !== null) {
      if (m[1]) out += '<span class="sn-com">' + escapeHtml(m[1]) + "</span>";
      else if (m[2]) out += '<span class="sn-str">' + escapeHtml(m[2]) + "</span>";
      else if (m[3]) out += '<span class="sn-num">' + m[3] + "</span>";
      else if (m[4]) out += KEYWORDS.has(m[4].toLowerCase()) ? '<span class="sn-kw">' + m[4] + "</span>" : m[4];
      else out += escapeHtml(m[5]);
    }
    return out + "\n";
  }

  function sqlEditor(textarea) {
    const wrap = document.createElement("div");
    wrap.className = "sn-editor";
    const pre = document.createElement("pre");
    pre.setAttribute("aria-hidden", "true");
    textarea.parentNode.insertBefore(wrap, textarea);
    wrap.appendChild(pre);
    wrap.appendChild(textarea);
    const paint = () => { pre.innerHTML = highlight(textarea.value); pre.scrollTop = textarea.scrollTop; };
    textarea.addEventListener("input", paint);
    textarea.addEventListener("scroll", () => { pre.scrollTop = textarea.scrollTop; });
    textarea.addEventListener("keydown", (e) => {
      if (e.key === "Tab" && !e.shiftKey && !e.ctrlKey && !e.altKey) {
        e.preventDefault();
        textarea.setRangeText("    ", textarea.selectionStart, textarea.selectionEnd, "end");
        paint();
      }
    });
    paint();
    return wrap;
  }

  function testQueryButton(config, editorWrap, form) {
    const button = document.createElement("button");
    button.type = "button";
    button.className = "sn-button sn-primary";
    button.id = "sn-test-query";
    button.textContent = "Test query";
    const result = document.createElement("div");
    result.id = "sn-dry-run";
    result.setAttribute("aria-live", "polite");
    // Optional: rerun a past tick (binds its :tick and window). No name: a save never sends it.
    const tick = document.createElement("input");
    tick.type = "text";
    tick.id = "sn-test-tick";
    tick.placeholder = "at tick (UTC), e.g. 2026-12-01T10:05Z";
    tick.setAttribute("aria-label", "Tick to rerun (UTC, optional; empty: now)");
    const bar = document.createElement("div");
    bar.className = "sn-query-tools";
    bar.appendChild(button);
    bar.appendChild(tick);
    bar.appendChild(result);
    // Below the field (not beside it): the admin lays label and widget out in a row.
    const row = editorWrap.closest(".form-row") || editorWrap.parentNode;
    row.appendChild(bar);
    if (config.dataset.backtestUrl) backtestButton(config, bar, form);
    button.addEventListener("click", async () => {
      button.disabled = true;
      button.textContent = "Running…";
      try {
        const body = new FormData(form);
        body.append("sn_tick", tick.value);
        const response = await fetch(config.dataset.testQueryUrl, {method: "POST", body: body,
          credentials: "same-origin", headers: {"X-Requested-With": "fetch"}});
        result.innerHTML = await response.text();
      } catch (err) {
        result.textContent = "Test query failed to reach the server: " + err;
      } finally {
        button.disabled = false;
        button.textContent = "Test query";
      }
    });
  }

  // Backtest: start one of the form as it stands (not saved), then follow it until it ends.
  function backtestButton(config, bar, form) {
    const button = document.createElement("button");
    button.type = "button";
    button.className = "sn-button";
    button.id = "sn-backtest";
    button.textContent = "Backtest";
    const since = document.createElement("input");
    since.type = "text";
    since.id = "sn-backtest-since";
    since.size = 6;
    since.value = "24h";
    since.setAttribute("aria-label", "Backtest over the last (e.g. 24h, 7d)");
    const result = document.createElement("div");
    result.id = "sn-backtest-result";
    result.setAttribute("aria-live", "polite");
    bar.insertBefore(since, bar.querySelector("#sn-dry-run"));
    bar.insertBefore(button, since);
    bar.appendChild(result);
    const csrf = () => (form.querySelector("[name=csrfmiddlewaretoken]") || {}).value || "";
    const follow = async () => {
      // Poll with an end: a backtest is bounded (SENTINEL_BACKTEST_MAX_SECONDS), so is this.
      for (let i = 0; i < 3600; i++) {
        const live = result.querySelector("[data-backtest-status-url]");
        if (!live) return;
        await new Promise((done) => setTimeout(done, 1000));
        const response = await fetch(live.dataset.backtestStatusUrl, {credentials: "same-origin"});
        result.innerHTML = await response.text();
      }
    };
    result.addEventListener("click", async (e) => {
      const url = e.target.dataset && e.target.dataset.backtestCancelUrl;
      if (!url) return;
      e.target.disabled = true;
      const response = await fetch(url, {method: "POST", credentials: "same-origin", headers: {"X-CSRFToken": csrf()}});
      result.innerHTML = await response.text();
    });
    button.addEventListener("click", async () => {
      button.disabled = true;
      try {
        const body = new FormData(form);
        body.append("sn_backtest_since", since.value);
        const response = await fetch(config.dataset.backtestUrl, {method: "POST", body: body,
          credentials: "same-origin", headers: {"X-Requested-With": "fetch"}});
        result.innerHTML = await response.text();
        await follow();
      } catch (err) {
        result.textContent = "Backtest failed to reach the server: " + err;
      } finally {
        button.disabled = false;
      }
    });
  }

  function schedulePreview(config, textInput, tzInput) {
    const box = document.createElement("div");
    box.className = "sn-schedule-preview";
    box.id = "sn-schedule-preview";
    box.setAttribute("aria-live", "polite");
    (tzInput.closest(".form-row") || tzInput.parentNode).appendChild(box);
    let timer = null, asked = 0;
    const refresh = async () => {
      const text = textInput.value.trim();
      if (!text) { box.textContent = "No schedule: the alert runs only when run by hand."; return; }
      const ticket = ++asked;
      const url = config.dataset.previewUrl + "?" + new URLSearchParams({text: text, timezone: tzInput.value.trim() || "UTC"});
      try {
        const response = await fetch(url, {credentials: "same-origin"});
        const data = await response.json();
        if (ticket !== asked) return;  // a newer keystroke already asked
        if (data.error) { box.innerHTML = '<span class="sn-bad"></span>'; box.firstChild.textContent = data.error; return; }
        const rows = data.runs.map((r) => "<tr><td>" + escapeHtml(r.local) + "</td><td class='sn-muted'>" + escapeHtml(r.utc) + "</td></tr>");
        box.innerHTML = "<b>Next five runs</b> (" + escapeHtml(data.timezone) + " · UTC)<table>" + rows.join("") + "</table>";
      } catch (err) {
        box.textContent = "Preview unavailable: " + err;
      }
    };
    const later = () => { clearTimeout(timer); timer = setTimeout(refresh, 250); };
    textInput.addEventListener("input", later);
    tzInput.addEventListener("input", later);
    // A saved schedule's runs are already on the page; the preview is for what is being typed.
  }

  function silenceForm() {
    const choice = document.getElementById("sn-silence-duration");
    const until = document.getElementById("sn-silence-until");
    if (!choice || !until) return;
    const sync = () => { until.hidden = choice.value !== "until"; until.required = choice.value === "until"; };
    choice.addEventListener("change", sync);
    sync();
  }

  function sourceFileWarning(form) {
    const note = document.getElementById("sn-source-file");
    if (!note || !form) return;
    form.addEventListener("submit", (e) => {
      const ok = window.confirm("This alert comes from " + note.dataset.sourceFile +
        ". The next `sentinel apply` of that file overwrites this edit. Save anyway?");
      if (!ok) e.preventDefault();
    });
  }

  document.addEventListener("DOMContentLoaded", () => {
    const config = document.getElementById("sn-config");
    const form = document.querySelector("form[id$='_form']");
    document.querySelectorAll("textarea[data-sql-editor]").forEach((textarea) => {
      const wrap = sqlEditor(textarea);
      if (config && config.dataset.testQueryUrl && form) testQueryButton(config, wrap, form);
    });
    const textInput = document.querySelector("[data-schedule-text]");
    const tzInput = document.querySelector("[data-schedule-tz]");
    if (config && config.dataset.previewUrl && textInput && tzInput) schedulePreview(config, textInput, tzInput);
    silenceForm();
    sourceFileWarning(form);
  });
})();
