from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ("alerts", "0007_admin_groups"),
    ]

    operations = [
        migrations.CreateModel(
            name="WorkerHeartbeat",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("name", models.CharField(max_length=200, unique=True)),
                ("queues", models.JSONField(default=list)),
                ("last_seen", models.DateTimeField()),
            ],
        ),
    ]
