"""The overall tier (OverallRollup: every alert's runs of an hour, added up) that the overall statistics
read for whole hours, and the rollup indexes it is made and read with. The hours rolled up before it
are filled in by the next roll-up passes, newest first: until then the statistics read those hours
from the per-alert rollups (RollupProgress.overall_from)."""

import django.db.models.deletion
from django.db import migrations, models


def overall_tier_from_now_on(apps, schema_editor):
    progress = apps.get_model("alerts", "RollupProgress")
    progress.objects.update(overall_from=models.F("rolled_until"))


class Migration(migrations.Migration):

    dependencies = [
        ('alerts', '0016_backtest'),
    ]

    operations = [
        migrations.CreateModel(
            name='OverallRollup',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('runs_ok', models.PositiveIntegerField(default=0)),
                ('runs_alert', models.PositiveIntegerField(default=0)),
                ('runs_no_data', models.PositiveIntegerField(default=0)),
                ('runs_error', models.PositiveIntegerField(default=0)),
                ('runs_timeout', models.PositiveIntegerField(default=0)),
                ('runs_skipped', models.PositiveIntegerField(default=0)),
                ('runs_missed', models.PositiveIntegerField(default=0)),
                ('runs_running', models.PositiveIntegerField(default=0)),
                ('duration_n', models.PositiveIntegerField(default=0)),
                ('duration_sum', models.FloatField(null=True)),
                ('duration_min', models.FloatField(null=True)),
                ('duration_max', models.FloatField(null=True)),
                ('duration_histogram', models.BinaryField(default=b'')),
                ('lag_n', models.PositiveIntegerField(default=0)),
                ('lag_min', models.FloatField(null=True)),
                ('lag_max', models.FloatField(null=True)),
                ('lag_histogram', models.BinaryField(default=b'')),
                ('last_success_at', models.DateTimeField(null=True)),
                ('last_success_id', models.BigIntegerField(null=True)),
                ('last_success_status', models.CharField(blank=True, max_length=10)),
                ('last_failure_at', models.DateTimeField(null=True)),
                ('last_failure_id', models.BigIntegerField(null=True)),
                ('last_failure_status', models.CharField(blank=True, max_length=10)),
                ('last_failure_error', models.TextField(blank=True)),
                ('hour', models.DateTimeField(help_text="The hour's first instant (UTC).", unique=True)),
                ('firing_in_n', models.PositiveIntegerField(default=0)),
                ('firing_in_sum', models.FloatField(null=True)),
                ('firing_out_n', models.PositiveIntegerField(default=0)),
                ('firing_out_sum', models.FloatField(null=True)),
                ('stale', models.BooleanField(default=False, help_text='An alert with runs in this hour was deleted: made again by the next roll-up pass.')),
                ('made_at', models.DateTimeField()),
            ],
            options={
                'abstract': False,
            },
        ),
        migrations.AddField(
            model_name='rollupprogress',
            name='overall_from',
            field=models.DateTimeField(help_text='OverallRollup holds every rolled-up hour from here on; empty: all of them.', null=True),
        ),
        migrations.AddIndex(
            model_name='executionrollup',
            index=models.Index(fields=['hour'], name='rollup_by_hour'),
        ),
        migrations.AddIndex(
            model_name='executionrollup',
            index=models.Index(condition=models.Q(('firing_runs__gt', 0), ('firing_out_n__gt', 0), _connector='OR'), fields=['alert', 'hour'], name='rollup_firing_hours'),
        ),
        migrations.AddField(
            model_name='overallrollup',
            name='last_failure_alert',
            field=models.ForeignKey(null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to='alerts.alert'),
        ),
        migrations.AddField(
            model_name='overallrollup',
            name='last_success_alert',
            field=models.ForeignKey(null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to='alerts.alert'),
        ),
        migrations.RunPython(overall_tier_from_now_on, migrations.RunPython.noop),
    ]
