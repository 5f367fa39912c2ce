"""The fault-injection suite: real worker/beat processes on PostgreSQL and a private Redis,
a webhook sink that counts deliveries by Idempotency-Key, and the books the tests check."""

import json
import threading
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from django.db.models import Count

from alerts.models import Execution
from tests.ops_processes import beat_args, processes, redis_server, worker_args  # noqa: F401  (fixtures, re-exported)


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


def duplicate_runs() -> list:
    """(alert, tick) pairs with more than one Execution: must stay empty."""
    return list(Execution.objects.values("alert", "scheduled_for").annotate(n=Count("id")).filter(n__gt=1))
