"""deliver(notification_id): claim, send once, record the attempt, decide on a retry.

The claim (PENDING -> SENDING, one conditional UPDATE) is what keeps a sent
notification from ever being sent again, however often its task is delivered.
"""

import logging
import random
import time
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db.models import F
from django.utils import timezone

from .models import DeliveryAttempt, Notification, NotificationStatus
from .notifiers import Message, NotifierError, notifier_for
from .secrets import scrub

log = logging.getLogger("sentinel.delivery")


@dataclass(frozen=True)
class Delivery:
    status: str  # sent | retry | failed | skipped
    retry_in: float | None = None
    error: str = ""


def backoff(attempt: int) -> float:
    """Seconds before the next try after `attempt` failures: exponential, with jitter."""
    base = settings.SENTINEL_DELIVERY_BACKOFF_BASE * (2 ** (attempt - 1))
    return min(base, settings.SENTINEL_DELIVERY_BACKOFF_MAX) * random.uniform(0.8, 1.2)


def deliver(notification_id: int) -> Delivery:
    claimed = Notification.objects.filter(pk=notification_id, status=NotificationStatus.PENDING).update(
        status=NotificationStatus.SENDING, attempts=F("attempts") + 1
    )
    if claimed != 1:
        return Delivery("skipped")
    notification = Notification.objects.select_related("channel").get(pk=notification_id)
    started, clock = timezone.now(), time.monotonic()
    notifier = None
    try:
        notifier = notifier_for(notification.channel)
        notifier.send(Message(notification.pk, notification.payload))
    except NotifierError as exc:
        error, permanent, code = str(exc), exc.permanent, exc.status_code
    except Exception as exc:  # a bug or an unexpected transport failure: retry, and keep the text
        error, permanent, code = f"{type(exc).__name__}: {exc}", False, None
    else:
        error, permanent, code = "", False, None
    if error and notifier is not None:
        error = scrub(error, notifier.secrets())
    DeliveryAttempt.objects.create(
        notification=notification, started_at=started, duration_ms=(time.monotonic() - clock) * 1000,
        ok=not error, status_code=code, error=error[:2000],
    )
    channel = notification.channel.name
    if not error:
        Notification.objects.filter(pk=notification.pk).update(
            status=NotificationStatus.SENT, sent_at=timezone.now(), last_error="", next_attempt_at=None
        )
        log.info("notification=%s channel=%s event=%s sent", notification.pk, channel, notification.event)
        return Delivery("sent")
    if permanent or notification.attempts >= settings.SENTINEL_DELIVERY_MAX_ATTEMPTS:
        Notification.objects.filter(pk=notification.pk).update(
            status=NotificationStatus.FAILED, last_error=error[:2000], next_attempt_at=None
        )
        log.error("notification=%s channel=%s failed for good after %d attempt(s): %s",
                  notification.pk, channel, notification.attempts, error)
        return Delivery("failed", error=error)
    delay = backoff(notification.attempts)
    Notification.objects.filter(pk=notification.pk).update(
        status=NotificationStatus.PENDING, last_error=error[:2000],
        next_attempt_at=timezone.now() + timedelta(seconds=delay),
    )
    log.warning("notification=%s channel=%s attempt %d failed, retry in %.0f s: %s",
                notification.pk, channel, notification.attempts, delay, error)
    return Delivery("retry", retry_in=delay, error=error)
