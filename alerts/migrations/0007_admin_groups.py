"""Groups "Sentinel viewers" (read-only) and "Sentinel editors" (may change alerts,
schedules, datasources and channels, and press the admin's buttons).

Permissions are normally created after migrations run; they are created here
first so that a fresh database gets complete groups in one `migrate`."""

from django.contrib.auth.management import create_permissions
from django.db import migrations

VIEWERS = "Sentinel viewers"
EDITORS = "Sentinel editors"
APPS = ("alerts", "schedules")
# Editors change definitions; history (executions, notifications, attempts) stays read-only for everyone.
EDITABLE = {"alert", "datasource", "channel", "schedule"}


def make_groups(apps, schema_editor):
    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    ours = Permission.objects.filter(content_type__app_label__in=APPS)
    viewers, _ = Group.objects.get_or_create(name=VIEWERS)
    viewers.permissions.set(ours.filter(codename__startswith="view_"))
    editors, _ = Group.objects.get_or_create(name=EDITORS)
    editable = [p for p in ours if p.codename.startswith("view_") or p.content_type.model in EDITABLE]
    editors.permissions.set(editable)


def remove_groups(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(name__in=[VIEWERS, EDITORS]).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("alerts", "0006_execution_recent_first"),
        ("schedules", "0001_initial"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(make_groups, remove_groups)]
