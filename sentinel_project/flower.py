"""`python -m sentinel_project.flower [flower options]`: Flower that never runs open.

Flower's pages and API can revoke tasks and shut workers down, so it refuses
to start without FLOWER_BASIC_AUTH (user:password[,user2:password2]), which may
also come from the file named by FLOWER_BASIC_AUTH_FILE (Docker secrets).
"""

import os
import sys

from .env import envbool, envsecret


def main(argv: list[str]) -> None:
    auth = envsecret("FLOWER_BASIC_AUTH")
    # Flower reads every FLOWER_* variable as one of its options and stops at an unknown one.
    os.environ.pop("FLOWER_BASIC_AUTH_FILE", None)
    if not auth or any(":" not in pair for pair in auth.split(",")):
        raise SystemExit("flower: set FLOWER_BASIC_AUTH=user:password (or FLOWER_BASIC_AUTH_FILE); "
                         "Flower does not run without authentication here.")
    if envbool("FLOWER_UNAUTHENTICATED_API", False):
        raise SystemExit("flower: FLOWER_UNAUTHENTICATED_API=true would open Flower's API; unset it.")
    os.environ["FLOWER_BASIC_AUTH"] = auth
    os.execvp("celery", ["celery", "-A", "sentinel_project", "flower", *argv])


if __name__ == "__main__":
    main(sys.argv[1:])
