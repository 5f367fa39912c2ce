"""Template filters for the admin pages: the same badges and values as the lists.

They stay here rather than in alerts/admin/: Django finds a template library only in
an app's templatetags package, and the alternative (naming it in settings' TEMPLATES
OPTIONS "libraries") would put an admin detail in the settings and still need this
module. The filters are one-liners over alerts/admin/display.py."""

from django import template

from alerts.admin import display

register = template.Library()


@register.filter
def state_badge(value):
    return display.badge(str(value or ""))


@register.filter
def when(value):
    """A stored time as '2026-12-01 10:05:00 UTC', the way every admin list and page writes it."""
    return display.when(value)


@register.filter
def short(value, limit=40):
    return display.short_value(value, int(limit))


@register.filter
def result_table(result):
    """A QueryResult (or None) as an HTML table."""
    if result is None:
        return ""
    return display.preview_table(result.columns, [list(r) for r in result.rows])
