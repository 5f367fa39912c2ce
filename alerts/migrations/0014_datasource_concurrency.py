"""Datasource protection: a per-datasource cap on concurrent queries (Datasource.max_concurrent_queries,
empty = no cap), the slot rows that hold it across workers (alerts/datasource_slots.py), and a spread
of the datasource's alerts over a window after each tick (Datasource.spread_seconds, 0 = none)."""

import django.core.validators
import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ("alerts", "0013_plain_ok_runs_index"),
    ]

    operations = [
        migrations.AddField(
            model_name="datasource",
            name="max_concurrent_queries",
            field=models.PositiveIntegerField(
                blank=True, null=True, validators=[django.core.validators.MinValueValidator(1)],
                help_text="At most this many of its queries at once, across all workers; empty: no cap.",
            ),
        ),
        migrations.AddField(
            model_name="datasource",
            name="spread_seconds",
            field=models.PositiveIntegerField(
                default=0,
                help_text="Start its alerts across this many seconds after each tick (at most half the schedule's "
                          "period), each at the same offset every tick; 0: all at the tick.",
            ),
        ),
        migrations.CreateModel(
            name="DatasourceSlot",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("number", models.PositiveIntegerField(help_text="0 .. max_concurrent_queries - 1.")),
                ("holder", models.CharField(blank=True, help_text="The holding run's token; empty: free.", max_length=64)),
                ("lease_expires_at", models.DateTimeField(blank=True, null=True)),
                ("datasource", models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name="slots",
                                                 to="alerts.datasource")),
            ],
            options={
                "constraints": [models.UniqueConstraint(fields=("datasource", "number"), name="datasource_slot_once")],
            },
        ),
    ]
