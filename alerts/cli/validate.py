from django.db import DatabaseError

from alerts.cli.common import UsageError
from alerts.config import check_references, load_files
from alerts.config.files import ConfigError
from alerts.models import Alert, Channel, Datasource
from alerts.querying import dispose_engines
from alerts.validation import prepare

name = "validate"
help = ("Check alert files and print every error as FILE:LINE: where: what (exit 1 if any); "
        "--check-queries also asks each datasource to plan each query.")


def add_arguments(parser):
    parser.add_argument("files", nargs="*", metavar="FILE", help="YAML files (SQL Sentinel's format or Sentinel's)")
    parser.add_argument("--check-queries", action="store_true",
                        help="Prepare each query on its datasource without running it (EXPLAIN) and report a "
                             "missing table or a syntax error; without FILE, the stored alerts. An unreachable "
                             "datasource is a warning, not an error.")


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
    if not options["files"]:
        if not options["check_queries"]:
            raise UsageError("Give the files to check, or --check-queries to check the stored alerts' queries.")
        return check_stored(out)
    config = load_files(options["files"])
    datasources, channels, reachable = stored_names()
    check_references(config, datasources, channels)
    warnings = check_file_queries(config) if options["check_queries"] and not config.errors else []
    for warning in warnings:
        out.write(str(warning))
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
    if options["check_queries"]:
        checked = len(config.alerts) - len(warnings)
        out.write(f"Queries: {checked} of {len(config.alerts)} prepared on their datasources without a problem"
                  + (f"; {len(warnings)} not checked (see the warnings)." if warnings else "."))
    if not reachable:
        out.write("Note: the database was not reachable, so references to stored datasources and channels "
                  "were not checked.")
    return 0


def check_file_queries(config) -> list[ConfigError]:
    """Prepare each alert's query on its datasource (the file's, or the stored one): a query the datasource
    refuses becomes an error of the file; one that could not be checked, a warning (returned)."""
    warnings, sources, down = [], {}, {}
    try:
        for spec in sorted(config.alerts.values(), key=lambda s: s.datasource):
            datasource = sources.get(spec.datasource) or _datasource_for(config, spec.datasource, len(sources))
            sources[spec.datasource] = datasource
            doc = config.documents[spec.file]
            if datasource is None or spec.datasource in down:
                note = down.get(spec.datasource) or f"no datasource {spec.datasource!r} to ask"
                warnings.append(ConfigError(spec.file, doc.line(spec.path), _where(doc, spec.path),
                                            f"warning: the query was not checked: {note}."))
                continue
            prepared = prepare(datasource, spec.query)
            if prepared.problem:
                config.error(spec.file, spec.path + ("query",), f"On {datasource.name}: {prepared.problem}")
            elif prepared.not_checked:
                if prepared.unreachable:
                    down[spec.datasource] = prepared.not_checked
                warnings.append(ConfigError(spec.file, doc.line(spec.path), _where(doc, spec.path),
                                            f"warning: the query was not checked: {prepared.not_checked}."))
    finally:
        dispose_engines()
    return warnings


def _datasource_for(config, name: str, index: int):
    """The file's definition (unsaved, with an engine of its own), else the stored datasource; None if neither."""
    spec = config.datasources.get(name)
    if spec is not None and "***" not in spec.url:
        # A negative id no row has: the engine cache keys on it, and it must not be a stored datasource's.
        return Datasource(pk=-(index + 1), name=name, **spec.fields())
    try:
        return Datasource.objects.filter(name=name).first()
    except DatabaseError:
        return None


def _where(doc, path) -> str:
    from alerts.config.schema import path_text

    return path_text(doc.data, path)


def check_stored(out) -> int:
    """--check-queries without files: every stored alert, by name."""
    problems = unchecked = 0
    alerts = list(Alert.objects.select_related("datasource").order_by("datasource__name", "name"))
    down = {}
    try:
        for alert in alerts:
            if alert.datasource_id in down:
                prepared_note, problem = down[alert.datasource_id], ""
            else:
                prepared = prepare(alert.datasource, alert.query)
                problem, prepared_note = prepared.problem, prepared.not_checked
                if prepared.unreachable:
                    down[alert.datasource_id] = prepared.not_checked
            if problem:
                problems += 1
                out.write(f"alert {alert.name}: on {alert.datasource.name}: {problem}")
            elif prepared_note:
                unchecked += 1
                out.write(f"alert {alert.name}: warning: the query was not checked: {prepared_note}.")
    finally:
        dispose_engines()
    out.write(f"{len(alerts)} alert{'s' if len(alerts) != 1 else ''}: {problems} with a query problem, "
              f"{unchecked} not checked.")
    return 1 if problems else 0
