"""Everything stored, as a config file that `sentinel apply` reads back to the same state.

Settings equal to their defaults are left out, so the file reads like one a person
wrote. Secrets are masked (***); applying the file back keeps the stored values.
The same definitions give the same bytes (no date in it, every list and mapping in a
fixed order), so an export kept in git changes only when a definition does.
"""

import yaml

from ..models import Alert, Channel, Datasource
from .plan import normal_keys
from ..notifiers import mask_config
from ..secrets import mask_url
from .schema import ALERT_SETTINGS, DEFAULT_DATASOURCE
from ..durations import format_duration


class _Dumper(yaml.SafeDumper):
    pass


def _text(dumper, value: str):
    # Multi-line SQL as a literal block, the way people write it.
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _text)


def schedule_text(schedule) -> str:
    """A Schedule as people write it, the way files, the API and the admin's forms show it
    (a Schedule has either a cron or an interval, never both: Schedule.clean)."""
    # "every 5 minutes" reads back as cron (*/5); only "every N seconds" reads back as an interval.
    return schedule.cron or f"every {schedule.interval_seconds} seconds"


def datasource_item(ds: Datasource) -> dict:
    item = {"name": ds.name, "url": mask_url(ds.url)}
    if float(ds.timeout_seconds) != float(Datasource._meta.get_field("timeout_seconds").get_default()):
        item["timeout"] = format_duration(ds.timeout_seconds)
    if ds.row_limit != Datasource._meta.get_field("row_limit").get_default():
        item["row_limit"] = ds.row_limit
    if not ds.enabled:
        item["enabled"] = False
    if ds.max_concurrent_queries is not None:
        item["max_concurrent_queries"] = ds.max_concurrent_queries
    if ds.spread_seconds:
        item["spread"] = format_duration(ds.spread_seconds)
    return item


def channel_item(channel: Channel) -> dict:
    item = {"name": channel.name, "kind": channel.kind}
    if not channel.enabled:
        item["enabled"] = False
    # Sorted: the stored JSON's key order depends on the database (PostgreSQL's jsonb reorders).
    item.update(_sorted(mask_config(channel.kind, channel.config or {})))
    return item


def _sorted(value):
    if isinstance(value, dict):
        return {k: _sorted(value[k]) for k in sorted(value)}
    if isinstance(value, list):
        return [_sorted(v) for v in value]
    return value


def alert_item(alert: Alert) -> dict:
    item = {"name": alert.name}
    values = {key: getattr(alert, key) for key in ALERT_SETTINGS}
    if values["description"]:
        item["description"] = values["description"]
    if not values["enabled"]:
        item["enabled"] = False
    if alert.datasource.name != DEFAULT_DATASOURCE:
        item["datasource"] = alert.datasource.name
    item["query"] = alert.query.strip()
    if alert.schedule is None:
        item["schedule"] = None
    else:
        item["schedule"] = schedule_text(alert.schedule)
        # Always written: applied where another default zone is set, the alert keeps its own.
        item["timezone"] = alert.schedule.timezone
    for key, (_reader, default) in ALERT_SETTINGS.items():
        if key in ("description", "enabled"):
            continue
        value = values[key]
        if key == "key_columns":
            value = normal_keys(value)
            if value:
                item[key] = value.split(",")
            continue
        if value == default:
            continue
        if key in ("renotify_interval", "grace"):
            value = format_duration(value)
        item[key] = value
    names = sorted(c.name for c in alert.channels.all())
    if names:
        item["notify"] = names
    return item


def _by_name(queryset) -> list:
    # In Python, by code point: the database's collation (en_US, C, SQLite's) would order _ and - differently.
    return sorted(queryset, key=lambda obj: obj.name)


def export_data() -> dict:
    data = {
        "datasources": [datasource_item(d) for d in _by_name(Datasource.objects.all())],
        "channels": [channel_item(c) for c in _by_name(Channel.objects.all())],
        "alerts": [alert_item(a) for a in _by_name(Alert.objects.select_related("datasource", "schedule")
                                                   .prefetch_related("channels"))],
    }
    return {k: v for k, v in data.items() if v}


def export_yaml() -> str:
    # No date or host in the header: two exports of the same definitions are byte-identical.
    header = ("# Exported by Sentinel. `sentinel apply` this file to recreate these definitions;\n"
              "# secrets show as *** and keep their stored values when applied back.\n")
    body = yaml.dump(export_data(), Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=100)
    return header + (body if body.strip() != "{}" else "alerts: []\n")
