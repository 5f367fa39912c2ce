"""A key the API does not read is a 400 that names it, with the message a config file gives,
on every writable endpoint; a GET body sent back (read-only keys included) is accepted."""

import pytest

from alerts.models import Alert
from tests.api_helpers import admin_token, api, level  # noqa: F401  (fixtures)
from tests.factories import sentinel

pytestmark = pytest.mark.django_db

NEW = {"name": "orders_stuck", "query": "SELECT 'OK' AS status", "schedule": "@hourly"}


def test_a_misspelt_key_is_refused_on_create_replace_and_change(api, level):
    create = api.post("/api/alerts", {**NEW, "thresold": 5}, format="json")
    replace = api.put("/api/alerts/level_high", {**NEW, "name": "level_high", "thresold": 5}, format="json")
    change = api.patch("/api/alerts/level_high", {"severty": "critical"}, format="json")

    assert create.status_code == replace.status_code == change.status_code == 400
    assert create.json() == replace.json() == {"thresold": ["Unknown key; did you mean 'threshold'?"]}
    assert change.json() == {"severty": ["Unknown key; did you mean 'severity'?"]}
    assert not Alert.objects.filter(name="orders_stuck").exists()
    assert Alert.objects.get(name="level_high").severity == "warning"


def test_the_message_is_the_one_a_file_gives(api, level, tmp_path):
    path = tmp_path / "alerts.yaml"
    path.write_text("alerts:\n  - name: a\n    query: SELECT 1\n    schedule: '@hourly'\n    thresold: 5\n")
    _, out = sentinel("validate", str(path))
    in_file = out.splitlines()[0].split("thresold: ", 1)[1]

    response = api.post("/api/alerts", {**NEW, "thresold": 5}, format="json")

    assert response.json()["thresold"] == [in_file]


def test_unknown_keys_are_reported_with_every_other_problem_at_once(api, level):
    response = api.post("/api/alerts", {**NEW, "query": "DELETE FROM orders", "colour": "red"}, format="json")

    assert response.status_code == 400
    errors = response.json()
    assert errors["colour"][0].startswith("Unknown key; an alert takes: name, description, enabled")
    assert errors["query"][0].startswith("The query starts with DELETE and was refused")


def test_the_config_files_notify_key_points_at_channels(api, level):
    response = api.post("/api/alerts", {**NEW, "notify": ["log"]}, format="json")

    assert response.json() == {"notify": ["Unknown key; did you mean 'channels'?"]}


def test_a_body_fetched_with_get_can_be_sent_back_changed(api, level):
    body = api.get("/api/alerts/level_high").json()
    body["severity"] = "critical"

    response = api.put("/api/alerts/level_high", body, format="json")

    assert response.status_code == 200, response.json()
    assert Alert.objects.get(name="level_high").severity == "critical"


def test_the_silence_action_refuses_unknown_keys_too(api, level):
    response = api.post("/api/alerts/level_high/silence", {"duration": "1h", "reason": "deploy", "untill": "x"},
                        format="json")

    assert response.status_code == 400
    assert response.json() == {"untill": ["Unknown key; did you mean 'until'?"]}
    assert not Alert.objects.get(name="level_high").is_silenced()
