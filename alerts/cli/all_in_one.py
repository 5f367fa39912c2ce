"""`sentinel all-in-one`: web, worker and beat in one supervised process (sentinel_project/allinone.py)."""

import os
import sys

name = "all-in-one"
help = ("Run the release step, then the Procfile's web, worker and beat under one supervisor: Sentinel on one "
        "box, as SQL Sentinel's daemon was (the Docker image's default command).")


def add_arguments(parser):
    parser.add_argument("names", nargs="*", metavar="PROCESS",
                        help="the Procfile processes to run (default: web worker beat)")


def handle(options, out) -> int:
    # Replace this process: the supervisor needs no Django of its own, and receives SIGTERM itself.
    os.execv(sys.executable, [sys.executable, "-m", "sentinel_project.allinone", *options["names"]])
