"""The admin's forms: the alert form with its schedule picker, the datasource form
that keeps the password out of sight, and the channel form that says what each kind
takes and never shows a secret."""

import copy
import json
import zoneinfo
from datetime import timedelta

from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.html import format_html, format_html_join

from schedules.cron import parse_schedule_text as parse
from schedules.cron import zone
from schedules.models import Schedule

from ..config.export import schedule_text
from ..config.schema import Problems, check_channel_settings
from ..durations import DurationError, format_duration, parse_duration
from ..models import Alert, Channel, Datasource, Operator
from ..notifiers import NOTIFIERS, mask_config, restore_config
from ..notifiers.rendering import template_problems
from ..secrets import mask_url, restore_url
from ..validation import validate_datasource_url, validate_query

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
        fields = ["name", "url", "timeout_seconds", "row_limit", "enabled", "max_concurrent_queries", "spread_seconds"]
        widgets = {"url": forms.TextInput(attrs={"size": 80, "class": "sn-mono", "autocomplete": "off"})}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            self.initial["url"] = mask_url(self.instance.url)
        # Left empty (or not sent, as by a form written before the spread existed): no spread.
        if "spread_seconds" in self.fields:  # a viewer's page shows it read-only, outside the form
            self.fields["spread_seconds"].required = False

    def clean_spread_seconds(self):
        return self.cleaned_data.get("spread_seconds") or 0

    def clean_url(self):
        url, problem = restore_url(self.cleaned_data["url"].strip(), self.instance.url if self.instance.pk else None)
        if url is None:
            raise ValidationError(problem)
        # The same checks as config files (alerts/validation.py): it parses, its driver is installed,
        # it is not Sentinel's own database or broker (alerts/isolation.py).
        validate_datasource_url(url)
        return url


def kind_settings(kind: str) -> list[tuple[str, bool, bool, str]]:
    """[(key, required, secret, meaning)] for a kind, required first, as its notifier declares them."""
    fields = sorted(NOTIFIERS[kind].fields, key=lambda f: not f.required)
    return [(f.name, f.required, f.secret, f.meaning) for f in fields]


def kind_template(kind: str) -> dict:
    """The config a new channel of this kind starts from: every required key and the usual optional ones."""
    return {f.name: "" if f.example is None else copy.deepcopy(f.example)
            for f in NOTIFIERS[kind].fields if f.example is not None or f.required}


def settings_help_html() -> str:
    """One block per kind listing its settings; the form's script shows the chosen kind's."""
    blocks = []
    for kind in NOTIFIERS:
        rows = kind_settings(kind)
        items = format_html_join(
            "", "<li><code>{}</code> <b>{}</b>{}{}</li>",
            ((key, "required" if required else "optional", ", secret" if secret else "",
              format_html(": {}", meaning) if meaning else "") for key, required, secret, meaning in rows),
        ) if rows else format_html("<li>{}</li>", ": ".join(filter(None, ["no settings", NOTIFIERS[kind].about])))
        blocks.append(format_html('<div class="sn-kind-help" data-kind-help="{}"><b>{}</b> settings:<ul>{}</ul></div>',
                                  kind, NOTIFIERS[kind].label or kind, items))
    return format_html(
        "{}{}", format_html_join("", "{}", ((b,) for b in blocks)),
        format_html("<p>{}</p>", "JSON. Write secrets as ${VARIABLE}: read from the environment at send time. "
                                 "A stored literal secret shows as *** and is kept when *** is saved."),
    )


class ChannelForm(forms.ModelForm):
    """Edits a channel without ever showing a secret: *** stands for the stored value
    and saving *** keeps it. The config is checked by the notifier's own validation."""

    class Meta:
        model = Channel
        fields = ["name", "kind", "config", "enabled"]
        widgets = {"config": forms.Textarea(attrs={"rows": 8, "cols": 70, "class": "sn-mono"})}

    class Media:
        js = ["sentinel/channel_form.js"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            self.initial["config"] = mask_config(self.instance.kind, self.instance.config)
        if "config" in self.fields:  # a read-only viewer's form has no fields
            self.fields["config"].help_text = settings_help_html()
            # Choosing a kind fills an empty (or untouched template) box with that kind's template.
            self.fields["config"].widget.attrs["data-channel-templates"] = json.dumps(
                {kind: kind_template(kind) for kind in NOTIFIERS})

    def clean(self):
        cleaned = super().clean()
        kind, config = cleaned.get("kind"), cleaned.get("config")
        if kind is None or config is None:
            return cleaned
        if not isinstance(config, dict):
            self.add_error("config", "Must be a JSON object of settings.")
            return cleaned
        # *** stands for the stored secret, and only at the stored destination (alerts/secrets.py).
        stored = self.instance.config if self.instance.pk and self.instance.kind == kind else {}
        config, lost = restore_config(kind, config, stored)
        for key, problem in lost:
            self.add_error("config", f"{key}: {problem}")
        # The rules a channel in a file is held to (alerts/config/schema.py), said per key.
        problems = Problems()
        check_channel_settings(kind, config, (), problems)
        for path, message in problems.items:
            self.add_error("config", f"{'.'.join(map(str, path))}: {message}" if path else message)
        cleaned["config"] = config
        return cleaned
