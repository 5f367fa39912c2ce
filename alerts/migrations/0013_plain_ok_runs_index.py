"""The partial index retention walks to find the plain OK runs beyond the raw window
(alerts/retention.py, SENTINEL_RAW_HISTORY_DAYS).

Built CONCURRENTLY on PostgreSQL: on a big history (130 million rows at 1,000 minutely alerts)
a plain CREATE INDEX would block recording runs for minutes. SQLite builds it as usual."""

from django.db import migrations, models


class AddIndexWithoutBlockingWrites(migrations.AddIndex):
    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        model = to_state.apps.get_model(app_label, self.model_name)
        if self.allow_migrate_model(schema_editor.connection.alias, model):
            if schema_editor.connection.vendor == "postgresql":
                schema_editor.add_index(model, self.index, concurrently=True)
            else:
                schema_editor.add_index(model, self.index)

    def database_backwards(self, app_label, schema_editor, from_state, to_state):
        model = from_state.apps.get_model(app_label, self.model_name)
        if self.allow_migrate_model(schema_editor.connection.alias, model):
            if schema_editor.connection.vendor == "postgresql":
                schema_editor.remove_index(model, self.index, concurrently=True)
            else:
                schema_editor.remove_index(model, self.index)


class Migration(migrations.Migration):
    atomic = False  # CREATE INDEX CONCURRENTLY cannot run inside a transaction

    dependencies = [
        ("alerts", "0012_channel_kind_choices_from_the_registry"),
    ]

    operations = [
        AddIndexWithoutBlockingWrites(
            model_name="execution",
            index=models.Index(fields=["alert", "scheduled_for"], name="execution_plain_ok_by_alert",
                               condition=models.Q(status="OK", state_before=models.F("state_after"))),
        ),
    ]
