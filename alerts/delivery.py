"""deliver(notification_id): claim, send once, record the attempt, decide on a retry.

The claim (PENDING -> SENDING, one conditional UPDATE) is what keeps a sent
notification from ever being sent again, however often its task is delivered.

A worker that dies between the claim and the end of the send leaves the row
SENDING, and nobody knows whether the receiver got it. recover_stalled() settles
such rows: receivers that drop duplicates by key (the kinds whose notifier says
drops_duplicates: webhook's Idempotency-Key, PagerDuty's dedup_key) get it again
with the same key; the others (e-mail, Slack, Teams, log) are marked failed with
an "outcome unknown" error rather than risk a second message. See docs/notifications.md.
"""

import logging
import random
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import F, Q
from django.utils import timezone

from .models import Channel, DeliveryAttempt, Notification, NotificationStatus
from .notifiers import Message, NotifierError, drops_duplicates, notifier_for
from .secrets import scrub

log = logging.getLogger("sentinel.delivery")

ERROR_CHARS = 2000


@dataclass(frozen=True)
class Delivery:
    status: str  # sent | retry | failed | skipped
    retry_in: float | None = None
    error: str = ""


def backoff(attempt: int) -> float:
    """Seconds before the next try after `attempt` failures: exponential, with jitter."""
    base = settings.SENTINEL_DELIVERY_BACKOFF_BASE * (2 ** (attempt - 1))
    return min(base, settings.SENTINEL_DELIVERY_BACKOFF_MAX) * random.uniform(0.8, 1.2)


def idempotency_key(notification: Notification) -> str:
    """The same for every attempt at one notification, different for every notification
    (and every Sentinel install, through the base URL)."""
    name = f"{settings.SENTINEL_BASE_URL}/notification/{notification.pk}/{notification.created_at.isoformat()}"
    return str(uuid.uuid5(uuid.NAMESPACE_URL, name))


def message_for(notification: Notification) -> Message:
    alert = notification.alert
    return Message(notification.pk, notification.payload, idempotency_key=idempotency_key(notification),
                   subject_template=alert.subject_template, body_template=alert.body_template)


def deliver(notification_id: int) -> Delivery:
    now = timezone.now()
    claimed = Notification.objects.filter(pk=notification_id, status=NotificationStatus.PENDING).update(
        status=NotificationStatus.SENDING, attempts=F("attempts") + 1, claimed_at=now
    )
    if claimed != 1:
        return Delivery("skipped")
    notification = Notification.objects.select_related("channel", "alert").get(pk=notification_id)
    started, clock = timezone.now(), time.monotonic()
    notifier, sent = None, None
    try:
        if not notification.channel.enabled:
            raise NotifierError(f"Channel {notification.channel.name} was disabled before delivery.", permanent=True)
        notifier = notifier_for(notification.channel)
        sent = notifier.send(notifier.fit(message_for(notification)))
    except NotifierError as exc:
        error, permanent, code = str(exc), exc.permanent, exc.status_code
    except Exception as exc:  # a bug or an unexpected transport failure: retry, and keep the text
        error, permanent, code = f"{type(exc).__name__}: {exc}", False, None
    else:
        error, permanent, code = "", False, sent.status_code
    if error and notifier is not None:
        error = scrub(error, notifier.secrets())
    DeliveryAttempt.objects.create(
        notification=notification, started_at=started, duration_ms=(time.monotonic() - clock) * 1000,
        ok=not error, status_code=code, error=error[:ERROR_CHARS],
    )
    if not error:
        return _sent(notification)
    if permanent or notification.attempts >= settings.SENTINEL_DELIVERY_MAX_ATTEMPTS:
        return _failed(notification, error)
    delay = backoff(notification.attempts)
    Notification.objects.filter(pk=notification.pk, status=NotificationStatus.SENDING).update(
        status=NotificationStatus.PENDING, last_error=error[:ERROR_CHARS], claimed_at=None,
        next_attempt_at=timezone.now() + timedelta(seconds=delay),
    )
    log.warning("notification=%s alert_id=%s execution=%s channel=%s attempt %d failed, retry in %.0f s: %s",
                notification.pk, notification.alert_id, notification.execution_id, notification.channel.name,
                notification.attempts, delay, error)
    return Delivery("retry", retry_in=delay, error=error)


def _sent(notification: Notification) -> Delivery:
    Notification.objects.filter(pk=notification.pk).update(
        status=NotificationStatus.SENT, sent_at=timezone.now(), last_error="", next_attempt_at=None, claimed_at=None
    )
    Channel.objects.filter(pk=notification.channel_id, failure_streak__gt=0).update(failure_streak=0)
    log.info("notification=%s alert_id=%s execution=%s channel=%s event=%s sent", notification.pk,
             notification.alert_id, notification.execution_id, notification.channel.name, notification.event)
    return Delivery("sent")


def _failed(notification: Notification, error: str) -> Delivery:
    now = timezone.now()
    Notification.objects.filter(pk=notification.pk).update(
        status=NotificationStatus.FAILED, last_error=error[:ERROR_CHARS], next_attempt_at=None, claimed_at=None
    )
    Channel.objects.filter(pk=notification.channel_id).update(
        failure_streak=F("failure_streak") + 1, last_failure_at=now, last_failure=error[:ERROR_CHARS]
    )
    log.error("notification=%s alert_id=%s execution=%s channel=%s failed for good after %d attempt(s): %s",
              notification.pk, notification.alert_id, notification.execution_id, notification.channel.name,
              notification.attempts, error)
    return Delivery("failed", error=error)


@dataclass(frozen=True)
class Recovery:
    resent: list[int]  # SENDING rows of deduping kinds, back to PENDING: enqueue them
    abandoned: list[int]  # SENDING rows of other kinds, now FAILED (outcome unknown)
    requeued: list[int]  # PENDING rows whose task was lost: enqueue them


def recover_stalled(now: datetime | None = None) -> Recovery:
    """Settle notifications whose worker died mid-send, and find retries whose task was lost.

    Returns the ids to enqueue (resent + requeued); the caller enqueues them."""
    now = now or timezone.now()
    cutoff = now - settings.SENTINEL_DELIVERY_STALLED_AFTER
    resent, abandoned = [], []
    stalled = Notification.objects.filter(status=NotificationStatus.SENDING, claimed_at__lt=cutoff)
    for n in stalled.select_related("channel"):
        lost = f"The worker stopped while sending (claimed {n.claimed_at:%Y-%m-%d %H:%M:%S} UTC)"
        resendable = drops_duplicates(n.channel.kind)
        if resendable and n.attempts < settings.SENTINEL_DELIVERY_MAX_ATTEMPTS:
            changed = Notification.objects.filter(pk=n.pk, status=NotificationStatus.SENDING,
                                                  claimed_at=n.claimed_at).update(
                status=NotificationStatus.PENDING, claimed_at=None, next_attempt_at=now,
                last_error=f"{lost}; sent again with the same idempotency key.")
            target = resent
            error = f"{lost}; outcome unknown, sent again with the same idempotency key."
        else:
            why = ("it used its last attempt" if resendable
                   else f"a {n.channel.kind} receiver cannot drop a duplicate")
            changed = Notification.objects.filter(pk=n.pk, status=NotificationStatus.SENDING,
                                                  claimed_at=n.claimed_at).update(
                status=NotificationStatus.FAILED, claimed_at=None, next_attempt_at=None,
                last_error=f"{lost}; it may or may not have arrived. Not sent again: {why}.")
            target = abandoned
            error = f"{lost}; outcome unknown, not sent again."
        if changed:
            target.append(n.pk)
            DeliveryAttempt.objects.create(notification=n, started_at=n.claimed_at, ok=False, error=error,
                                           duration_ms=(now - n.claimed_at).total_seconds() * 1000)
            log.warning("notification=%s channel=%s %s", n.pk, n.channel.name, error)
    lost_tasks = Notification.objects.filter(status=NotificationStatus.PENDING).filter(
        Q(next_attempt_at__lt=cutoff) | Q(next_attempt_at__isnull=True, created_at__lt=cutoff)
    ).exclude(pk__in=resent)
    requeued = list(lost_tasks.values_list("pk", flat=True)[:1000])
    return Recovery(resent, abandoned, requeued)
