"""Read a YAML file into plain Python values, remembering the line of every key and item.

PyYAML's `safe_load` forgets where things were; we compose the node tree and
build the values ourselves, so every error can say FILE:LINE. Duplicate keys,
which PyYAML silently resolves to the last one, are errors here.

Files come from editors and from version control, so their size once aliases are
expanded is bounded (MAX_NODES: an alias bomb is refused before it is built) and
an alias to a node that contains it is refused (docs/security.md §9).
"""

from dataclasses import dataclass, field

import yaml

Path = tuple  # ("alerts", 3, "schedule")
# Values in a file, counted after aliases are expanded: thousands of alerts fit, a billion-node bomb does not.
MAX_NODES = 200_000
MAX_DEPTH = 100


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


class LimitedLoader(yaml.SafeLoader):
    """SafeLoader that counts, while composing, how many nodes the document stands for
    with every alias expanded, and refuses loops and runaway nesting with their line."""

    def __init__(self, stream):
        super().__init__(stream)
        self.node_count = 0
        self.sizes: dict[int, int] = {}  # id(node) -> node count with aliases expanded
        self.open_anchors: set[str] = set()  # anchors of the collections being composed
        self.depth = 0

    def compose_node(self, parent, index):
        event = self.peek_event()
        line = event.start_mark.line + 1
        if isinstance(event, yaml.AliasEvent):
            if event.anchor in self.open_anchors:
                raise YamlError(line, f"The alias *{event.anchor} points inside its own anchor &{event.anchor}: "
                                      "it would never end.")
            node = super().compose_node(parent, index)
            self._count(self._size(node), line)
            return node
        self._count(1, line)
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise YamlError(line, f"Nested more than {MAX_DEPTH} levels deep.")
        anchor = getattr(event, "anchor", None)
        if anchor and not isinstance(event, yaml.ScalarEvent):
            self.open_anchors.add(anchor)
        try:
            return super().compose_node(parent, index)
        finally:
            self.open_anchors.discard(anchor)
            self.depth -= 1

    def _count(self, n: int, line: int) -> None:
        self.node_count += n
        if self.node_count > MAX_NODES:
            raise YamlError(line, f"The file stands for more than {MAX_NODES:,} values once its aliases (*name) are "
                                  "expanded; split it or repeat less through aliases.")

    def _size(self, node) -> int:
        known = self.sizes.get(id(node))
        if known is None:
            if isinstance(node, yaml.SequenceNode):
                known = 1 + sum(self._size(item) for item in node.value)
            elif isinstance(node, yaml.MappingNode):
                known = 1 + sum(self._size(k) + self._size(v) for k, v in node.value)
            else:
                known = 1
            self.sizes[id(node)] = known
        return known


def parse(text: str) -> Document:
    """Parse one YAML document; raises YamlError with the line of the first problem."""
    loader = LimitedLoader(text)
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
