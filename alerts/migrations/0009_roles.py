"""The roles of docs/security.md: a datasource URL is a credential, so adding, changing and
deleting datasources (and their Test connection) moves from "Sentinel editors" to a group of
its own, "Sentinel datasource managers", which has everything an editor has besides.

Editors keep view_datasource: they still choose an existing datasource for an alert and run
Test query against it. People who manage credentials move to the new group by hand."""

from django.db import migrations

EDITORS = "Sentinel editors"
MANAGERS = "Sentinel datasource managers"
DATASOURCE_WRITES = ("add_datasource", "change_datasource", "delete_datasource")


def _datasource_writes(apps):
    return apps.get_model("auth", "Permission").objects.filter(
        content_type__app_label="alerts", codename__in=DATASOURCE_WRITES)


def split_roles(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    writes = list(_datasource_writes(apps))
    editors, _ = Group.objects.get_or_create(name=EDITORS)
    editors.permissions.remove(*writes)
    managers, _ = Group.objects.get_or_create(name=MANAGERS)
    managers.permissions.set([*editors.permissions.all(), *writes])


def join_roles(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    Group.objects.filter(name=MANAGERS).delete()
    editors = Group.objects.filter(name=EDITORS).first()
    if editors is not None:
        editors.permissions.add(*_datasource_writes(apps))


class Migration(migrations.Migration):
    dependencies = [
        ("alerts", "0008_workerheartbeat"),
    ]

    operations = [migrations.RunPython(split_roles, join_roles)]
