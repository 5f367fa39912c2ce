"""What every Sentinel model admin shares: its stylesheet and script, and the
read-only bases for history (executions, notifications) and the inlines that list it."""

from django.contrib import admin


class SentinelAdmin(admin.ModelAdmin):
    class Media:
        css = {"all": ["sentinel/admin.css"]}
        js = ["sentinel/admin.js"]


class ReadOnlyAdmin(SentinelAdmin):
    """History is written by the runner and delivery, never by hand."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class HistoryInline(admin.TabularInline):
    """Rows another page lists (instances, notifications, attempts): shown, never edited here."""

    extra = 0
    max_num = 0
    can_delete = False
