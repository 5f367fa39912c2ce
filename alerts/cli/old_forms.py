"""SQL Sentinel's command lines, read by `sentinel` (docs/migrating-from-sql-sentinel.md).

SQL Sentinel wrote `sqlsentinel SUBCOMMAND CONFIG [--alert NAME] ...`; Sentinel keeps
the definitions in its database, so the CONFIG file is gone from most commands and
the alert is a positional NAME. translate() reads the arguments before the
subcommand parsers do and either rewrites an old form whose meaning is unchanged
(`status alerts.yaml --alert x` is `status x`) or refuses it with the exact new
command to type (exit 2), when the old meaning is not Sentinel's or not one thing:
`run alerts.yaml` recorded every run, which Sentinel does only after storing the
file's definitions, so it asks for `--record` (or `--dry-run`) to be said.

New forms pass through untouched; an argument is read as an old CONFIG only when
no stored alert has that name and it is a file or ends in .yaml/.yml.
"""

import os
import shlex

from django.db import DatabaseError

# Django's own options before the subcommand, and those that take a value.
_DJANGO_VALUED = {"-v", "--verbosity", "--settings", "--pythonpath"}
# Options (old and new) that take a value, so their value is not mistaken for a positional.
_VALUED = {"--alert", "--state-db", "--limit", "--duration", "--for", "--reason", "--file", "--output",
           "--database-url", "--log-level", "--timezone", "--port", "--checks"}


class NewForm(Exception):
    """An old command line whose new spelling must be typed; the message gives it."""


def translate(args: list[str]) -> list[str]:
    """The new spelling of an old command line (unchanged if it is not one), or NewForm saying what to type."""
    start = _subcommand_index(args)
    if start is None:
        return args
    head, sub, rest = args[:start], args[start], args[start + 1:]
    rule = RULES.get(sub)
    if rule is None:
        return args
    if _option(rest, "--state-db") is not None:
        gone = ("--state-db is gone: Sentinel keeps state and history in its own database, the one DATABASE_URL "
                "names for every process.")
        try:
            new = _say(rule(sub, _without(rest, "--state-db")))
        except NewForm as exc:
            raise NewForm(f"{gone} {exc}") from None
        raise NewForm(f"{gone} Use: {new}")
    return head + rule(sub, rest)


# --- one rule per SQL Sentinel subcommand -----------------------------------------------------


def _run(sub, rest):
    config = _config(rest)
    if config is None or _option(rest, "--file") is not None:
        return [sub, *rest]
    rest = _without_positional(rest, config)
    new = [sub, "--file", config, *rest]
    if "--dry-run" in rest:
        return new  # the same meaning: run the file's alerts, store and send nothing
    raise NewForm(f"SQL Sentinel's `run CONFIG` recorded each run. Sentinel records runs of stored alerts: "
                  f"use: {_say([*new, '--record'])} (this also stores the file's definitions, which then run on "
                  f"their schedules), or {_say([*new, '--dry-run'])} to try them storing and sending nothing.")


def _by_name(sub, rest):
    """status, history, unsilence: CONFIG was never needed; --alert NAME is the positional NAME."""
    config = _config(rest)
    if config is not None:
        rest = _without_positional(rest, config)
    name = _option(rest, "--alert")
    if name is not None:
        rest = [name, *_without(rest, "--alert")]
    return [sub, *rest]


def _silence(sub, rest):
    old = _config(rest) is not None or "--alert" in _names(rest) or "--duration" in _names(rest)
    rest = _by_name(sub, rest)[1:]
    duration = _option(rest, "--duration")
    if duration is not None:
        # SQL Sentinel's --duration was whole hours: `--duration 2` is 2h; `2h`, `90m` read as --for does.
        rest = [*_without(rest, "--duration"), "--for", f"{duration}h" if _is_number(duration) else duration]
    if not old:
        return [sub, *rest]
    name = next((a for a in rest if not a.startswith("-") and a not in _values(rest)), "NAME")
    wanted = _option(rest, "--for")
    reason = _option(rest, "--reason")
    if wanted is None or reason is None:
        example = [sub, name, "--for", wanted or "1h", "--reason", reason or "WHY"]
        raise NewForm(f"Sentinel's silence needs a duration and a reason (shown to the next on-call; SQL "
                      f"Sentinel's default duration was 1 hour). Use: {_say(example)}")
    return [sub, *rest]


def _healthcheck(sub, rest):
    config = _config(rest)
    if config is not None:
        rest = _without_positional(rest, config)
    output = _option(rest, "--output")
    if output is not None:
        rest = _without(rest, "--output")
        if output != "json":
            raise NewForm(f"Sentinel's healthcheck prints JSON (like /readyz) and exits 1 when unhealthy. Use: "
                          f"{_say([sub, *rest])}")
    if _option(rest, "--database-url") is not None:
        raise NewForm("Sentinel's healthcheck checks its own database, broker, beat and workers; the alerts' "
                      "datasources are checked with: sentinel validate --check-queries. Use: "
                      f"{_say([sub, *_without(rest, '--database-url')])}")
    return [sub, *rest]


def _metrics(sub, rest):
    raise NewForm("Sentinel's metrics are served by the web process for every process: use: curl -H "
                  "'Authorization: Bearer $SENTINEL_METRICS_TOKEN' http://HOST:PORT/metrics (docs/operating.md)")


def _daemon(sub, rest):
    config = _config(rest) or next(iter(_positionals(rest)), None)
    # The all-in-one's release step applies SENTINEL_CONFIG_FILES and beat re-applies it on every change:
    # the daemon's file, with --reload, in one command.
    env = [f"SENTINEL_CONFIG_FILES={os.path.abspath(config or 'alerts.yaml')}"]
    if _option(rest, "--timezone"):
        env.append(f"SENTINEL_DEFAULT_TIMEZONE={_option(rest, '--timezone')}")
    if _option(rest, "--port"):
        env.append(f"PORT={_option(rest, '--port')}")
    command = " ".join(shlex.quote(e) for e in env) + " sentinel all-in-one"
    raise NewForm(f"Sentinel's daemon is its web, worker and beat processes. On one box use: {command} (the "
                  "Docker image's default command; the file is applied at start and again whenever it changes); "
                  "scaled out, the Procfile's web, worker and beat (docs/deploying.md). The alerts' database is "
                  "the file's database.url, not DATABASE_URL, which is Sentinel's own.")


def _unchanged(sub, rest):
    return [sub, *rest]


RULES = {
    "run": _run,
    "status": _by_name,
    "history": _by_name,
    "unsilence": _by_name,
    "silence": _silence,
    "healthcheck": _healthcheck,
    "metrics": _metrics,
    "daemon": _daemon,
    # validate CONFIG and init mean what they meant; only --state-db needs saying.
    "validate": _unchanged,
    "init": _unchanged,
}


# --- reading an argument list -------------------------------------------------------------------


def _subcommand_index(args):
    skip = False
    for i, arg in enumerate(args):
        if skip:
            skip = False
        elif arg in _DJANGO_VALUED:
            skip = True
        elif not arg.startswith("-"):
            return i
    return None


def _names(rest):
    return {a.split("=", 1)[0] for a in rest if a.startswith("--")}


def _option(rest, name):
    """The value of `--name VALUE` or `--name=VALUE`, else None."""
    for i, arg in enumerate(rest):
        if arg == name and i + 1 < len(rest):
            return rest[i + 1]
        if arg.startswith(name + "="):
            return arg.split("=", 1)[1]
    return None


def _without(rest, name):
    out, skip = [], False
    for i, arg in enumerate(rest):
        if skip:
            skip = False
        elif arg == name:
            skip = True
        elif not arg.startswith(name + "="):
            out.append(arg)
    return out


def _values(rest):
    """The arguments that are values of options, not positionals."""
    return {rest[i + 1] for i, arg in enumerate(rest[:-1]) if arg in _VALUED}


def _positionals(rest):
    out, skip = [], False
    for i, arg in enumerate(rest):
        if skip:
            skip = False
        elif arg in _VALUED:
            skip = True
        elif not arg.startswith("-"):
            out.append(arg)
    return out


def _config(rest):
    """The first positional when it is SQL Sentinel's CONFIG file, not a stored alert's name."""
    positionals = _positionals(rest)
    if not positionals:
        return None
    word = positionals[0]
    if not (word.lower().endswith((".yaml", ".yml")) or os.path.isfile(word)):
        return None
    return None if _stored(word) else word


def _stored(name):
    from alerts.models import Alert

    try:
        return Alert.objects.filter(name=name).exists()
    except DatabaseError:
        return False


def _without_positional(rest, word):
    out, skip, dropped = [], False, False
    for arg in rest:
        if skip:
            skip = False
            out.append(arg)
        elif arg in _VALUED:
            skip = True
            out.append(arg)
        elif arg == word and not dropped:
            dropped = True
        else:
            out.append(arg)
    return out


def _is_number(text):
    try:
        float(text)
        return True
    except ValueError:
        return False


def _say(words):
    return "sentinel " + " ".join(shlex.quote(w) for w in words)
