"""Template filters for the admin pages: the same badges and values as the lists."""

from django import template

from alerts import admin_display

register = template.Library()


@register.filter
def state_badge(value):
    return admin_display.badge(str(value or ""))


@register.filter
def when(value):
    """A stored time as '2026-12-01 10:05:00 UTC', the way every admin list and page writes it."""
    return admin_display.when(value)


@register.filter
def short(value, limit=40):
    return admin_display.short_value(value, int(limit))


@register.filter
def result_table(result):
    """A QueryResult (or None) as an HTML table."""
    if result is None:
        return ""
    return admin_display.preview_table(result.columns, [list(r) for r in result.rows])
