"""One mask everywhere: the admin's editable and read-only pages, the API and export show the
same thing instead of a secret, and a *** never travels to a new destination (docs/security.md §4)."""

import json
import textwrap

import pytest
from django.contrib.auth.models import Group, User
from django.urls import reverse

from alerts.config.export import export_data
from alerts.models import Channel, Datasource
from tests.api_helpers import admin_token, api  # noqa: F401  (fixtures)
from tests.factories import sentinel
from tests.notify_peers import http_receiver  # noqa: F401  (fixture)

pytestmark = pytest.mark.django_db

SECRETS = ["pg-pass-4711", "qs-pass-0815", "lit-token-5678", "hdr-secret-2222", "hmac-key-3333", "qs-token-9999"]
DATASOURCE_URL = "postgresql://reader:pg-pass-4711@db.example.com:5432/shop?sslmode=require&password=qs-pass-0815"
WEBHOOK = {"url": "https://hooks.example.com/lit-token-5678/${SENTINEL_TEST_HOOK_PATH}",
           "secret": "hmac-key-3333",
           "headers": {"Authorization": "Bearer hdr-secret-2222", "Content-Type": "application/json",
                       "X-Api-Key": "${SENTINEL_TEST_HOOK_KEY}"}}
PAGERDUTY = {"routing_key": "${SENTINEL_TEST_PD_KEY}",
             "url": "https://events.example.com/v2/enqueue?token=qs-token-9999"}


@pytest.fixture
def stored(monkeypatch):
    for name in ("SENTINEL_TEST_HOOK_PATH", "SENTINEL_TEST_HOOK_KEY", "SENTINEL_TEST_PD_KEY"):
        monkeypatch.setenv(name, "set")
    return (Datasource.objects.create(name="shop", url=DATASOURCE_URL),
            Channel.objects.create(name="hook", kind="webhook", config=WEBHOOK),
            Channel.objects.create(name="pager", kind="pagerduty", config=PAGERDUTY))


@pytest.fixture
def viewer_client(client):
    user = User.objects.create_user("viewer", password="pw", is_staff=True)
    user.groups.add(Group.objects.get(name="Sentinel viewers"))
    client.force_login(user)
    return client


def no_secret_in(text: str) -> None:
    for secret in SECRETS:
        assert secret not in text, secret


def test_a_viewers_datasource_and_channel_pages_render_without_a_secret(stored, viewer_client):
    for obj in stored:
        page = viewer_client.get(reverse(f"admin:alerts_{obj._meta.model_name}_change", args=[obj.pk]))

        assert page.status_code == 200
        no_secret_in(page.content.decode())
    page = viewer_client.get(reverse("admin:alerts_datasource_change", args=[stored[0].pk])).content.decode()
    assert "db.example.com:5432/shop" in page  # where it points is still shown


def test_admin_api_and_export_show_the_same_mask(stored, admin_client, api):  # noqa: F811
    ds, hook, pager = stored
    admin = {}
    for channel in (hook, pager):
        page = admin_client.get(reverse("admin:alerts_channel_change", args=[channel.pk])).content.decode()
        admin[channel.name] = json.loads(page.split('name="config"')[1].split(">", 1)[1].split("</textarea>")[0]
                                         .replace("&quot;", '"'))
    ds_page = admin_client.get(reverse("admin:alerts_datasource_change", args=[ds.pk])).content.decode()
    from_api = {c["name"]: c["config"] for c in api.get("/api/channels").json()["results"]}
    api_url = api.get("/api/datasources").json()["results"][0]["url"]
    exported = export_data()
    from_export = {c["name"]: {k: v for k, v in c.items() if k not in ("name", "kind")} for c in exported["channels"]}

    assert admin == from_api == from_export
    assert exported["datasources"][0]["url"] == api_url
    assert f'value="{api_url}"' in ds_page.replace("&amp;", "&")
    assert api_url == "postgresql://reader:***@db.example.com:5432/shop?sslmode=require&password=***"
    assert admin["hook"] == {"url": "https://hooks.example.com/***${SENTINEL_TEST_HOOK_PATH}", "secret": "***",
                             "headers": {"Authorization": "***", "Content-Type": "application/json",
                                         "X-Api-Key": "${SENTINEL_TEST_HOOK_KEY}"}}
    assert admin["pager"] == {"routing_key": "${SENTINEL_TEST_PD_KEY}",
                              "url": "https://events.example.com/v2/enqueue?token=***"}
    no_secret_in(json.dumps([admin, from_api, from_export, api_url, ds_page]))


def test_changing_a_webhook_url_while_keeping_masked_secrets_is_refused(
        admin_client, http_receiver, tmp_path):  # noqa: F811
    channel = Channel.objects.create(name="hook", kind="webhook", config={
        "url": http_receiver.url + "/old", "secret": "hmac-key-3333",
        "headers": {"Authorization": "Bearer hdr-secret-2222"}})
    moved = {"url": http_receiver.url + "/new", "secret": "***", "headers": {"Authorization": "***"}}

    response = admin_client.post(reverse("admin:alerts_channel_change", args=[channel.pk]), {
        "name": "hook", "kind": "webhook", "enabled": "on", "config": json.dumps(moved),
        "notifications-TOTAL_FORMS": "0", "notifications-INITIAL_FORMS": "0"})
    path = tmp_path / "moved.yaml"
    path.write_text(textwrap.dedent(f"""\
        channels:
          - name: hook
            kind: webhook
            url: "{moved['url']}"
            secret: "***"
            headers: {{Authorization: "***"}}
        """))
    code, out = sentinel("apply", str(path))

    errors = " ".join(response.context["adminform"].form.errors["config"])
    assert "Enter the secrets again for the new URL" in errors
    assert code == 1 and "enter the secrets again for the new url" in out.lower()
    channel.refresh_from_db()
    assert channel.config["url"] == http_receiver.url + "/old"
    assert http_receiver.requests == []  # nothing went to the new URL (nor anywhere)


def test_changing_a_datasource_host_while_keeping_the_masked_password_is_refused(admin_client):
    ds = Datasource.objects.create(name="shop", url="postgresql://reader:pg-pass-4711@db.example.com:5432/shop")
    change = reverse("admin:alerts_datasource_change", args=[ds.pk])

    def save(url):
        return admin_client.post(change, {"name": "shop", "url": url, "timeout_seconds": "5", "row_limit": "100",
                                          "enabled": "on"})

    moved = save("postgresql://reader:***@attacker.example.com:5432/shop")
    # The drivers read these over the URL's host: the same move, spelt as an option.
    moved_by_options = [save(f"postgresql://reader:***@db.example.com:5432/shop?{option}")
                        for option in ("host=attacker.example.com", "hostaddr=203.0.113.9", "port=6543",
                                       "dbname=other")]
    kept = save("postgresql://reader:***@db.example.com:5432/shop?sslmode=require")

    assert "Enter the password again for the new host" in " ".join(moved.context["adminform"].form.errors["url"])
    for refused in moved_by_options:
        assert "Enter the password again" in " ".join(refused.context["adminform"].form.errors["url"])
    assert kept.status_code == 302
    ds.refresh_from_db()
    assert ds.url == "postgresql://reader:pg-pass-4711@db.example.com:5432/shop?sslmode=require"
