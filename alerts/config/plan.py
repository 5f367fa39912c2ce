"""Compare what the files define with what is stored, and make it so in one transaction.

A plan lists every object with what would happen to it (create, update with the
fields that differ, delete, disable, unchanged). Applying writes only creates, updates,
disables and deletes, inside one transaction: a plan that cannot be applied entirely changes nothing.
"""

import os
from dataclasses import dataclass, field

from django.db import transaction

from ..models import Alert, Channel, Datasource
from ..notifiers import restore_config
from ..secrets import holds_mask, restore_url
from .files import Config, check_references
from .schema import ALERT_SETTINGS

CREATE, UPDATE, DELETE, DISABLE, UNCHANGED = "create", "update", "delete", "disable", "unchanged"


@dataclass
class Change:
    kind: str  # datasource | channel | alert
    name: str
    action: str
    fields: list[str] = field(default_factory=list)
    spec: object = None
    current: object = None  # the stored object, for update and delete

    def __str__(self) -> str:
        detail = f" ({', '.join(self.fields)})" if self.fields else ""
        return f"  {self.action:<9} {self.kind} {self.name}{detail}"


@dataclass
class Plan:
    changes: list[Change]
    prune: bool = False

    def count(self, action: str) -> int:
        return sum(1 for c in self.changes if c.action == action)

    @property
    def has_changes(self) -> bool:
        return any(c.action != UNCHANGED for c in self.changes)

    def summary(self) -> str:
        disabling = f"{self.count(DISABLE)} to disable, " if self.count(DISABLE) else ""
        return (f"Plan: {self.count(CREATE)} to create, {self.count(UPDATE)} to update, "
                f"{self.count(DELETE)} to delete, {disabling}{self.count(UNCHANGED)} unchanged.")

    def lines(self) -> list[str]:
        return [str(c) for c in self.changes] + [self.summary()]


# --- what is stored, in the same shape as the specs ---------------------------------------------


def datasource_fields(ds: Datasource) -> dict:
    return {"url": ds.url, "timeout_seconds": float(ds.timeout_seconds), "row_limit": ds.row_limit,
            "enabled": ds.enabled, "max_concurrent_queries": ds.max_concurrent_queries,
            "spread_seconds": ds.spread_seconds}


def channel_fields(channel: Channel) -> dict:
    return {"kind": channel.kind, "config": channel.config or {}, "enabled": channel.enabled}


def normal_keys(text: str) -> str:
    return ",".join(k.strip() for k in (text or "").split(",") if k.strip())


def alert_fields(alert: Alert) -> dict:
    settings = {key: getattr(alert, key) for key in ALERT_SETTINGS}
    settings["key_columns"] = normal_keys(alert.key_columns)
    s = alert.schedule
    return {
        **settings,
        "query": (alert.query or "").strip(),
        "datasource": alert.datasource.name,
        "schedule": (s.cron or "", s.interval_seconds, s.timezone) if s else None,
        "channels": sorted(c.name for c in alert.channels.all()),
    }


def _differing(wanted: dict, stored: dict) -> list[str]:
    return [key for key in wanted if wanted[key] != stored.get(key)]


# --- planning -----------------------------------------------------------------------------------


def same_file(a: str, b: str) -> bool:
    return a == b or os.path.abspath(a) == os.path.abspath(b)


def make_plan(config: Config, prune: bool = False, *, only_from=None, disable_removed: bool = False) -> Plan:
    """Work out the changes; problems that only the stored state reveals are added to config.errors.

    Removed objects are those from a file (source_file set) that these files no longer define;
    with `only_from` (watch mode), only those whose file is one of `only_from`. `prune` deletes
    them; otherwise `disable_removed` disables removed alerts (they stop running, history stays)."""
    stored_ds = {d.name: d for d in Datasource.objects.all()}
    stored_ch = {c.name: c for c in Channel.objects.all()}
    stored_alerts = {a.name: a for a in Alert.objects.select_related("datasource", "schedule")
                     .prefetch_related("channels")}

    def removed(obj, name: str, defined: dict) -> bool:
        return bool(obj.source_file) and name not in defined and (
            only_from is None or any(same_file(obj.source_file, f) for f in only_from))

    def kept(stored: dict, defined: dict) -> set[str]:
        # With --prune, objects from files that these files no longer define are going away.
        return {n for n, o in stored.items() if not (prune and removed(o, n, defined))}

    check_references(config, kept(stored_ds, config.datasources), kept(stored_ch, config.channels))
    changes: list[Change] = []

    for name, spec in config.datasources.items():
        current = stored_ds.get(name)
        if holds_mask(spec.url):
            url, problem = restore_url(spec.url, current.url if current is not None else None)
            if url is None:
                config.error(spec.file, spec.path + ("url",), problem)
                continue
            spec.url = url
        changes.append(_change("datasource", name, spec, current, datasource_fields))

    for name, spec in config.channels.items():
        current = stored_ch.get(name)
        if holds_mask(spec.config):
            spec.config, lost = restore_config(spec.kind, spec.config,
                                              current.config if current and current.kind == spec.kind else None)
            for key, problem in lost:
                config.error(spec.file, spec.path + (key.split(".")[0],), problem)
            if lost:
                continue
        changes.append(_change("channel", name, spec, current, channel_fields))

    for name, spec in config.alerts.items():
        changes.append(_change("alert", name, spec, stored_alerts.get(name), alert_fields))

    if prune:
        deleting = {kind: set() for kind in ("alert", "channel", "datasource")}
        for kind, stored, defined in (("alert", stored_alerts, config.alerts), ("channel", stored_ch, config.channels),
                                      ("datasource", stored_ds, config.datasources)):
            for name, obj in stored.items():
                if removed(obj, name, defined):
                    changes.append(Change(kind, name, DELETE, current=obj))
                    deleting[kind].add(name)
        for name in deleting["datasource"]:
            users = [a.name for a in stored_alerts.values()
                     if a.datasource.name == name and a.name not in deleting["alert"] and a.name not in config.alerts]
            if users:
                config.errors.append(_plain_error(
                    f"--prune would delete datasource {name!r}, but alerts not from files still use it: "
                    f"{', '.join(sorted(users))}."))
    elif disable_removed:
        # Channels and datasources of removed alerts stay: without an alert they do nothing.
        for name, alert in stored_alerts.items():
            if alert.enabled and removed(alert, name, config.alerts):
                changes.append(Change("alert", name, DISABLE, current=alert))
    return Plan(changes, prune)


def _plain_error(message: str):
    from .files import ConfigError

    return ConfigError("", 0, "", message)


def _change(kind: str, name: str, spec, current, fields_of) -> Change:
    if current is None:
        return Change(kind, name, CREATE, spec=spec)
    differing = _differing(spec.fields(), fields_of(current))
    return Change(kind, name, UPDATE if differing else UNCHANGED, differing, spec, current)


# --- applying -----------------------------------------------------------------------------------


def apply_plan(plan: Plan) -> None:
    """Write the plan in one transaction; any failure rolls all of it back."""
    with transaction.atomic():
        datasources, channels = {}, {}
        for change in plan.changes:
            if change.kind == "datasource" and change.action in (CREATE, UPDATE):
                spec = change.spec
                ds = change.current or Datasource(name=spec.name)
                ds.url, ds.timeout_seconds, ds.row_limit, ds.enabled = (
                    spec.url, spec.timeout_seconds, spec.row_limit, spec.enabled)
                ds.max_concurrent_queries, ds.spread_seconds = spec.max_concurrent_queries, spec.spread_seconds
                ds.source_file = spec.file
                ds.save()
        for change in plan.changes:
            if change.kind == "channel" and change.action in (CREATE, UPDATE):
                spec = change.spec
                ch = change.current or Channel(name=spec.name)
                ch.kind, ch.config, ch.enabled, ch.source_file = spec.kind, spec.config, spec.enabled, spec.file
                ch.save()
        datasources = {d.name: d for d in Datasource.objects.all()}
        channels = {c.name: c for c in Channel.objects.all()}
        for change in plan.changes:
            if change.kind == "alert" and change.action in (CREATE, UPDATE):
                save_alert(change.spec, change.current, datasources, channels, source_file=change.spec.file)
            elif change.kind == "alert" and change.action == DISABLE:
                # The verb, not an update(): the beat mirror stops the alert at its next tick.
                change.current.set_enabled(False, by=f"apply (no longer in {change.current.source_file})")
        for kind, model in (("alert", Alert), ("channel", Channel), ("datasource", Datasource)):
            names = [c.name for c in plan.changes if c.kind == kind and c.action == DELETE]
            for obj in model.objects.filter(name__in=names):
                obj.delete()


def save_alert(spec, alert: Alert | None = None, datasources: dict | None = None, channels: dict | None = None,
               source_file: str | None = None) -> Alert:
    """Create or update the stored alert from a spec (files and the API both come through here)."""
    from schedules.models import Schedule

    alert = alert or Alert(name=spec.name)
    alert.name = spec.name
    for key, value in spec.settings.items():
        setattr(alert, key, value)
    alert.query = spec.query
    alert.datasource = (datasources or {}).get(spec.datasource) or Datasource.objects.get(name=spec.datasource)
    if spec.schedule is None:
        alert.schedule = None
    else:
        cron, interval, tz = spec.schedule
        alert.schedule = Schedule.objects.for_timing(cron=cron, interval_seconds=interval, timezone=tz)
    if source_file is not None:
        alert.source_file = source_file
    alert.save()
    if channels is None:
        channels = {c.name: c for c in Channel.objects.filter(name__in=spec.channels)}
    alert.channels.set([channels[n] for n in spec.channels])
    return alert
