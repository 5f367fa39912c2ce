from pathlib import Path

from alerts.config import export_yaml

name = "export"
help = "Write every datasource, channel and alert as YAML that `apply` reads back (secrets masked)."


def add_arguments(parser):
    parser.add_argument("--output", "-o", metavar="FILE", help="write here instead of to standard output")


def handle(options, out) -> int:
    text = export_yaml()
    if options["output"]:
        Path(options["output"]).write_text(text, encoding="utf-8")
        out.write(f"Wrote {options['output']}.")
    else:
        out.write(text.rstrip("\n"))
    return 0
