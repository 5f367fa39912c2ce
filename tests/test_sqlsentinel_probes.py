"""SQL Sentinel's probe URLs, /health and /ready, answer as its daemon did (status codes and fields),
from Sentinel's /healthz and /readyz, by IP and without signing in."""

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from alerts.models import WorkerHeartbeat
from sentinel_project import broker, health

pytestmark = pytest.mark.django_db


@pytest.fixture
def web():
    # Probes come by IP address, which ALLOWED_HOSTS refuses for every other page.
    return Client(HTTP_HOST="10.1.2.3")


def test_health_is_200_healthy_like_sql_sentinels(web):
    response = web.get("/health")

    assert response.status_code == 200 and response.json() == {"status": "healthy"}


def test_ready_is_200_healthy_with_sql_sentinels_checks(web, make_alert, make_datasource):
    make_alert(make_datasource("sqlite://"), "SELECT 'OK' AS status", name="on")
    make_alert(make_datasource("sqlite://", name="other"), "SELECT 'OK' AS status", name="off", enabled=False)

    response = web.get("/ready", {"checks": "database"})

    body = response.json()
    assert response.status_code == 200 and body["status"] == "healthy"
    assert set(body["checks"]) == {"scheduler", "state_database"}
    database = body["checks"]["state_database"]
    assert database["status"] == "healthy" and database["message"] == "Database connection OK"
    assert isinstance(database["latency_ms"], float)
    scheduler = body["checks"]["scheduler"]
    assert set(scheduler) == {"status", "jobs_count", "message"} and scheduler["jobs_count"] == 1
    assert body["sentinel"]["checks"]["database"]["ok"] is True  # /readyz's own report, beside


def test_ready_is_503_unhealthy_when_beat_and_workers_are_silent(web, monkeypatch):
    monkeypatch.setattr(health, "beat_heartbeat_age", lambda: None)

    response = web.get("/ready", {"checks": "database,beat,workers"})

    body = response.json()
    assert response.status_code == 503 and body["status"] == "unhealthy"
    scheduler = body["checks"]["scheduler"]
    assert scheduler["status"] == "unhealthy"
    assert "beat: no beat heartbeat recorded" in scheduler["message"] and "workers:" in scheduler["message"]
    assert body["checks"]["state_database"]["status"] == "healthy"


@pytest.mark.django_db(transaction=True)  # the checks read the heartbeat from threads of their own
def test_ready_is_200_when_beat_and_workers_are_alive(web, monkeypatch):
    monkeypatch.setattr(health, "beat_heartbeat_age", lambda: 2.0)
    WorkerHeartbeat.objects.create(name="worker@box", last_seen=timezone.now() - timedelta(seconds=1),
                                   queues=broker.queue_names())
    monkeypatch.setattr(health, "check_broker", lambda: health.Check(True))

    response = web.get("/ready", {"checks": "database,beat,workers"})

    scheduler = response.json()["checks"]["scheduler"]
    assert response.status_code == 200 and scheduler["status"] == "healthy"
    assert scheduler["message"] == "0 enabled alerts; beat and workers ok"


def test_ready_follows_readyz_status_code(web):
    assert web.get("/ready", {"checks": "nope"}).status_code == web.get("/readyz", {"checks": "nope"}).status_code
    assert web.get("/ready", {"checks": "nope"}).json()["status"] == "unhealthy"
