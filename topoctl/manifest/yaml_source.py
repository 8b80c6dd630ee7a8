"""YAML with line numbers: parse one file into plain values plus a SourceMap, rejecting duplicate keys
and interpolating `${VAR}` / `${VAR:-default}` in scalar values."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any

import yaml

from topoctl.errors import ManifestError
from topoctl.manifest.source import Path, SourceMap
from topoctl.manifest.yaml_block import parse_block

_VAR = re.compile(r"\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")
_MERGE_TAG = "tag:yaml.org,2002:merge"
# The keys PyYAML's flatten_mapping rewrites: merge keys (`<<`) and value keys (`=`).
_FLATTENED = frozenset({_MERGE_TAG, "tag:yaml.org,2002:value"})
_STR_TAG = "tag:yaml.org,2002:str"
# Scalars whose values are immutable, so one built value can stand for every equal text.
_IMMUTABLE_TAGS = frozenset(f"tag:yaml.org,2002:{t}" for t in ("int", "float", "bool", "null"))
_MISSING = object()
_TIMESTAMP_TAG = "tag:yaml.org,2002:timestamp"
_BaseLoader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _Loader(_BaseLoader):  # type: ignore[misc]
    """The safe loader, with the implicit tag of each plain scalar resolved once per distinct text:
    PyYAML's resolver runs its regexes on every scalar, and big manifests repeat the same keys
    and values thousands of times."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._resolved: dict[tuple[str, tuple[bool, bool]], str] = {}
        # A plain scalar whose first character starts no implicit type (`orders`, `q.17`) is a
        # string: said at once, as PyYAML's resolver would after finding no regex to try. Most of
        # an estate's scalars are names, each seen once, so the cache above does not help them.
        resolvers = self.yaml_implicit_resolvers
        self._typed_starts = None if None in resolvers or self.yaml_path_resolvers else frozenset(resolvers)

    def resolve(self, kind: Any, value: Any, implicit: Any) -> Any:
        if kind is yaml.ScalarNode and implicit[0]:
            if value and self._typed_starts is not None and value[0] not in self._typed_starts:
                return self.DEFAULT_SCALAR_TAG
            key = (value, implicit)
            tag = self._resolved.get(key)
            if tag is None:
                tag = self._resolved[key] = super().resolve(kind, value, implicit)
            return tag
        return super().resolve(kind, value, implicit)


_LOADER = _Loader

# Hostile input: nesting deeper than any manifest needs would overflow the C composer's stack (a
# crash, not an error), and aliases can expand exponentially ("billion laughs"). Both are refused
# before anything is built, in time linear in the text.
MAX_DEPTH = 64
MAX_EXPANDED = 1_000_000  # values after aliases are expanded, or 10 per byte of text if more


def interpolate(text: str, env: Mapping[str, str], where: str) -> str:
    """Replace `${VAR}` and `${VAR:-default}`; `$$` is a literal `$`."""

    def sub(m: re.Match[str]) -> str:
        if m.group(0) == "$$":
            return "$"
        name, default = m.group(1), m.group(2)
        value = env.get(name)
        if value is None or (value == "" and default is not None):
            if default is None:
                raise ManifestError(f"environment variable {name} is not set (use ${{{name}:-default}})", where)
            return default
        return value

    return _VAR.sub(sub, text)


class _Builder:
    def __init__(self, loader: Any, filename: str, env: Mapping[str, str]) -> None:
        self.loader = loader
        self.filename = filename
        self.env = env
        self.sources = SourceMap()
        self._merged: dict[int, int] = {}
        self._open: set[int] = set()  # collections being built: an alias to one of them is a cycle
        self._scalars: dict[tuple[str, str], Any] = {}

    def where(self, node: yaml.Node) -> str:
        return f"{self.filename}:{node.start_mark.line + 1}"

    def build(self, node: yaml.Node, path: Path, key_node: yaml.Node | None = None) -> Any:
        # A mapping entry is located at its key: that is the line a user looks for.
        self.sources.locations[path] = self.where(key_node or node)
        if isinstance(node, (yaml.MappingNode, yaml.SequenceNode)):
            if id(node) in self._open:
                raise ManifestError(
                    "a YAML alias refers to a collection that contains it", self.where(key_node or node)
                )
            self._open.add(id(node))
            try:
                return self._collection(node, path)
            finally:
                self._open.discard(id(node))
        return self.scalar(node, node.tag, node.value, not getattr(node, "style", None), node.start_mark.line + 1)

    def scalar(self, node: yaml.Node | None, tag: str, text: str, plain: bool, line: int) -> Any:
        """The value of a scalar of `tag` written as `text` on `line` (`plain`: unquoted). `node` is
        needed only for a tag other than str, timestamp, int, float, bool and null."""
        # Timestamps stay the text that was written: brokers take RFC 3339 strings, not datetimes.
        if tag in (_STR_TAG, _TIMESTAMP_TAG):
            value: Any = text
        elif tag in _IMMUTABLE_TAGS:  # `1`, `true`, `~`: built once per distinct text
            key = (tag, text)
            value = self._scalars.get(key, _MISSING)
            if value is _MISSING:
                built = yaml.ScalarNode(tag, text) if node is None else node
                value = self._scalars[key] = self.loader.construct_object(built, deep=True)
        else:
            value = self.loader.construct_object(node, deep=True)
        if isinstance(value, str) and "$" in value:
            value = self._interpolated(value, plain, f"{self.filename}:{line}")
        if type(value) is float and not math.isfinite(value):
            self.sources.json_unsafe = True
        return value

    def _collection(self, node: yaml.Node, path: Path) -> Any:
        if isinstance(node, yaml.MappingNode):
            merged = self._flatten(node)
            out: dict[Any, Any] = {}
            explicit: set[Any] = set()
            for i, (key_node, value_node) in enumerate(node.value):
                key = key_node.value if key_node.tag == _STR_TAG else self.loader.construct_object(key_node, deep=True)
                if isinstance(key, (list, dict)):
                    raise ManifestError("a mapping key must be a scalar", self.where(key_node))
                if not isinstance(key, str):
                    self.sources.json_unsafe = True
                if isinstance(key, str) and "$" in key:  # names too: `${PREFIX}orders: {...}`
                    key = interpolate(key, self.env, self.where(key_node))
                if i >= merged:  # keys written here; those merged in (`<<: *defaults`) may be overridden
                    if key in explicit:
                        raise ManifestError(f"duplicate key {key!r}", self.where(key_node))
                    explicit.add(key)
                out[key] = self.build(value_node, (*path, key), key_node)
            return out
        return [self.build(item, (*path, i)) for i, item in enumerate(node.value)]

    def _flatten(self, node: yaml.MappingNode) -> int:
        """Resolve YAML merge keys in place; how many of the pairs now first in `node` were merged in.

        PyYAML puts merged pairs first, later sources before earlier ones, so building the dict in
        order lets explicit keys override merged ones and earlier merge sources win, as YAML says.
        An aliased mapping is visited once per alias: remember the count from the first visit.
        """
        if id(node) not in self._merged:
            if not any(key_node.tag in _FLATTENED for key_node, _ in node.value):
                return 0  # nothing for flatten_mapping to do (nearly every mapping): skip it
            written = sum(1 for key_node, _ in node.value if key_node.tag != _MERGE_TAG)
            self.loader.flatten_mapping(node)
            self._merged[id(node)] = len(node.value) - written
        return self._merged[id(node)]

    def _interpolated(self, value: str, plain: bool, where: str) -> Any:
        result = interpolate(value, self.env, where)
        # `partitions: ${PARTITIONS:-6}` should be the integer 6, as if written plainly; a quoted
        # scalar stays a string.
        # An empty result stays "" (`endpoint_url: ${AWS_ENDPOINT_URL:-}` means "none given"), not null.
        if plain and result != value and result.strip():
            try:
                typed = yaml.load(result, Loader=_LOADER)
            except yaml.YAMLError:
                return result
            if isinstance(typed, (int, float, bool)) or typed is None:
                return typed
        return result


def _depth_bound(text: str) -> int:
    """An upper bound of the nesting depth, cheap enough for every file: block nesting needs
    indentation (or `- `/`? ` indicators) on its line; flow nesting needs an opening bracket each."""
    block = max((len(line) - len(line.lstrip(" -?")) for line in text.splitlines()), default=0)
    return block + text.count("[") + text.count("{")


def _check_depth(text: str, filename: str) -> None:
    """Walks the parser's events (no recursion, nothing built) when the text could nest too deep."""
    if _depth_bound(text) <= MAX_DEPTH:
        return
    loader = _LOADER(text)
    depth = 0
    try:
        while loader.check_event():
            event = loader.get_event()
            if isinstance(event, yaml.CollectionStartEvent):
                depth += 1
                if depth > MAX_DEPTH:
                    mark = event.start_mark
                    where = f"{filename}:{mark.line + 1}" if mark else filename
                    raise ManifestError(f"nested deeper than {MAX_DEPTH} levels; no manifest needs that", where)
            elif isinstance(event, yaml.CollectionEndEvent):
                depth -= 1
    finally:
        loader.dispose()


def _check_expansion(root: yaml.Node, text: str, filename: str) -> None:
    """Counts the values the document has once its aliases are expanded, visiting each node once
    (an alias is the same node object again), and refuses an alias bomb before building it."""
    limit = max(MAX_EXPANDED, 10 * len(text))
    sizes: dict[int, int] = {}
    entered: set[int] = set()  # a node met again before its size is known closes a cycle
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, children_done = stack.pop()
        if id(node) in sizes:
            continue
        if not isinstance(node, (yaml.MappingNode, yaml.SequenceNode)):
            sizes[id(node)] = 1
            continue
        children = [n for pair in node.value for n in pair] if isinstance(node, yaml.MappingNode) else node.value
        if not children_done:
            if id(node) in entered:
                continue  # a cycle: the builder reports it at its line
            entered.add(id(node))
            stack.append((node, True))
            stack.extend((c, False) for c in children if id(c) not in sizes)
            continue
        size = 1 + sum(sizes.get(id(c), 1) for c in children)
        if size > limit:
            where = f"{filename}:{node.start_mark.line + 1}"
            raise ManifestError(
                f"YAML aliases here expand to more than {limit:,} values (an alias bomb?); "
                "anchors and merge keys of ordinary size are fine",
                where,
            )
        sizes[id(node)] = size


def load_yaml(text: str, filename: str, env: Mapping[str, str]) -> tuple[Any, SourceMap]:
    builder = _Builder(_LOADER(""), filename, env)  # the common shape first, read a line at a time
    try:
        doc = parse_block(text, builder, MAX_DEPTH)
    finally:
        builder.loader.dispose()
    if doc is not None:
        return doc, builder.sources
    return load_with_pyyaml(text, filename, env)


def load_with_pyyaml(text: str, filename: str, env: Mapping[str, str]) -> tuple[Any, SourceMap]:
    """Any YAML, every error worded: what `parse_block` leaves (and what it is tested against)."""
    loader = _LOADER(text)
    try:
        _check_depth(text, filename)
        node = loader.get_single_node()
        if node is None:
            return None, SourceMap()
        if "*" in text:  # only aliases expand
            _check_expansion(node, text, filename)
        builder = _Builder(loader, filename, env)
        return builder.build(node, ()), builder.sources
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"{filename}:{mark.line + 1}" if mark else filename
        raise ManifestError(f"invalid YAML: {_problem(exc, text)}", where) from None
    except yaml.YAMLError as exc:
        raise ManifestError(f"invalid YAML: {exc}", filename) from None
    finally:
        loader.dispose()


def _problem(exc: yaml.MarkedYAMLError, text: str) -> str:
    """PyYAML's words, with the hint a newcomer needs for the two classic surprises."""
    problem = exc.problem or exc.context or "invalid YAML"
    mark = exc.problem_mark
    if mark is not None:
        lines = text.splitlines()
        line = lines[mark.line] if mark.line < len(lines) else ""
        if "\t" in line[: mark.column + 1]:
            return f"{problem} (a tab: YAML indents with spaces only)"
    if "another document" in problem:
        return "a second YAML document (`---`): put each manifest document in a file of its own"
    return problem
