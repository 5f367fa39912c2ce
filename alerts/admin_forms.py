"""The admin's forms: the alert form with its schedule picker, and the datasource
form that keeps the password out of sight (channel secrets: channel_admin.py)."""

import zoneinfo
from datetime import timedelta

from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils import timezone

from schedules.cron import parse_schedule_text as parse
from schedules.cron import zone

from .durations import DurationError, format_duration, parse_duration
from .models import Alert, Datasource, Operator
from .notifiers.templates import problems as template_problems
from .secrets import mask_url, restore_url
from .validation import validate_datasource_url, validate_query

COMMON_TIMEZONES = sorted(zoneinfo.available_timezones())


def parse_schedule_text(text: str) -> tuple[str, int | None]:
    """'*/5 * * * *', '@daily', 'daily at 09:00', 'every 90 seconds' -> (cron, interval_seconds).

    The schedules app's parser (the same one the config files use); its errors
    are prefixed so the form says which text it could not read."""
    try:
        return parse(text)
    except (ValidationError, ValueError) as exc:
        message = "; ".join(exc.messages) if isinstance(exc, ValidationError) else str(exc)
        if not message.startswith("Cannot read schedule"):
            message = f"Cannot read schedule {text!r}: {message}"
        raise ValidationError(message) from None


def validate_timezone_name(name: str) -> str:
    zone(name)  # raises ValidationError naming the zone
    return name


def schedule_text(schedule) -> str:
    if schedule is None:
        return ""
    if schedule.interval_seconds:
        # Intervals are written in seconds: 'every 10 minutes' reads back as a cron preset.
        return f"every {schedule.interval_seconds} seconds"
    return schedule.cron


class SQLEditor(forms.Textarea):
    """A monospace textarea that admin.js overlays with light SQL highlighting."""

    def __init__(self, attrs=None):
        super().__init__({"class": "sn-sql", "rows": 12, "spellcheck": "false", "data-sql-editor": "1",
                          **(attrs or {})})


class DurationText(forms.CharField):
    """A duration typed the way files, the CLI and the API take it ('1h', '90m', '1h30m'),
    shown back in that syntax: alerts/durations.py is the one reader and writer."""

    def __init__(self, **kwargs):
        kwargs.setdefault("required", False)
        kwargs.setdefault("widget", forms.TextInput(attrs={"size": 12, "class": "sn-mono", "placeholder": "1h30m"}))
        super().__init__(**kwargs)

    def prepare_value(self, value):
        return format_duration(value) if isinstance(value, timedelta) else value

    def to_python(self, value):
        text = (super().to_python(value) or "").strip()
        if not text:
            return None
        try:
            return parse_duration(text)
        except DurationError as exc:
            raise ValidationError(str(exc)) from None


class AlertForm(forms.ModelForm):
    renotify_interval = DurationText(
        label="Renotify interval",
        help_text="Repeat while firing, e.g. 1h, 90m, 1h30m (at least 1m); empty: never.")
    grace = DurationText(help_text="Runs starting later than this after their tick are MISSED, e.g. 5m; "
                                   "empty: half the schedule's period, at most 5m.")
    schedule_text = forms.CharField(
        label="Runs", required=False,
        help_text="Cron ('*/5 * * * *'), a macro (@hourly, @daily) or a preset ('every 10 minutes', "
                  "'daily at 09:00', 'weekdays at 08:30', 'every 90 seconds'). Empty: only when run by hand.",
        widget=forms.TextInput(attrs={"class": "sn-mono", "data-schedule-text": "1", "size": 30,
                                      "placeholder": "*/5 * * * *"}),
    )
    schedule_timezone = forms.CharField(
        label="Timezone", initial="UTC", required=False,
        help_text="The schedule's clock: '0 9 * * *' in Europe/Berlin runs at 09:00 Berlin time, DST included.",
        widget=forms.TextInput(attrs={"list": "sn-timezones", "data-schedule-tz": "1", "size": 30}),
    )

    class Meta:
        model = Alert
        exclude = ["schedule", "state", "state_since", "last_run_at", "last_status", "last_value",
                   "firing_instances", "source_file"]
        widgets = {
            "query": SQLEditor(),
            "description": forms.Textarea(attrs={"rows": 2}),
            "body_template": forms.Textarea(attrs={"rows": 4, "class": "sn-mono"}),
            "silence_reason": forms.TextInput(attrs={"size": 60}),
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk and self.instance.schedule_id:
            self.initial.setdefault("schedule_text", schedule_text(self.instance.schedule))
            self.initial.setdefault("schedule_timezone", self.instance.schedule.timezone)
        elif not self.instance.pk and "schedule_timezone" in self.fields:
            # A new alert starts on the deployment's zone, as one from a file or the API would.
            self.fields["schedule_timezone"].initial = settings.SENTINEL_DEFAULT_TIMEZONE
        helps = {
            "threshold": "Threshold mode: the value is compared with this (value OPERATOR threshold).",
            "value_column": "Threshold mode: the column holding the value; default the first.",
            "operator": "A breach is value OPERATOR threshold, e.g. value > 100.",
        }
        if "operator" in self.fields:
            self.fields["operator"].choices = [(v, v) for v in Operator.values]
        for name, text in helps.items():
            if name in self.fields:  # a read-only viewer's form has no fields
                self.fields[name].help_text = text

    def clean_query(self):
        # The same refusal as the API and config files (alerts/validation.py).
        query = self.cleaned_data.get("query") or ""
        validate_query(query)
        return query

    def clean_subject_template(self):
        return self._clean_template("subject_template")

    def clean_body_template(self):
        return self._clean_template("body_template")

    def _clean_template(self, name):
        # Rendered in the worker: the same refusal as the API and config files (alerts/notifiers/templates.py).
        text = self.cleaned_data.get(name) or ""
        problems = template_problems(text, name.replace("_", " "))
        if problems:
            raise ValidationError(problems)
        return text

    def clean_schedule_timezone(self):
        name = (self.cleaned_data.get("schedule_timezone") or "").strip() or settings.SENTINEL_DEFAULT_TIMEZONE
        return validate_timezone_name(name)

    def clean_schedule_text(self):
        text = " ".join((self.cleaned_data.get("schedule_text") or "").split())
        if text:
            self.parsed_schedule = parse_schedule_text(text)
        return text

    def clean(self):
        cleaned = super().clean()
        self.schedule_obj = None
        text, tz_name = cleaned.get("schedule_text"), cleaned.get("schedule_timezone")
        if text and tz_name and "schedule_text" not in self.errors:
            cron, interval = self.parsed_schedule
            self.schedule_obj = find_or_build_schedule(cron, interval, tz_name)
            try:
                self.schedule_obj.full_clean(validate_unique=False, validate_constraints=False)
            except ValidationError as exc:
                self.add_error("schedule_text", "; ".join(exc.messages))
        silenced_until = cleaned.get("silenced_until")
        if silenced_until and silenced_until > timezone.now() and not cleaned.get("silence_reason"):
            self.add_error("silence_reason", "Say why the alert is silenced: the on-call reads this.")
        return cleaned

    def save(self, commit=True):
        alert = super().save(commit=False)
        schedule = getattr(self, "schedule_obj", None)
        if schedule is not None and schedule.pk is None:
            schedule.save()
        alert.schedule = schedule
        if commit:
            alert.save()
            self._save_m2m()
        return alert

    def unsaved_alert(self) -> Alert:
        """An Alert built from whatever parts of the form are valid, for a dry run; never saved."""
        data = {k: v for k, v in self.cleaned_data.items() if k in {f.name for f in Alert._meta.concrete_fields}}
        alert = Alert(**data)
        # An id no row has: the dry run then finds no remembered state, as for a new alert.
        alert.pk = self.instance.pk or 0
        if self.instance.pk:
            alert.state = self.instance.state
        return alert


def find_or_build_schedule(cron: str, interval: int | None, tz_name: str):
    """The Schedule with this timing (alerts share one per timing), or a new unsaved one."""
    from schedules.models import Schedule

    lookup = {"cron": cron or "", "interval_seconds": interval, "timezone": tz_name}
    existing = Schedule.objects.filter(**lookup).first()
    if existing is not None:
        return existing
    return Schedule(**lookup)


class DatasourceForm(forms.ModelForm):
    """Shows the URL with its password masked; saving the masked text keeps the stored password,
    at the same host, port and database only (a new destination needs the password again)."""

    class Meta:
        model = Datasource
        fields = ["name", "url", "timeout_seconds", "row_limit", "enabled"]
        widgets = {"url": forms.TextInput(attrs={"size": 80, "class": "sn-mono", "autocomplete": "off"})}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            self.initial["url"] = mask_url(self.instance.url)

    def clean_url(self):
        url, problem = restore_url(self.cleaned_data["url"].strip(), self.instance.url if self.instance.pk else None)
        if url is None:
            raise ValidationError(problem)
        # The same checks as config files (alerts/validation.py): it parses, its driver is installed,
        # it is not Sentinel's own database or broker (alerts/isolation.py).
        validate_datasource_url(url)
        return url
