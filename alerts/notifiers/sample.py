"""A sample payload for test sends: looks like a real firing, names no real alert."""

from django.conf import settings
from django.utils import timezone


def sample_payload() -> dict:
    now = timezone.now().isoformat()
    base = settings.SENTINEL_BASE_URL
    return {
        "version": 1,
        "event": "firing",
        "test": True,
        "alert": {"id": 0, "name": "sentinel_test_message", "severity": "warning",
                  "description": "A test message sent with `sentinel test-channel`; no alert is firing."},
        "instance_key": "",
        "state": "FIRING",
        "value": 8200,
        "threshold": 10000,
        "context": {"region": "eu-west"},
        "error": "",
        "execution": {"id": 0, "status": "ALERT", "scheduled_for": now, "started_at": now,
                      "columns": ["status", "actual_value", "threshold"], "rows": [["ALERT", 8200, 10000]]},
        "times": {"event_at": now, "state_since": now},
        "links": {"alert": f"{base}/admin/alerts/alert/", "execution": f"{base}/admin/alerts/execution/"},
    }
