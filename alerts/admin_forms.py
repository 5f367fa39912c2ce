"""The admin's forms: the alert form with its schedule picker, and the datasource
form that keeps the password out of sight (channel secrets: channel_admin.py)."""

import re
import zoneinfo

from django import forms
from django.core.exceptions import ValidationError
from django.utils import timezone

from .models import Alert, Datasource, Operator
from .secrets import mask_url

COMMON_TIMEZONES = sorted(zoneinfo.available_timezones())


def parse_schedule_text(text: str) -> tuple[str, int | None]:
    """'*/5 * * * *', '@daily', 'every 5 minutes' -> (cron, interval_seconds); ValidationError if neither.

    The schedules app owns the real parser (presets included); this is its stand-in
    until that module exists, so the form works either way."""
    try:
        from schedules.cron import parse_schedule_text as parse
    except ImportError:
        parse = _fallback_parse
    try:
        return parse(text)
    except (ValidationError, ValueError) as exc:
        message = "; ".join(exc.messages) if isinstance(exc, ValidationError) else str(exc)
        if not message.startswith("Cannot read schedule"):
            message = f"Cannot read schedule {text!r}: {message}"
        raise ValidationError(message) from None


_EVERY = re.compile(r"^every\s+(\d+)\s*(s|sec|secs|seconds?|m|min|mins|minutes?|h|hours?)$", re.I)


def _fallback_parse(text: str) -> tuple[str, int | None]:
    from croniter import croniter

    text = " ".join(text.split())
    match = _EVERY.match(text)
    if match:
        unit = match.group(2)[0].lower()
        return "", int(match.group(1)) * {"s": 1, "m": 60, "h": 3600}[unit]
    if croniter.is_valid(text) and len(text.split()) in (1, 5):
        return text, None
    raise ValidationError(
        f"Cannot read schedule {text!r}: use 5 cron fields (minute hour day month weekday), "
        "@hourly/@daily/@weekly/@monthly, or 'every 5 minutes'."
    )


def validate_timezone_name(name: str) -> str:
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ValidationError(f"Unknown timezone {name!r}: use an IANA name such as Europe/Berlin.") from None
    return name


def schedule_text(schedule) -> str:
    if schedule is None:
        return ""
    preset = getattr(schedule, "preset", "")
    if preset:
        return preset
    if schedule.interval_seconds:
        seconds = schedule.interval_seconds
        if seconds % 3600 == 0:
            return f"every {seconds // 3600} hours"
        if seconds % 60 == 0:
            return f"every {seconds // 60} minutes"
        return f"every {seconds} seconds"
    return schedule.cron


class SQLEditor(forms.Textarea):
    """A monospace textarea that admin.js overlays with light SQL highlighting."""

    def __init__(self, attrs=None):
        super().__init__({"class": "sn-sql", "rows": 12, "spellcheck": "false", "data-sql-editor": "1",
                          **(attrs or {})})


class AlertForm(forms.ModelForm):
    schedule_text = forms.CharField(
        label="Runs", required=False,
        help_text="A preset or cron: @hourly, @daily, '*/5 * * * *', 'every 10 minutes'. Empty: only when run by hand.",
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

    def clean_schedule_timezone(self):
        name = (self.cleaned_data.get("schedule_timezone") or "UTC").strip()
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
            self.schedule_obj = find_or_build_schedule(text, cron, interval, tz_name)
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


def find_or_build_schedule(text: str, cron: str, interval: int | None, tz_name: str):
    """The Schedule with this timing (alerts share one per timing), or a new unsaved one."""
    from schedules.models import Schedule

    lookup = {"cron": cron or "", "interval_seconds": interval, "timezone": tz_name}
    existing = Schedule.objects.filter(**lookup).first()
    if existing is not None:
        return existing
    schedule = Schedule(**lookup)
    if text.startswith("@") and hasattr(schedule, "preset") and not cron:
        schedule.preset = text
    return schedule


class DatasourceForm(forms.ModelForm):
    """Shows the URL with its password masked; saving the masked text keeps the stored password."""

    class Meta:
        model = Datasource
        fields = ["name", "url", "timeout_seconds", "row_limit", "enabled"]
        widgets = {"url": forms.TextInput(attrs={"size": 80, "class": "sn-mono", "autocomplete": "off"})}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            self.initial["url"] = mask_url(self.instance.url)

    def clean_url(self):
        url = self.cleaned_data["url"]
        if self.instance.pk and url == mask_url(self.instance.url):
            return self.instance.url
        return url
