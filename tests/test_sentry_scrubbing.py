"""With SENTRY_DSN set, errors and beat check-ins reach Sentry; secrets never do.

A real local HTTP server plays Sentry's ingest endpoint; a real Python process
starts from Sentinel's settings (the code path production uses) and fails."""

import gzip
import http.server
import json
import os
import subprocess
import sys
import textwrap
import threading

import pytest

from tests.ops_processes import ROOT

SECRETS = [
    "pg-pass-4711",  # in a datasource URL
    "T000/B000/XXXXsecretpath",  # a Slack webhook path
    "rk-routing-key-0815",  # a PagerDuty routing key in a channel config
    "env-only-secret-9876",  # the value of a secret-named environment variable
    "sk-api-token-2222",  # an Authorization header
]

SCRIPT = textwrap.dedent("""
    import logging
    import django
    django.setup()
    import sentry_sdk

    def run_query(datasource_url, channel_config):
        headers = {"Authorization": "Bearer sk-api-token-2222"}
        raise RuntimeError(f"cannot connect to {datasource_url}: auth failed (tried env-only-secret-9876)")

    logging.getLogger("sentinel.delivery").warning(
        "posting to https://hooks.slack.com/services/T000/B000/XXXXsecretpath failed")
    try:
        run_query("postgresql://reader:pg-pass-4711@db.internal:5432/shop",
                  {"routing_key": "rk-routing-key-0815",
                   "url": "https://hooks.slack.com/services/T000/B000/XXXXsecretpath"})
    except RuntimeError:
        sentry_sdk.capture_exception()

    # A beat entry, applied the way beat applies it, is reported as a cron monitor check-in.
    from celery.beat import Scheduler, ScheduleEntry
    from celery.schedules import crontab
    from sentinel_project.celery import app
    app.conf.broker_url = "memory://"
    scheduler = Scheduler(app, lazy=True)
    entry = ScheduleEntry(name="sentinel-prune-history", task="alerts.prune_history",
                          schedule=crontab(minute="17"), app=app)
    scheduler.apply_entry(entry)
    sentry_sdk.flush(10)
""")


class Ingest(http.server.BaseHTTPRequestHandler):
    received: list[str] = []

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        encoding = self.headers.get("Content-Encoding", "")
        if encoding == "gzip":
            body = gzip.decompress(body)
        elif encoding == "br":
            import brotli

            body = brotli.decompress(body)
        Ingest.received.append(body.decode("utf-8", "replace"))
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, *args):
        pass


@pytest.fixture
def sentry_ingest():
    Ingest.received = []
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Ingest)
    server.daemon_threads, server.block_on_close = True, False  # do not wait for the SDK's idle connections
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://publickey@127.0.0.1:{server.server_port}/1", Ingest.received
    server.shutdown()
    server.server_close()


def test_events_and_check_ins_reach_sentry_without_secrets(tmp_path, sentry_ingest):
    dsn, received = sentry_ingest
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "SENTRY_", "DATABASE_", "REDIS_"))}
    env.update(DJANGO_SETTINGS_MODULE="sentinel_project.settings", SENTRY_DSN=dsn,
               SENTINEL_VAR_DIR=str(tmp_path), DATASOURCE_PASSWORD="env-only-secret-9876")

    result = subprocess.run([sys.executable, "-c", SCRIPT], env=env, cwd=ROOT, capture_output=True, text=True,
                            timeout=60)

    assert result.returncode == 0, result.stderr
    everything = "\n".join(received)
    items = [json.loads(line) for body in received for line in body.splitlines() if line.startswith("{")]
    events = [i for i in items if i.get("exception")]
    check_ins = [i for i in items if i.get("monitor_slug")]
    assert events, f"no error event reached the ingest server:\n{everything[:2000]}"
    assert "RuntimeError" in everything and "db.internal" in everything  # the error's shape is there
    assert {c["monitor_slug"] for c in check_ins} == {"sentinel-prune-history"}
    assert check_ins[0]["status"] == "in_progress"
    for secret in SECRETS:
        assert secret not in everything, f"{secret!r} reached Sentry"
