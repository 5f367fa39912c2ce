"""`python -m sentinel_project.allinone [PROCESS ...]`: Sentinel on one box, under one supervisor.

SQL Sentinel's daemon was one process; Sentinel is a web, a worker and a beat. This
runs the Procfile's `release` line first (migrations and what else a release does),
then its web, worker and beat lines (or the PROCESS names given) under honcho's
manager, the supervisor `make run` uses: their output interleaved on stdout, each
line prefixed with its process. One process exiting stops the others, so the
container (or systemd) restarts the whole box, never half of it. SIGTERM and SIGINT
go to every process; after SENTINEL_ALL_IN_ONE_GRACE seconds (default 30) what is
still running is killed. It is the Docker image's default command; scaling out is
the same Procfile lines, one per service (docker-compose.yml).
"""

import os
import signal
import subprocess
import sys

from honcho import manager as honcho
from honcho.compat import ProcessManager

from . import procfile
from .env import envint

DEFAULT = ("web", "worker", "beat")


class SignalTheProcessItself(ProcessManager):
    """SIGTERM to each process itself, as `docker stop` and systemd do, not to its whole process group
    (honcho's way): a celery worker then shuts down warm and its pool children finish their tasks, where a
    group-wide SIGTERM kills the children mid-query and leaves the worker waiting for them. SIGKILL, after
    the grace time, still goes to the whole group."""

    def terminate(self, pid):
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            pass


def main(argv: list[str]) -> int:
    names = argv or list(DEFAULT)
    known = procfile.processes()
    unknown = [n for n in names if n not in known or n == "release"]
    if unknown:
        print(f"all-in-one: no process {', '.join(unknown)} to run; known: "
              f"{', '.join(n for n in known if n != 'release')}", file=sys.stderr)
        return 2
    if "release" in known:
        print("all-in-one: release: " + known["release"], flush=True)
        done = subprocess.run(["/bin/sh", "-c", procfile.shell_command("release")])
        if done.returncode != 0:
            print(f"all-in-one: the release step failed (exit {done.returncode}); nothing was started.",
                  file=sys.stderr, flush=True)
            return done.returncode
    # A warm worker shutdown finishes running queries: give it time before honcho's SIGKILL.
    honcho.KILL_WAIT = envint("SENTINEL_ALL_IN_ONE_GRACE", 30)
    supervisor = honcho.Manager()
    supervisor._procmgr = SignalTheProcessItself()
    for name in names:
        # `exec`: the shell honcho starts is replaced, so each process gets the signal itself.
        supervisor.add_process(name, procfile.shell_command(name), env=dict(os.environ))
    supervisor.loop()
    return supervisor.returncode or 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
