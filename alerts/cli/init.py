"""`sentinel init`: SQL Sentinel's `init`, which created its tables; Sentinel's are made by `migrate`."""

from django.core.management import call_command

name = "init"
help = "Create or update Sentinel's tables in its database (python manage.py migrate); safe to repeat."


def add_arguments(parser):
    pass


def handle(options, out) -> int:
    call_command("migrate", interactive=False, stdout=out)
    return 0
