"""What a config file may say, and the checks that turn its values into specs.

The checks work on plain values (what YAML or a JSON request body gives) and
report problems as (path, message), so the file loader can add FILE:LINE and
the API can answer 400 with field errors: the same rules everywhere.
"""

import difflib
import os
from dataclasses import dataclass, field
from datetime import timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from ..models import Alert, Channel, Datasource, EvaluationMode, ErrorPolicy, NoDataPolicy, Operator, Severity
from ..notifiers import NOTIFIERS, validate_config
from ..notifiers.rendering import template_problems
from ..secrets import MissingVariable, expand
from ..validation import check_datasource_url, check_query
from . import values as v
from .values import Invalid

# timezone: the zone of every alert of the file that names none (SQL Sentinel had one zone per daemon).
ROOT_KEYS = ("database", "datasources", "channels", "alerts", "timezone")
DATASOURCE_KEYS = ("name", "url", "timeout", "row_limit", "enabled", "max_concurrent_queries", "spread")
CHANNEL_KEYS = ("name", "kind", "enabled")  # plus the settings of its kind, side by side
DEFAULT_DATASOURCE = "default"
MASK = "***"


def _model_default(model, name):
    return model._meta.get_field(name).get_default()


# YAML key -> (reader, default). The keys are the Alert model's field names.
ALERT_SETTINGS = {
    "description": (v.text, ""),
    "enabled": (v.boolean, True),
    "severity": (lambda x: v.choice(x, Severity.values), Severity.WARNING),
    "mode": (lambda x: v.choice(x, EvaluationMode.values), EvaluationMode.STATUS),
    "value_column": (v.text, ""),
    "operator": (lambda x: v.choice(x, Operator.values), Operator.GT),
    "threshold": (lambda x: None if x is None else v.number(x), None),
    "key_columns": (lambda x: ",".join(v.string_list(x, allow_empty=True)), ""),
    "pending_evaluations": (lambda x: v.integer(x, minimum=1), 1),
    "renotify_interval": (lambda x: None if x is None else v.duration(x), None),
    "notify_on_recovery": (v.boolean, True),
    "on_no_data": (lambda x: v.choice(x, NoDataPolicy.values), NoDataPolicy.NO_DATA),
    "on_error": (lambda x: v.choice(x, ErrorPolicy.values), ErrorPolicy.ERROR),
    "grace": (lambda x: None if x is None else v.duration(x), None),
    "subject_template": (v.text, ""),
    "body_template": (v.text, ""),
    "retention_days": (lambda x: None if x is None else v.integer(x, minimum=1), None),
}
ALERT_KEYS = ("name", "description", "enabled", "datasource", "query", "schedule", "timezone", "notify",
              *[k for k in ALERT_SETTINGS if k not in ("description", "enabled")])


class Problems:
    """(path, message) pairs; a path is a tuple of keys and indexes from the document root."""

    def __init__(self):
        self.items: list[tuple[tuple, str]] = []

    def add(self, path, message: str) -> None:
        self.items.append((tuple(path), message))

    def __bool__(self) -> bool:
        return bool(self.items)


@dataclass
class DatasourceSpec:
    name: str
    url: str
    timeout_seconds: float
    row_limit: int
    enabled: bool = True
    path: tuple = ()
    max_concurrent_queries: int | None = None  # no cap
    spread_seconds: int = 0

    def fields(self) -> dict:
        return {"url": self.url, "timeout_seconds": float(self.timeout_seconds), "row_limit": self.row_limit,
                "enabled": self.enabled, "max_concurrent_queries": self.max_concurrent_queries,
                "spread_seconds": self.spread_seconds}


@dataclass
class ChannelSpec:
    name: str
    kind: str
    config: dict
    enabled: bool = True
    path: tuple = ()
    inline_of: str = ""  # the alert whose notify: entry defined it

    def fields(self) -> dict:
        return {"kind": self.kind, "config": self.config, "enabled": self.enabled}


@dataclass
class AlertSpec:
    name: str
    settings: dict
    query: str
    datasource: str
    schedule: tuple | None  # (cron, interval_seconds, timezone)
    channels: list[str] = field(default_factory=list)
    path: tuple = ()
    datasource_path: tuple = ()
    channel_paths: dict = field(default_factory=dict)  # channel name -> path of its notify entry

    def fields(self) -> dict:
        return {**self.settings, "query": self.query, "datasource": self.datasource, "schedule": self.schedule,
                "channels": sorted(self.channels)}


def unknown_keys(item: dict, allowed, path, problems: Problems, what: str) -> None:
    for key in item:
        if key in allowed:
            continue
        close = difflib.get_close_matches(key, list(allowed), n=1, cutoff=0.6)
        hint = f"did you mean {close[0]!r}?" if close else f"{what} takes: {', '.join(allowed)}."
        problems.add(path + (key,), f"Unknown key; {hint}")


def label(section: str, index: int, item) -> str:
    name = item.get("name") if isinstance(item, dict) else None
    return f"{section}[{index}]" + (f" ({name})" if isinstance(name, str) and name else "")


def check_name(value, path, problems: Problems, model=Alert) -> str | None:
    try:
        name = v.text(value, allow_empty=False)
    except Invalid as exc:
        problems.add(path, str(exc))
        return None
    try:
        model._meta.get_field("name").clean(name, None)
    except ValidationError as exc:
        problems.add(path, " ".join(exc.messages))
        return None
    return name


def missing_variables(value, path, problems: Problems, environ) -> None:
    """Report every ${VAR} in value (text, list or mapping) that is not set and has no default."""
    if isinstance(value, str):
        try:
            expand(value, environ=environ)
        except MissingVariable as exc:  # unset, or not allowed (alerts/secrets.py)
            problems.add(path, exc.problem())
    elif isinstance(value, list):
        for i, item in enumerate(value):
            missing_variables(item, path + (i,) if len(value) > 1 else path, problems, environ)
    elif isinstance(value, dict):
        for key, item in value.items():
            missing_variables(item, path + (key,), problems, environ)


# --- datasources --------------------------------------------------------------------------------


def check_datasource(item, path, problems: Problems, environ=None, name=None) -> DatasourceSpec | None:
    if not isinstance(item, dict):
        problems.add(path, f"Must be a mapping with name and url, not {v.describe(item)}.")
        return None
    start = len(problems.items)
    allowed = DATASOURCE_KEYS if name is None else DATASOURCE_KEYS[1:]
    unknown_keys(item, allowed, path, problems, "a datasource")
    if name is None:
        name = check_name(item.get("name"), path + ("name",), problems, Datasource) if "name" in item else None
        if "name" not in item:
            problems.add(path + ("name",), "Required.")
    url = check_url(item.get("url"), path + ("url",), problems, environ) if "url" in item else None
    if "url" not in item:
        problems.add(path + ("url",), "Required: the database's SQLAlchemy URL.")
    timeout = _read(item, "timeout", v.duration, timedelta(seconds=_model_default(Datasource, "timeout_seconds")),
                    path, problems)
    row_limit = _read(item, "row_limit", lambda x: v.integer(x, minimum=1),
                      _model_default(Datasource, "row_limit"), path, problems)
    if row_limit is not None and row_limit > settings.SENTINEL_ROW_LIMIT_MAX:
        problems.add(path + ("row_limit",), f"Must be at most {settings.SENTINEL_ROW_LIMIT_MAX:,} rows "
                                            "(SENTINEL_ROW_LIMIT_MAX).")
    enabled = _read(item, "enabled", v.boolean, True, path, problems)
    cap = _read(item, "max_concurrent_queries", lambda x: None if x is None else v.integer(x, minimum=1),
                None, path, problems)
    spread = _read(item, "spread", v.duration, timedelta(0), path, problems)
    if spread is not None and spread.total_seconds() != int(spread.total_seconds()):
        problems.add(path + ("spread",), "Must be whole seconds (e.g. 30s).")
    if timeout is not None:
        maximum = settings.SENTINEL_QUERY_TIMEOUT_MAX
        if timeout.total_seconds() > maximum:
            problems.add(path + ("timeout",), f"Must be at most {maximum} seconds (SENTINEL_QUERY_TIMEOUT_MAX).")
    if len(problems.items) > start or name is None:
        return None
    return DatasourceSpec(name, url, timeout.total_seconds(), row_limit, enabled, path,
                          max_concurrent_queries=cap, spread_seconds=int(spread.total_seconds()))


def check_url(value, path, problems: Problems, environ=None) -> str | None:
    try:
        url = v.text(value, allow_empty=False).strip()
    except Invalid as exc:
        problems.add(path, str(exc))
        return None
    if MASK in url:
        return url  # an exported, masked URL: the plan keeps the stored one (or says it cannot)
    # The same checks as the admin's datasource form (alerts/validation.py); none echoes the URL.
    for message in check_datasource_url(url, environ=environ):
        problems.add(path, message)
        return None
    return url


def _read(item: dict, key: str, reader, default, path, problems: Problems):
    if key not in item:
        return default
    try:
        return reader(item[key])
    except Invalid as exc:
        problems.add(path + (key,), str(exc))
        return None


# --- channels -----------------------------------------------------------------------------------


def check_channel_settings(kind, config: dict, path, problems: Problems, environ=None, reserved=()) -> bool:
    """Check a kind and its settings; True when both are good."""
    start = len(problems.items)
    cls = NOTIFIERS.get(kind) if isinstance(kind, str) else None
    if cls is None:
        close = difflib.get_close_matches(str(kind), list(NOTIFIERS), n=1, cutoff=0.6)
        hint = f"did you mean {close[0]!r}? " if close else ""
        problems.add(path, f"Unknown channel kind {kind!r}; {hint}kinds: {', '.join(sorted(NOTIFIERS))}.")
        return False
    allowed = tuple(cls.required) + tuple(cls.optional)
    unknown = [k for k in config if k not in allowed]
    for key in unknown:
        close = difflib.get_close_matches(key, list(allowed) + list(reserved), n=1, cutoff=0.6)
        hint = f"did you mean {close[0]!r}?" if close else \
            f"a {kind} channel takes: {', '.join(allowed + tuple(reserved)) or 'no settings'}."
        problems.add(path + (key,), f"Unknown key; {hint}")
    for key, message in validate_config(kind, config).items():
        if key not in unknown:
            problems.add(path + (key,) if key in config or key in allowed else path, message)
    missing_variables(config, path, problems, environ)
    return len(problems.items) == start


def _is_kind(kind) -> bool:
    return isinstance(kind, str) and kind in NOTIFIERS


def check_channel(item, path, problems: Problems, environ=None) -> ChannelSpec | None:
    if not isinstance(item, dict):
        problems.add(path, f"Must be a mapping with name, kind and the kind's settings, not {v.describe(item)}.")
        return None
    start = len(problems.items)
    name = check_name(item.get("name"), path + ("name",), problems, model=Channel) if "name" in item else None
    if "name" not in item:
        problems.add(path + ("name",), "Required.")
    if "kind" not in item:
        problems.add(path + ("kind",), f"Required: one of {', '.join(sorted(NOTIFIERS))}.")
        return None
    enabled = _read(item, "enabled", v.boolean, True, path, problems)
    config = {k: val for k, val in item.items() if k not in CHANNEL_KEYS}
    check_channel_settings(item["kind"], config, path if _is_kind(item["kind"]) else path + ("kind",),
                           problems, environ, reserved=CHANNEL_KEYS)
    if len(problems.items) > start or name is None:
        return None
    return ChannelSpec(name, item["kind"], config, enabled, path)


# --- alerts -------------------------------------------------------------------------------------


def default_timezone() -> str:
    """The zone of an alert that names none, and whose file names none: the deployment's setting."""
    return settings.SENTINEL_DEFAULT_TIMEZONE


def check_timezone(value, path, problems: Problems) -> str | None:
    from schedules.models import validate_timezone

    try:
        name = v.text(value, allow_empty=False).strip()
        validate_timezone(name)
    except (Invalid, ValidationError) as exc:
        problems.add(path, " ".join(getattr(exc, "messages", [str(exc)])))
        return None
    return name


def check_schedule(text, timezone_name, path, problems: Problems, default_tz: str | None = None) -> tuple | None:
    """(cron, interval, zone): the alert's own zone, else default_tz (its file's), else the deployment's."""
    from schedules.cron import parse_schedule_text
    from schedules.models import Schedule

    ok = True
    if timezone_name is not None:
        timezone_name = check_timezone(timezone_name, path + ("timezone",), problems)
        ok = timezone_name is not None
    if text is None:
        if timezone_name is not None and ok:
            problems.add(path + ("timezone",), "Has no effect without a schedule.")
        return None
    try:
        cron, interval = parse_schedule_text(v.text(text, allow_empty=False))
    except (Invalid, ValidationError) as exc:
        problems.add(path + ("schedule",), " ".join(getattr(exc, "messages", [str(exc)])))
        return None
    if not ok:
        return None
    tz = timezone_name or default_tz or default_timezone()
    schedule = Schedule(cron=cron or "", interval_seconds=interval, timezone=tz)
    try:
        schedule.clean_fields(exclude=["timezone"])
        schedule.clean()
    except ValidationError as exc:
        problems.add(path + ("schedule",), " ".join(exc.messages))
        return None
    return (cron or "", interval, tz)


def check_alert(item, path, problems: Problems, environ=None, inline_channels=None,
                channels_key: str = "notify", default_tz: str | None = None) -> AlertSpec | None:
    """Check one alert. Inline notify entries become ChannelSpecs appended to inline_channels;
    default_tz is the zone of its file (None: the deployment's SENTINEL_DEFAULT_TIMEZONE)."""
    if not isinstance(item, dict):
        problems.add(path, f"Must be a mapping with name, query and schedule, not {v.describe(item)}.")
        return None
    start = len(problems.items)
    keys = ALERT_KEYS if channels_key == "notify" else tuple(k if k != "notify" else channels_key for k in ALERT_KEYS)
    unknown_keys(item, keys, path, problems, "an alert")
    name = check_name(item.get("name"), path + ("name",), problems) if "name" in item else None
    if "name" not in item:
        problems.add(path + ("name",), "Required.")
    query = None
    if "query" not in item:
        problems.add(path + ("query",), "Required: the SQL to run.")
    else:
        try:
            query = v.text(item["query"], allow_empty=False).strip()
        except Invalid as exc:
            problems.add(path + ("query",), str(exc))
        else:
            # Refused here as in the admin and the API: a query that can never run pages people at every tick.
            for message in check_query(query):
                problems.add(path + ("query",), message)
    datasource = DEFAULT_DATASOURCE
    if "datasource" in item:
        try:
            datasource = v.text(item["datasource"], allow_empty=False)
        except Invalid as exc:
            problems.add(path + ("datasource",), str(exc))
    if "schedule" not in item:
        problems.add(path + ("schedule",), "Required: cron (0 9 * * 1-5), a macro (@daily), a preset "
                                           "(daily at 09:00, every 5 minutes), or null to run only on demand.")
        schedule = None
    else:
        schedule = check_schedule(item["schedule"], item.get("timezone"), path, problems, default_tz)

    settings_ = {}
    for key, (reader, default) in ALERT_SETTINGS.items():
        settings_[key] = _read(item, key, reader, default, path, problems)
    for key in ("subject_template", "body_template"):
        # Rendered in the worker: refused here as in the admin (alerts/notifiers/templates.py).
        for message in template_problems(settings_.get(key) or "", key.replace("_", " ")):
            problems.add(path + (key,), message)

    channels, channel_paths = [], {}
    entries = item.get(channels_key, [])
    if entries is None:
        entries = []
    if not isinstance(entries, list):
        problems.add(path + (channels_key,), f"Must be a list, not {v.describe(entries)}.")
        entries = []
    counts = {}
    for j, entry in enumerate(entries):
        entry_path = path + (channels_key, j)
        ref = _notify_entry(entry, entry_path, name, counts, problems, environ, inline_channels)
        if ref is not None:
            if ref in channel_paths:
                problems.add(entry_path, f"Channel {ref!r} is listed twice.")
            channels.append(ref)
            channel_paths[ref] = entry_path

    if len(problems.items) == start and name is not None:
        # The model's own rules (threshold mode needs a threshold, ...): the admin applies them too.
        alert = Alert(name=name, query=query, **settings_)
        try:
            alert.clean()
        except ValidationError as exc:
            for key, messages in exc.message_dict.items():
                problems.add(path + ((key,) if key in ALERT_KEYS else ()), " ".join(messages))
    if len(problems.items) > start or name is None:
        return None
    return AlertSpec(name, settings_, query, datasource, schedule, channels, path,
                     path + ("datasource",), channel_paths)


def _notify_entry(entry, path, alert_name, counts, problems, environ, inline_channels) -> str | None:
    """A notify entry: a channel's name, or SQL Sentinel's inline form {channel: KIND, ...settings}."""
    if isinstance(entry, str):
        return entry
    if not isinstance(entry, dict):
        problems.add(path, f"Must be a channel name or a mapping with channel: KIND, not {v.describe(entry)}.")
        return None
    # `kind:` frees `channel:` for Slack's own channel override, which SQL Sentinel cannot express.
    kind_key = "kind" if "kind" in entry else "channel"
    if kind_key not in entry:
        problems.add(path, f"Needs channel: KIND ({', '.join(sorted(NOTIFIERS))}) or a channel's name.")
        return None
    kind = entry[kind_key]
    config = {k: val for k, val in entry.items() if k not in (kind_key, "name")}
    if isinstance(kind, str) and not _is_kind(kind) and not config and "name" not in entry:
        return kind  # {channel: oncall}: a named channel
    start = len(problems.items)
    reserved = (kind_key, "name")
    check_channel_settings(kind, config, path if _is_kind(kind) else path + (kind_key,), problems,
                           environ, reserved=reserved)
    if "name" in entry:
        name = check_name(entry["name"], path + ("name",), problems, model=Channel)
    elif alert_name is not None and _is_kind(kind):
        counts[kind] = counts.get(kind, 0) + 1
        name = f"{alert_name}-{kind}-{counts[kind]}"
        try:
            Channel._meta.get_field("name").clean(name, None)
        except ValidationError:
            problems.add(path, f"The generated channel name {name!r} is too long; give the entry a name:.")
            return None
    else:
        name = None
    if len(problems.items) > start or name is None:
        return None
    if inline_channels is not None:
        inline_channels.append(ChannelSpec(name, kind, config, True, path, inline_of=alert_name))
    return name


# --- a whole document ---------------------------------------------------------------------------


@dataclass
class Definitions:
    datasources: list[DatasourceSpec] = field(default_factory=list)
    channels: list[ChannelSpec] = field(default_factory=list)
    alerts: list[AlertSpec] = field(default_factory=list)


def check_document(data, problems: Problems, environ=None) -> Definitions:
    environ = os.environ if environ is None else environ
    found = Definitions()
    if not isinstance(data, dict):
        problems.add((), f"The top level must be a mapping with alerts: (and database:, datasources:, "
                         f"channels:), not {v.describe(data)}.")
        return found
    unknown_keys(data, ROOT_KEYS, (), problems, "the top level")
    if not any(k in data for k in ROOT_KEYS if k != "timezone"):
        problems.add((), "The file defines nothing: give it alerts:, datasources:, channels: or database:.")
    file_tz = check_timezone(data["timezone"], ("timezone",), problems) if "timezone" in data else None
    if "database" in data:
        spec = check_datasource(data["database"], ("database",), problems, environ, name=DEFAULT_DATASOURCE)
        if spec:
            found.datasources.append(spec)
    for section, check, target in (
        ("datasources", check_datasource, found.datasources),
        ("channels", check_channel, found.channels),
    ):
        items = _section(data, section, problems)
        for i, item in enumerate(items):
            spec = check(item, (section, i), problems, environ)
            if spec:
                target.append(spec)
    seen = {}
    for i, item in enumerate(_section(data, "alerts", problems)):
        name = item.get("name") if isinstance(item, dict) else None
        if isinstance(name, str) and name in seen:
            problems.add(("alerts", i, "name"), f"Duplicate alert name {name!r} (first at alerts[{seen[name]}]).")
            continue
        if isinstance(name, str):
            seen[name] = i
        spec = check_alert(item, ("alerts", i), problems, environ, inline_channels=found.channels,
                           default_tz=file_tz)
        if spec:
            found.alerts.append(spec)
    return found


def _section(data: dict, key: str, problems: Problems) -> list:
    value = data.get(key)
    if value is None:
        return []
    if not isinstance(value, list):
        problems.add((key,), f"Must be a list, not {v.describe(value)}.")
        return []
    return value


def path_text(data, path: tuple) -> str:
    """alerts[3] (daily_revenue_check).notify[0].recipients"""
    out, node = "", data
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
            node = node[part] if isinstance(node, list) and part < len(node) else None
            name = node.get("name") if isinstance(node, dict) else None
            if isinstance(name, str) and name and out.count("[") == 1:
                out += f" ({name})"
        else:
            out += ("." if out else "") + str(part)
            node = node.get(part) if isinstance(node, dict) else None
    return out
