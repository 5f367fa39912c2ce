from django.core.management.base import BaseCommand

from alerts import cli


class Command(BaseCommand):
    help = "Sentinel: run, inspect and manage SQL alerts."

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
