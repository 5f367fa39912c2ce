"""The notification payload: the one message contract, version 1.

Fixed when the event happens (alerts/recording.py builds one per event) and stored on
each Notification; every channel renders it later, and the webhook sends it as is (with
its `links` completed by the silence links and a `notification` block added,
alerts/notifiers/webhook.py). A test send builds one through the same function
(`sample`). The fields, in order:

- `version`: 1. A change a receiver could trip on is a new version.
- `event`: firing | repeat | resolved | error | no_data.
- `test`: present, and true, only on a test message (`sentinel test-channel`, the admin's test send).
- `alert`: {id, name, description, severity}.
- `instance_key`: which instance of the alert (its key columns' values; "" without key columns).
- `state`: the instance's state after the event (FIRING, OK, ERROR, NO_DATA, PENDING).
- `value`, `threshold`: what was compared (null when the mode has none).
- `context`: the row's other columns, name -> value.
- `error`: why the run failed, for an error event; else "".
- `execution`: {id, status, scheduled_for, started_at, columns, rows}: the first PREVIEW_ROWS rows.
- `times`: {event_at, state_since}, ISO 8601 in UTC; event_at also dates the message's signed
  silence links (alerts/links.py).
- `links`: {alert, execution}: the admin pages, under SENTINEL_BASE_URL.

The whole payload is at most SENTINEL_PAYLOAD_MAX_BYTES of JSON, whatever the query returned:
longer texts and lists are cut, every key stays (base.fit). docs/notifications.md shows an example.
"""

from datetime import datetime

from django.conf import settings
from django.utils import timezone

from .base import fit

VERSION = 1
PREVIEW_ROWS = 5


def build(event: str, *, alert_id: int, alert_name: str, description: str, severity: str, instance_key: str,
          state: str, value, threshold, context: dict, error: str, execution_id: int, execution_status: str,
          scheduled_for: datetime, started_at: datetime, columns: list, rows: list, state_since: datetime | None,
          alert_path: str, execution_path: str, event_at: datetime | None = None, test: bool = False) -> dict:
    """The payload of one event about one alert instance; paths are the admin pages under SENTINEL_BASE_URL."""
    base = settings.SENTINEL_BASE_URL
    event_at = event_at or timezone.now()
    return fit({
        "version": VERSION,
        "event": event,
        **({"test": True} if test else {}),
        "alert": {"id": alert_id, "name": alert_name, "description": description, "severity": severity},
        "instance_key": instance_key,
        "state": state,
        "value": value,
        "threshold": threshold,
        "context": context,
        "error": error,
        "execution": {
            "id": execution_id,
            "status": execution_status,
            "scheduled_for": scheduled_for.isoformat(),
            "started_at": started_at.isoformat(),
            "columns": columns,
            "rows": rows[:PREVIEW_ROWS],
        },
        "times": {
            "event_at": event_at.isoformat(),
            "state_since": state_since.isoformat() if state_since else None,
        },
        "links": {"alert": base + alert_path, "execution": base + execution_path},
    }, settings.SENTINEL_PAYLOAD_MAX_BYTES)


def sample() -> dict:
    """A test message's payload: looks like a real firing, names no real alert (id 0)."""
    now = timezone.now()
    return build(
        "firing", alert_id=0, alert_name="sentinel_test_message", severity="warning",
        description="A test message sent with `sentinel test-channel`; no alert is firing.",
        instance_key="", state="FIRING", value=8200, threshold=10000, context={"region": "eu-west"}, error="",
        execution_id=0, execution_status="ALERT", scheduled_for=now, started_at=now,
        columns=["status", "actual_value", "threshold"], rows=[["ALERT", 8200, 10000]], state_since=now,
        alert_path="/admin/alerts/alert/", execution_path="/admin/alerts/execution/", event_at=now, test=True,
    )
