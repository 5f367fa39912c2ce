"""The Channel admin (alerts/admin/channels.py, its form in alerts/admin/forms.py): the form
says what each kind takes, refuses what a file refuses (with the same words), and never
shows a stored secret: *** stands for it and keeps it; failing channels are listed as such."""

import json

import pytest
from django.contrib import admin
from django.urls import reverse

from alerts.admin.forms import kind_settings, kind_template
from alerts.config.schema import Problems, check_channel
from alerts.models import Channel
from alerts.notifiers import NOTIFIERS, mask_config, validate_config
from alerts.secrets import _REFERENCE

pytestmark = pytest.mark.django_db

ADD = reverse("admin:alerts_channel_add")


def post(client, url, kind, config, name="ops"):
    return client.post(url, {"name": name, "kind": kind, "config": json.dumps(config), "enabled": "on",
                             # the recent-deliveries inline's (empty) management form
                             "notifications-TOTAL_FORMS": "0", "notifications-INITIAL_FORMS": "0",
                             "notifications-MIN_NUM_FORMS": "0", "notifications-MAX_NUM_FORMS": "0"})


def form_errors(response) -> list[str]:
    return list(response.context["adminform"].form.errors.get("config", [])) if response.context else []


@pytest.mark.parametrize("kind", list(NOTIFIERS))
def test_every_kind_documents_each_setting_and_its_template_is_valid(kind, monkeypatch):
    cls = NOTIFIERS[kind]
    assert [key for key, *_ in kind_settings(kind)] == [*cls.required, *cls.optional]
    assert all(meaning for *_, meaning in kind_settings(kind))  # a new setting needs its words
    template = kind_template(kind)
    for name in _REFERENCE.findall(json.dumps(template)):
        monkeypatch.setenv(name[0] if isinstance(name, tuple) else name, "x-set-by-test")
    assert set(cls.required) <= set(template) and validate_config(kind, template) == {}


@pytest.mark.parametrize("kind, config", [
    ("webhook", {"secret": "${WEBHOOK_SECRET:-x}"}),                      # no url
    ("webhook", {"urll": "https://hooks.example.com/x"}),                # a typo
    ("webhook", {"url": "https://hooks.example.com/x", "method": "GET"}),
    ("slack", {"webhook_url": "${SENTINEL_TEST_UNSET_VARIABLE}"}),        # a variable nobody set
    ("email", {"recipients": ["not an address"]}),
])
def test_the_form_refuses_what_a_file_refuses_with_the_same_words(admin_client, kind, config):
    problems = Problems()
    check_channel({"name": "ops", "kind": kind, **config}, (), problems)
    from_file = sorted(f"{'.'.join(map(str, path))}: {message}" if path else message
                       for path, message in problems.items)
    assert from_file

    response = post(admin_client, ADD, kind, config)

    assert response.status_code == 200 and not Channel.objects.filter(name="ops").exists()
    assert sorted(form_errors(response)) == from_file


def test_the_help_lists_the_settings_of_each_kind(admin_client):
    page = admin_client.get(ADD).content.decode()

    assert 'data-kind-help="webhook"' in page and "<code>url</code> <b>required</b>, secret" in page
    assert "<code>routing_key</code> <b>required</b>, secret" in page
    assert "Write secrets as ${VARIABLE}" in page
    templates = json.loads(page.split('data-channel-templates="')[1].split('"')[0].replace("&quot;", '"'))
    assert templates["webhook"] == {"url": "https://hooks.example.com/sentinel", "headers": {},
                                    "secret": "${WEBHOOK_SECRET}"}


def test_a_stored_secret_shows_as_stars_and_saving_the_stars_keeps_it(admin_client):
    channel = Channel.objects.create(name="ops", kind="webhook", config={
        "url": "https://hooks.example.com/T0K3N", "secret": "hunter2", "headers": {"X-Api-Key": "k3y"}})
    change = reverse("admin:alerts_channel_change", args=[channel.pk])

    page = admin_client.get(change).content.decode()
    for secret in ("T0K3N", "hunter2", "k3y"):
        assert secret not in page
    shown = json.loads(page.split('name="config"')[1].split(">", 1)[1].split("</textarea>")[0]
                       .replace("&quot;", '"'))
    # The one mask the API and export show too: where the URL points, not its token.
    assert shown == {"url": "https://hooks.example.com/***", "secret": "***", "headers": {"X-Api-Key": "***"}}

    response = post(admin_client, change, "webhook", {**shown, "method": "PUT"})

    assert response.status_code == 302, form_errors(response)
    channel.refresh_from_db()
    assert channel.config == {"url": "https://hooks.example.com/T0K3N", "secret": "hunter2",
                              "headers": {"X-Api-Key": "k3y"}, "method": "PUT"}


def test_admin_never_shows_a_literal_secret_and_keeps_it_on_save(admin_client, db, monkeypatch):
    monkeypatch.setenv("HOOK_SECRET", "x-set-by-test")  # the form, like a file, refuses a variable that is not set
    channel = Channel.objects.create(name="hook", kind="webhook", config={
        "url": "https://hooks.example.com/T0KEN-literal", "secret": "${HOOK_SECRET}",
        "headers": {"Authorization": "Bearer literal-token-123"}})
    url = f"/admin/alerts/channel/{channel.pk}/change/"

    page = admin_client.get(url).content.decode()

    assert "T0KEN-literal" not in page and "literal-token-123" not in page
    assert "${HOOK_SECRET}" in page
    shown = mask_config("webhook", channel.config)
    shown["headers"]["X-Extra"] = "yes"
    form_class = admin.site._registry[Channel].form  # the form the admin edits channels with
    form = form_class({"name": "hook", "kind": "webhook", "config": json.dumps(shown), "enabled": "on"},
                      instance=channel)
    assert form.is_valid(), form.errors
    form.save()
    channel.refresh_from_db()
    assert channel.config["url"] == "https://hooks.example.com/T0KEN-literal"
    assert channel.config["headers"] == {"Authorization": "Bearer literal-token-123", "X-Extra": "yes"}


def test_admin_rejects_an_invalid_config_naming_the_field(db):
    form_class = admin.site._registry[Channel].form
    form = form_class({"name": "bad", "kind": "webhook", "config": '{"url": "ftp://x"}', "enabled": "on"})
    assert not form.is_valid()
    assert "url: Only http and https URLs are allowed, not 'ftp'." in form.errors["config"]


def test_admin_lists_a_failing_channel(admin_client, db, settings):
    Channel.objects.create(name="flaky", kind="slack", config={"webhook_url": "${X}"},
                           failure_streak=settings.SENTINEL_CHANNEL_FAILING_AFTER)
    page = admin_client.get("/admin/alerts/channel/?delivery=failing").content.decode()
    assert "failing: 3 in a row" in page and "flaky" in page
