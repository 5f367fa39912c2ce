import signal
import threading
from datetime import datetime

from django.conf import settings
from django.db import IntegrityError, close_old_connections

from alerts.config import apply_plan, load_files, make_plan
from alerts.config.watch import apply_if_changed

from .common import UsageError
from .validate import print_errors

name = "apply"
help = ("Make the stored alerts match files: print the plan, then apply it in one transaction. "
        "--watch keeps applying them on every change; without FILE, the files SENTINEL_CONFIG_FILES names.")


def add_arguments(parser):
    parser.add_argument("files", nargs="*", metavar="FILE",
                        help="YAML files; none: the files SENTINEL_CONFIG_FILES names, kept in step as beat keeps them")
    parser.add_argument("--prune", action="store_true",
                        help="also delete objects that came from files but that these files no longer define "
                             "(with --watch: only objects from the watched files)")
    parser.add_argument("--dry-run", action="store_true", help="print the plan; change nothing")
    parser.add_argument("--watch", action="store_true",
                        help="apply, then apply again whenever the files' content changes, until Ctrl-C or "
                             "SIGTERM; alerts removed from them are disabled (deleted with --prune)")
    parser.add_argument("--interval", type=float, default=None, metavar="SECONDS",
                        help="with --watch, how often to look at the files (default SENTINEL_CONFIG_POLL_SECONDS, 2)")


def handle(options, out) -> int:
    files = options["files"]
    if options["watch"]:
        if options["dry_run"]:
            raise UsageError("--watch applies every change; --dry-run changes nothing: use one of them.")
        files = files or settings.SENTINEL_CONFIG_FILES
        if not files:
            raise UsageError("Give the files to watch, or set SENTINEL_CONFIG_FILES.")
        interval = options["interval"] if options["interval"] is not None else settings.SENTINEL_CONFIG_POLL_SECONDS
        if interval <= 0:
            raise UsageError(f"--interval {interval:g}: give a number of seconds above 0.")
        return watch(files, options["prune"], interval, out)
    if not files:
        if not settings.SENTINEL_CONFIG_FILES:
            # The release step runs this whether or not files are configured.
            out.write("No FILE given and SENTINEL_CONFIG_FILES is not set: nothing to apply.")
            return 0
        return apply_configured(settings.SENTINEL_CONFIG_FILES, options, out)
    return apply_files(files, options, out)


def apply_files(files, options, out, in_step: bool = False) -> int:
    """Plan and apply once. in_step: as --watch does, only objects from these files are pruned, and
    without --prune alerts removed from them are disabled."""
    config = load_files(files)
    if config.errors:
        print_errors(config, out)
        return 1
    plan = make_plan(config, prune=options["prune"], only_from=files if in_step else None, disable_removed=in_step)
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


def apply_configured(files, options, out) -> int:
    """SENTINEL_CONFIG_FILES, kept in step as the beat process keeps them (the release step runs this)."""
    out.write(f"Applying SENTINEL_CONFIG_FILES: {', '.join(files)}")
    return apply_files(files, options, out, in_step=True)


def watch(files, prune: bool, interval: float, out) -> int:
    """Apply, then apply again on every change of the files' content, until SIGINT or SIGTERM (exit 0)."""
    stop = threading.Event()
    previous = {sig: signal.signal(sig, lambda *_: stop.set()) for sig in (signal.SIGINT, signal.SIGTERM)}
    out.write(f"Watching {', '.join(files)} every {interval:g} s (Ctrl-C stops).")
    out.flush()
    last = None
    try:
        while not stop.is_set():
            close_old_connections()  # one the database dropped (a restart) is opened afresh
            outcome = apply_if_changed(files, last, prune=prune)
            if outcome.changed:
                out.write(f"{datetime.now().astimezone():%Y-%m-%d %H:%M:%S %z}: "
                          + ("applying the files:" if last is None else "the files changed:"))
                for line in outcome.lines:
                    out.write(line)
                out.flush()
            last = outcome.hash
            stop.wait(interval)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    out.write("Stopped watching.")
    return 0
