"""The Schedule admin: written as a preset or cron plus a timezone, with the
next runs previewed as you type (a small staff-only JSON endpoint), what beat
holds and fired for it, and the alerts that share the schedule listed on its page.

It lives with the other admins, not in schedules/, so that the clock imports
nothing from alerts/."""

from django import forms
from django.contrib import admin
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Count
from django.http import JsonResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django_celery_beat.models import PeriodicTask

from schedules import sync
from schedules.models import Schedule

from ..config.export import schedule_text
from .base import SentinelAdmin
from .display import next_runs, when
from .forms import COMMON_TIMEZONES, parse_schedule_text, validate_timezone_name

PREVIEW_RUNS = 5

def preview(text: str, tz_name: str, count: int = PREVIEW_RUNS) -> list[tuple]:
    """[(local, utc)] for a schedule typed into a form, before anything is saved."""
    cron, interval = parse_schedule_text(text)
    validate_timezone_name(tz_name)
    return Schedule(cron=cron or "", interval_seconds=interval, timezone=tz_name).upcoming(count)


def preview_view(request):
    # A preview reads what a schedule would do: the schedules' view permission, as their pages.
    if not request.user.has_perm("schedules.view_schedule"):
        raise PermissionDenied
    text = " ".join(request.GET.get("text", "").split())
    tz_name = request.GET.get("timezone", "UTC").strip() or "UTC"
    if not text:
        return JsonResponse({"error": "Type a preset or a cron expression.", "runs": []}, status=400)
    try:
        runs = preview(text, tz_name)
    except ValidationError as exc:
        return JsonResponse({"error": " ".join(exc.messages), "runs": []}, status=400)
    return JsonResponse({
        "timezone": tz_name,
        "runs": [{"local": f"{local:%a %Y-%m-%d %H:%M %Z}", "utc": f"{utc:%Y-%m-%d %H:%M} UTC",
                  "utc_iso": utc.isoformat()} for local, utc in runs],
    })


class ScheduleForm(forms.ModelForm):
    schedule_text = forms.CharField(
        label="Runs",
        help_text="Cron ('0 9 * * mon-fri'), a macro (@hourly, @daily) or a preset ('every 10 minutes', "
                  "'daily at 09:00', 'weekdays at 08:30', 'every 90 seconds').",
        widget=forms.TextInput(attrs={"class": "sn-mono", "data-schedule-text": "1", "size": 30}),
    )

    class Meta:
        model = Schedule
        fields = ["timezone"]
        widgets = {"timezone": forms.TextInput(attrs={"list": "sn-timezones", "data-schedule-tz": "1", "size": 30})}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            self.initial["schedule_text"] = schedule_text(self.instance)

    def clean_schedule_text(self):
        text = " ".join(self.cleaned_data["schedule_text"].split())
        self.parsed = parse_schedule_text(text)
        return text

    def _post_clean(self):
        if hasattr(self, "parsed"):
            self.instance.cron, self.instance.interval_seconds = self.parsed[0] or "", self.parsed[1]
        super()._post_clean()
        # The model's errors about cron or interval belong to the one field people type into.
        for name in ("cron", "interval_seconds"):
            if name in self._errors:
                self._errors.setdefault("schedule_text", self.error_class()).extend(self._errors.pop(name))


@admin.register(Schedule)
class ScheduleAdmin(SentinelAdmin):
    form = ScheduleForm
    list_display = ["__str__", "timezone", "next_run", "alert_count"]
    search_fields = ["cron", "timezone"]
    fields = ["schedule_text", "timezone", "next_runs", "recent_ticks", "beat_entry", "alert_list"]
    readonly_fields = ["next_runs", "recent_ticks", "beat_entry", "alert_list"]
    change_form_template = "admin/schedules/schedule/change_form.html"

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(alert_total=Count("alerts"))

    @admin.display(description="next run")
    def next_run(self, obj):
        runs = _safe_runs(obj, 1)
        if not runs:
            return "-"
        local, utc = runs[0]
        return format_html('<span title="{} UTC">{}</span>', f"{utc:%Y-%m-%d %H:%M}", f"{local:%Y-%m-%d %H:%M %Z}")

    @admin.display(description="alerts", ordering="alert_total")
    def alert_count(self, obj):
        return obj.alert_total

    @admin.display(description="next runs (as saved)")
    def next_runs(self, obj):
        runs = _safe_runs(obj, PREVIEW_RUNS) if obj and obj.pk else []
        if not runs:
            return "-"
        rows = format_html_join("", "<tr><td>{}</td><td class='sn-muted'>{}</td></tr>",
                                ((f"{lo:%a %Y-%m-%d %H:%M %Z}", f"{u:%Y-%m-%d %H:%M} UTC") for lo, u in runs))
        return format_html('<table class="sn-table">{}</table>', rows)

    @admin.display(description="recent ticks")
    def recent_ticks(self, obj):
        """What beat actually fired, with the gaps it found: the answer to 'is it stuck?'."""
        if not obj or not obj.pk:
            return "-"
        ticks = list(obj.fired_ticks.order_by("-tick")[:10])
        if not ticks:
            return "none fired yet"
        rows = format_html_join(
            "", "<tr><td>{}</td><td>{} alert(s)</td><td class='sn-errtext'>{}</td></tr>",
            ((when(t.tick), t.alerts,
              f"{t.missed_count} missed before it ({t.missed_first:%Y-%m-%d %H:%M} – {t.missed_last:%H:%M} UTC)"
              if t.missed_count and t.missed_first and t.missed_last else "") for t in ticks),
        )
        return format_html('<table class="sn-table">{}</table>', rows)

    @admin.display(description="beat's entry")
    def beat_entry(self, obj):
        """What django-celery-beat holds for this schedule (its tables are off the admin)."""
        if not obj or not obj.pk:
            return "-"
        task = PeriodicTask.objects.filter(name=sync.task_name(obj.pk)).first()
        if task is None:
            return "none: no enabled alert uses this schedule, so beat does not fire it"
        state = "enabled" if task.enabled else "disabled"
        return f"{task.name} ({state}), last run {when(task.last_run_at)}, runs {task.total_run_count}"

    @admin.display(description="alerts on this schedule")
    def alert_list(self, obj):
        if not obj or not obj.pk:
            return "-"
        alerts = list(obj.alerts.order_by("name").values_list("pk", "name", "state")[:200])
        if not alerts:
            return "none"
        return format_html_join(", ", '<a href="{}">{}</a> <span class="sn-muted">{}</span>',
                                ((reverse("admin:alerts_alert_change", args=[pk]), name, state)
                                 for pk, name, state in alerts))

    def get_urls(self):
        preview_url = path("preview/", self.admin_site.admin_view(preview_view), name="schedules_schedule_preview")
        return [preview_url] + super().get_urls()

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        extra_context = {**(extra_context or {}), "timezones": COMMON_TIMEZONES}
        return super().changeform_view(request, object_id, form_url, extra_context)


def _safe_runs(schedule, count):
    try:
        return next_runs(schedule, count, after=timezone.now())
    except Exception:  # an unreadable schedule shows '-', it does not break the page
        return []
