"""Read a YAML file into plain Python values, remembering the line of every key and item.

PyYAML's `safe_load` forgets where things were; we compose the node tree and
build the values ourselves, so every error can say FILE:LINE. Duplicate keys,
which PyYAML silently resolves to the last one, are errors here.
"""

from dataclasses import dataclass, field

import yaml

Path = tuple  # ("alerts", 3, "schedule")


class YamlError(Exception):
    def __init__(self, line: int, message: str):
        super().__init__(message)
        self.line = line
        self.message = message


@dataclass
class Document:
    data: object
    lines: dict = field(default_factory=dict)  # Path -> 1-based line

    def line(self, path: Path) -> int:
        """The line of `path`, or of its nearest ancestor that has one."""
        path = tuple(path)
        while path:
            if path in self.lines:
                return self.lines[path]
            path = path[:-1]
        return self.lines.get((), 1)


def parse(text: str) -> Document:
    """Parse one YAML document; raises YamlError with the line of the first problem."""
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            raise YamlError(1, "The file is empty.")
        doc = Document(None, {(): node.start_mark.line + 1})
        doc.data = _build(loader, node, (), doc.lines)
        return doc
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else 1
        problem = " ".join(p for p in (exc.context, exc.problem) if p)
        raise YamlError(line, f"Not valid YAML: {problem}.") from None
    except yaml.YAMLError as exc:
        raise YamlError(1, f"Not valid YAML: {exc}") from None
    finally:
        loader.dispose()


def _build(loader, node, path: Path, lines: dict):
    if isinstance(node, yaml.MappingNode):
        loader.flatten_mapping(node)  # resolves `<<: *anchor` merges
        result = {}
        for key_node, value_node in node.value:
            key = loader.construct_object(key_node, deep=True)
            line = key_node.start_mark.line + 1
            if not isinstance(key, str):
                raise YamlError(line, f"Keys must be text; {key!r} is a {type(key).__name__}.")
            if key in result:
                raise YamlError(line, f"Duplicate key {key!r} (first on line {lines[path + (key,)]}).")
            lines[path + (key,)] = line
            result[key] = _build(loader, value_node, path + (key,), lines)
        return result
    if isinstance(node, yaml.SequenceNode):
        items = []
        for index, item in enumerate(node.value):
            lines[path + (index,)] = item.start_mark.line + 1
            items.append(_build(loader, item, path + (index,), lines))
        return items
    return loader.construct_object(node, deep=True)
