"""Fault 10: after slow, hostile, failing and erroring runs, no datasource password, webhook token
or SMTP password appears in any process log, admin page, API response, execution or delivery
error, or Sentry event (a real local ingest server is the workers' SENTRY_DSN)."""

import json

import pytest
from celery import Celery
from django.contrib.auth.models import User
from django.urls import reverse

from alerts.models import (
    Alert,
    Channel,
    Datasource,
    DeliveryAttempt,
    Execution,
    ExecutionStatus,
    Notification,
    NotificationStatus,
)
from schedules.models import Schedule
from tests.api_helpers import admin_token, api  # noqa: F401 (fixtures)
from tests.faults.conftest import DATASOURCE_PASSWORD, WEBHOOK_TOKEN, beat_args, worker_args
from tests.ops_processes import free_port, process_env, wait_until
from tests.test_sentry_scrubbing import sentry_ingest  # noqa: F401 (fixture: a local Sentry ingest server)

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.processes, pytest.mark.needs_postgres]

SMTP_PASSWORD = "faults-smtp-pw-Zr4t"
SECRETS = {"datasource password": DATASOURCE_PASSWORD, "webhook token": WEBHOOK_TOKEN, "SMTP password": SMTP_PASSWORD}


def leaks(text: str) -> list[str]:
    return [name for name, value in SECRETS.items() if value in text]


def test_no_secret_reaches_logs_admin_api_errors_or_sentry(
        tmp_path, redis_server, processes, make_datasource, make_alert, sink, secret_env, sentry_ingest,  # noqa: F811
        api, client, settings, pg_datasource_url):  # noqa: F811
    dsn, received = sentry_ingest
    settings.EMAIL_HOST_PASSWORD = SMTP_PASSWORD  # the web side knows it too: no page may show it
    every10 = Schedule.objects.for_timing(interval_seconds=10)
    pg = pg_datasource_url.replace("postgres@", "postgres:%s@")
    # Passwords both ways: a ${VAR} reference, and typed into the URL (the server trusts any password).
    by_reference = make_datasource(pg % "${FAULTS_DS_PASSWORD}", name="by-reference", timeout_seconds=2)
    literal = make_datasource(pg % DATASOURCE_PASSWORD, name="literal", timeout_seconds=2)
    missing_db = make_datasource((pg % "${FAULTS_DS_PASSWORD}").replace("/test", "/faults_no_such_db"),
                                 name="missing-db")
    closed = make_datasource(f"postgresql+psycopg2://postgres:{DATASOURCE_PASSWORD}@127.0.0.1:{free_port()}/test",
                             name="closed-port")
    sink.status, sink.echo = 404, True  # refused for good, quoting the URL: recorded, logged at ERROR, sent to Sentry
    channels = [
        Channel.objects.create(name="hook-ref", kind="webhook",
                               config={"url": sink.url + "/hook?token=${FAULTS_HOOK_TOKEN}"}),
        Channel.objects.create(name="hook-literal", kind="webhook",
                               config={"url": f"{sink.url}/hook/{WEBHOOK_TOKEN}"}),
        Channel.objects.create(name="hook-down", kind="webhook",
                               config={"url": f"http://127.0.0.1:{free_port()}/x?token=${{FAULTS_HOOK_TOKEN}}"}),
        Channel.objects.create(name="mail", kind="email", config={"recipients": ["ops@example.com"]}),
    ]
    alerts = [
        make_alert(literal, "SELECT 'ALERT' AS status, 1 AS actual_value", name="firing", schedule=every10,
                   channels=channels),
        make_alert(by_reference, "SELECT 'OK' AS status FROM pg_sleep(30)", name="slow", schedule=every10,
                   channels=channels),
        make_alert(by_reference, "SELECT pg_terminate_backend(pg_backend_pid()) AS status", name="hostile",
                   schedule=every10),
        make_alert(missing_db, "SELECT 'OK' AS status", name="no-db", schedule=every10),
        make_alert(closed, "SELECT 'OK' AS status", name="no-server", schedule=every10),
        make_alert(literal, "SELEC 'OK' AS status", name="typo", schedule=every10),
    ]
    env = process_env(tmp_path, redis_server.url, SENTINEL_BEAT_LEASE_SECONDS=3, SENTRY_DSN=dsn,
                      SMTP_HOST="127.0.0.1", SMTP_PORT=free_port(), SMTP_USER="sentinel", SMTP_PASSWORD=SMTP_PASSWORD,
                      SENTINEL_DELIVERY_MAX_ATTEMPTS=1)
    processes(worker_args("w1", "--pool=threads", "-c", "4"), env, tmp_path / "worker.log")
    processes(beat_args(tmp_path, "beat"), env, tmp_path / "beat.log")

    wait_until(lambda: Execution.objects.exclude(status=ExecutionStatus.RUNNING).values("alert").distinct().count()
               == len(alerts), 45, "one finished run of every alert", interval=0.5, log=tmp_path / "worker.log")
    wait_until(lambda: Notification.objects.exists()
               and not Notification.objects.exclude(status=NotificationStatus.FAILED).exists(), 30,
               "every notification to fail for good", interval=0.5, log=tmp_path / "worker.log")
    # A task that blows up in the worker: Sentry gets an event with its stack and local variables.
    # (a message without its tick: a TypeError in the task, as a bug would raise)
    broker = Celery(broker=redis_server.url, set_as_current=False)
    broker.send_task("alerts.run_alert", args=[alerts[0].pk], queue="alerts")
    wait_until(lambda: any('"exception"' in body and "TypeError" in body for body in list(received)), 30,
               "the failed task's event at the Sentry ingest", interval=0.5, log=tmp_path / "worker.log")
    # Each delivery that failed for good is logged at ERROR: one event each, besides the task's.
    failed = Notification.objects.filter(status=NotificationStatus.FAILED).count()
    wait_until(lambda: sum('"type":"event"' in body for body in list(received)) >= failed + 1, 15,
               f"{failed + 1} events at the Sentry ingest", interval=0.2, log=tmp_path / "worker.log")

    statuses = {e.alert.name: e.status for e in Execution.objects.select_related("alert")}
    assert {name: statuses[name] for name in ("firing", "slow", "hostile", "no-db", "no-server", "typo")} == {
        "firing": ExecutionStatus.ALERT, "slow": ExecutionStatus.TIMEOUT, "hostile": ExecutionStatus.ERROR,
        "no-db": ExecutionStatus.ERROR, "no-server": ExecutionStatus.ERROR, "typo": ExecutionStatus.ERROR}
    assert Notification.objects.filter(channel__name="mail").exists()

    # Everything a person or a system can read, gathered in one place.
    captured = {}
    for execution in Execution.objects.all():
        captured[f"execution {execution.pk} ({execution.alert.name})"] = json.dumps(
            [execution.error, execution.reason, execution.context, execution.preview], default=str)
    for notification in Notification.objects.all():
        captured[f"notification {notification.pk}"] = json.dumps([notification.last_error, notification.payload])
    for attempt in DeliveryAttempt.objects.all():
        captured[f"delivery attempt {attempt.pk}"] = attempt.error
    for channel in Channel.objects.all():
        captured[f"channel {channel.name} failure"] = channel.last_failure or ""
    client.force_login(User.objects.create_superuser("root", "root@example.com", "pw"))
    pages = [reverse(f"admin:alerts_{model}_changelist") for model in
             ("datasource", "channel", "alert", "execution", "notification")]
    pages += [reverse("admin:alerts_datasource_change", args=[d.pk]) for d in Datasource.objects.all()]
    pages += [reverse("admin:alerts_channel_change", args=[c.pk]) for c in Channel.objects.all()]
    pages += [reverse("admin:alerts_alert_change", args=[a.pk]) for a in Alert.objects.all()]
    pages += [reverse("admin:alerts_execution_change", args=[e.pk]) for e in Execution.objects.all()]
    pages += [reverse("admin:alerts_notification_change", args=[n.pk]) for n in Notification.objects.all()]
    for page in pages:
        response = client.get(page)
        assert response.status_code == 200, page
        captured[f"admin {page}"] = response.content.decode()
    for path in ["/api/datasources", "/api/channels", "/api/alerts", "/api/executions", "/api/notifications",
                 *[f"/api/datasources/{d.name}" for d in Datasource.objects.all()],
                 *[f"/api/channels/{c.name}" for c in Channel.objects.all()],
                 *[f"/api/executions/{e.pk}" for e in Execution.objects.all()]]:
        response = api.get(path)
        assert response.status_code == 200, path
        captured[f"API {path}"] = response.content.decode()
    for n, body in enumerate(received):
        captured[f"Sentry envelope {n}"] = body
    for log in tmp_path.rglob("*.log"):
        captured[f"log {log.name}"] = log.read_text(errors="replace")

    found = {where: leaks(text) for where, text in captured.items() if leaks(text)}
    assert not found, f"secrets leaked: {found}"
    # The surfaces were really looked at: the masked forms are there, and the errors are informative.
    assert "postgres:***@" in captured[f"admin {reverse('admin:alerts_datasource_change', args=[literal.pk])}"]
    assert any("pg_terminate_backend" in text for where, text in captured.items() if where.startswith("execution"))
    assert any("faults_no_such_db" in text for where, text in captured.items() if where.startswith("execution"))
    assert any("Cannot POST /***" in text for where, text in captured.items() if where.startswith("delivery"))
    print(f"FAULT-10 figures: grepped {len(captured)} captures ({len(pages)} admin pages, "
          f"{sum(w.startswith('API') for w in captured)} API responses, {len(received)} Sentry envelopes, "
          f"{Execution.objects.count()} executions, {Notification.objects.count()} notifications, "
          f"{DeliveryAttempt.objects.count()} delivery attempts, {sum(w.startswith('log') for w in captured)} logs, "
          f"{sum(len(t) for t in captured.values()) // 1024} KB): no secret found")
