// The channel form: choosing a kind fills the settings box with that kind's template
// (only while the box is empty or still holds an untouched template, so typing is never
// lost) and shows the list of that kind's settings.
(function () {
  "use strict";

  function same(text, value) {
    try {
      return JSON.stringify(JSON.parse(text)) === JSON.stringify(value);
    } catch (e) {
      return false;
    }
  }

  document.addEventListener("DOMContentLoaded", () => {
    const kind = document.getElementById("id_kind");
    const config = document.getElementById("id_config");
    if (!kind || !config || !config.dataset.channelTemplates) return;
    const templates = JSON.parse(config.dataset.channelTemplates);
    const untouched = () => {
      const text = config.value.trim();
      return text === "" || same(text, {}) || Object.values(templates).some((t) => same(text, t));
    };
    const showHelp = () => {
      document.querySelectorAll("[data-kind-help]").forEach((block) => {
        block.hidden = Boolean(kind.value) && block.dataset.kindHelp !== kind.value;
      });
    };
    kind.addEventListener("change", () => {
      if (kind.value in templates && untouched()) {
        config.value = JSON.stringify(templates[kind.value], null, 2);
      }
      showHelp();
    });
    showHelp();
  });
})();
