"""The `sentinel` console script: `python manage.py sentinel ...` without manage.py."""

import os
import sys
import tomllib
from importlib import metadata
from pathlib import Path

PYPROJECT = Path(__file__).resolve().parent.parent / "pyproject.toml"


def version() -> str:
    """Sentinel's version: the installed package's, else pyproject.toml's (a checkout that was never installed)."""
    try:
        return metadata.version("sentinel")
    except metadata.PackageNotFoundError:
        with PYPROJECT.open("rb") as file:
            return tomllib.load(file)["project"]["version"]


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "sentinel_project.settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(["sentinel", "sentinel", *sys.argv[1:]])
