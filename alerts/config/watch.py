"""Keep the stored definitions in step with files: apply them again whenever their content changes.

`sentinel apply --watch` and the beat process (SENTINEL_CONFIG_FILES, sentinel_project/celery_signals.py)
both call apply_if_changed in a loop, so a file edit means the same thing wherever it is watched:

- a changed file is applied as `apply` applies it (planned, then one transaction);
- a broken one changes nothing, and its FILE:LINE errors are reported once (until it changes again);
- an alert that a watched file no longer defines is disabled (it stops running, its history stays),
  or deleted with prune; objects from other files, the admin or the API are never touched.
"""

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

from django.db import DatabaseError, IntegrityError

from .files import load_files
from .plan import apply_plan, make_plan


@dataclass
class Outcome:
    hash: str | None  # what was dealt with: pass it back as last_hash
    changed: bool = False  # the content differed from last_hash (and lines say what happened)
    applied: bool = False  # something was written
    ok: bool = True  # False: nothing was written because of an error in `lines`
    lines: list[str] = field(default_factory=list)


def content_hash(paths) -> str:
    """A digest of the files' names and bytes; an unreadable file counts as its own content."""
    digest = hashlib.sha256()
    for path in paths:
        digest.update(str(path).encode() + b"\0")
        try:
            digest.update(Path(path).read_bytes())
        except OSError as exc:
            digest.update(f"\0unreadable {exc.errno}".encode())
        digest.update(b"\0")
    return digest.hexdigest()


def apply_if_changed(paths, last_hash: str | None = None, *, prune: bool = False) -> Outcome:
    """Apply `paths` if their content differs from `last_hash` (None: always); see the module docstring.

    A database error (unreachable, or someone else wrote the same names meanwhile) keeps last_hash,
    so the next call tries again; a long-running caller closes broken connections between calls."""
    paths = [str(p) for p in paths]
    current = content_hash(paths)
    if current == last_hash:
        return Outcome(current)
    config = load_files(paths)
    try:
        plan = None if config.errors else make_plan(config, prune=prune, only_from=paths, disable_removed=True)
        if config.errors:
            count = len(config.errors)
            return Outcome(current, changed=True, ok=False, lines=[str(e) for e in config.sorted_errors()] + [
                f"{count} error{'s' if count != 1 else ''}: nothing was applied; the running definitions stay."])
        lines = plan.lines()
        if not plan.has_changes:
            return Outcome(current, changed=True, lines=lines + ["Nothing to do."])
        apply_plan(plan)
    except IntegrityError:
        return Outcome(last_hash, changed=True, ok=False, lines=[
            "Nothing was applied: the stored definitions changed while applying; trying again."])
    except DatabaseError as exc:
        return Outcome(last_hash, changed=True, ok=False, lines=[
            f"Nothing was applied: the database failed ({type(exc).__name__}: {exc}); trying again."])
    except Exception as exc:  # a problem the checks missed: the transaction kept nothing; said once
        return Outcome(current, changed=True, ok=False, lines=[
            f"Nothing was applied: {type(exc).__name__}: {exc}; the running definitions stay."])
    return Outcome(current, changed=True, applied=True, lines=lines + ["Applied."])
