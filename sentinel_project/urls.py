from pathlib import Path

from django.contrib import admin
from django.http import HttpResponse
from django.urls import include, path
from django.views.decorators.cache import cache_control
from django.views.decorators.http import require_safe

import alerts
from alerts import views as link_views
from sentinel_project import metrics, probes

admin.site.site_header = "Sentinel"
admin.site.site_title = "Sentinel"
admin.site.index_title = "SQL alerting"

FAVICON = (Path(alerts.__file__).resolve().parent / "static" / "sentinel" / "favicon.ico").read_bytes()


@require_safe
@cache_control(public=True, max_age=86400)
def favicon(request):
    """Browsers ask every site for /favicon.ico, whatever the page links: answer it, not 404."""
    return HttpResponse(FAVICON, content_type="image/x-icon")


urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/", include("alerts.api.urls")),
    path("silence/<str:token>/", link_views.silence_link, name="silence-link"),
    path("healthz", probes.healthz, name="healthz"),
    path("readyz", probes.readyz, name="readyz"),
    # SQL Sentinel's probe URLs (sentinel_project/probes.py).
    path("health", probes.sqlsentinel_health, name="health"),
    path("ready", probes.sqlsentinel_ready, name="ready"),
    path("metrics", metrics.metrics, name="metrics"),
    path("favicon.ico", favicon, name="favicon"),
]
