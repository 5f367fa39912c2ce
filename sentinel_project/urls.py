from django.contrib import admin
from django.urls import include, path

from alerts import silence_views
from sentinel_project import health, metrics

admin.site.site_header = "Sentinel"
admin.site.site_title = "Sentinel"
admin.site.index_title = "SQL alerting"

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/", include("alerts.api.urls")),
    path("silence/<str:token>/", silence_views.silence_link, name="silence-link"),
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path("metrics", metrics.metrics, name="metrics"),
]
