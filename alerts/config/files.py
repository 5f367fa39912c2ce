"""Load config files into one set of definitions, with every error as FILE:LINE: where: what."""

from dataclasses import dataclass, field
from pathlib import Path

from .schema import DEFAULT_DATASOURCE, Definitions, Problems, check_document, path_text
from .yamlfile import YamlError, parse


@dataclass(frozen=True)
class ConfigError:
    file: str
    line: int
    where: str
    message: str

    def __str__(self) -> str:
        if not self.file:  # about stored objects, not a place in a file
            return self.message
        return f"{self.file}:{self.line}: " + (f"{self.where}: " if self.where else "") + self.message


@dataclass
class Config:
    """Everything the files define, keyed by name; `errors` empty means they are valid."""

    files: list[str] = field(default_factory=list)
    datasources: dict = field(default_factory=dict)
    channels: dict = field(default_factory=dict)
    alerts: dict = field(default_factory=dict)
    errors: list[ConfigError] = field(default_factory=list)
    documents: dict = field(default_factory=dict)  # file -> Document

    def error(self, file: str, path: tuple, message: str) -> None:
        doc = self.documents.get(file)
        line = doc.line(path) if doc else 1
        where = path_text(doc.data, path) if doc else ""
        self.errors.append(ConfigError(file, line, where, message))

    def where(self, spec) -> str:
        doc = self.documents[spec.file]
        return f"{spec.file}:{doc.line(spec.path)}"

    def sorted_errors(self) -> list[ConfigError]:
        order = {file: i for i, file in enumerate(self.files)}
        return sorted(self.errors, key=lambda e: (order.get(e.file, len(order)), e.line))

    @property
    def valid(self) -> bool:
        return not self.errors


def load_text(text: str, file: str, config: Config | None = None, environ=None) -> Config:
    config = config or Config()
    config.files.append(file)
    try:
        doc = parse(text)
    except YamlError as exc:
        config.errors.append(ConfigError(file, exc.line, "", exc.message))
        return config
    config.documents[file] = doc
    problems = Problems()
    found: Definitions = check_document(doc.data, problems, environ)
    for path, message in problems.items:
        config.error(file, path, message)
    for kind, specs in (("datasource", found.datasources), ("channel", found.channels), ("alert", found.alerts)):
        registry = getattr(config, kind + "s")
        for spec in specs:
            spec.file = file
            if spec.name in registry:
                first = registry[spec.name]
                shareable = kind == "datasource" or (kind == "channel" and not spec.inline_of)
                if shareable and first.fields() == spec.fields():
                    continue  # several SQL Sentinel files, each with the same database: (fine)
                same = "already defined" if kind == "alert" else "already defined differently"
                config.error(file, spec.path + (() if spec.path == ("database",) else ("name",)),
                             f"The {kind} name {spec.name!r} is {same} at {config.where(first)}.")
                continue
            registry[spec.name] = spec
    return config


def load_files(paths, environ=None) -> Config:
    config = Config()
    for path in paths:
        file = str(path)
        try:
            text = Path(path).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            config.files.append(file)
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            config.errors.append(ConfigError(file, 0, "", f"Cannot read the file: {reason}."))
            continue
        load_text(text, file, config, environ)
    return config


def check_references(config: Config, datasources: set[str], channels: set[str]) -> None:
    """Every alert's datasource and channels must be defined in the files or stored (the given names)."""
    import difflib

    known_ds = set(config.datasources) | datasources
    known_ch = set(config.channels) | channels
    for spec in config.alerts.values():
        if spec.datasource not in known_ds:
            hint = difflib.get_close_matches(spec.datasource, sorted(known_ds), n=1, cutoff=0.6)
            if hint:
                more = f" Did you mean {hint[0]!r}?"
            elif spec.datasource == DEFAULT_DATASOURCE:
                more = " Give the file a database: {url: ...} (SQL Sentinel's form) or a datasources: entry."
            else:
                more = " Define it under datasources:."
            config.error(spec.file, spec.datasource_path if _has(config, spec, "datasource") else spec.path,
                         f"No datasource named {spec.datasource!r}.{more}")
        for name in spec.channels:
            if name not in known_ch:
                hint = difflib.get_close_matches(name, sorted(known_ch), n=1, cutoff=0.6)
                more = f" Did you mean {hint[0]!r}?" if hint else " Define it under channels:, or write it inline."
                config.error(spec.file, spec.channel_paths[name], f"No channel named {name!r}.{more}")


def _has(config: Config, spec, key: str) -> bool:
    return spec.path + (key,) in config.documents[spec.file].lines

