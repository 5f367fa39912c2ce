"""The alert actions of the API: run (202 + execution id, or a dry run's outcome at once),
enable, disable, silence, unsilence, and the schedule preview."""

from datetime import datetime, timedelta
from datetime import timezone as dt_timezone

import pytest
from django.utils import timezone

from alerts.queued_runs import run_queued
from alerts.models import Alert, Execution, ExecutionStatus, Notification, Trigger
from schedules.models import Schedule
from tests.api_helpers import admin_token, api, level  # noqa: F401 (fixtures)

pytestmark = pytest.mark.django_db


def test_run_answers_202_with_the_execution_id_and_the_worker_runs_it(api, level, django_capture_on_commit_callbacks):
    alert, set_knob = level
    set_knob("level", 9)

    with django_capture_on_commit_callbacks(execute=True):
        response = api.post("/api/alerts/level_high/run")

    assert response.status_code == 202
    body = response.json()
    execution = Execution.objects.get(pk=body["execution_id"])
    assert body["alert"] == "level_high" and body["url"].endswith(f"/api/executions/{execution.pk}")
    # Tests run Celery eagerly: the task queued on commit has run by now.
    assert execution.trigger == Trigger.API and execution.status == ExecutionStatus.ALERT
    assert Notification.objects.filter(execution=execution, event="firing").count() == 1
    detail = api.get(body["url"].split("testserver")[-1]).json()
    assert detail["status"] == "ALERT" and detail["actual_value"] == 9


def test_a_queued_run_delivered_twice_runs_once(level):
    from alerts.queued_runs import start_run

    alert, _ = level
    execution = start_run(alert)  # inside the test transaction: the task waits for a commit that never comes
    assert execution.status == ExecutionStatus.RUNNING

    first = run_queued(execution.pk, task_id="t1")
    second = run_queued(execution.pk, task_id="t2")

    assert first.status == ExecutionStatus.OK and second is None
    assert Execution.objects.get(pk=execution.pk).task_id == "t1"


def test_dry_run_gives_the_outcome_at_once_and_records_nothing(api, level):
    alert, set_knob = level
    set_knob("level", 9)

    response = api.post("/api/alerts/level_high/run?dry_run=1")

    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ALERT" and body["value"] == 9 and body["threshold"] == 5 and body["dry_run"] is True
    assert body["transitions"] == [{"key": "", "state": "FIRING", "events": ["firing"]}]
    assert body["columns"] == ["status", "actual_value", "threshold"]
    assert not Execution.objects.exists() and not Notification.objects.exists()


def test_dry_run_reports_a_failing_query(api, make_datasource, make_alert, sqlite_db):
    make_alert(make_datasource(sqlite_db[0]), "SELECT nope FROM nowhere", name="broken")
    body = api.post("/api/alerts/broken/run?dry_run=true").json()
    assert body["status"] == "ERROR" and "no such table: nowhere" in body["error"]


def test_enable_and_disable(api, level):
    assert api.post("/api/alerts/level_high/disable").json()["enabled"] is False
    assert Alert.objects.get(name="level_high").enabled is False
    assert api.post("/api/alerts/level_high/enable").json()["enabled"] is True
    assert Alert.objects.get(name="level_high").enabled is True


def test_silence_until_or_for_a_duration_and_unsilence(api, level):
    until = (timezone.now() + timedelta(hours=3)).replace(microsecond=0)
    response = api.post("/api/alerts/level_high/silence", {"until": until.isoformat(), "reason": "deploy"},
                        format="json")
    assert response.status_code == 200
    alert = Alert.objects.get(name="level_high")
    assert alert.silenced_until == until and alert.silence_reason == "deploy"
    assert alert.silenced_by == "api:api-admin"

    response = api.post("/api/alerts/level_high/silence", {"duration": "90m", "reason": "deploy"}, format="json")
    silenced = datetime.fromisoformat(response.json()["silenced_until"])
    assert abs((silenced - timezone.now()).total_seconds() - 5400) < 60

    response = api.post("/api/alerts/level_high/unsilence")
    assert response.status_code == 200 and response.json()["silenced_until"] is None
    assert not Alert.objects.get(name="level_high").is_silenced()


def test_silence_needs_a_future_time_or_a_duration(api, level):
    past = (timezone.now() - timedelta(minutes=1)).isoformat()
    assert api.post("/api/alerts/level_high/silence", {"until": past, "reason": "deploy"}, format="json").json() == {
        "until": ["Must be in the future."]}
    assert api.post("/api/alerts/level_high/silence", {"reason": "deploy"}, format="json").json() == {
        "non_field_errors": ["Give either until or duration."]}
    assert api.post("/api/alerts/level_high/silence", {"duration": "soon", "reason": "deploy"},
                    format="json").status_code == 400
    assert api.post("/api/alerts/level_high/silence", {"duration": "1h"}, format="json").json() == {
        "reason": ["This field is required."]}
    assert not Alert.objects.get(name="level_high").is_silenced()


def test_schedule_preview_shows_cron_timezone_and_the_next_five_runs(api, level):
    alert, _ = level
    alert.schedule = Schedule.objects.create(cron="0 9 * * 1-5", timezone="America/New_York")
    alert.save()

    body = api.get("/api/alerts/level_high/schedule").json()

    assert body["enabled"] is True and body["cron"] == "0 9 * * 1-5" and body["timezone"] == "America/New_York"
    assert len(body["next_runs"]) == 5 and body["next_run"] == body["next_runs"][0]
    for run in body["next_runs"]:
        local = datetime.fromisoformat(run["local"])
        assert (local.hour, local.minute) == (9, 0) and local.isoweekday() in range(1, 6)
        assert datetime.fromisoformat(run["utc"].replace("Z", "+00:00")) == local.astimezone(dt_timezone.utc)
    utcs = [r["utc"] for r in body["next_runs"]]
    assert utcs == sorted(utcs) and len(set(utcs)) == 5


def test_schedule_preview_of_a_disabled_or_unscheduled_alert_has_no_runs(api, level):
    body = api.get("/api/alerts/level_high/schedule").json()
    assert body["schedule"] is None and body["next_run"] is None and body["next_runs"] == []


def test_executions_filter_and_paginate(api, level, django_capture_on_commit_callbacks):
    alert, set_knob = level
    for level_now in (1, 1, 1, 9):
        set_knob("level", level_now)
        with django_capture_on_commit_callbacks(execute=True):
            api.post("/api/alerts/level_high/run")

    page = api.get("/api/executions?alert=level_high&page_size=2").json()
    assert page["count"] == 4 and len(page["results"]) == 2 and page["next"]
    assert [e["status"] for e in api.get("/api/executions?status=ALERT").json()["results"]] == ["ALERT"]
    assert api.get("/api/executions?trigger=api").json()["count"] == 4
    assert api.get("/api/executions?trigger=schedule").json()["count"] == 0
    future = (timezone.now() + timedelta(hours=1)).isoformat().replace("+00:00", "Z")
    assert api.get("/api/executions", {"since": future}).json()["count"] == 0
    assert api.get("/api/executions?since=yesterday").status_code == 400

    notifications = api.get("/api/notifications?alert=level_high").json()["results"]
    assert [n["event"] for n in notifications] == ["firing"]
    assert notifications[0]["channel"] == "log" and notifications[0]["status"] == "sent"
    assert notifications[0]["delivery_attempts"][0]["ok"] is True


def test_schedules_list_with_previews(api, level):
    alert, _ = level
    alert.schedule = Schedule.objects.create(cron="*/15 * * * *", timezone="UTC")
    alert.save()
    body = api.get("/api/schedules").json()["results"]
    assert body[0]["alerts"] == ["level_high"] and len(body[0]["next_runs"]) == 5


def test_unknown_alert_is_404(api):
    assert api.post("/api/alerts/nope/run").status_code == 404
    assert api.get("/api/alerts/nope/schedule").status_code == 404
