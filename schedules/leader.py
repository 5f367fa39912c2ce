"""A lease in the database decides which beat process sends; the others stand by.

The database claims (FiredTick, Execution) already make a second beat harmless;
the lease keeps it from even sending, and its renewals are beat's heartbeat.
"""

import os
import socket
from datetime import timedelta

from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from .models import BeatLease

LEASE = "beat"


def holder_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def acquire_or_renew(holder: str, now=None) -> bool:
    """Take or extend the lease; True if `holder` now holds it."""
    now = now or timezone.now()
    expires = now + timedelta(seconds=settings.SENTINEL_BEAT_LEASE_SECONDS)
    BeatLease.objects.get_or_create(name=LEASE)
    taken = BeatLease.objects.filter(name=LEASE).filter(
        Q(holder=holder) | Q(holder="") | Q(expires_at__isnull=True) | Q(expires_at__lt=now)
    ).update(holder=holder, expires_at=expires, renewed_at=now)
    return taken == 1


def release(holder: str) -> None:
    BeatLease.objects.filter(name=LEASE, holder=holder).update(holder="", expires_at=None)


def beat_heartbeat_age(now=None) -> float | None:
    """Seconds since the active beat last renewed its lease; None if no beat ever ran."""
    lease = BeatLease.objects.filter(name=LEASE).first()
    if lease is None or lease.renewed_at is None:
        return None
    return ((now or timezone.now()) - lease.renewed_at).total_seconds()
