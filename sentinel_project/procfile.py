"""`python -m sentinel_project.procfile NAME`: run the Procfile's NAME process.

docker-compose and plain VMs (systemd) start processes through this, so the
Procfile stays the one place each command is written; Heroku and `make run`
(honcho) read the Procfile directly.

A single command is started with `exec`, so it replaces the shell and receives
SIGTERM itself: a worker then shuts down warm, finishing its running alerts.
"""

import os
import re
import sys
from pathlib import Path

PROCFILE = Path(__file__).resolve().parent.parent / "Procfile"
_LINE = re.compile(r"^([A-Za-z0-9_-]+):\s*(.+)$")
_COMPOUND = re.compile(r"&&|\|\||;|\|")


def processes(path: Path = PROCFILE) -> dict[str, str]:
    out = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        match = _LINE.match(line.strip())
        if match and not line.lstrip().startswith("#"):
            out[match.group(1)] = match.group(2).strip()
    return out


def shell_command(name: str, path: Path = PROCFILE) -> str:
    known = processes(path)
    if name not in known:
        raise SystemExit(f"procfile: no process {name!r} in {path}; known: {', '.join(known)}")
    command = known[name]
    return command if _COMPOUND.search(command) else f"exec {command}"


def main(argv: list[str]) -> None:
    if len(argv) != 1:
        raise SystemExit("usage: python -m sentinel_project.procfile NAME")
    os.execv("/bin/sh", ["sh", "-c", shell_command(argv[0])])


if __name__ == "__main__":
    main(sys.argv[1:])
