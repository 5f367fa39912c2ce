"""The Channel admin's parts: a config form that says what each kind takes and
never shows a secret, delivery health at a glance, and a "send a test message" action."""

import json

from django import forms
from django.contrib import admin, messages
from django.utils.html import format_html, format_html_join

from .config.schema import Problems, check_channel_settings
from .models import Channel
from .notifiers import NOTIFIERS, NotifierError, send_test
from .secrets import mask_config, restore_config

# What each setting means, and the example the form's template starts from (None: listed
# in the help, left out of the template). Which settings exist, which are required and which
# are secret is the notifier's own word (alerts/notifiers/); this only says it to a person.
SETTINGS_HELP = {
    "log": {},
    "email": {
        "recipients": (["oncall@example.com"], "the addresses: a list, or one comma-separated text"),
        "subject": (None, "a subject template ({alert_name} {status} {actual_value} {threshold}); "
                          "default: Sentinel's own"),
    },
    "slack": {
        "webhook_url": ("${SLACK_WEBHOOK_URL}", "the incoming webhook's URL"),
        "channel": (None, "post to this channel instead of the webhook's own, e.g. #alerts"),
        "username": (None, "the name the messages show"),
    },
    "webhook": {
        "url": ("https://hooks.example.com/sentinel", "where the JSON payload is sent"),
        "secret": ("${WEBHOOK_SECRET}", "HMAC-SHA256 key: the X-Sentinel-Signature header signs each body"),
        "headers": ({}, "extra request headers, name → text (their values are shown as ***)"),
        "method": (None, "POST (default) or PUT"),
    },
    "pagerduty": {
        "routing_key": ("${PAGERDUTY_ROUTING_KEY}", "the Events API v2 integration key"),
        "url": (None, "the Events API endpoint; default https://events.pagerduty.com/v2/enqueue"),
    },
    "msteams": {
        "webhook_url": ("${TEAMS_WEBHOOK_URL}", "the Workflows (or legacy connector) webhook URL"),
    },
}


def kind_settings(kind: str) -> list[tuple[str, bool, bool, str]]:
    """[(key, required, secret, meaning)] for a kind, required first, as its notifier declares them."""
    cls = NOTIFIERS[kind]
    helps = SETTINGS_HELP.get(kind, {})
    return [(key, key in cls.required, key in cls.secret_fields, helps.get(key, (None, ""))[1])
            for key in (*cls.required, *cls.optional)]


def kind_template(kind: str) -> dict:
    """The config a new channel of this kind starts from: every required key and the usual optional ones."""
    helps = SETTINGS_HELP.get(kind, {})
    template = {}
    for key, required, _, _ in kind_settings(kind):
        example = helps.get(key, (None, ""))[0]
        if example is not None or required:
            template[key] = "" if example is None else example
    return template


def settings_help_html() -> str:
    """One block per kind listing its settings; the form's script shows the chosen kind's."""
    blocks = []
    for kind in NOTIFIERS:
        rows = kind_settings(kind)
        items = format_html_join(
            "", "<li><code>{}</code> <b>{}</b>{}{}</li>",
            ((key, "required" if required else "optional", ", secret" if secret else "",
              format_html(": {}", meaning) if meaning else "") for key, required, secret, meaning in rows),
        ) if rows else format_html("<li>{}</li>", "no settings: it writes a log line")
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


@admin.display(description="delivery", ordering="failure_streak")
def delivery_health(channel) -> str:
    if channel.is_failing:
        return format_html('<strong style="color:#b91c1c">failing: {} in a row</strong>', channel.failure_streak)
    if channel.failure_streak:
        return format_html('<span style="color:#d97706">{} failed in a row</span>', channel.failure_streak)
    return "ok"


# A test send is acting, not reading: viewers do not get it (docs/security.md §3).
@admin.action(description="Send a test message (no alert state changes)", permissions=["change"])
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
