"""The fault-injection suite: real worker/beat processes on PostgreSQL and a private Redis,
a webhook sink that counts deliveries by Idempotency-Key, and the books the tests check."""

import json
import threading
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from django.db.models import Count

from alerts.delivery import idempotency_key
from alerts.models import Channel, DeliveryAttempt, Execution, ExecutionStatus, Notification, NotificationStatus
from schedules.models import FiredTick, Schedule
from tests.ops_processes import beat_args, processes, redis_server, wait_until, worker_args  # noqa: F401  (re-exported)


# Secret values the faults tests put behind ${VAR}: none may ever reach a process log.
DATASOURCE_PASSWORD = "faults-ds-pw-7Qx9"
WEBHOOK_TOKEN = "faults-hook-token-K3v8"
SECRET_ENV = {"FAULTS_DS_PASSWORD": DATASOURCE_PASSWORD, "FAULTS_HOOK_TOKEN": WEBHOOK_TOKEN}


def pytest_collection_modifyitems(config, items):
    here = Path(__file__).parent
    for item in items:
        if Path(str(item.fspath)).is_relative_to(here):
            item.add_marker(pytest.mark.faults)


class Sink:
    """A webhook endpoint: answers `status` (200, or 500 while failing) and records every request."""

    def __init__(self, port):
        self.url = f"http://127.0.0.1:{port}"
        self.status = 200
        self.echo = False  # answer with the request's path, as many servers' error pages do
        self.requests = []  # (idempotency key, event, status answered)
        self.lock = threading.Lock()

    def delivered(self) -> Counter:
        """How many times each idempotency key was answered 2xx: a delivery."""
        with self.lock:
            return Counter(key for key, _, status in self.requests if status < 300)

    def events(self) -> list[str]:
        with self.lock:
            return [event for _, event, status in self.requests if status < 300]


@pytest.fixture
def sink():
    holder = {}

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def do_POST(self):
            s = holder["sink"]
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            try:
                event = json.loads(body).get("event", "")
            except ValueError:
                event = ""
            status = s.status
            with s.lock:
                s.requests.append((self.headers.get("Idempotency-Key", ""), event, status))
            answer = f"Cannot {self.command} {self.path}".encode() if s.echo else b"{}"
            self.send_response(status)
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    holder["sink"] = Sink(server.server_port)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield holder["sink"]
    server.shutdown()
    server.server_close()


@pytest.fixture
def hook(sink, secret_env):
    """A webhook channel to the sink, its token behind ${FAULTS_HOOK_TOKEN}."""
    return Channel.objects.create(name="hook", kind="webhook",
                                  config={"url": sink.url + "/hook?token=${FAULTS_HOOK_TOKEN}"})


@pytest.fixture
def secret_env(monkeypatch):
    for name, value in SECRET_ENV.items():
        monkeypatch.setenv(name, value)
    return dict(SECRET_ENV)


@pytest.fixture(autouse=True)
def no_secret_in_logs(tmp_path):
    """Fault 10: after each fault, no secret value appears in any log a process wrote."""
    yield
    for log in tmp_path.rglob("*.log"):
        text = log.read_text(errors="replace")
        for value in SECRET_ENV.values():
            assert value not in text, f"a secret value leaked into {log.name}"


def pg_sleep_running(datasource_url: str) -> bool:
    """Whether a query sleeps in pg_sleep on the datasource's database right now. Sentinel streams
    PostgreSQL results, so the statement shown while it runs is a FETCH from its cursor, not the
    query's text: look at what the backend waits on instead."""
    import sqlalchemy as sa

    engine = sa.create_engine(datasource_url)
    try:
        with engine.connect() as conn:
            return conn.exec_driver_sql(
                "SELECT count(*) FROM pg_stat_activity WHERE state = 'active' AND wait_event = 'PgSleep' "
                "AND datname = current_database() AND pid <> pg_backend_pid()").scalar() > 0
    finally:
        engine.dispose()


def duplicate_runs() -> list:
    """(alert, tick) pairs with more than one Execution: must stay empty."""
    return list(Execution.objects.values("alert", "scheduled_for").annotate(n=Count("id")).filter(n__gt=1))


# The books: what every faults test checks once its fault is over.

@dataclass
class Books:
    ticks: int  # ticks of the schedule in the window, from its first fired tick to the last
    fired: int  # FiredTick rows: ticks that were fanned out
    missed: int  # ticks counted in the FiredTick gap records (missed_count)
    alerts: int
    executions: int
    statuses: Counter
    notifications: int
    deliveries: int  # idempotency keys answered 2xx at the sink
    events: Counter
    attempts: int  # DeliveryAttempt rows, failed ones included
    window: list  # the ticks of the window, in order

    def __str__(self) -> str:
        statuses = ", ".join(f"{k} {v}" for k, v in sorted(self.statuses.items()))
        events = ", ".join(f"{k} {v}" for k, v in sorted(self.events.items())) or "none"
        return (f"ticks expected {self.ticks}, fired {self.fired}, missed (gap records) {self.missed}; "
                f"executions {self.executions} (expected {self.fired * self.alerts}: {statuses}), duplicates 0; "
                f"notifications {self.notifications}, deliveries {self.deliveries} ({events}), "
                f"delivery attempts {self.attempts}")


def _window_runs(alerts, until):
    return Execution.objects.filter(alert__in=alerts, scheduled_for__lte=until)


def settle(schedule: Schedule, alerts, timeout: float = 30, log: Path | None = None) -> datetime:
    """Close the books' window at the newest fired tick and wait until its work is done: every
    fired tick has a finished execution per alert and no notification of the window is pending.
    Returns the window's last tick (ticks after it are not part of the books)."""
    until = FiredTick.objects.filter(schedule=schedule).order_by("-tick").values_list("tick", flat=True).first()
    assert until is not None, "no tick fired at all"

    def done():
        runs = _window_runs(alerts, until)
        fired = FiredTick.objects.filter(schedule=schedule, tick__lte=until).count()
        return (runs.count() >= fired * len(alerts) and not runs.filter(status=ExecutionStatus.RUNNING).exists()
                and not Notification.objects.filter(execution__in=runs, status__in=[
                    NotificationStatus.PENDING, NotificationStatus.SENDING]).exists())
    wait_until(done, timeout, f"the work of every tick up to {until:%H:%M:%S} to finish", interval=0.3, log=log)
    return until


def check_books(schedule: Schedule, alerts, until: datetime, sink: Sink | None = None) -> Books:
    """Assert the books of the window (first fired tick .. until) and return their figures:

    - every tick of the schedule in the window either fired once or is counted, once, in a
      FiredTick gap record (missed_first .. missed_last);
    - every fired tick has exactly one finished Execution per alert, and a missed tick none;
    - every notification of the window reached the sink exactly once (by Idempotency-Key),
      and the sink answered 2xx to no key Sentinel does not know."""
    step = timedelta(seconds=schedule.interval_seconds)
    fired = list(FiredTick.objects.filter(schedule=schedule, tick__lte=until).order_by("tick"))
    fired_ticks = {t.tick for t in fired}
    gaps = [t.missed_first + i * step for t in fired if t.missed_count for i in range(t.missed_count)]
    for t in fired:
        if t.missed_count:
            assert t.missed_last == t.missed_first + (t.missed_count - 1) * step, f"gap record of {t} is inconsistent"
    window = {fired[0].tick + i * step for i in range(int((until - fired[0].tick) / step) + 1)}
    assert len(gaps) == len(set(gaps)), "a tick is counted in two gap records"
    assert not fired_ticks & set(gaps), "a tick both fired and counted missed"
    assert set(gaps) <= window, "a gap record outside the window"
    assert window <= fired_ticks | set(gaps), f"ticks neither fired nor recorded: {sorted(window - fired_ticks - set(gaps))}"

    assert not duplicate_runs(), f"duplicate executions: {duplicate_runs()}"
    runs = _window_runs(alerts, until).filter(scheduled_for__gte=fired[0].tick)
    per_tick = Counter(runs.values_list("scheduled_for", flat=True))
    for t in fired:
        assert per_tick[t.tick] == len(alerts), f"tick {t.tick:%H:%M:%S}: {per_tick[t.tick]} executions for {len(alerts)} alerts"
    assert set(per_tick) == fired_ticks, f"executions for ticks that never fired: {sorted(set(per_tick) - fired_ticks)}"
    assert not runs.filter(status=ExecutionStatus.RUNNING).exists()

    notifications = list(Notification.objects.filter(execution__in=runs).select_related("channel"))
    deliveries, events, attempts = 0, Counter(), 0
    if sink is not None:
        delivered = sink.delivered()
        known = {idempotency_key(n) for n in Notification.objects.all()}
        assert set(delivered) <= known, "the sink got a delivery Sentinel has no notification for"
        for n in notifications:
            if n.channel.kind != "webhook" or n.status == NotificationStatus.SUPPRESSED:
                continue
            assert n.status == NotificationStatus.SENT, f"notification {n.pk} ({n.event}) is {n.status}"
            assert delivered[idempotency_key(n)] == 1, f"{n.event} notification {n.pk} delivered {delivered[idempotency_key(n)]} times"
            deliveries += 1
            events[n.event] += 1
        assert set(delivered.values()) <= {1}, "a key was answered 2xx twice"
        attempts = DeliveryAttempt.objects.filter(notification__in=notifications).count()
    return Books(ticks=len(window), fired=len(fired), missed=sum(t.missed_count for t in fired), alerts=len(alerts),
                 executions=runs.count(), statuses=Counter(runs.values_list("status", flat=True)),
                 notifications=len(notifications), deliveries=deliveries, events=events, attempts=attempts,
                 window=sorted(window))
