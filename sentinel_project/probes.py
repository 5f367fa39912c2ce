"""The probe URLs: /healthz, /readyz, /metrics, and SQL Sentinel's /health and /ready.

/healthz answers "the process serves requests" and touches nothing else: it is
what a load balancer or a liveness probe asks. /readyz asks every part a firing
needs (sentinel_project/health.py). ProbeMiddleware serves them all ahead of
Django's Host check.
"""

from django.conf import settings
from django.http import JsonResponse

from . import health, metrics


def healthz(request):
    return JsonResponse({"status": "ok"})


def readyz(request):
    try:
        only = health.parse_checks(request.GET.get("checks") or settings.SENTINEL_READY_CHECKS)
    except ValueError as exc:
        return JsonResponse({"status": "fail", "error": f"checks: {exc}"}, status=400)
    report = health.readiness(only)
    return JsonResponse(report, status=200 if report["status"] == "ok" else 503)


# --- SQL Sentinel's probe URLs, so probes configured for its daemon keep working ---------------


def sqlsentinel_health(request):
    """SQL Sentinel's /health: /healthz in its words. Liveness only, as /healthz: the web process does not
    run the schedule, so a stopped beat must not get web restarted; probes for that ask /ready."""
    return JsonResponse({"status": "healthy"})


def sqlsentinel_ready(request):
    """SQL Sentinel's /ready: /readyz's checks and status code, in its shape ({"status": "healthy" |
    "unhealthy", "checks": {"scheduler": ..., "state_database": ...}}), with /readyz's report beside it."""
    try:
        only = health.parse_checks(request.GET.get("checks") or settings.SENTINEL_READY_CHECKS)
    except ValueError as exc:
        return JsonResponse({"status": "unhealthy", "error": f"checks: {exc}"}, status=400)
    report = health.readiness(only)
    return JsonResponse(health.as_sqlsentinel(report), status=200 if report["status"] == "ok" else 503)


class ProbeMiddleware:
    """Serve the probe URLs first, without Django's Host check.

    Load balancers, Docker and Kubernetes probe by IP address, which
    ALLOWED_HOSTS rightly refuses for everything else."""

    def __init__(self, get_response):
        self.get_response = get_response
        self.views = {"/healthz": healthz, "/readyz": readyz, "/metrics": metrics.metrics,
                      "/health": sqlsentinel_health, "/ready": sqlsentinel_ready}

    def __call__(self, request):
        view = self.views.get(request.path_info)
        if view is not None and request.method in ("GET", "HEAD"):
            return view(request)
        return self.get_response(request)
