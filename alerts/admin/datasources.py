"""The Datasource admin: the URL shown with its password masked, how many alerts
use each datasource, its cap on concurrent queries with the slots in use, and
Test connection (saved or as typed: actions.py)."""

from django.contrib import admin
from django.db.models import Count
from django.urls import path

from .. import datasource_slots
from ..models import Datasource
from . import actions
from .base import SentinelAdmin
from .forms import DatasourceForm


@admin.register(Datasource)
class DatasourceAdmin(SentinelAdmin):
    form = DatasourceForm
    list_display = ["name", "display_url", "timeout_seconds", "row_limit", "max_concurrent_queries", "enabled",
                    "alert_count", "from_file"]
    readonly_fields = ["slots_in_use"]
    list_filter = ["enabled"]
    search_fields = ["name"]
    change_form_template = "admin/alerts/datasource/change_form.html"

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(alert_total=Count("alerts"))

    @admin.display(description="URL (password hidden)")
    def display_url(self, obj):
        return obj.display_url

    def get_fields(self, request, obj=None):
        # A read-only page shows fields as stored: the URL is shown masked instead (docs/security.md §4).
        fields = super().get_fields(request, obj)
        if obj is not None and not self.has_change_permission(request, obj):
            return ["display_url" if f == "url" else f for f in fields]
        return fields

    @admin.display(description="query slots in use")
    def slots_in_use(self, obj):
        """How many of its capped slots run a query now: the cap's effect, where people set it."""
        if obj is None or obj.pk is None or not datasource_slots.is_capped(obj):
            return "no cap"
        return f"{datasource_slots.held(obj)} of {obj.max_concurrent_queries}"

    @admin.display(description="alerts", ordering="alert_total")
    def alert_count(self, obj):
        return obj.alert_total

    @admin.display(description="from file")
    def from_file(self, obj):
        return obj.source_file or ""

    def get_urls(self):
        view = self.admin_site.admin_view(actions.test_connection_view(self))
        unsaved = self.admin_site.admin_view(actions.test_unsaved_connection_view(self))
        return [path("<path:object_id>/test-connection/", view, name="alerts_datasource_test"),
                path("test-connection/", unsaved, name="alerts_datasource_test_new"),
                path("<path:object_id>/test-unsaved-connection/", unsaved, name="alerts_datasource_test_unsaved"),
                ] + super().get_urls()
