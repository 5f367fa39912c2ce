"""What the admin's buttons do: run now, enable, disable, silence, unsilence,
test query, test connection, test a channel. Each says what it did (a message)
and is written to the admin log."""

import time
from datetime import datetime, timedelta
from datetime import timezone as dt_timezone
from types import SimpleNamespace

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.views.decorators.http import require_POST

from .. import backtest, runner, ticks
from ..models import Alert, Backtest, Channel, Datasource, ExecutionStatus, SilenceError, Trigger
from ..notifiers import NotifierError, send_test
from ..querying import QueryError, run_draft_query, run_query
from .display import history_chart, short_value

SILENCE_HOURS = (1, 4, 24)


def _change_url(obj) -> str:
    return reverse(f"admin:{obj._meta.app_label}_{obj._meta.model_name}_change", args=[obj.pk])


def _back(request, obj) -> HttpResponseRedirect:
    """Back where the button was pressed (the list or the page), never off-site."""
    target = request.POST.get("next", "")
    if not target.startswith("/admin/"):
        target = _change_url(obj)
    return HttpResponseRedirect(target)


def _require_change(model_admin, request, obj=None):
    if not model_admin.has_change_permission(request, obj):
        raise PermissionDenied


# --- alerts -------------------------------------------------------------------


def run_now(alert: Alert) -> tuple[int, str]:
    """Run the alert for the current moment, as the CLI does; (message level, what happened)."""
    execution = runner.run(alert, timezone.now(), Trigger.MANUAL)
    if execution is None:
        return messages.WARNING, f"{alert.name}: another run of this moment is in progress; nothing was started."
    said = f"Ran {alert.name}: {execution.status}"
    if execution.actual_value is not None:
        said += f", value {short_value(execution.actual_value)}"
        if execution.threshold is not None:
            said += f" (threshold {short_value(execution.threshold)})"
    if execution.state_before != execution.state_after and execution.state_after:
        said += f", state {execution.state_before} → {execution.state_after}"
    sent = execution.notifications.count()
    if sent:
        said += f", {sent} notification{'s' if sent != 1 else ''}"
    said += f" (execution {execution.pk}, {execution.duration_ms or 0:.0f} ms)."
    binding = ticks.binding_if_used(alert, execution.scheduled_for)  # what the run bound: the same rows decide
    if binding:
        said += f" {binding.describe('now')}."
    if execution.error or execution.reason:
        said += f" {execution.error or execution.reason}"
    bad = execution.status in (ExecutionStatus.ERROR, ExecutionStatus.TIMEOUT)
    return (messages.ERROR if bad else messages.SUCCESS), said


def set_enabled(alert: Alert, enabled: bool, who: str) -> str:
    alert.set_enabled(enabled, by=who)
    return f"{alert.name} {'enabled: it runs on its schedule again' if enabled else 'disabled: it will not run until enabled'}."


def silence(alert: Alert, until: datetime, reason: str, who: str) -> str:
    alert.silence(until, reason, by=who)
    return (f"{alert.name} silenced until {alert.silenced_until:%Y-%m-%d %H:%M:%S} UTC ({alert.silence_reason}); "
            f"it keeps running and recording, messages resume when the silence ends.")


def unsilence(alert: Alert, who: str) -> str:
    was = alert.unsilence(by=who)
    return f"{alert.name} unsilenced: messages go out again." if was else f"{alert.name} was not silenced."


def read_silence(post) -> tuple[datetime | None, str, str]:
    """(until, reason, problem) from the silence form: 1/4/24 hours or 'until' a time (UTC)."""
    reason = " ".join(post.get("reason", "").split())[:500]
    choice = post.get("duration", "")
    if not reason:
        return None, reason, "Say why you silence it (a reason is required): the next on-call reads it."
    now = timezone.now()
    if choice == "until":
        text = post.get("until", "").strip()
        until = parse_datetime(text.replace("T", " ")) if text else None
        if until is None:
            return None, reason, f"Cannot read the end of the silence {text!r}: use YYYY-MM-DD HH:MM (UTC)."
        if timezone.is_naive(until):
            until = timezone.make_aware(until, timezone.get_fixed_timezone(0))
        if until <= now:
            return None, reason, f"The silence would end at {until:%Y-%m-%d %H:%M} UTC, which has passed."
        return until, reason, ""
    try:
        hours = int(choice.rstrip("h"))
    except ValueError:
        hours = 0
    if hours not in SILENCE_HOURS:
        return None, reason, f"Choose 1 h, 4 h, 24 h or a time to silence until (got {choice!r})."
    return now + timedelta(hours=hours), reason, ""


def who(request) -> str:
    return f"admin:{request.user.get_username()}"


def alert_action_view(model_admin, action: str):
    @require_POST
    def view(request, object_id):
        alert = get_object_or_404(Alert.objects.select_related("datasource", "schedule"), pk=object_id)
        _require_change(model_admin, request, alert)
        if action == "run":
            level, said = run_now(alert)
        elif action in ("enable", "disable"):
            level, said = messages.SUCCESS, set_enabled(alert, action == "enable", who(request))
        elif action == "unsilence":
            level, said = messages.SUCCESS, unsilence(alert, who(request))
        else:  # silence
            until, reason, problem = read_silence(request.POST)
            if problem:
                messages.error(request, f"{alert.name} was not silenced: {problem}")
                return _back(request, alert)
            try:
                level, said = messages.SUCCESS, silence(alert, until, reason, who(request))
            except SilenceError as exc:
                messages.error(request, f"{alert.name} was not silenced: {exc}")
                return _back(request, alert)
        model_admin.log_change(request, alert, said)
        messages.add_message(request, level, said)
        return _back(request, alert)

    return view


def test_query_view(model_admin):
    """POST the alert form: run it as a dry run (nothing saved, no state changed) and
    return an HTML fragment with the rows and the evaluated outcome."""

    @require_POST
    def view(request, object_id=None):
        instance = None
        if object_id is not None:
            instance = get_object_or_404(Alert, pk=object_id)
            if not model_admin.has_change_permission(request, instance):
                raise PermissionDenied
        elif not model_admin.has_add_permission(request):
            raise PermissionDenied
        form_class = model_admin.get_form(request, instance, change=instance is not None)
        form = form_class(request.POST, instance=instance)
        form.is_valid()
        needed = ["datasource", "query", "mode", "value_column", "operator", "threshold", "key_columns",
                  "pending_evaluations", "on_no_data", "on_error"]
        problems = {name: form.errors[name] for name in needed if name in form.errors}
        tick = None
        if request.POST.get("sn_tick", "").strip():  # a rerun of a past tick (docs/writing-alerts.md)
            try:
                tick = ticks.past_tick(request.POST["sn_tick"], timezone.now())
            except ticks.BadTick as exc:
                problems["tick"] = [str(exc)]
        context = {**model_admin.admin_site.each_context(request), "problems": problems, "dry": None}
        if not problems:
            alert = form.unsaved_alert()
            started = time.monotonic()
            dry = runner.run(alert, tick or timezone.now(), Trigger.MANUAL, dry_run=True)
            context.update(dry=dry, alert=alert, took_ms=(time.monotonic() - started) * 1000,
                           bound=dry.binding.describe("rerun of a past tick" if tick else "now") if dry.binding else "",
                           moves=[(key, moved.state.state, [n for n in moved.notices])
                                  for key, moved in dry.transitions.items()])
        return TemplateResponse(request, "admin/alerts/alert/dry_run.html", context,
                                status=400 if problems else 200)

    return view


# --- datasources and channels ---------------------------------------------------


def _tried(model_admin, request, obj, attempt):
    """A button that tries something with a saved object: attempt() answers (worked, what happened),
    which the page shows and the object's history keeps."""
    _require_change(model_admin, request, obj)
    worked, said = attempt()
    (messages.success if worked else messages.error)(request, said)
    model_admin.log_change(request, obj, said)
    return _back(request, obj)


def test_connection_view(model_admin):
    @require_POST
    def view(request, object_id):
        datasource = get_object_or_404(Datasource, pk=object_id)

        def attempt():
            try:
                result = run_query(datasource, "SELECT 1")
            except QueryError as exc:
                return False, f"Could not reach {datasource.name}: {exc}"
            return True, f"Connected to {datasource.name}: SELECT 1 answered in {result.duration_ms:.0f} ms."

        return _tried(model_admin, request, datasource, attempt)

    return view


def say_query_check(request, alert: Alert) -> None:
    """After a save: a warning when the datasource refuses the query (missing table, syntax error),
    a softer note when it could not be asked. The save stands either way."""
    from ..validation import save_note

    note = save_note(alert)
    if note is not None:
        messages.add_message(request, messages.WARNING if note[0] == "warning" else messages.INFO, note[1])


def test_unsaved_connection_view(model_admin):
    """POST the datasource form as it stands (add page, or unsaved edits): run SELECT 1 with its URL
    and timeout, nothing saved; answer an HTML fragment. A masked password means the stored one."""

    @require_POST
    def view(request, object_id=None):
        instance = None
        if object_id is not None:
            instance = get_object_or_404(Datasource, pk=object_id)
            _require_change(model_admin, request, instance)
        elif not model_admin.has_add_permission(request):
            raise PermissionDenied
        form = model_admin.get_form(request, instance, change=instance is not None)(request.POST, instance=instance)
        form.is_valid()
        problems = {name: form.errors[name] for name in ("url", "timeout_seconds") if name in form.errors}
        if problems:
            context = {"ok": False, "problems": problems}
        else:
            draft = Datasource(name=form.cleaned_data.get("name") or "the new datasource",
                               url=form.cleaned_data["url"], timeout_seconds=form.cleaned_data["timeout_seconds"])
            try:
                result = run_draft_query(draft, "SELECT 1", row_limit=1)
            except QueryError as exc:  # its text is scrubbed of the URL and its password
                context = {"ok": False, "said": f"Could not reach {draft.name}: {exc}"}
            else:
                context = {"ok": True, "said": f"Connected to {draft.name}: SELECT 1 answered in "
                                               f"{result.duration_ms:.0f} ms (settings not saved yet)."}
            if instance is not None:
                model_admin.log_change(request, instance, f"Tested unsaved settings. {context['said']}")
        return TemplateResponse(request, "admin/alerts/datasource/test_connection.html", context,
                                status=200 if not problems else 400)

    return view


def test_channel_view(model_admin):
    @require_POST
    def view(request, object_id):
        channel = get_object_or_404(Channel, pk=object_id)

        def attempt():
            try:
                return True, send_test(channel)
            except NotifierError as exc:
                return False, f"Test message through {channel.name} failed: {exc}"

        return _tried(model_admin, request, channel, attempt)

    return view


# --- backtests: the alert form's Backtest button ----------------------------------------------


def backtest_view(model_admin):
    """POST the alert form and a span: start a backtest of it as it stands (saved or not; the form is
    not saved) on the "backtests" queue, and answer a fragment that follows its progress."""

    @require_POST
    def view(request, object_id=None):
        instance = get_object_or_404(Alert, pk=object_id) if object_id is not None else None
        may = model_admin.has_change_permission(request, instance) if instance else model_admin.has_add_permission(
            request)
        if not may:
            raise PermissionDenied
        form = model_admin.get_form(request, instance, change=instance is not None)(request.POST, instance=instance)
        form.is_valid()
        needed = ["datasource", "query", "mode", "value_column", "operator", "threshold", "key_columns",
                  "pending_evaluations", "renotify_interval", "notify_on_recovery", "on_no_data", "on_error",
                  "schedule_text", "schedule_timezone", "channels"]
        problems = {name: form.errors[name] for name in needed if name in form.errors}
        context = {**model_admin.admin_site.each_context(request), "problems": problems, "row": None}
        if not problems:
            alert = form.unsaved_alert()
            alert.schedule = getattr(form, "schedule_obj", None)
            post = request.POST
            try:
                since, start = post.get("sn_backtest_since", "").strip(), _moment(post.get("sn_backtest_start"))
                start, end = backtest.span(since=since or (None if start else "24h"), start=start,
                                           end=_moment(post.get("sn_backtest_end")))
                context["row"] = backtest.start(alert, form.cleaned_data.get("channels") or [], start, end,
                                                saved=instance, by=who(request))
            except backtest.Refused as exc:
                problems["span"] = [str(exc)]
        return TemplateResponse(request, "admin/alerts/alert/backtest.html", {**context, "problems": problems},
                                status=400 if problems else 200)

    return view


def _moment(text: str | None):
    if not (text or "").strip():
        return None
    moment = parse_datetime(text.strip())
    if moment is None:
        raise backtest.Refused(f"Cannot read {text[:40]!r} as a time: use ISO 8601, e.g. 2026-12-01T10:05Z (UTC).")
    return moment if moment.tzinfo else moment.replace(tzinfo=dt_timezone.utc)


def backtest_status_view(model_admin):
    """GET the fragment of a backtest: its progress, or its summary, events and chart."""

    def view(request, backtest_id):
        if not request.user.has_perms(["alerts.view_alert", "alerts.view_execution"]):
            raise PermissionDenied
        row = get_object_or_404(Backtest, pk=backtest_id)
        described = backtest.describe(row)
        result = described["result"] or {}
        context = {**model_admin.admin_site.each_context(request), "problems": {}, "row": row, "bt": described,
                   "summary": result.get("summary"), "events": (result.get("events") or [])[:50],
                   "chart": backtest_chart(result.get("chart") or []),
                   "may_cancel": model_admin.has_change_permission(request)}
        return TemplateResponse(request, "admin/alerts/alert/backtest.html", context)

    return view


def backtest_chart(points: list[dict]) -> str:
    rows = [SimpleNamespace(scheduled_for=parse_datetime(p["tick"]), actual_value=p["value"], threshold=p["threshold"])
            for p in points]
    return history_chart(rows) if rows else ""


def backtest_cancel_view(model_admin):
    @require_POST
    def view(request, backtest_id):
        if not model_admin.has_change_permission(request):
            raise PermissionDenied
        backtest.cancel(get_object_or_404(Backtest, pk=backtest_id))
        return backtest_status_view(model_admin)(request, backtest_id)

    return view
