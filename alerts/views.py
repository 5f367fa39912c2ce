"""The pages a signed link opens, outside the admin (the links: alerts/links.py).

/silence/<token>/: one confirmation click silences the alert a signed link names."""

from datetime import timedelta

from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.cache import never_cache

from .links import LinkError, read_token
from .models import Alert
from .notifiers import via_label


@never_cache
def silence_link(request, token: str):
    try:
        grant = read_token(token)
    except LinkError as exc:
        return render(request, "alerts/silence_link.html", {"problem": str(exc)}, status=400)
    alert = Alert.objects.filter(pk=grant.alert_id).first()
    if alert is None:
        return render(request, "alerts/silence_link.html", {"problem": "That alert no longer exists."}, status=404)
    default_reason = f"from {via_label(grant.via)} link"
    context = {"alert": alert, "grant": grant, "reason": default_reason}
    if request.method != "POST":
        return render(request, "alerts/silence_link.html", context)

    who = " ".join(request.POST.get("who", "").split())[:100]
    if not who and request.user.is_authenticated:
        who = request.user.get_username()
    reason = " ".join(request.POST.get("reason", "").split())[:400] or default_reason
    until = timezone.now() + timedelta(hours=grant.hours)
    by = f"{via_label(grant.via)} link" + (f" ({who})" if who else "")
    # A link never shortens a longer silence that is already in place.
    alert.silence(until, reason, by=by, extend_only=True)
    return render(request, "alerts/silence_link.html", {**context, "done": True, "until": alert.silenced_until})
