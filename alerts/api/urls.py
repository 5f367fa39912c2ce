from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView
from rest_framework.permissions import IsAuthenticated
from rest_framework.routers import DefaultRouter

from . import views

# No trailing slashes: POST /api/alerts/{name}/run, as the docs write it.
router = DefaultRouter(trailing_slash=False)
router.register("alerts", views.AlertViewSet)
router.register("executions", views.ExecutionViewSet)
router.register("notifications", views.NotificationViewSet)
router.register("datasources", views.DatasourceViewSet)
router.register("channels", views.ChannelViewSet)
router.register("schedules", views.ScheduleViewSet)
router.register("backtests", views.BacktestViewSet)

# The schema and its Swagger UI hold no stored data, only the API's shape: any signed-in user
# (token or admin session) may read them, anonymous callers may not (docs/security.md §3).
signed_in = [IsAuthenticated]

urlpatterns = [
    path("schema/", SpectacularAPIView.as_view(permission_classes=signed_in), name="api-schema"),
    path("docs/", SpectacularSwaggerView.as_view(url_name="api-schema", permission_classes=signed_in),
         name="api-docs"),
    path("stats", views.StatsView.as_view(), name="stats"),
    path("presets", views.PresetsView.as_view(), name="preset-list"),
    path("", include(router.urls)),
]
