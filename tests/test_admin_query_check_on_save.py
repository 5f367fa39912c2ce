"""Saving an alert in the admin asks its datasource to plan the query: a missing table or a
syntax error is a warning beside the saved message, an unreachable datasource a softer note;
the alert is saved either way, and the check stays within the datasource's timeout."""

import time

import pytest
from django.contrib import messages
from django.contrib.messages import get_messages
from django.urls import reverse

from alerts.models import Alert
from tests.test_admin_alerts import form_data

pytestmark = pytest.mark.django_db

ADD = reverse("admin:alerts_alert_add")


def notes(response) -> list[tuple[int, str]]:
    return [(m.level, str(m)) for m in get_messages(response.wsgi_request)]


@pytest.fixture
def source(sqlite_db, make_datasource):
    return make_datasource(sqlite_db[0], name="warehouse")


@pytest.mark.parametrize("query, problem", [
    ("SELECT value FROM knobz", "missing table: no such table: knobz"),
    ("SELECT value FORM knobs", 'syntax error: near "knobs": syntax error'),
])
def test_a_query_the_datasource_refuses_saves_with_a_warning_naming_the_problem(admin_client, source, query,
                                                                                 problem):
    response = admin_client.post(ADD, form_data(source, query=query))

    assert response.status_code == 302
    assert Alert.objects.filter(name="orders-stuck").exists()
    warnings = [text for level, text in notes(response) if level == messages.WARNING]
    assert warnings == [f"orders-stuck was saved, but its query fails on warehouse: {problem}. "
                        "Each run records an error until it is fixed."]


def test_a_query_the_datasource_plans_saves_without_a_warning(admin_client, source):
    response = admin_client.post(ADD, form_data(source))

    assert response.status_code == 302
    assert [level for level, _ in notes(response)] == [messages.SUCCESS]


def test_the_same_check_runs_when_an_alert_is_changed(admin_client, source, make_alert):
    alert = make_alert(source, "SELECT value FROM knobs", name="orders-stuck")

    response = admin_client.post(reverse("admin:alerts_alert_change", args=[alert.pk]),
                                 form_data(source, query="SELECT value FROM knobs_archive"))

    assert response.status_code == 302
    assert any(level == messages.WARNING and "missing table: no such table: knobs_archive" in text
               for level, text in notes(response))


def test_an_unreachable_datasource_saves_with_a_softer_note_and_no_secret(admin_client, make_datasource):
    down = make_datasource("postgresql://reader:hunter2secret@127.0.0.1:1/nowhere", name="down", timeout_seconds=3)

    started = time.monotonic()
    response = admin_client.post(ADD, form_data(down))

    assert response.status_code == 302 and time.monotonic() - started < 3 + 2
    assert Alert.objects.filter(name="orders-stuck").exists()
    said = notes(response)
    assert messages.WARNING not in [level for level, _ in said]
    [note] = [text for level, text in said if level == messages.INFO]
    assert note.startswith("orders-stuck: the query was not checked against its datasource (cannot reach down: ")
    assert "hunter2secret" not in note
