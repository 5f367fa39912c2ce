"""The Channel admin's parts: a config form that never shows a secret, delivery
health at a glance, and a "send a test message" action."""

import json
import re

from django import forms
from django.contrib import admin, messages
from django.utils.html import format_html

from .models import Channel
from .notifiers import NOTIFIERS, NotifierError, send_test, validate_config

MASK = "***"
# A value that only names variables (no default) holds no secret and can be shown.
_ONLY_REFERENCES = re.compile(r"^[^$]*(\$\{[A-Za-z_][A-Za-z0-9_]*\}[^$]*)+$")


def _shown(value) -> bool:
    return isinstance(value, str) and bool(_ONLY_REFERENCES.match(value))


def secret_paths(kind: str, config: dict) -> list[tuple[str, ...]]:
    cls = NOTIFIERS.get(kind)
    paths = [(name,) for name in (cls.secret_fields if cls else ()) if name in config]
    if kind == "webhook" and isinstance(config.get("headers"), dict):
        paths += [("headers", name) for name in config["headers"]]
    return paths


def _get(config, path):
    for part in path:
        config = config[part]
    return config


def _set(config, path, value):
    for part in path[:-1]:
        config = config[part]
    config[path[-1]] = value


def masked(kind: str, config: dict) -> dict:
    """The config with every literal secret replaced by ***; ${VAR} references stay visible."""
    copy = json.loads(json.dumps(config or {}))
    for path in secret_paths(kind, copy):
        if not _shown(_get(copy, path)):
            _set(copy, path, MASK)
    return copy


class ChannelForm(forms.ModelForm):
    """Edits a channel without ever showing a secret: *** stands for the stored value
    and saving *** keeps it. The config is checked by the notifier's own validation."""

    class Meta:
        model = Channel
        fields = ["name", "kind", "config", "enabled"]
        widgets = {"config": forms.Textarea(attrs={"rows": 8, "class": "sn-mono"})}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            self.initial["config"] = masked(self.instance.kind, self.instance.config)
        self.fields["config"].help_text = (
            "JSON. Write secrets as ${VARIABLE} (read from the environment at send time); "
            "stored literal secrets are shown as *** and kept when *** is saved."
        )

    def clean(self):
        cleaned = super().clean()
        kind, config = cleaned.get("kind"), cleaned.get("config")
        if kind is None or config is None:
            return cleaned
        if not isinstance(config, dict):
            self.add_error("config", "Must be a JSON object of settings.")
            return cleaned
        stored = self.instance.config or {} if self.instance.pk else {}
        for path in secret_paths(kind, config):
            if _get(config, path) == MASK:
                try:
                    _set(config, path, _get(stored, path))
                except (KeyError, TypeError):
                    self.add_error("config", f"{'.'.join(path)}: *** stands for a stored value, and there is none.")
        for field, message in validate_config(kind, config).items():
            self.add_error("config", f"{field}: {message}")
        cleaned["config"] = config
        return cleaned


@admin.display(description="delivery", ordering="failure_streak")
def delivery_health(channel) -> str:
    if channel.is_failing:
        return format_html('<strong style="color:#b91c1c">failing: {} in a row</strong>', channel.failure_streak)
    if channel.failure_streak:
        return format_html('<span style="color:#d97706">{} failed in a row</span>', channel.failure_streak)
    return "ok"


@admin.action(description="Send a test message (no alert state changes)")
def send_test_message(modeladmin, request, queryset):
    for channel in queryset:
        try:
            modeladmin.message_user(request, send_test(channel), messages.SUCCESS)
        except NotifierError as exc:
            modeladmin.message_user(request, f"Test message through {channel.name} failed: {exc}", messages.ERROR)


class FailingFilter(admin.SimpleListFilter):
    title = "delivery"
    parameter_name = "delivery"

    def lookups(self, request, model_admin):
        return [("failing", "failing"), ("ok", "ok")]

    def queryset(self, request, queryset):
        from django.conf import settings

        threshold = settings.SENTINEL_CHANNEL_FAILING_AFTER
        if self.value() == "failing":
            return queryset.filter(failure_streak__gte=threshold)
        if self.value() == "ok":
            return queryset.filter(failure_streak__lt=threshold)
        return queryset
