"""`sentinel --version` and `manage.py sentinel --version` print Sentinel's version, not Django's."""

import os
import subprocess
import sys
import tomllib
from importlib import metadata
from pathlib import Path

import django

from sentinel_project import cli

ROOT = Path(__file__).resolve().parent.parent
PYPROJECT_VERSION = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]


def version_of(*command) -> str:
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "sentinel_project.settings"}
    env.pop("DATABASE_URL", None)
    done = subprocess.run(list(command), env=env, cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_the_console_script_prints_sentinels_version():
    printed = version_of(str(Path(sys.executable).parent / "sentinel"), "--version")

    assert printed == f"sentinel {metadata.version('sentinel')}"
    assert printed == f"sentinel {PYPROJECT_VERSION}" and printed != django.get_version()


def test_manage_py_sentinel_prints_the_same():
    assert version_of(sys.executable, "manage.py", "sentinel", "--version") == f"sentinel {PYPROJECT_VERSION}"


def test_a_checkout_that_was_never_installed_reads_pyproject(monkeypatch):
    def not_installed(name):
        raise metadata.PackageNotFoundError(name)

    monkeypatch.setattr(cli.metadata, "version", not_installed)

    assert cli.version() == PYPROJECT_VERSION
