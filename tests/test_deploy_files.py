"""docker-compose.yml, the Dockerfile and the Procfile describe the same processes."""

import os
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from sentinel_project import procfile

ROOT = Path(__file__).resolve().parent.parent
APP_SERVICES = {"release", "web", "worker", "beat", "flower"}


@pytest.fixture(scope="module")
def compose_config():
    binary = shutil.which("docker-compose")
    if binary is None:
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail("CI=true but docker-compose is not installed (apt-get install docker-compose)")
        pytest.skip("docker-compose is not installed")
    env = {k: v for k, v in os.environ.items() if not k.startswith("COMPOSE_")}
    result = subprocess.run([binary, "-f", str(ROOT / "docker-compose.yml"), "config"], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    return yaml.safe_load(result.stdout)


def test_compose_runs_every_procfile_process_and_the_peers(compose_config):
    services = compose_config["services"]

    assert set(services) == APP_SERVICES | {"postgres", "redis", "mailpit"}
    assert set(procfile.processes()) == APP_SERVICES
    for name in APP_SERVICES:
        assert services[name]["command"] == ["python", "-m", "sentinel_project.procfile", name], name


def test_compose_commands_run_exactly_the_procfile_lines():
    lines = dict(line.split(": ", 1) for line in (ROOT / "Procfile").read_text().splitlines() if ": " in line)

    for name, line in lines.items():
        command = procfile.shell_command(name)
        assert command in (line, f"exec {line}"), name
    # Single commands replace the shell, so SIGTERM reaches celery itself (warm shutdown).
    assert procfile.shell_command("worker").startswith("exec celery ")
    assert procfile.shell_command("release") == lines["release"]


def test_the_procfile_runs_the_plain_celery_commands():
    """No -Q and no -S: the settings declare every queue and the scheduler (tests/test_plain_commands.py)."""
    worker, beat = procfile.processes()["worker"].split(), procfile.processes()["beat"].split()

    assert worker[:4] == ["celery", "-A", "sentinel_project", "worker"]
    assert beat[:4] == ["celery", "-A", "sentinel_project", "beat"]
    for flag in ("-Q", "--queues", "-X", "--exclude-queues", "-S", "--scheduler"):
        assert not any(arg == flag or arg.startswith(flag + "=") for arg in worker + beat), flag


def test_procfile_names_an_unknown_process():
    with pytest.raises(SystemExit, match="no process 'wrker'.*known: release, web, worker, beat, flower"):
        procfile.shell_command("wrker")


def test_redis_keeps_queued_messages(compose_config):
    command = " ".join(compose_config["services"]["redis"]["command"])

    assert "--maxmemory-policy noeviction" in command and "--appendonly yes" in command


def test_app_services_wait_for_their_peers_and_the_release(compose_config):
    services = compose_config["services"]
    for name in ("web", "worker", "beat"):
        depends = services[name]["depends_on"]
        assert depends["postgres"]["condition"] == "service_healthy"
        assert depends["redis"]["condition"] == "service_healthy"
        assert depends["release"]["condition"] == "service_completed_successfully"
        env = services[name]["environment"]
        assert env["DATABASE_URL"].startswith("postgresql://") and env["REDIS_URL"] == "redis://redis:6379/0"
        assert env["SMTP_HOST"] == "mailpit"
    assert services["worker"]["stop_grace_period"] in ("6m", "6m0s", "360s")


def test_the_image_runs_as_a_non_root_user_with_a_health_check():
    dockerfile = (ROOT / "Dockerfile").read_text()

    users = [line.split()[1] for line in dockerfile.splitlines() if line.startswith("USER ")]
    assert users and users[-1] not in ("root", "0")
    assert "HEALTHCHECK" in dockerfile and "/healthz" in dockerfile
    assert ".venv" in (ROOT / ".dockerignore").read_text().split()
