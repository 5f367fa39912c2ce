"""The `sentinel` console script: `python manage.py sentinel ...` without manage.py."""

import os
import sys


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "sentinel_project.settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(["sentinel", "sentinel", *sys.argv[1:]])
