from .enable import add_arguments, switch  # noqa: F401  (the same NAME argument)

name = "disable"
help = "Disable an alert: it does not run until enabled (its history is kept)."


def handle(options, out) -> int:
    return switch(options["alert"], False, out)
