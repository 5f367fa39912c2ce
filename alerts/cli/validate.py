from django.db import DatabaseError

from alerts.config import check_references, load_files
from alerts.models import Channel, Datasource

name = "validate"
help = "Check alert files and print every error as FILE:LINE: where: what (exit 1 if any)."


def add_arguments(parser):
    parser.add_argument("files", nargs="+", metavar="FILE", help="YAML files (SQL Sentinel's format or Sentinel's)")


def stored_names() -> tuple[set[str], set[str], bool]:
    """Names of stored datasources and channels, which files may refer to; (set(), set(), False) without a database."""
    try:
        return set(Datasource.objects.values_list("name", flat=True)), \
            set(Channel.objects.values_list("name", flat=True)), True
    except DatabaseError:
        return set(), set(), False


def print_errors(config, out) -> None:
    for error in config.sorted_errors():
        out.write(str(error))
    out.write(f"{len(config.errors)} error{'s' if len(config.errors) != 1 else ''} in "
              f"{len(config.files)} file{'s' if len(config.files) != 1 else ''}.")


def handle(options, out) -> int:
    config = load_files(options["files"])
    datasources, channels, reachable = stored_names()
    check_references(config, datasources, channels)
    if config.errors:
        print_errors(config, out)
        return 1
    for file in config.files:
        counts = [
            (sum(1 for s in getattr(config, kind).values() if s.file == file), kind[:-1])
            for kind in ("datasources", "channels", "alerts")
        ]
        text = ", ".join(f"{n} {word}{'s' if n != 1 else ''}" for n, word in counts)
        out.write(f"{file}: valid ({text})")
    if not reachable:
        out.write("Note: the database was not reachable, so references to stored datasources and channels "
                  "were not checked.")
    return 0
