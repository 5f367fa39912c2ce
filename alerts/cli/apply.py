from django.db import IntegrityError

from alerts.config import apply_plan, load_files, make_plan

from .validate import print_errors

name = "apply"
help = "Make the stored alerts match files: print the plan, then apply it in one transaction."


def add_arguments(parser):
    parser.add_argument("files", nargs="+", metavar="FILE")
    parser.add_argument("--prune", action="store_true",
                        help="also delete objects that came from files but that these files no longer define")
    parser.add_argument("--dry-run", action="store_true", help="print the plan; change nothing")


def handle(options, out) -> int:
    config = load_files(options["files"])
    if config.errors:
        print_errors(config, out)
        return 1
    plan = make_plan(config, prune=options["prune"])
    if config.errors:
        print_errors(config, out)
        return 1
    for line in plan.lines():
        out.write(line)
    if options["dry_run"]:
        out.write("Dry run: nothing was changed.")
        return 0
    if not plan.has_changes:
        out.write("Nothing to do.")
        return 0
    try:
        apply_plan(plan)
    except IntegrityError:
        # Someone else (another apply, the admin) wrote the same names meanwhile; nothing of ours was kept.
        out.write("Nothing was applied: the stored definitions changed while applying. Run apply again.")
        return 1
    out.write("Applied.")
    return 0
