"""Sentinel's Django admin, one module per model's admin:

    datasources.py  channels.py  alerts.py  executions.py (and notifications)
    schedules.py    internal_models.py (beat's own tables kept off the admin)

and what they share: base.py (the ModelAdmin bases), actions.py (what the buttons do),
forms.py, display.py (how values are shown; the templates' filters in
alerts/templatetags/sentinel_admin.py call it). Arrows point one way: model admins
import actions, forms, display and base; those never import a model admin.

Django's autodiscovery imports this package; importing the modules here registers them."""

from . import alerts, channels, datasources, executions, internal_models, schedules  # noqa: F401
