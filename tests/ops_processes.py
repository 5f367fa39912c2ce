"""Real processes for the operations tests: a private redis-server, gunicorn, celery, flower.

Every process writes to a log file that a failing assertion can show, and is
killed in fixture teardown."""

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from django.db import connection

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


CELERY = str(BIN / "celery")


def worker_args(name, *extra):
    """The plain `celery worker` (no -Q: it consumes every Sentinel queue), quiet on the cluster
    chatter tests do not need."""
    return [CELERY, "-A", "sentinel_project", "worker", "-n", f"{name}@%h",
            "-l", "INFO", "--without-heartbeat", "--without-gossip", "--without-mingle", *extra]


def beat_args(tmp_path, name):
    """The plain `celery beat` (no -S: the settings name Sentinel's scheduler), with its own pid
    and schedule files."""
    return [CELERY, "-A", "sentinel_project", "beat", "-l", "INFO",
            "--pidfile", str(tmp_path / f"{name}.pid"), "-s", str(tmp_path / f"{name}-schedule")]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(predicate, timeout: float, what: str, interval: float = 0.1, log: Path | None = None):
    """Poll predicate() until it returns something truthy; fail naming `what` after `timeout` s."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            tail = f"\n--- {log} ---\n{log.read_text(errors='replace')[-3000:]}" if log and log.exists() else ""
            pytest.fail(f"timed out after {timeout} s waiting for {what}{tail}")
        time.sleep(interval)


def port_open(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return True
    except OSError:
        return False


class Process:
    def __init__(self, args: list[str], env: dict, log: Path, cwd: Path = ROOT):
        self.args, self.log = args, log
        self.handle = open(log, "ab")
        self.popen = subprocess.Popen(args, env=env, cwd=cwd, stdout=self.handle, stderr=subprocess.STDOUT,
                                      start_new_session=True)

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def signal(self, sig) -> None:
        if self.popen.poll() is None:
            self.popen.send_signal(sig)

    def pids(self) -> set[int]:
        """This process and everything it started (its own session and process group): a
        celery worker's main process and its pool children."""
        found = set()
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[2]) == self.popen.pid:  # pgrp
                found.add(int(stat.parent.name))
        return found

    def kill_group(self) -> None:
        """SIGKILL the main process and its children at once, as the OOM killer or a lost host would."""
        os.killpg(self.popen.pid, signal.SIGKILL)
        self.popen.wait(10)

    def wait(self, timeout: float) -> int:
        try:
            return self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            pytest.fail(f"{self.args[0]} did not exit within {timeout} s\n{self.output()[-3000:]}")

    def stop(self) -> None:
        if self.popen.poll() is None:
            try:
                os.killpg(self.popen.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.popen.wait(10)
        self.handle.close()


class RedisServer:
    """A redis-server of the test's own on a free port: stopping it harms nobody else."""

    def __init__(self, workdir: Path):
        self.port, self.workdir = free_port(), workdir
        self.process = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.process = Process(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", str(self.workdir)],
            env=dict(os.environ), log=self.workdir / "redis.log", cwd=self.workdir)
        wait_until(lambda: port_open(self.port), 10, "redis-server to listen", log=self.workdir / "redis.log")

    def stop(self) -> None:
        if self.process is not None:
            self.process.signal(signal.SIGTERM)
            self.process.wait(10)
            self.process.stop()
            self.process = None


@pytest.fixture
def redis_server(tmp_path):
    if not Path("/usr/bin/redis-server").exists() and not any(
            (Path(p) / "redis-server").exists() for p in os.environ.get("PATH", "").split(":")):
        pytest.skip("redis-server is not installed")
    server = RedisServer(tmp_path)
    server.start()
    yield server
    server.stop()


def start_web(processes, env: dict, log: Path, workers: int = 2) -> str:
    """gunicorn serving Sentinel on a free loopback port; returns its base URL once it listens."""
    port = free_port()
    processes([str(BIN / "gunicorn"), "sentinel_project.wsgi", "--bind", f"127.0.0.1:{port}",
               "--workers", str(workers)], env, log)
    wait_until(lambda: port_open(port), 20, "gunicorn to listen", log=log)
    return f"http://127.0.0.1:{port}"


def http_get(url: str, token: str | None = None, host: str | None = None) -> tuple[int, str]:
    """(status, body) of a GET; an HTTP error status is an answer, not an exception."""
    request = urllib.request.Request(url)
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    if host:
        request.add_header("Host", host)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def database_url() -> str:
    """The URL of the database this test runs on (pytest-django's test database)."""
    s = connection.settings_dict
    auth = s["USER"] + (f":{s['PASSWORD']}" if s.get("PASSWORD") else "")
    return f"postgresql://{auth}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}"


def process_env(tmp_path: Path, redis_url: str, **extra) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "CELERY_", "SENTINEL_", "FLOWER_"))}
    env.update(
        DJANGO_SETTINGS_MODULE="sentinel_project.settings",
        DATABASE_URL=database_url(),
        REDIS_URL=redis_url,
        SENTINEL_VAR_DIR=str(tmp_path / "var"),
        PATH=f"{BIN}:{env.get('PATH', '')}",
        PYTHONUNBUFFERED="1",
        LOG_LEVEL="INFO",
        # A deployment (DATABASE_URL set) needs its own key; receivers in these tests listen on loopback.
        SECRET_KEY="ops-process-tests-only-" + "k" * 40,
        SENTINEL_OUTBOUND_ALLOW="127.0.0.1",
        # As tests/settings.py: SQLite datasources in tmp_path, the tests' ${VAR} names.
        SENTINEL_SQLITE_DIRS=os.environ["SENTINEL_SQLITE_DIRS"],
        SENTINEL_ENV_ALLOW=os.environ["SENTINEL_ENV_ALLOW"],
    )
    env.update({k: str(v) for k, v in extra.items()})
    return env


@pytest.fixture
def processes():
    """Start processes with start(args, env, log); all are killed at teardown."""
    started: list[Process] = []

    def start(args, env, log):
        process = Process(args, env, log)
        started.append(process)
        return process

    yield start
    for process in started:
        process.stop()
