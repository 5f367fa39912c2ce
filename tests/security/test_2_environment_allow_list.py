"""${VAR} reads only the variables the operator allows, never one of Sentinel's own settings, and
every value it expanded is scrubbed from errors, the admin log and messages (docs/security.md §2)."""

import json
import textwrap

import pytest
from django.contrib.admin.models import LogEntry
from django.contrib.messages import get_messages
from django.urls import reverse

from alerts.models import Channel, Datasource
from alerts.notifiers import NotifierError, send_test
from alerts.querying import QueryError, run_query
from tests.factories import sentinel
from tests.notify_peers import http_receiver  # noqa: F401  (fixture)

pytestmark = pytest.mark.django_db

OWN_KEY = "the-deploys-secret-key-4b1f9c0e7d2a"
OWN_SMTP = "smtp-password-8c3e5a1f"


@pytest.fixture
def own_settings(monkeypatch, settings):
    """The process's own settings variables hold real secrets; the operator allows everything else."""
    monkeypatch.setenv("SECRET_KEY", OWN_KEY)
    monkeypatch.setenv("SMTP_PASSWORD", OWN_SMTP)
    settings.SENTINEL_ENV_ALLOW = ["*"]  # even then: never Sentinel's own


def everything_said(response=None) -> str:
    said = [entry.change_message for entry in LogEntry.objects.all()]
    if response is not None:
        said += [str(m) for m in get_messages(response.wsgi_request)]
    return " ".join(said)


@pytest.mark.needs_postgres
def test_secret_key_never_comes_back_in_a_test_connection_error_or_the_admin_log(own_settings, admin_client):
    ds = Datasource.objects.create(name="probe", url="postgresql://postgres@127.0.0.1:5432/${SECRET_KEY}")

    response = admin_client.post(reverse("admin:alerts_datasource_test", args=[ds.pk]))

    said = everything_said(response)
    assert "Environment variable SECRET_KEY is one of Sentinel's own settings" in said, said
    assert OWN_KEY not in said


@pytest.mark.parametrize("name", ["SECRET_KEY", "SMTP_PASSWORD"])
def test_sentinels_own_variables_never_reach_a_webhook(name, own_settings, admin_client, http_receiver):  # noqa: F811
    channel = Channel.objects.create(name="mine", kind="webhook", config={
        "url": http_receiver.url + f"/hook?k=${{{name}}}", "headers": {"X-Leak": f"${{{name}}}"}})

    with pytest.raises(NotifierError, match=f"{name} is one of Sentinel's own settings"):
        send_test(channel)
    response = admin_client.post(reverse("admin:alerts_channel_test", args=[channel.pk]))

    assert http_receiver.requests == []
    said = everything_said(response)
    assert f"{name} is one of Sentinel's own settings" in said
    assert OWN_KEY not in said and OWN_SMTP not in said


def test_an_allowed_name_works_and_a_name_not_allowed_is_refused_at_save_and_at_use(
        settings, monkeypatch, admin_client, http_receiver):  # noqa: F811
    settings.SENTINEL_ENV_ALLOW = ["ACME_HOOK_*"]
    monkeypatch.setenv("ACME_HOOK_TOKEN", "allowed-token-1234")
    monkeypatch.setenv("OTHER_TOKEN", "other-token-5678")
    allowed = Channel.objects.create(name="allowed", kind="webhook", config={
        "url": http_receiver.url + "/a", "headers": {"Authorization": "${ACME_HOOK_TOKEN}"}})
    assert send_test(allowed).startswith("Test message sent")
    assert http_receiver.wait_for(1)[0].headers["Authorization"] == "allowed-token-1234"

    response = admin_client.post(reverse("admin:alerts_channel_add"), {
        "name": "other", "kind": "webhook", "enabled": "on",
        "config": json.dumps({"url": http_receiver.url + "/b", "headers": {"Authorization": "${OTHER_TOKEN}"}}),
        "notifications-TOTAL_FORMS": "0", "notifications-INITIAL_FORMS": "0"})
    errors = " ".join(response.context["adminform"].form.errors["config"])
    assert "Environment variable OTHER_TOKEN is not allowed" in errors and "SENTINEL_ENV_ALLOW" in errors
    assert "other-token-5678" not in errors and not Channel.objects.filter(name="other").exists()

    stored_by_hand = Channel.objects.create(name="by_hand", kind="webhook", config={
        "url": http_receiver.url + "/c", "headers": {"Authorization": "${OTHER_TOKEN}"}})
    with pytest.raises(NotifierError, match="OTHER_TOKEN is not allowed"):
        send_test(stored_by_hand)
    assert len(http_receiver.requests) == 1


def test_a_file_naming_a_variable_not_allowed_is_refused_with_its_name_only(own_settings, settings, tmp_path):
    settings.SENTINEL_ENV_ALLOW = ["SENTINEL_TEST_*"]
    path = tmp_path / "env.yaml"
    path.write_text(textwrap.dedent("""\
        datasources:
          - name: probe
            url: "postgresql://postgres:${SECRET_KEY}@127.0.0.1/x"
        channels:
          - name: hook
            kind: webhook
            url: "https://hooks.example.com/${PATH}"
        """))

    code, out = sentinel("apply", str(path))

    assert code == 1
    assert "Environment variable SECRET_KEY is one of Sentinel's own settings" in out
    assert "Environment variable PATH is not allowed" in out
    assert OWN_KEY not in out
    assert not Datasource.objects.exists() and not Channel.objects.exists()


@pytest.mark.needs_postgres
def test_every_expanded_value_is_scrubbed_from_errors_and_the_admin_log(monkeypatch, admin_client):
    monkeypatch.setenv("SENTINEL_TEST_DBNAME", "no-such-db-3f9a77")
    ds = Datasource.objects.create(name="probe", url="postgresql://postgres@127.0.0.1:5432/${SENTINEL_TEST_DBNAME}")

    with pytest.raises(QueryError) as failed:
        run_query(ds, "SELECT 1")
    response = admin_client.post(reverse("admin:alerts_datasource_test", args=[ds.pk]))

    assert "does not exist" in str(failed.value)  # the database's own words, without the value
    assert "no-such-db-3f9a77" not in str(failed.value)
    assert "no-such-db-3f9a77" not in everything_said(response)
