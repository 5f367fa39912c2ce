# Channel.kind's choices come from the notifier registry as a callable: adding a channel kind
# touches its module and the registry list, never a migration. Choices only: no SQL.

import alerts.notifiers
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ("alerts", "0011_roll_up_history_periodic_task"),
    ]

    operations = [
        migrations.AlterField(
            model_name="channel",
            name="kind",
            field=models.CharField(choices=alerts.notifiers.kind_choices, max_length=20),
        ),
    ]
