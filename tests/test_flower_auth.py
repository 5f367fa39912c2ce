"""Flower runs only with basic auth, and its API refuses calls without it."""

import base64
import subprocess
import sys
import urllib.error
import urllib.request

import pytest

from tests.ops_processes import (  # noqa: F401  (fixtures)
    ROOT, free_port, port_open, process_env, processes, redis_server, wait_until,
)

pytestmark = pytest.mark.processes


def status_of(url: str, auth: str | None = None) -> int:
    request = urllib.request.Request(url)
    if auth:
        request.add_header("Authorization", "Basic " + base64.b64encode(auth.encode()).decode())
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code


def test_flower_api_refuses_an_unauthenticated_call(tmp_path, redis_server, processes):
    port = free_port()
    log = tmp_path / "flower.log"
    env = process_env(tmp_path, redis_server.url, FLOWER_BASIC_AUTH="ops:s3cret-flower")
    processes([sys.executable, "-m", "sentinel_project.procfile", "flower"], {**env, "FLOWER_PORT": str(port),
              "FLOWER_ADDRESS": "127.0.0.1"}, log)
    wait_until(lambda: port_open(port), 30, "flower to listen", log=log)
    base = f"http://127.0.0.1:{port}"

    assert status_of(f"{base}/api/workers") == 401
    assert status_of(f"{base}/api/workers", auth="ops:wrong") == 401
    assert status_of(f"{base}/workers") == 401
    assert status_of(f"{base}/api/workers", auth="ops:s3cret-flower") == 200


def test_flower_does_not_start_without_basic_auth(tmp_path):
    env = process_env(tmp_path, "redis://127.0.0.1:1/0")

    result = subprocess.run([sys.executable, "-m", "sentinel_project.flower"], env=env, cwd=ROOT,
                            capture_output=True, text=True, timeout=30)

    assert result.returncode != 0
    assert "set FLOWER_BASIC_AUTH=user:password" in result.stderr
