"""A capped datasource's query slots: at most `max_concurrent_queries` of its queries run at
once, across every worker on every machine.

The cap is held in Sentinel's own database, as rows of DatasourceSlot (one per slot number,
created on first use), each free or held by one run's token until a lease time:

- **Why rows with leases**, not row locks held for the query or PostgreSQL advisory locks: a
  lock lives as long as a transaction or a session, so holding one across a query means an
  open transaction (or a pinned connection) in Sentinel's database for every running query,
  and advisory locks do not exist on the embedded SQLite database at all. A slot row is taken
  with one conditional UPDATE (free, or its lease ran out) and the count says who won: the
  database decides, as for execution claims, on PostgreSQL and SQLite alike, and nothing is
  held open between statements.
- **Released on worker death**: a slot's lease is the datasource's query timeout +
  SENTINEL_LEASE_MARGIN (60 s), as an execution's, and the runner renews it with its
  executions' leases while a batch of slow queries runs. A worker killed mid-batch stops
  renewing, and its slot is free again once the lease runs out.
- **Never above the cap**: a run may take only a slot numbered below the current cap, and only
  if it is free. Lowering the cap takes effect as the holders of the higher slots finish.
- **Per batch, not per query**: a batch runs its queries one after another on one connection,
  so it holds one slot for all of them: two statements per batch (take, give back) instead of
  two per alert (10,000 alerts a minute in batches of 50: 400 a minute instead of 20,000).

A datasource without a cap never reaches this module: no extra query (tests/test_datasource_cap.py).
"""

import random
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Q, Subquery
from django.utils import timezone

from .models import Datasource, DatasourceSlot

# How long a run waits for a free slot before its batch is handed back (alerts/runner.py): long
# enough to ride out a burst (a batch of 50 trivial queries holds a slot for ~0.3 s), short enough
# that a worker is not held idle while other datasources' batches queue behind it.
WAIT_SECONDS = 5.0
# The countdown of a handed-back batch: by then the holders of a full cap have moved on.
RETRY_AFTER_SECONDS = 5.0
# Polling a full cap: from 20 ms, doubling, at most 250 ms (a waiting worker costs at most
# 4 small UPDATEs a second on Sentinel's database).
POLL_FIRST_SECONDS = 0.02
POLL_MAX_SECONDS = 0.25


@dataclass
class Slot:
    datasource_id: int
    token: str


def is_capped(datasource: Datasource) -> bool:
    return datasource.max_concurrent_queries is not None


def lease_until(datasource: Datasource, now: datetime) -> datetime:
    return now + timedelta(seconds=datasource.timeout_seconds) + settings.SENTINEL_LEASE_MARGIN


def try_acquire(datasource: Datasource) -> Slot | None:
    """Take a free slot of the datasource now, or None when all its slots are held."""
    cap = datasource.max_concurrent_queries
    slot = Slot(datasource.pk, uuid.uuid4().hex)
    if _take(datasource, cap, slot):
        return slot
    have = DatasourceSlot.objects.filter(datasource=datasource, number__lt=cap).count()
    if have < cap:  # first use, or a raised cap: create the missing slots, then try once more
        DatasourceSlot.objects.bulk_create(
            [DatasourceSlot(datasource=datasource, number=n) for n in range(cap)], ignore_conflicts=True)
        if _take(datasource, cap, slot):
            return slot
    return None


def acquire(datasource: Datasource, wait: float | None = None) -> Slot | None:
    """Take a slot, waiting at most `wait` seconds (WAIT_SECONDS) for one to come free."""
    deadline = time.monotonic() + (WAIT_SECONDS if wait is None else wait)
    pause = POLL_FIRST_SECONDS
    while True:
        slot = try_acquire(datasource)
        if slot is not None or time.monotonic() >= deadline:
            return slot
        # Jittered, so waiting workers do not all try again in the same instant.
        time.sleep(min(pause * random.uniform(0.5, 1.5), max(0.0, deadline - time.monotonic())))
        pause = min(pause * 2, POLL_MAX_SECONDS)


def renew(slot: Slot, datasource: Datasource) -> bool:
    """Push the slot's lease out again; False if it was lost (it ran out and another run took it)."""
    return DatasourceSlot.objects.filter(datasource_id=slot.datasource_id, holder=slot.token).update(
        lease_expires_at=lease_until(datasource, timezone.now())) == 1


def release(slot: Slot) -> None:
    DatasourceSlot.objects.filter(datasource_id=slot.datasource_id, holder=slot.token).update(
        holder="", lease_expires_at=None)


def held(datasource: Datasource, now: datetime | None = None) -> int:
    """How many of the datasource's slots are held under a live lease (the admin's figure)."""
    now = now or timezone.now()
    return DatasourceSlot.objects.filter(datasource=datasource, lease_expires_at__gte=now).exclude(holder="").count()


def _take(datasource: Datasource, cap: int, slot: Slot) -> bool:
    now = timezone.now()
    free = Q(holder="") | Q(lease_expires_at__lt=now)
    # A random free slot, so concurrent takers rarely aim at the same row; the outer condition is
    # checked again on the row itself (after any concurrent UPDATE of it commits), so two runs
    # can never both take one slot: the loser's count is 0 and it tries again.
    candidate = DatasourceSlot.objects.filter(free, datasource=datasource, number__lt=cap).order_by("?").values("pk")[:1]
    return DatasourceSlot.objects.filter(free, pk=Subquery(candidate), number__lt=cap).update(
        holder=slot.token, lease_expires_at=lease_until(datasource, now)) == 1


class Holder:
    """The slot one batch holds while it queries a capped datasource: taken before its first
    query, renewed with its executions' leases, given back when its queries are done."""

    def __init__(self, datasource: Datasource):
        self.datasource = datasource
        self.slot: Slot | None = None

    def take(self, wait: float | None = None) -> bool:
        if self.slot is None:
            self.slot = acquire(self.datasource, wait)
        return self.slot is not None

    def renew(self) -> None:
        if self.slot is not None and not renew(self.slot, self.datasource):
            self.slot = None  # it ran out and was taken: the next query takes a slot again first

    def release(self) -> None:
        if self.slot is not None:
            slot, self.slot = self.slot, None
            release(slot)
