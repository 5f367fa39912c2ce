"""Subcommands of `python manage.py sentinel` (and the `sentinel` console script).

Each subcommand is a module with `name`, `help`, `add_arguments(parser)` and
`handle(options, out) -> int` (the exit code: 0 success, 1 a failed result, 2 bad usage).
Adding one touches its module and this list.
"""

from importlib import import_module

SUBCOMMANDS = [
    "run",
    "status",
    "history",
    "stats",
    "backtest",
    "enable",
    "disable",
    "silence",
    "unsilence",
    "demo",
    "validate",
    "apply",
    "export",
    "healthcheck",
    "test_channel",
    "sync_schedules",
    "init",
    "all_in_one",
]


def load():
    return [import_module(f"alerts.cli.{name}") for name in SUBCOMMANDS]
