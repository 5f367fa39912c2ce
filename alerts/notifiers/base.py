"""The interface every notifier shares: what its kind is (label, settings, whether its
receivers drop duplicates, its validation), and send one rendered message, returning what
the receiver said (Sent) or raising NotifierError saying whether trying again could help.

Every face reads a kind from its class through the registry (alerts/notifiers/__init__.py):
the admin's form and help, the API, the config files, masking, the silence page, delivery."""

import dataclasses
import json
from dataclasses import dataclass

from django.conf import settings

from ..secrets import MissingVariable, expand


class NotifierError(Exception):
    def __init__(self, message: str, *, permanent: bool = False, status_code: int | None = None):
        super().__init__(message)
        self.permanent = permanent
        self.status_code = status_code


@dataclass(frozen=True)
class Sent:
    """What the receiver said to a delivered message: its HTTP status (None for e-mail, log) and
    a short detail for a person ("HTTP 200", "sent to 2 recipient(s)"; empty: nothing to say)."""

    status_code: int | None = None
    detail: str = ""


@dataclass(frozen=True)
class Setting:
    """One key of a kind's config, as the admin form's help and template, validation and masking read it."""

    name: str
    meaning: str  # what it does, for the person filling the form
    example: object = None  # what a new channel's config starts with; None: left out (a required key starts "")
    required: bool = False
    secret: bool = False  # its expanded value never shows: a URL whose path is a token, a key
    destination: bool = False  # where stored secrets go: a new value needs them typed again (alerts/secrets.py)


@dataclass(frozen=True)
class Message:
    """One event about one alert instance, as the runner fixed it (the payload: alerts/notifiers/payload.py).

    `idempotency_key` is derived from the notification, so every retry of it carries
    the same key; the templates are the alert's own overrides (empty: the defaults)."""

    notification_id: int
    payload: dict
    idempotency_key: str = ""
    subject_template: str = ""
    body_template: str = ""

    @property
    def event(self) -> str:
        return self.payload["event"]

    @property
    def alert_name(self) -> str:
        return self.payload["alert"]["name"]

    @property
    def title(self) -> str:
        key = self.payload.get("instance_key")
        name = f"{self.alert_name} [{key}]" if key else self.alert_name
        return f"[{self.event.upper()}] {name}"


def json_size(value) -> int:
    """Bytes of the value as JSON (UTF-8), as a receiver gets it."""
    return len(json.dumps(value, ensure_ascii=False, default=str, separators=(",", ":")).encode())


# Never cut: the links people press, and the fields a receiver routes on.
_KEEP = frozenset({"links", "version", "event", "id", "idempotency_key"})


def fit(value, max_bytes: int):
    """The value itself when its JSON fits in max_bytes; else a copy whose texts and lists are cut,
    by halves, until it fits. Every mapping keeps its keys, so a receiver still finds each field."""
    if json_size(value) <= max_bytes:
        return value
    chars, shrunk = max_bytes, value
    while chars > 8:
        chars //= 2
        shrunk = _shrink(value, chars)
        if json_size(shrunk) <= max_bytes:
            return shrunk
    return shrunk


def _shrink(value, chars: int):
    if isinstance(value, str):
        return value if len(value) <= chars else value[:chars] + f"... ({len(value)} characters)"
    if isinstance(value, (list, tuple)):
        return [_shrink(v, chars) for v in value[: max(1, chars // 16)]]
    if isinstance(value, dict):
        return {k: v if k in _KEEP else _shrink(v, chars) for k, v in value.items()}
    return value


class Notifier:
    """One channel kind: everything Sentinel knows about it is said here, by its module's subclass.

    `fields` are the config keys it takes; `required`, `optional`, `secret_fields` and
    `destination_fields` are read from them when the subclass is made."""

    kind = ""
    label = ""  # the kind's name in the admin's choices and help
    via_label = ""  # how a silence link's page names it ("from Slack link"); empty: the kind itself
    about = ""  # one line said in the form's help when the kind takes no settings
    fields: tuple[Setting, ...] = ()
    # The receiver drops a repeated message carrying the same key (Idempotency-Key, dedup_key), so a
    # send whose worker died mid-way is sent again; for the others it is marked failed (alerts/delivery.py).
    drops_duplicates = False
    # What the receiver takes at most (Slack, Teams); every kind at most SENTINEL_PAYLOAD_MAX_BYTES.
    max_payload_bytes: int | None = None

    required: tuple[str, ...] = ()
    optional: tuple[str, ...] = ()
    secret_fields: tuple[str, ...] = ()
    destination_fields: tuple[str, ...] = ()

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        cls.required = tuple(f.name for f in cls.fields if f.required)
        cls.optional = tuple(f.name for f in cls.fields if not f.required)
        cls.secret_fields = tuple(f.name for f in cls.fields if f.secret)
        cls.destination_fields = tuple(f.name for f in cls.fields if f.destination)
        cls.via_label = cls.via_label or cls.kind

    def __init__(self, config: dict):
        self.config = config or {}

    def send(self, message: Message) -> Sent:
        """Deliver the message; return what the receiver said."""
        raise NotImplementedError

    def fit(self, message: Message) -> Message:
        """The message with its payload cut to what this kind of channel takes."""
        limit = min(self.max_payload_bytes or settings.SENTINEL_PAYLOAD_MAX_BYTES, settings.SENTINEL_PAYLOAD_MAX_BYTES)
        return dataclasses.replace(message, payload=fit(message.payload, limit))

    @classmethod
    def validate(cls, config: dict) -> dict[str, str]:
        """Field -> what is wrong with it. Values holding ${VAR} are checked for shape only."""
        errors = {}
        for name in cls.required:
            value = config.get(name)
            if value is None or (isinstance(value, (str, list)) and not value):
                errors[name] = f"Required for a {cls.kind} channel."
        known = set(cls.required) | set(cls.optional) | {"channel", "kind", "name"}
        for name in sorted(set(config) - known):
            allowed = ", ".join(cls.required + cls.optional) or "no settings"
            errors[name] = f"Unknown setting for a {cls.kind} channel (it takes {allowed})."
        return errors

    def setting(self, name: str, default: str = "") -> str:
        """The config value with ${VAR} expanded; a missing variable is a permanent error."""
        raw = self.config.get(name, default)
        return default if raw is None else self.expand_value(raw, name)

    def expand_value(self, raw, name: str) -> str:
        try:
            return expand(str(raw), where=f"{self.kind} channel setting {name!r}")
        except MissingVariable as exc:
            raise NotifierError(str(exc), permanent=True) from None

    def secrets(self) -> list[str]:
        """Values from the config that must never appear in errors or logs."""
        values = []
        for name in self.secret_fields:
            try:
                value = self.setting(name)
            except NotifierError:
                continue
            values.append(value)
            # A URL's path and query are where the tokens live (Slack, Teams hooks).
            if "://" in value:
                rest = value.split("://", 1)[1]
                path = rest.split("/", 1)[1] if "/" in rest else ""
                if len(path) >= 8:
                    values.append(path)
        return values
