"""Real peers for notification tests: an HTTP server that plays webhook, Slack, Teams
and PagerDuty endpoints, and an aiosmtpd SMTP server, both on loopback."""

import json
import socket
import threading
import time
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

HANG = "hang"  # a scripted answer: accept the request and never respond


@dataclass
class Received:
    method: str
    path: str
    headers: dict
    body: bytes

    def json(self):
        return json.loads(self.body)


@dataclass
class Receiver:
    """Answers each request with the next scripted status (200 once the script runs out)."""

    url: str
    requests: list = field(default_factory=list)
    script: list = field(default_factory=list)
    release: threading.Event = field(default_factory=threading.Event)
    reply_body: bytes = b'{"status": "success"}'
    location: str = ""

    def answer(self, *statuses):
        self.script.extend(statuses)

    def wait_for(self, count: int, timeout: float = 5.0) -> list[Received]:
        deadline = time.monotonic() + timeout
        while len(self.requests) < count:
            if time.monotonic() > deadline:
                raise AssertionError(f"expected {count} request(s), got {len(self.requests)}")
            time.sleep(0.01)
        return self.requests


@pytest.fixture
def http_receiver():
    state = {}

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def _handle(self):
            receiver = state["receiver"]
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length)
            receiver.requests.append(Received(self.command, self.path, dict(self.headers.items()), body))
            status = receiver.script.pop(0) if receiver.script else 200
            if status == HANG:
                receiver.release.wait(30)
                return
            self.send_response(status)
            if receiver.location:
                self.send_header("Location", receiver.location)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(receiver.reply_body)))
            self.end_headers()
            self.wfile.write(receiver.reply_body)

        do_POST = do_PUT = _handle

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    receiver = Receiver(url=f"http://127.0.0.1:{server.server_port}")
    state["receiver"] = receiver
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield receiver
    receiver.release.set()
    server.shutdown()
    server.server_close()
    thread.join(5)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Mailbox:
    host: str
    port: int
    messages: list = field(default_factory=list)  # (envelope recipients, parsed message)
    reject_with: str = ""  # an SMTP reply to give to every RCPT, e.g. "550 no such user"

    def wait_for(self, count: int, timeout: float = 5.0) -> list:
        deadline = time.monotonic() + timeout
        while len(self.messages) < count:
            if time.monotonic() > deadline:
                raise AssertionError(f"expected {count} message(s), got {len(self.messages)}")
            time.sleep(0.01)
        return self.messages


@pytest.fixture
def smtp_server(settings):
    from aiosmtpd.controller import Controller

    mailbox = Mailbox("127.0.0.1", free_port())

    class Handler:
        async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
            if mailbox.reject_with:
                return mailbox.reject_with
            envelope.rcpt_tos.append(address)
            return "250 OK"

        async def handle_DATA(self, server, session, envelope):
            parsed = message_from_bytes(envelope.original_content or envelope.content, policy=policy.default)
            mailbox.messages.append((list(envelope.rcpt_tos), envelope.mail_from, parsed))
            return "250 Message accepted"

    controller = Controller(Handler(), hostname=mailbox.host, port=mailbox.port)
    controller.start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = mailbox.host, mailbox.port
    settings.EMAIL_HOST_USER, settings.EMAIL_HOST_PASSWORD = "", ""
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    settings.DEFAULT_FROM_EMAIL = "sentinel@example.com"
    yield mailbox
    controller.stop()


@pytest.fixture
def make_notification(db, make_datasource, make_alert, tmp_path):
    """Build (alert, channel, notification) rows the way the runner would, without running a query."""
    from datetime import datetime, timezone as tz

    from alerts import recording
    from alerts.evaluation import Outcome
    from alerts.models import AlertState, Channel, Execution, ExecutionStatus, Notification

    counter = iter(range(1, 10_000))
    datasource = {}

    def make(kind, config, *, event="firing", value=8200, threshold=10000, key="", alert=None, channel=None,
             alert_name="daily_revenue_check", **alert_fields):
        if "ds" not in datasource:
            datasource["ds"] = make_datasource(f"sqlite:///{tmp_path / 'unused.sqlite3'}", name="notify-source")
        n = next(counter)
        if channel is None:
            channel = Channel.objects.create(name=f"{kind}-{n}", kind=kind, config=config)
        if alert is None:
            alert = make_alert(datasource["ds"], "SELECT 1", name=alert_name if n == 1 else f"{alert_name}_{n}",
                               channels=[channel], severity="critical", description="Revenue since midnight.",
                               **alert_fields)
        execution = Execution.objects.create(
            alert=alert, scheduled_for=datetime(2026, 11, 24, 9, n % 60, tzinfo=tz.utc), trigger="manual",
            status=ExecutionStatus.ALERT, columns=["status", "actual_value", "threshold", "region"],
            preview=[["ALERT", value, threshold, "eu-west"]],
        )
        state, _ = AlertState.objects.update_or_create(
            alert=alert, key=key, defaults={"state": "OK" if event == "resolved" else "FIRING"})
        outcome = Outcome("OK" if event == "resolved" else "BREACH", key=key, value=value, threshold=threshold,
                          context={"region": "eu-west"})
        payload = recording.message_payload(alert, execution, event, outcome, state)
        notification = Notification.objects.create(execution=execution, alert=alert, instance_key=key,
                                                   channel=channel, event=event, payload=payload)
        return notification

    return make
