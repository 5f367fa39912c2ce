import sys

from django.core.management.base import BaseCommand

from alerts import cli
from alerts.cli import old_forms
from alerts.cli.common import UsageError
from sentinel_project.cli import version


class Command(BaseCommand):
    help = "Sentinel: run, inspect and manage SQL alerts."

    def get_version(self):
        # --version: Sentinel's, not Django's (what BaseCommand would print).
        return f"sentinel {version()}"

    def create_parser(self, prog_name, subcommand, **kwargs):
        parser = super().create_parser(prog_name, subcommand, **kwargs)
        parse_args = parser.parse_args

        def parse_old_forms_too(args=None, namespace=None):
            # SQL Sentinel's command lines are rewritten or answered before argparse sees them.
            try:
                args = old_forms.translate(list(sys.argv[2:] if args is None else args))
            except old_forms.NewForm as exc:
                if parser.called_from_command_line:
                    sys.stderr.write(f"{exc}\n")
                    sys.exit(2)
                raise UsageError(str(exc)) from None
            return parse_args(args, namespace)

        parser.parse_args = parse_old_forms_too
        return parser

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="subcommand", metavar="SUBCOMMAND", required=True,
                                    parser_class=type(parser))
        for module in cli.load():
            child = sub.add_parser(module.name, help=module.help, description=module.help,
                                   called_from_command_line=getattr(parser, "called_from_command_line", None))
            module.add_arguments(child)
            child.set_defaults(_handler=module.handle)

    def handle(self, *args, **options):
        code = options["_handler"](options, self.stdout)
        if code:
            raise SystemExit(code)
