"""Per-alert hourly rollups of the executions (ExecutionRollup): statistics read them for the
whole hours of a window, so a year of minutely runs costs 8,760 rows instead of 525,600.

roll_up() is one pass; beat runs it every five minutes (task alerts.roll_up_history).

1. New hours. Every hour that ended SETTLE ago and is not rolled up yet, in batches of
   BATCH_HOURS (hours without executions are skipped), each batch a few grouped queries and
   one upsert; RollupProgress.rolled_until then moves past it. SETTLE (10 min) is longer than
   what the runs of an hour's last ticks take to finish (the default 30 s timeout plus the 60 s
   lease margin), so an hour is normally rolled once, complete.
2. Late runs. An execution that finishes after its hour was rolled up (claimed late from a
   backlog, a RUNNING one finished by the reaper, a query longer than SETTLE) is not lost: the
   next pass re-rolls its alert's hour from the raw rows, finding it by finished_at (indexed)
   at or after RollupProgress.checked_until. That mark is set TOUCH_OVERLAP before the pass
   began: finished_at is taken before the recording commits, and machines' clocks differ, so
   a run whose row appears a little after its finished_at is still looked at.
   Re-rolling from raw rows needs all of them: retention prunes nothing at or after
   rolled_until, nor anything finished at or after checked_until (alerts/retention.py). An hour
   older than its alert's raw window may have lost its plain OK runs to pruning, though; there
   the late runs (those finished after the rollup read its rows: rolled_at) are added to the
   rollup instead of recomputing it.

3. The overall tier. Every hour rolled up (new or again) is also added up across alerts into one
   OverallRollup row, made from that hour's ExecutionRollup rows, so the overall statistics of a
   year read 8,760 rows whatever the alert count (17.5 million per-alert rows at 2,000 alerts took
   seconds). Hours rolled up before the tier existed are made by the passes, newest first, below
   RollupProgress.overall_from; an hour whose alert was deleted is marked stale (its figures left
   with the alert's rollups) and made again by the next pass. Until then the statistics read those
   hours from the per-alert rows, so the overall figures are the per-alert rollups' added up, always.

Idempotent: re-rolling an hour gives the same row (one upsert per (alert, hour)); a pass claims
the progress row with one conditional write, so a second worker's pass returns at once. A pass
stops starting batches after max_seconds; the next pass carries on."""

import logging
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import reduce
from operator import or_

from django.db import connection, transaction
from django.db.models import Count, F, FloatField, Func, Max, Min, Q, Sum
from django.db.models.functions import Trunc
from django.db.models.signals import pre_delete
from django.dispatch import receiver
from django.utils import timezone

from . import histograms
from .models import Alert, Execution, ExecutionRollup, ExecutionStatus, OverallRollup, RollupProgress
from .retention import raw_cutoff_for
from .stats import HOUR, QUERIED_Q, SCHEDULED_Q, aggregates, bucket_counts, floor_hour, lag_ms

log = logging.getLogger("sentinel.rollups")

SETTLE = timedelta(minutes=10)
TOUCH_OVERLAP = timedelta(minutes=10)
BATCH_HOURS = 24
MAX_SECONDS = 120
LEASE_MARGIN = timedelta(minutes=5)
VALUED = Q(status__in=[ExecutionStatus.OK, ExecutionStatus.ALERT], v__isnull=False)
LOOKUP_CHUNK = 300

# Rollup fields by how they add up (a late run added to an hour that lost its raw rows).
ADDED = [f"runs_{s.lower()}" for s in ExecutionStatus.values] + [
    "duration_n", "lag_n", "value_n", "firing_in_n", "firing_out_n", "firing_runs"]
SUMMED = ["duration_sum", "value_sum", "firing_in_sum", "firing_out_sum"]
LEAST = ["duration_min", "lag_min", "value_min", "firing_in_first", "firing_out_first"]
GREATEST = ["duration_max", "lag_max", "value_max"]
LATEST = {"last_success_at": ["last_success_id", "last_success_status"],
          "last_failure_at": ["last_failure_id", "last_failure_status", "last_failure_error"],
          "value_at": ["value_last"]}
UPDATED = [f.name for f in ExecutionRollup._meta.concrete_fields if f.name not in ("id", "alert", "hour")]
# The overall tier's figures, by how an hour's rows of every alert add up into them.
OVERALL_ADDED = [f"runs_{s.lower()}" for s in ExecutionStatus.values] + ["duration_n", "lag_n", "firing_in_n",
                                                                          "firing_out_n"]
OVERALL_EXTREMES = {"duration_sum": Sum, "duration_min": Min, "duration_max": Max, "lag_min": Min, "lag_max": Max,
                    "firing_in_sum": Sum, "firing_out_sum": Sum}
OVERALL_UPDATED = [f.name for f in OverallRollup._meta.concrete_fields if f.name not in ("id", "hour")]


class JsonNumber(Func):
    """actual_value as a float when it is a JSON number, else NULL."""

    output_field = FloatField()

    def as_postgresql(self, compiler, connection, **extra):
        return self.as_sql(compiler, connection, template=(
            "CASE WHEN jsonb_typeof(%(expressions)s) = 'number' THEN (%(expressions)s)::text::float8 END"), **extra)

    def as_sqlite(self, compiler, connection, **extra):
        return self.as_sql(compiler, connection, template=(
            "CASE WHEN json_type(%(expressions)s) IN ('integer', 'real') "
            "THEN CAST(json_extract(%(expressions)s, '$') AS REAL) END"), **extra)


@dataclass
class Rolled:
    hours: int = 0  # new hours rolled up
    rows: int = 0  # rollup rows written
    late: int = 0  # (alert, hour) rolled again for runs that finished after their hour was rolled
    overall: int = 0  # hours of the overall tier made from hours rolled up before it (or stale)
    finished: bool = True  # False: stopped at the time budget, or another pass holds the claim
    claimed: bool = True


def roll_up(now: datetime | None = None, max_seconds: float | None = None, batch_hours: int = BATCH_HOURS) -> Rolled:
    """One pass: the late runs of hours rolled up already, then the hours that have settled."""
    clock = timezone.now()
    now = now or clock
    max_seconds = MAX_SECONDS if max_seconds is None else max_seconds
    RollupProgress.objects.get_or_create(pk=1)
    free = Q(lease_expires_at__isnull=True) | Q(lease_expires_at__lt=clock)
    lease = clock + timedelta(seconds=max_seconds) + LEASE_MARGIN
    if RollupProgress.objects.filter(free, pk=1).update(lease_expires_at=lease) != 1:
        return Rolled(finished=False, claimed=False)  # another worker is rolling up
    try:
        progress = RollupProgress.objects.get(pk=1)
        done = Rolled()
        if progress.rolled_until is not None and progress.checked_until is not None:
            done.late = _roll_late(progress, now)
        RollupProgress.objects.filter(pk=1).update(checked_until=clock - TOUCH_OVERLAP)
        deadline = time.monotonic() + max_seconds
        _roll_new(progress, now, deadline, batch_hours, done)
        if done.finished:
            done.finished = fill_overall(deadline, batch_hours)
    finally:
        RollupProgress.objects.filter(pk=1).update(lease_expires_at=None)
    log.info("rollups hours=%s rows=%s late=%s finished=%s", done.hours, done.rows, done.late, done.finished)
    return done


def _roll_new(progress: RollupProgress, now: datetime, deadline: float, batch_hours: int, done: Rolled) -> None:
    settled = floor_hour(now - SETTLE)
    start = progress.rolled_until
    if start is None:
        first = Execution.objects.order_by("scheduled_for").values_list("scheduled_for", flat=True).first()
        start = settled if first is None else floor_hour(first)
    while start < settled:
        if time.monotonic() > deadline:
            done.finished = False
            return
        following = (Execution.objects.filter(scheduled_for__gte=start, scheduled_for__lt=settled)
                     .order_by("scheduled_for").values_list("scheduled_for", flat=True).first())
        if following is None:
            break
        start = floor_hour(following)
        end = min(start + batch_hours * HOUR, settled)
        with transaction.atomic():
            done.rows += save(roll_hours(start, end))
            save_overall(start, end)
        done.hours += int((end - start) / HOUR)
        _advance(end)
        start = end
    _advance(settled)


def _advance(rolled_until: datetime) -> None:
    """rolled_until only moves forward, whichever pass gets there first."""
    RollupProgress.objects.filter(Q(rolled_until__isnull=True) | Q(rolled_until__lt=rolled_until), pk=1).update(
        rolled_until=rolled_until)


def _roll_late(progress: RollupProgress, now: datetime) -> int:
    touched = (Execution.objects.filter(finished_at__gte=progress.checked_until,
                                        scheduled_for__lt=progress.rolled_until)
               .annotate(hour=Trunc("scheduled_for", "hour")).values_list("alert_id", "hour").order_by().distinct())
    by_hour: dict[datetime, list[int]] = {}
    for alert_id, hour in touched:
        by_hour.setdefault(hour, []).append(alert_id)
    if not by_hour:
        return 0
    alerts = {a.pk: a for a in Alert.objects.filter(pk__in={i for ids in by_hour.values() for i in ids})
              .only("pk", "retention_days")}
    for hour, alert_ids in by_hour.items():
        whole = [i for i in alert_ids if i in alerts and hour >= raw_cutoff_for(alerts[i], now)]
        pruned = [i for i in alert_ids if i in alerts and hour < raw_cutoff_for(alerts[i], now)]
        if whole:
            save(roll_hours(hour, hour + HOUR, whole))
        for alert_id in pruned:
            _add_late(alert_id, hour)
        save_overall(hour, hour + HOUR)
    return sum(len(ids) for ids in by_hour.values())


def _add_late(alert_id: int, hour: datetime) -> None:
    existing = ExecutionRollup.objects.filter(alert_id=alert_id, hour=hour).first()
    rows = Execution.objects.filter(finished_at__gte=existing.rolled_at) if existing else Execution.objects
    late = roll_hours(hour, hour + HOUR, [alert_id], rows).get((alert_id, hour))
    if late is not None:
        save({(alert_id, hour): late if existing is None else merge(existing, late)})


def roll_hours(start: datetime, end: datetime, alert_ids: list[int] | None = None,
               executions=None) -> dict[tuple[int, datetime], ExecutionRollup]:
    """The rollups of the hours in [start, end) (of some alerts), from their raw rows, unsaved."""
    rows = (executions if executions is not None else Execution.objects).filter(
        scheduled_for__gte=start, scheduled_for__lt=end)
    if alert_ids is not None:
        rows = rows.filter(alert_id__in=alert_ids)
    rows = rows.annotate(hour=Trunc("scheduled_for", "hour"), v=JsonNumber("actual_value"))
    grouped = list(rows.values("alert_id", "hour").annotate(
        **aggregates(start), v_n=Count("v", filter=VALUED), v_sum=Sum("v", filter=VALUED),
        v_min=Min("v", filter=VALUED), v_max=Max("v", filter=VALUED), v_at=Max("scheduled_for", filter=VALUED),
    ).order_by())
    # Taken once the rows are read: a run finished at or after it is surely not in them (finished_at
    # comes before its commit), which is what adding late runs to a pruned hour relies on.
    rolled_at = timezone.now()
    found = {}
    for g in grouped:
        found[(g["alert_id"], g["hour"])] = _rollup(g, start, rolled_at)
    histogram_of = {"duration_histogram": (rows.filter(QUERIED_Q, duration_ms__isnull=False), F("duration_ms")),
                    "lag_histogram": (rows.filter(SCHEDULED_Q), lag_ms())}
    for name, (subset, expression) in histogram_of.items():
        counts: dict[tuple, dict[int, int]] = {}
        for alert_id, hour, bucket, n in bucket_counts(subset, expression, by=("alert_id", "hour")):
            counts.setdefault((alert_id, hour), {})[bucket] = n
        for key, buckets in counts.items():
            setattr(found[key], name, histograms.encode(buckets))
    _fill_latest(found)
    return found


def _rollup(g: dict, origin: datetime, rolled_at: datetime) -> ExecutionRollup:
    shift = (g["hour"] - origin).total_seconds()  # transition offsets: from the batch's start to the hour's
    return ExecutionRollup(
        alert_id=g["alert_id"], hour=g["hour"], rolled_at=rolled_at,
        **{f"runs_{s.lower()}": g[f"n_{s}"] for s in ExecutionStatus.values},
        duration_n=g["d_n"], duration_sum=g["d_sum"], duration_min=g["d_min"], duration_max=g["d_max"],
        lag_n=g["lag_n"], lag_min=g["lag_min"], lag_max=g["lag_max"],
        value_n=g["v_n"], value_sum=g["v_sum"], value_min=g["v_min"], value_max=g["v_max"], value_at=g["v_at"],
        firing_in_n=g["in_n"], firing_in_sum=_shifted(g["in_sum"], g["in_n"], shift), firing_in_first=g["in_first"],
        firing_out_n=g["out_n"], firing_out_sum=_shifted(g["out_sum"], g["out_n"], shift),
        firing_out_first=g["out_first"], firing_runs=g["firing_rows"],
        last_success_at=g["ok_at"], last_failure_at=g["fail_at"],
    )


def _shifted(total: float | None, n: int, shift: float) -> float | None:
    return None if total is None else total - n * shift


def _fill_latest(found: dict) -> None:
    """The hour's latest success, failure and value: (alert, tick) is unique, so each is one row."""
    wanted = {(r.alert_id, at) for r in found.values() for at in (r.last_success_at, r.last_failure_at, r.value_at)
              if at is not None}
    rows = {}
    pairs = sorted(wanted)
    for i in range(0, len(pairs), LOOKUP_CHUNK):
        match = reduce(or_, (Q(alert_id=a, scheduled_for=t) for a, t in pairs[i:i + LOOKUP_CHUNK]))
        for row in Execution.objects.filter(match).values("id", "alert_id", "scheduled_for", "status", "error",
                                                          "actual_value"):
            rows[(row["alert_id"], row["scheduled_for"])] = row
    for r in found.values():
        if (ok := rows.get((r.alert_id, r.last_success_at))) is not None:
            r.last_success_id, r.last_success_status = ok["id"], ok["status"]
        if (fail := rows.get((r.alert_id, r.last_failure_at))) is not None:
            r.last_failure_id, r.last_failure_status, r.last_failure_error = fail["id"], fail["status"], fail["error"]
        if (valued := rows.get((r.alert_id, r.value_at))) is not None:
            r.value_last = float(valued["actual_value"])


def merge(a: ExecutionRollup, b: ExecutionRollup) -> ExecutionRollup:
    """One rollup of two disjoint sets of runs of the same alert and hour."""
    for name in ADDED:
        setattr(a, name, getattr(a, name) + getattr(b, name))
    for name in SUMMED + LEAST + GREATEST:
        values = [v for v in (getattr(a, name), getattr(b, name)) if v is not None]
        pick = sum if name in SUMMED else min if name in LEAST else max
        setattr(a, name, pick(values) if values else None)
    for name, n in (("duration_histogram", "duration_n"), ("lag_histogram", "lag_n")):
        counts = histograms.add([getattr(a, name), getattr(b, name)], getattr(a, n))  # a's n: b's added above
        setattr(a, name, histograms.encode(dict(enumerate(counts))))
    for at, details in LATEST.items():
        if getattr(b, at) is not None and (getattr(a, at) is None or getattr(b, at) > getattr(a, at)):
            for name in [at, *details]:
                setattr(a, name, getattr(b, name))
    a.rolled_at = b.rolled_at
    return a


def save(rollups: dict) -> int:
    """Upsert rollups made by roll_hours(): a row that exists is replaced whole."""
    ExecutionRollup.objects.bulk_create(list(rollups.values()), batch_size=500, update_conflicts=True,
                                        unique_fields=["alert", "hour"], update_fields=UPDATED)
    return len(rollups)


# --- the overall tier


def overall_hours(start: datetime, end: datetime) -> dict[datetime, OverallRollup]:
    """The overall rows of the hours in [start, end), from their ExecutionRollup rows, unsaved."""
    rows = ExecutionRollup.objects.filter(hour__gte=start, hour__lt=end)
    made_at = timezone.now()
    sums = rows.values("hour").annotate(**{f"all_{name}": Sum(name) for name in OVERALL_ADDED},
                                        **{f"all_{name}": pick(name) for name, pick in OVERALL_EXTREMES.items()})
    found = {g["hour"]: OverallRollup(hour=g["hour"], made_at=made_at, **{
        name: g[f"all_{name}"] for name in [*OVERALL_ADDED, *OVERALL_EXTREMES]}) for g in sums.order_by()}
    # Histograms add up, and of the latest runs the latest tick and then the highest id win (as
    # alerts/stats.py picks across alerts): both in Python, from one fetch of the hour's rows.
    sql, params = rows.values_list(
        "hour", "duration_histogram", "lag_histogram", "alert_id", "last_success_at", "last_success_id",
        "last_success_status", "last_failure_at", "last_failure_id", "last_failure_status",
        "last_failure_error").query.sql_with_params()
    blobs: dict[datetime, tuple[list, list]] = {hour: ([], []) for hour in found}
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        for hour, durations, lags, alert_id, ok_at, ok_id, ok_status, fail_at, fail_id, fail_status, error in cursor:
            hour, ok_at, fail_at = _aware(hour), _aware(ok_at), _aware(fail_at)
            blobs[hour][0].append(durations)
            blobs[hour][1].append(lags)
            r = found[hour]
            if ok_at is not None and (r.last_success_at is None
                                      or (ok_at, ok_id) > (r.last_success_at, r.last_success_id)):
                r.last_success_at, r.last_success_id, r.last_success_status = ok_at, ok_id, ok_status
                r.last_success_alert_id = alert_id
            if fail_at is not None and (r.last_failure_at is None
                                        or (fail_at, fail_id) > (r.last_failure_at, r.last_failure_id)):
                r.last_failure_at, r.last_failure_id, r.last_failure_status = fail_at, fail_id, fail_status
                r.last_failure_error, r.last_failure_alert_id = error, alert_id
    for hour, r in found.items():
        durations, lags = blobs[hour]
        r.duration_histogram = histograms.encode(dict(enumerate(histograms.add(durations, r.duration_n))))
        r.lag_histogram = histograms.encode(dict(enumerate(histograms.add(lags, r.lag_n))))
    return found


def _aware(moment):
    """A cursor's datetime as the ORM gives it (SQLite's driver returns naive UTC text)."""
    if moment is None:
        return None
    if isinstance(moment, str):
        moment = datetime.fromisoformat(moment)
    return moment if timezone.is_aware(moment) else moment.replace(tzinfo=UTC)


def save_overall(start: datetime, end: datetime) -> int:
    """Make the overall rows of [start, end) again from the per-alert rows: an hour left with none
    (its alerts deleted) loses its row."""
    made = overall_hours(start, end)
    with transaction.atomic():
        OverallRollup.objects.filter(hour__gte=start, hour__lt=end).exclude(hour__in=list(made)).delete()
        OverallRollup.objects.bulk_create(list(made.values()), batch_size=500, update_conflicts=True,
                                          unique_fields=["hour"], update_fields=OVERALL_UPDATED)
    return len(made)


def fill_overall(deadline: float, batch_hours: int = BATCH_HOURS) -> bool:
    """Make the overall rows that are missing: stale hours first, then the hours rolled up before
    the tier existed, newest first (overall_from moves back batch by batch). False: stopped at the
    time budget, the next pass carries on."""
    for hour in OverallRollup.objects.filter(stale=True).order_by("-hour").values_list("hour", flat=True):
        if time.monotonic() > deadline:
            return False
        save_overall(hour, hour + HOUR)
    while (since := RollupProgress.objects.values_list("overall_from", flat=True).first()) is not None:
        if time.monotonic() > deadline:
            return False
        older = (ExecutionRollup.objects.filter(hour__lt=since).order_by("-hour")
                 .values_list("hour", flat=True).first())
        if older is None:
            OverallRollup.objects.filter(hour__lt=since).delete()
            start = None
        else:  # from the next older rolled-up hour: a stretch without runs is skipped in one step
            start = min(since, older + HOUR) - batch_hours * HOUR
            save_overall(start, since)
        RollupProgress.objects.filter(pk=1).update(overall_from=start)
    return True


@receiver(pre_delete, sender=Alert)
def alert_deleted(sender, instance, **kwargs):
    """Its rollups go with it: the overall rows of its hours are made again without them. Until
    then the statistics read those hours from the per-alert rows."""
    OverallRollup.objects.filter(hour__in=ExecutionRollup.objects.filter(alert=instance).values("hour")).update(
        stale=True)
