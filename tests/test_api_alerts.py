"""The alerts API: authentication, the same validation as files, CRUD and filters; secrets stay hidden."""

import pytest
from rest_framework.test import APIClient

from alerts.models import Alert, Channel
from tests.api_helpers import admin_token, api, editor_api, level, reader_api  # noqa: F401 (fixtures)

pytestmark = pytest.mark.django_db

NEW = {
    "name": "orders_stuck",
    "query": "SELECT 'OK' AS status",
    "schedule": "*/5 * * * *",
    "timezone": "Europe/Berlin",
    "channels": ["log"],
    "severity": "critical",
    "renotify_interval": "4h",
    "key_columns": ["region"],
}


def test_no_token_is_401_and_a_bad_token_is_401(level):
    assert APIClient().get("/api/alerts").status_code == 401
    response = APIClient().get("/api/alerts", HTTP_AUTHORIZATION="Token nope")
    assert response.status_code == 401 and response["WWW-Authenticate"] == "Token"


def test_a_viewer_reads_but_cannot_change(reader_api, level):
    assert reader_api.get("/api/alerts").status_code == 200
    assert reader_api.post("/api/alerts", NEW, format="json").status_code == 403
    assert reader_api.post("/api/alerts/level_high/disable").status_code == 403
    assert reader_api.delete("/api/alerts/level_high").status_code == 403
    assert Alert.objects.get(name="level_high").enabled


def test_change_permission_allows_actions_but_not_create_or_delete(editor_api, level):
    assert editor_api.post("/api/alerts/level_high/disable").status_code == 200
    assert editor_api.post("/api/alerts", NEW, format="json").status_code == 403
    assert editor_api.delete("/api/alerts/level_high").status_code == 403


def test_create_read_update_delete(api, level):
    response = api.post("/api/alerts", NEW, format="json")
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["name"] == "orders_stuck" and body["datasource"] == "default"
    assert body["schedule"] == "*/5 * * * *" and body["timezone"] == "Europe/Berlin"
    assert body["renotify_interval"] == "4h" and body["key_columns"] == ["region"]
    assert body["state"] == "OK" and body["source_file"] == ""
    alert = Alert.objects.get(name="orders_stuck")
    assert alert.schedule.timezone == "Europe/Berlin" and [c.name for c in alert.channels.all()] == ["log"]

    assert api.get("/api/alerts/orders_stuck").json()["severity"] == "critical"

    patched = api.patch("/api/alerts/orders_stuck", {"severity": "info", "schedule": "@daily"}, format="json")
    assert patched.status_code == 200, patched.json()
    assert patched.json()["severity"] == "info" and patched.json()["timezone"] == "Europe/Berlin"
    assert patched.json()["renotify_interval"] == "4h"  # untouched by the PATCH

    unscheduled = api.patch("/api/alerts/orders_stuck", {"schedule": None}, format="json")
    assert unscheduled.status_code == 200 and unscheduled.json()["timezone"] is None

    put = api.put("/api/alerts/orders_stuck", {"query": "SELECT 'OK' AS status", "schedule": None}, format="json")
    assert put.status_code == 200, put.json()
    assert put.json()["schedule"] is None and put.json()["severity"] == "warning"  # PUT replaces

    assert api.delete("/api/alerts/orders_stuck").status_code == 204
    assert api.get("/api/alerts/orders_stuck").status_code == 404


def test_invalid_alerts_get_400_with_field_errors(api, level):
    response = api.post("/api/alerts", {
        "name": "bad name", "query": " ", "schedule": "61 * * * *", "channels": ["nobody"],
        "renotify_interval": "soon", "mode": "threshold",
    }, format="json")
    assert response.status_code == 400
    errors = response.json()
    assert errors["name"] == ["Use letters, digits, '_', '.' and '-', starting with a letter or digit."]
    assert errors["query"] == ["Must not be empty."]
    assert errors["schedule"][0].startswith("Invalid cron expression '61 * * * *'")
    assert errors["renotify_interval"] == ["Cannot read duration 'soon': use forms like 30s, 5m, 2h, 1d, 1h30m."]

    response = api.post("/api/alerts", {**NEW, "channels": ["nobody"], "datasource": "nowhere"}, format="json")
    assert response.status_code == 400
    assert response.json() == {"datasource": ["No datasource named 'nowhere'."],
                               "channels": ["No channel named 'nobody'."]}

    response = api.post("/api/alerts", {**NEW, "name": "level_high"}, format="json")
    assert response.json() == {"name": ["An alert named 'level_high' exists already."]}

    response = api.post("/api/alerts", {**NEW, "mode": "threshold"}, format="json")
    assert response.json() == {"threshold": ["Threshold mode needs a threshold."]}

    response = api.post("/api/alerts", {**NEW, "unknown_key": 1, "schedule": "every 3 fortnights"}, format="json")
    assert response.status_code == 400 and "schedule" in response.json()


def test_list_filters_by_state_datasource_and_enabled(api, level, make_alert):
    alert, _ = level
    make_alert(alert.datasource, "SELECT 1", name="other", enabled=False)
    Alert.objects.filter(name="level_high").update(state="FIRING")

    def names(query):
        response = api.get(f"/api/alerts{query}")
        assert response.status_code == 200, response.json()
        return [a["name"] for a in response.json()["results"]]

    assert names("") == ["level_high", "other"]
    assert names("?state=FIRING") == ["level_high"]
    assert names("?enabled=false") == ["other"]
    assert names("?datasource=default&enabled=true") == ["level_high"]
    assert names("?datasource=elsewhere") == []
    assert api.get("/api/alerts?state=ON_FIRE").status_code == 400


def test_datasources_and_channels_never_show_secrets(api, make_datasource):
    make_datasource("postgresql://app:pa55word-x@db.internal/app", name="warehouse")
    Channel.objects.create(name="hook", kind="webhook", config={
        "url": "https://example.com/hooks/s3cret-path", "secret": "sign-me-please",
        "headers": {"Authorization": "Bearer tok-123456", "Content-Type": "application/json"},
    })
    Channel.objects.create(name="slack", kind="slack", config={"webhook_url": "${SLACK_WEBHOOK_URL}"})

    datasources = api.get("/api/datasources").content.decode()
    channels = api.get("/api/channels").content.decode()

    assert "pa55word" not in datasources and "postgresql://app:***@db.internal/app" in datasources
    for secret in ("s3cret-path", "sign-me-please", "tok-123456"):
        assert secret not in channels
    hook = api.get("/api/channels/hook").json()
    assert hook["config"]["url"] == "https://example.com/***"
    assert hook["config"]["headers"]["Content-Type"] == "application/json"
    assert api.get("/api/channels/slack").json()["config"] == {"webhook_url": "${SLACK_WEBHOOK_URL}"}


def test_schema_and_docs_are_served_to_signed_in_users(api):
    schema = api.get("/api/schema/")
    assert schema.status_code == 200 and b"/api/alerts/{name}/run" in schema.content
    assert api.get("/api/docs/").status_code == 200
    assert APIClient().get("/api/schema/").status_code == 401  # docs/security.md §3
