"""/metrics: Prometheus text, computed from the database and the broker at scrape time.

Why not prometheus-client's multiprocess mode: it only adds up processes that
share one PROMETHEUS_MULTIPROC_DIR, i.e. one machine. Sentinel's workers run
on other machines (and other containers, other dynos), and the database
already records every execution and notification. So every scrape of any web
process asks the database, and the answer is the same whichever gunicorn
process or machine serves it, however many workers there are.

Events are reported over a recent window (SENTINEL_METRICS_WINDOW_SECONDS,
default 300 s) as gauges and gauge histograms, not as ever-growing counters:
a counter computed from rows would go down when retention prunes them, which
Prometheus would read as a reset. `histogram_quantile()` works on the
gauge-histogram buckets directly (no `rate()`).
"""

import hmac
import math
from datetime import timedelta

from django.conf import settings
from django.db.models import Count, DurationField, ExpressionWrapper, F, Q, Sum
from django.http import HttpResponse
from django.utils import timezone
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import GaugeHistogramMetricFamily, GaugeMetricFamily
# 0.0.4: the text format every Prometheus release parses.
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4

from schedules.leader import beat_heartbeat_age

from . import broker

DURATION_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300)
LAG_BUCKETS = (0.5, 1, 2, 5, 10, 30, 60, 120, 300, 600)


class SentinelCollector:
    """Reads the numbers fresh on every collect(); holds no state between scrapes."""

    def collect(self):
        from alerts.models import Alert, Execution, ExecutionStatus, Notification, State, Trigger

        now = timezone.now()
        window = settings.SENTINEL_METRICS_WINDOW_SECONDS
        since = now - timedelta(seconds=window)

        recent = Execution.objects.filter(finished_at__gte=since)
        by_status = GaugeMetricFamily(
            "sentinel_recent_executions",
            f"Executions finished in the last {window} s, by status.", labels=["status"])
        counts = dict(recent.values_list("status").annotate(n=Count("id")).order_by())
        for status in ExecutionStatus.values:
            if status != ExecutionStatus.RUNNING:
                by_status.add_metric([status], counts.get(status, 0))
        yield by_status

        running = Execution.objects.filter(status=ExecutionStatus.RUNNING)
        yield GaugeMetricFamily("sentinel_running_executions", "Executions running now.",
                                value=running.count())
        yield GaugeMetricFamily(
            "sentinel_abandoned_executions",
            "RUNNING executions whose lease expired: their worker stopped mid-run; the next try resumes them.",
            value=running.filter(lease_expires_at__lt=now).count())

        timed = recent.exclude(duration_ms=None)
        yield self.histogram(
            "sentinel_recent_execution_duration_seconds",
            f"Duration of executions finished in the last {window} s.",
            timed, DURATION_BUCKETS, lambda bound: Q(duration_ms__lte=bound * 1000), Sum("duration_ms"), 1000)
        lag = ExpressionWrapper(F("started_at") - F("scheduled_for"), output_field=DurationField())
        yield self.histogram(
            "sentinel_recent_fire_lag_seconds",
            f"Scheduled tick to start of run, for scheduled executions finished in the last {window} s.",
            timed.filter(trigger=Trigger.SCHEDULE).annotate(lag=lag), LAG_BUCKETS,
            lambda bound: Q(lag__lte=timedelta(seconds=bound)), Sum("lag"), None)

        notifications = GaugeMetricFamily(
            "sentinel_recent_notifications",
            f"Notifications created in the last {window} s, by channel kind and current status.",
            labels=["kind", "status"])
        for kind, status, n in (Notification.objects.filter(created_at__gte=since)
                                .values_list("channel__kind", "status").annotate(n=Count("id")).order_by()):
            notifications.add_metric([kind, status], n)
        yield notifications

        backlog = GaugeMetricFamily(
            "sentinel_notifications_undelivered",
            "Notifications pending or being sent now (any age), by channel kind.", labels=["kind"])
        for kind, n in (Notification.objects.filter(status__in=["pending", "sending"])
                        .values_list("channel__kind").annotate(n=Count("id")).order_by()):
            backlog.add_metric([kind], n)
        yield backlog

        alerts = GaugeMetricFamily("sentinel_alerts", "Enabled alerts by state.", labels=["state"])
        counts = dict(Alert.objects.filter(enabled=True).values_list("state").annotate(n=Count("id")).order_by())
        for state in State.values:
            alerts.add_metric([state], counts.get(state, 0))
        yield alerts
        yield GaugeMetricFamily(
            "sentinel_alerts_silenced", "Enabled alerts silenced now.",
            value=Alert.objects.filter(enabled=True, silenced_until__gt=now).count())

        yield from self.collect_beat()
        yield from self.collect_queues()

    @staticmethod
    def histogram(name, documentation, queryset, bounds, at_most, total, divisor):
        """A gauge histogram counted in the database: one query, no rows fetched."""
        counts = queryset.aggregate(
            total=total, all=Count("id"), **{f"le{i}": Count("id", filter=at_most(b)) for i, b in enumerate(bounds)})
        buckets = [(str(float(b)), counts[f"le{i}"]) for i, b in enumerate(bounds)] + [("+Inf", counts["all"])]
        value = counts["total"] or 0
        seconds = value.total_seconds() if isinstance(value, timedelta) else value / (divisor or 1)
        return GaugeHistogramMetricFamily(name, documentation, buckets=buckets, gsum_value=max(0.0, seconds))

    def collect_beat(self):
        age = beat_heartbeat_age()
        yield GaugeMetricFamily(
            "sentinel_beat_heartbeat_age_seconds",
            "Seconds since beat last recorded its heartbeat (NaN: never).",
            value=math.nan if age is None else age)

    def collect_queues(self):
        if not broker.broker_is_redis():
            return
        up = GaugeMetricFamily("sentinel_broker_up", "1 when the broker answered this scrape.")
        try:
            stats = broker.queue_stats()
        except Exception:
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        depth = GaugeMetricFamily("sentinel_queue_depth", "Messages waiting in each queue.", labels=["queue"])
        age = GaugeMetricFamily("sentinel_queue_oldest_message_age_seconds",
                                "Age of the oldest waiting message (0 when the queue is empty).", labels=["queue"])
        for name, s in stats.items():
            depth.add_metric([name], s["depth"])
            age.add_metric([name], s["oldest_age_seconds"] or 0)
        yield depth
        yield age


def _authorised(request) -> bool:
    token = settings.SENTINEL_METRICS_TOKEN
    if not token:
        return True
    header = request.headers.get("Authorization", "")
    scheme, _, given = header.partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), token.encode())


def metrics(request):
    if not _authorised(request):
        response = HttpResponse("metrics need 'Authorization: Bearer <SENTINEL_METRICS_TOKEN>'\n",
                                status=401, content_type="text/plain")
        response["WWW-Authenticate"] = 'Bearer realm="sentinel-metrics"'
        return response
    registry = CollectorRegistry(auto_describe=False)
    registry.register(SentinelCollector())
    return HttpResponse(generate_latest(registry), content_type=CONTENT_TYPE_PLAIN_0_0_4)

