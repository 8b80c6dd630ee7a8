"""Avro for the double, written apart from topoctl's own avro.py on purpose: the double must not
share the code it tests. Three jobs:

* `parse`: a schema text (plus the texts of its references) -> nodes, refusing what a registry
  refuses for a new schema (bad names, unknown types, defaults that do not fit);
* `render`: the text the registry keeps and serves back, laid out as Avro's Java `Schema.toString()`
  does (Confluent's registry stores that): keys in Java's order, `namespace` only where it changes,
  a named type spelled short inside its own namespace, compact JSON;
* `incompatibilities(reader, writer)`: the Avro specification's schema resolution (can data written
  with `writer` be read with `reader`?), reported as Avro's SchemaCompatibility reports it: a type
  (TYPE_MISMATCH, NAME_MISMATCH, FIXED_SIZE_MISMATCH, MISSING_ENUM_SYMBOLS,
  READER_FIELD_MISSING_DEFAULT_VALUE, MISSING_UNION_BRANCH), a location (`/fields/1/type`) and a
  message.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

PRIMITIVE = ("null", "boolean", "int", "long", "float", "double", "bytes", "string")
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class InvalidAvro(ValueError):
    pass


@dataclass(eq=False)
class Node:
    kind: str  # a primitive, record, enum, fixed, array, map or union
    name: str = ""  # full name of a named type
    doc: str | None = None
    aliases: list[str] = field(default_factory=list)
    fields: list[Field] = field(default_factory=list)
    symbols: list[str] = field(default_factory=list)
    enum_default: str | None = None
    size: int = 0
    items: Node | None = None
    values: Node | None = None
    branches: list[Node] = field(default_factory=list)
    props: dict[str, Any] = field(default_factory=dict)

    @property
    def namespace(self) -> str:
        return self.name.rpartition(".")[0]

    @property
    def short(self) -> str:
        return self.name.rpartition(".")[2]


@dataclass(eq=False)
class Field:
    name: str
    type: Node
    position: int
    doc: str | None = None
    has_default: bool = False
    default: Any = None
    order: str = "ascending"
    aliases: list[str] = field(default_factory=list)
    props: dict[str, Any] = field(default_factory=dict)


def parse(text: str, references: Sequence[str] = ()) -> Node:
    """The schema `text`; the texts of its references are parsed first, for their named types."""
    return parse_with_references(text, references)[0]


def parse_with_references(text: str, references: Sequence[str] = ()) -> tuple[Node, set[str]]:
    """The schema, and the names its references define (rendered as names, never inlined)."""
    known: dict[str, Node] = {}
    for ref in references:
        _Reader(known).read(_json(ref), "")
    referenced = set(known)
    return _Reader(known).read(_json(text), ""), referenced


def _json(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError as exc:
        raise InvalidAvro(f"Invalid JSON: {exc}") from None


class _Reader:
    def __init__(self, known: dict[str, Node]) -> None:
        self.known = known

    def read(self, data: Any, space: str) -> Node:
        if isinstance(data, str):
            return self._named_or_primitive(data, space)
        if isinstance(data, list):
            return Node("union", branches=[self.read(b, space) for b in data])
        if not isinstance(data, dict) or not isinstance(data.get("type"), str):
            raise InvalidAvro(f"No type: {json.dumps(data)}")
        kind = data["type"]
        props = {k: v for k, v in data.items() if k not in _RESERVED}
        if kind in PRIMITIVE:
            return Node(kind, props=props)
        if kind == "array":
            return Node("array", items=self.read(data.get("items"), space), props=props)
        if kind == "map":
            return Node("map", values=self.read(data.get("values"), space), props=props)
        if kind in ("record", "error", "enum", "fixed"):
            return self._define(kind, data, space, props)
        return self._named_or_primitive(kind, space)

    def _named_or_primitive(self, name: str, space: str) -> Node:
        if name in PRIMITIVE:
            return Node(name)
        full = name if "." in name else (f"{space}.{name}" if space else name)
        for candidate in (full, name):
            if candidate in self.known:
                return self.known[candidate]
        raise InvalidAvro(f'"{name}" is not a defined name. The type of the "{name}" field must be a defined name')

    def _define(self, kind: str, data: dict[str, Any], space: str, props: dict[str, Any]) -> Node:
        name = data.get("name")
        if not isinstance(name, str):
            raise InvalidAvro(f"No name in schema: {json.dumps(data)}")
        namespace = data.get("namespace", space)
        full = name if "." in name else (f"{namespace}.{name}" if namespace else name)
        for part in full.split("."):
            if not _NAME.match(part):
                raise InvalidAvro(f"Illegal character in: {full}")
        if full in self.known:
            raise InvalidAvro(f"Can't redefine: {full}")
        own = full.rpartition(".")[0]
        node = Node("record" if kind == "error" else kind, name=full, doc=data.get("doc"), props=props)
        node.aliases = [a if "." in a else (f"{own}.{a}" if own else a) for a in data.get("aliases", [])]
        self.known[full] = node
        if node.kind == "record":
            if not isinstance(data.get("fields"), list):
                raise InvalidAvro(f"Record has no fields: {json.dumps(data)}")
            seen = set()
            for i, spec in enumerate(data["fields"]):
                fname = spec.get("name") if isinstance(spec, dict) else None
                if not isinstance(fname, str) or not _NAME.match(fname):
                    raise InvalidAvro(f"Illegal field name: {fname}")
                if fname in seen:
                    raise InvalidAvro(f"Duplicate field {fname} in record {full}")
                seen.add(fname)
                if "type" not in spec:
                    raise InvalidAvro(f"No field type: {json.dumps(spec)}")
                f = Field(fname, self.read(spec["type"], own), i, doc=spec.get("doc"))
                f.order = spec.get("order", "ascending")
                f.aliases = list(spec.get("aliases", []))
                f.props = {k: v for k, v in spec.items() if k not in _FIELD_RESERVED}
                if "default" in spec:
                    f.has_default, f.default = True, spec["default"]
                    if not _fits(f.type, f.default):
                        raise InvalidAvro(
                            f"Invalid default for field {fname}: {json.dumps(f.default)} not a {render_json(f.type)}"
                        )
                node.fields.append(f)
        elif node.kind == "enum":
            symbols = data.get("symbols")
            if not isinstance(symbols, list) or not all(isinstance(s, str) and _NAME.match(s) for s in symbols):
                raise InvalidAvro(f"Enum symbols must be a list of names: {json.dumps(data)}")
            if len(set(symbols)) != len(symbols):
                raise InvalidAvro(f"Duplicate enum symbol in {full}")
            node.symbols = list(symbols)
            node.enum_default = data.get("default")
        else:
            size = data.get("size")
            if not isinstance(size, int) or isinstance(size, bool):
                raise InvalidAvro(f"Invalid or no size: {json.dumps(data)}")
            node.size = size
        return node


_RESERVED = frozenset(
    {"type", "name", "namespace", "fields", "items", "size", "symbols", "values", "aliases", "doc", "default"}
)
_FIELD_RESERVED = frozenset({"name", "type", "doc", "default", "order", "aliases"})


def _fits(node: Node, value: Any) -> bool:
    kind = node.kind
    if kind == "union":
        return any(_fits(b, value) for b in node.branches)
    if kind == "null":
        return value is None
    if kind == "boolean":
        return isinstance(value, bool)
    if kind in ("int", "long"):
        return isinstance(value, int) and not isinstance(value, bool)
    if kind in ("float", "double"):
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if kind in ("string", "bytes", "fixed", "enum"):
        return isinstance(value, str)
    if kind == "array":
        return isinstance(value, list) and all(_fits(node.items, v) for v in value)  # type: ignore[arg-type]
    if kind == "map":
        return isinstance(value, dict) and all(_fits(node.values, v) for v in value.values())  # type: ignore[arg-type]
    if kind == "record":
        return isinstance(value, dict) and all(
            _fits(f.type, value[f.name]) if f.name in value else f.has_default for f in node.fields
        )
    return False


# -- rendering, as Avro's Java Schema.toString() -------------------------------------------------------


def render(node: Node, referenced: set[str] | None = None) -> str:
    """As Java's `Schema.toString(referencedSchemas, false)`: types of references by name."""
    return json.dumps(render_json(node, "", set(referenced or ())), separators=(",", ":"), ensure_ascii=False)


def render_json(node: Node, space: str = "", seen: set[str] | None = None) -> Any:
    seen = set() if seen is None else seen
    if node.kind in PRIMITIVE:
        return {"type": node.kind, **node.props} if node.props else node.kind
    if node.kind == "union":
        return [render_json(b, space, seen) for b in node.branches]
    if node.kind == "array":
        return {"type": "array", "items": render_json(node.items, space, seen), **node.props}  # type: ignore[arg-type]
    if node.kind == "map":
        return {"type": "map", "values": render_json(node.values, space, seen), **node.props}  # type: ignore[arg-type]
    if node.name in seen:
        return node.short if node.namespace == space else node.name
    seen.add(node.name)
    out: dict[str, Any] = {"type": node.kind, "name": node.short}
    if node.namespace != space:
        out["namespace"] = node.namespace
    if node.doc is not None:
        out["doc"] = node.doc
    inner = node.namespace
    if node.kind == "record":
        out["fields"] = [_render_field(f, inner, seen) for f in node.fields]
    elif node.kind == "enum":
        out["symbols"] = node.symbols
        if node.enum_default is not None:
            out["default"] = node.enum_default
    else:
        out["size"] = node.size
    out.update(node.props)
    if node.aliases:
        out["aliases"] = [a.rpartition(".")[2] if a.rpartition(".")[0] == inner else a for a in node.aliases]
    return out


def _render_field(f: Field, space: str, seen: set[str]) -> dict[str, Any]:
    out: dict[str, Any] = {"name": f.name, "type": render_json(f.type, space, seen)}
    if f.doc is not None:
        out["doc"] = f.doc
    if f.has_default:
        out["default"] = f.default
    if f.order != "ascending":
        out["order"] = f.order
    if f.aliases:
        out["aliases"] = f.aliases
    out.update(f.props)
    return out


# -- schema resolution ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Incompatibility:
    type: str
    location: str
    message: str


_PROMOTIONS = {
    "long": {"int"},
    "float": {"int", "long"},
    "double": {"int", "long", "float"},
    "bytes": {"string"},
    "string": {"bytes"},
}


def incompatibilities(reader: Node, writer: Node) -> list[Incompatibility]:
    return _Checker().check(reader, writer, [""])


class _Checker:
    def __init__(self) -> None:
        self.busy: set[tuple[int, int]] = set()

    def check(self, reader: Node, writer: Node, path: list[str]) -> list[Incompatibility]:
        key = (id(reader), id(writer))
        if key in self.busy:
            return []  # recursion: compatible unless shown otherwise elsewhere
        self.busy.add(key)
        try:
            return self._check(reader, writer, path)
        finally:
            self.busy.discard(key)

    def _at(self, path: list[str]) -> str:
        return "/" + "/".join(p for p in path if p)

    def _check(self, reader: Node, writer: Node, path: list[str]) -> list[Incompatibility]:
        if reader.kind == writer.kind:
            if reader.kind in PRIMITIVE:
                return []
            if reader.kind == "array":
                return self.check(reader.items, writer.items, [*path, "items"])  # type: ignore[arg-type]
            if reader.kind == "map":
                return self.check(reader.values, writer.values, [*path, "values"])  # type: ignore[arg-type]
            if reader.kind == "union":
                out = []
                for i, branch in enumerate(writer.branches):
                    if self.check(reader, branch, [*path, str(i)]):
                        out.append(
                            Incompatibility(
                                "MISSING_UNION_BRANCH",
                                self._at([*path, str(i)]),
                                f"reader union lacking writer type: {branch.kind.upper()}",
                            )
                        )
                return out
            out = self._names(reader, writer, path)
            if reader.kind == "fixed" and reader.size != writer.size:
                out.append(
                    Incompatibility(
                        "FIXED_SIZE_MISMATCH",
                        self._at([*path, "size"]),
                        f"expected: {writer.size}, found: {reader.size}",
                    )
                )
            if reader.kind == "enum":
                missing = sorted(set(writer.symbols) - set(reader.symbols))
                if missing and reader.enum_default not in reader.symbols:
                    out.append(
                        Incompatibility(
                            "MISSING_ENUM_SYMBOLS", self._at([*path, "symbols"]), "[" + ", ".join(missing) + "]"
                        )
                    )
            if reader.kind == "record":
                out += self._fields(reader, writer, path)
            return out
        if writer.kind == "union":
            return [i for branch in writer.branches for i in self.check(reader, branch, path)]
        if reader.kind == "union":
            if any(not self.check(branch, writer, path) for branch in reader.branches):
                return []
            return [
                Incompatibility(
                    "MISSING_UNION_BRANCH", self._at(path), f"reader union lacking writer type: {writer.kind.upper()}"
                )
            ]
        if writer.kind in _PROMOTIONS.get(reader.kind, ()):
            return []
        return [
            Incompatibility(
                "TYPE_MISMATCH",
                self._at(path),
                f"reader type: {reader.kind.upper()} not compatible with writer type: {writer.kind.upper()}",
            )
        ]

    def _names(self, reader: Node, writer: Node, path: list[str]) -> list[Incompatibility]:
        if reader.short == writer.short or writer.name in reader.aliases:
            return []
        return [Incompatibility("NAME_MISMATCH", self._at([*path, "name"]), f"expected: {writer.name}")]

    def _fields(self, reader: Node, writer: Node, path: list[str]) -> list[Incompatibility]:
        out = []
        written = {f.name: f for f in writer.fields}
        for f in reader.fields:
            at = [*path, "fields", str(f.position)]
            source = written.get(f.name) or next((written[a] for a in f.aliases if a in written), None)
            if source is not None:
                out += self.check(f.type, source.type, [*at, "type"])
            elif not f.has_default:
                if f.type.kind == "enum" and f.type.enum_default is not None:
                    out += self.check(f.type, writer, [*at, "type"])
                else:
                    out.append(Incompatibility("READER_FIELD_MISSING_DEFAULT_VALUE", self._at(at), f.name))
        return out


_DESCRIPTIONS = {
    "TYPE_MISMATCH": "The type (path '{path}') of a field in the {reader} schema does not match with the "
    "{writer} schema",
    "NAME_MISMATCH": "The name of the schema has changed (path '{path}')",
    "FIXED_SIZE_MISMATCH": "The size of FIXED type field at path '{path}' in the {reader} schema does not match with "
    "the {writer} schema",
    "MISSING_ENUM_SYMBOLS": "The {reader} schema is missing enum symbols '{info}' at path '{path}' in the "
    "{writer} schema",
    "MISSING_UNION_BRANCH": "The {reader} schema is missing a type inside a union field at path '{path}' in the "
    "{writer} schema",
    "READER_FIELD_MISSING_DEFAULT_VALUE": "The field '{info}' at path '{path}' in the {reader} schema has no default "
    "value and is missing in the {writer} schema",
}


def describe(incompatibility: Incompatibility, reader: str, writer: str) -> str:
    """One message as Confluent's registry words it (`{errorType:'...', description:'...',
    additionalInfo:'...'}`), `reader` and `writer` being "new" or "old"."""
    description = _DESCRIPTIONS[incompatibility.type].format(
        path=incompatibility.location, reader=reader, writer=writer, info=incompatibility.message
    )
    return (
        f"{{errorType:'{incompatibility.type}', description:'{description}', "
        f"additionalInfo:'{incompatibility.message}'}}"
    )
