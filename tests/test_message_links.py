"""Links in messages point at the address Sentinel is served on: SENTINEL_BASE_URL when a
deployment sets it, else the port served, and under `PORT=N make run` port N in every process."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.ops_processes import ROOT, free_port, port_open, wait_until

# What the worker puts in a message: the links of a payload and a silence link.
LINKS = ("from datetime import datetime, timezone; import json; "
         "from alerts.links import silence_url; from alerts.notifiers.payload import sample; "
         "print(json.dumps([*sample()['links'].values(), "
         "silence_url(1, 1, 'email', datetime.now(timezone.utc))]))")


def links_in(env: dict) -> list[str]:
    result = subprocess.run([sys.executable, "manage.py", "shell", "-c", LINKS], env=env, cwd=ROOT,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def clean_env(tmp_path, **extra) -> dict:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("DJANGO_", "CELERY_", "SENTINEL_")) and k not in ("PORT", "DATABASE_URL", "REDIS_URL")}
    env.update(SENTINEL_VAR_DIR=str(tmp_path / "var"), DJANGO_SETTINGS_MODULE="sentinel_project.settings", **extra)
    return env


def test_links_use_the_configured_base_url(tmp_path):
    links = links_in(clean_env(tmp_path, PORT="9100", SENTINEL_BASE_URL="https://sentinel.example.com/"))

    assert links and all(link.startswith("https://sentinel.example.com/") for link in links), links
    assert links[-1].startswith("https://sentinel.example.com/silence/")


def test_without_a_base_url_links_use_the_port_served(tmp_path):
    links = links_in(clean_env(tmp_path, PORT="9100"))

    assert all(link.startswith("http://127.0.0.1:9100/") for link in links), links


def celery_worker_env(var_dir: Path) -> dict | None:
    """The environment of the `celery worker` process running on var_dir, if one runs."""
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            cmdline = (proc / "cmdline").read_bytes().split(b"\0")
            environ = dict(item.split("=", 1) for item in (proc / "environ").read_bytes().decode().split("\0")
                           if "=" in item)
        except OSError:
            continue
        if b"worker" in cmdline and any(arg.endswith(b"celery") for arg in cmdline[:2]) \
                and environ.get("SENTINEL_VAR_DIR") == str(var_dir):
            return environ
    return None


@pytest.mark.processes
def test_under_make_run_the_worker_writes_links_to_the_web_port(tmp_path):
    """honcho gives every process its own PORT (the worker's is the web's + 100): `make run` must
    tell the worker where the web is."""
    port = free_port()
    var_dir = tmp_path / "var"
    env = clean_env(tmp_path, PORT=str(port))
    log = open(tmp_path / "make-run.log", "wb")
    # -o: never reinstall the venv from a test, even when pyproject.toml is newer than the stamp.
    make = subprocess.Popen(["make", "-o", ".venv/.installed", "run"], cwd=ROOT, env=env, stdout=log,
                            stderr=subprocess.STDOUT, start_new_session=True)
    try:
        wait_until(lambda: port_open(port), 120, f"make run to serve on {port}", interval=0.5,
                   log=tmp_path / "make-run.log")
        worker_env = wait_until(lambda: celery_worker_env(var_dir), 30, "the make run worker")
        assert worker_env["PORT"] != str(port)  # honcho's own port for the worker

        links = links_in(worker_env)

        assert all(link.startswith(f"http://127.0.0.1:{port}/") for link in links), links
    finally:
        os.killpg(make.pid, signal.SIGTERM)  # as Ctrl-C would: honcho stops web, worker and beat
        try:
            make.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(make.pid, signal.SIGKILL)
        deadline = time.monotonic() + 30
        while celery_worker_env(var_dir) is not None and time.monotonic() < deadline:
            time.sleep(0.2)
        log.close()
