import django.db.models.deletion
import django.utils.timezone
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ("alerts", "0014_datasource_concurrency"),
    ]

    operations = [
        migrations.CreateModel(
            name="Backtest",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("name", models.CharField(max_length=200)),
                ("definition", models.JSONField(help_text="The alert as it was when asked (alerts/backtest.py definition_of).")),
                ("start", models.DateTimeField()),
                ("end", models.DateTimeField()),
                ("status", models.CharField(choices=[("queued", "Queued"), ("running", "Running"), ("done", "Done"), ("cancelled", "Cancelled"), ("failed", "Failed")], default="queued", max_length=10)),
                ("ticks_total", models.PositiveIntegerField(default=0)),
                ("ticks_done", models.PositiveIntegerField(default=0)),
                ("cancel_requested", models.BooleanField(default=False)),
                ("result", models.JSONField(blank=True, null=True)),
                ("error", models.TextField(blank=True)),
                ("requested_by", models.CharField(blank=True, max_length=200)),
                ("created_at", models.DateTimeField(auto_now_add=True)),
                ("started_at", models.DateTimeField(blank=True, null=True)),
                ("finished_at", models.DateTimeField(blank=True, null=True)),
                ("updated_at", models.DateTimeField(default=django.utils.timezone.now, help_text="Its worker's latest word.")),
                ("alert", models.ForeignKey(blank=True, help_text="The saved alert it replays; empty for an unsaved form.", null=True, on_delete=django.db.models.deletion.SET_NULL, related_name="backtests", to="alerts.alert")),
            ],
        ),
    ]
