"""E-mail through Django's e-mail backends: multipart text + HTML."""

import smtplib
import socket

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.mail import EmailMultiAlternatives, get_connection
from django.core.validators import validate_email

from .base import Message, Notifier, NotifierError, Sent, Setting
from .rendering import render


def recipient_list(raw) -> list:
    if isinstance(raw, str):
        return [part.strip() for part in raw.split(",") if part.strip()]
    return list(raw or [])


class Email(Notifier):
    kind = "email"
    label = "E-mail"
    via_label = "e-mail"
    fields = (
        Setting("recipients", "the addresses: a list, or one comma-separated text", ["oncall@example.com"],
                required=True),
        Setting("subject", "a subject template ({alert_name} {status} {actual_value} {threshold}); "
                           "default: Sentinel's own"),
    )

    @classmethod
    def validate(cls, config: dict) -> dict[str, str]:
        errors = super().validate(config)
        raw = config.get("recipients")
        if raw is not None and "recipients" not in errors:
            if not isinstance(raw, (list, str)) or not all(isinstance(r, str) for r in recipient_list(raw)):
                errors["recipients"] = "Must be a list of e-mail addresses."
            else:
                bad = []
                for address in recipient_list(raw):
                    if "${" in address:
                        continue
                    try:
                        validate_email(address)
                    except ValidationError:
                        bad.append(address)
                if bad:
                    errors["recipients"] = f"Not an e-mail address: {', '.join(bad)}."
        if "subject" in config and not isinstance(config["subject"], str):
            errors["subject"] = "Must be text (a template; {alert_name} {status} {actual_value} {threshold} work)."
        return errors

    def secrets(self) -> list[str]:
        return [settings.EMAIL_HOST_PASSWORD] if settings.EMAIL_HOST_PASSWORD else []

    def recipients(self) -> list[str]:
        addresses = [self.expand_value(a, "recipients") for a in recipient_list(self.config.get("recipients"))]
        # A variable may hold several comma-separated addresses.
        addresses = [a.strip() for value in addresses for a in value.split(",") if a.strip()]
        if not addresses:
            raise NotifierError("The e-mail channel has no recipients.", permanent=True)
        return addresses

    def build(self, message: Message) -> EmailMultiAlternatives:
        r = render(message, self.kind, subject_override=str(self.config.get("subject") or ""), html=True)
        headers = {"X-Sentinel-Event": message.event, "X-Sentinel-Alert": message.alert_name}
        if message.idempotency_key:
            # The same Message-ID on every retry lets mail systems drop a duplicate.
            headers["Message-ID"] = f"<{message.idempotency_key}@sentinel>"
            headers["X-Sentinel-Idempotency-Key"] = message.idempotency_key
        email = EmailMultiAlternatives(
            subject=r.subject, body=r.text, from_email=settings.DEFAULT_FROM_EMAIL, to=self.recipients(),
            headers=headers, connection=get_connection(timeout=settings.SENTINEL_DELIVERY_TIMEOUT),
        )
        email.attach_alternative(r.html, "text/html")
        return email

    def send(self, message: Message) -> Sent:
        email = self.build(message)
        try:
            sent = email.send(fail_silently=False)
        except smtplib.SMTPRecipientsRefused as exc:
            codes = sorted({code for code, _ in exc.recipients.values()})
            raise NotifierError(f"The SMTP server refused every recipient (SMTP {codes}).",
                                permanent=all(c >= 500 for c in codes)) from None
        except smtplib.SMTPAuthenticationError as exc:
            raise NotifierError(f"SMTP login failed (SMTP {exc.smtp_code}); check SMTP_USER/SMTP_PASSWORD.",
                                permanent=True) from None
        except smtplib.SMTPResponseException as exc:
            text = exc.smtp_error.decode("utf-8", "replace") if isinstance(exc.smtp_error, bytes) else str(exc.smtp_error)
            raise NotifierError(f"SMTP {exc.smtp_code}: {' '.join(text.split())[:200]}",
                                permanent=500 <= exc.smtp_code < 600) from None
        except (socket.timeout, TimeoutError):
            raise NotifierError(f"The SMTP server did not answer within {settings.SENTINEL_DELIVERY_TIMEOUT} s.") from None
        except (smtplib.SMTPException, OSError) as exc:
            raise NotifierError(f"Could not send through {settings.EMAIL_HOST}:{settings.EMAIL_PORT}: "
                                f"{type(exc).__name__}: {exc}") from None
        if not sent:
            raise NotifierError("The e-mail backend sent nothing.")
        return Sent(None, f"sent to {len(email.to)} recipient(s)")
