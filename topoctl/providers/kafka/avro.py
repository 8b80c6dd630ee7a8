"""Avro schemas: checked as a schema registry checks a new one, and reduced to the forms topoctl
compares. Pure and without a library: the forms are small rule sets of the Avro specification,
and the checks are those a registry applies to a new schema (Confluent validates names strictly
and defaults against their types), so a bad schema is a `validate` error with its file:line
instead of an HTTP 422 halfway through an apply.

Two forms come out of one walk over the parsed schema:

* `parsing_canonical_form`: the specification's Parsing Canonical Form, exactly: primitives in
  their simple form, full names and no namespaces, only `type`, `name`, `fields`, `symbols`,
  `items`, `values` and `size` kept, in that order, strings unescaped, no whitespace; a named type
  written out where it first occurs and by its full name afterwards.
* `normal_form`: the same transformations, except that nothing a reader or a registry keeps is
  stripped: `doc`, `aliases` (as full names, sorted), `default`, `order` (unless `ascending`, its
  default), logical types and every other property follow the kept keys, sorted. Two schemas with
  the same normal form are the same schema to a registry, however they are laid out: this is what
  a plan compares. Parsing Canonical Form alone would call a new field default or a new logical
  type "no change", and the registry would never get it.

Names that the schema uses but does not define are an error, unless the subject declares
`references` (the types may come from the referenced schemas): then they are kept as full names.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

PRIMITIVES = frozenset({"null", "boolean", "int", "long", "float", "double", "bytes", "string"})
NAMED = frozenset({"record", "error", "enum", "fixed"})
# [ORDER] of the specification; the other keys of the normal form follow, sorted.
_PCF_ORDER = ("name", "type", "fields", "symbols", "items", "values", "size")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_INT_RANGE = (-(2**31), 2**31 - 1)
_LONG_RANGE = (-(2**63), 2**63 - 1)


class AvroError(ValueError):
    """The text is not an Avro schema a registry would accept; the message says where."""


@dataclass
class _Names:
    """Named types defined so far (full name -> definition), and whether undefined names are allowed."""

    defined: dict[str, dict[str, Any]] = field(default_factory=dict)
    external: bool = False


def parse(text: str | Any, external_names: bool = False) -> Any:
    """The schema (text, or already-loaded JSON) as a tree of plain JSON values with full names and
    no `namespace` attributes; raises AvroError naming the problem."""
    if isinstance(text, str):
        try:
            data = json.loads(text)
        except ValueError as exc:
            raise AvroError(f"not JSON: {exc}") from None
    else:
        data = text
    return _Parser(_Names(external=external_names)).schema(data, "", "")


def parsing_canonical_form(text: str | Any, external_names: bool = False) -> str:
    return _dump(_form(parse(text, external_names), strip=True, seen=set()))


def normal_form(text: str | Any, external_names: bool = False) -> str:
    return _dump(_form(parse(text, external_names), strip=False, seen=set()))


def _dump(value: Any) -> str:
    # [STRINGS] UTF-8 rather than \u escapes, [WHITESPACE] none outside strings.
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


# -- parsing -----------------------------------------------------------------------------------------


class _Parser:
    def __init__(self, names: _Names) -> None:
        self.names = names

    def schema(self, data: Any, namespace: str, where: str) -> Any:
        if isinstance(data, str):
            return self._reference(data, namespace, where)
        if isinstance(data, list):
            return self._union(data, namespace, where)
        if not isinstance(data, Mapping):
            raise AvroError(f"{_at(where)}a schema is a type name, an object or a union (list), got {_kind(data)}")
        kind = data.get("type")
        if isinstance(kind, (Mapping, list)):
            raise AvroError(f'{_at(where)}"type" must be a type name (a nested schema goes in a field\'s "type")')
        if not isinstance(kind, str):
            raise AvroError(f'{_at(where)}a schema object needs "type"')
        if kind in PRIMITIVES:
            return self._props(data, {"type": kind}, ("type",))
        if kind in NAMED:
            return self._named(kind, data, namespace, where)
        if kind == "array":
            if "items" not in data:
                raise AvroError(f'{_at(where)}an array needs "items"')
            out = {"type": "array", "items": self.schema(data["items"], namespace, _join(where, "items"))}
            return self._props(data, out, ("type", "items"))
        if kind == "map":
            if "values" not in data:
                raise AvroError(f'{_at(where)}a map needs "values"')
            out = {"type": "map", "values": self.schema(data["values"], namespace, _join(where, "values"))}
            return self._props(data, out, ("type", "values"))
        # {"type": "com.acme.Address"}: a reference written as an object (Avro accepts it).
        return self._reference(kind, namespace, where)

    def _reference(self, name: str, namespace: str, where: str) -> Any:
        if name in PRIMITIVES:
            return name
        if name in NAMED or name in ("array", "map"):
            raise AvroError(f'{_at(where)}{name!r} needs the object form: {{"type": "{name}", ...}}')
        full = _full_name(name, namespace)
        for candidate in (full, name):  # Avro falls back to the null namespace
            if candidate in self.names.defined:
                return candidate
        if "." in name:
            _check_full_name(name, where)
        elif not _NAME.fullmatch(name):
            raise AvroError(f"{_at(where)}{name!r} is not a valid Avro name ([A-Za-z_][A-Za-z0-9_]*)")
        if not self.names.external:
            raise AvroError(
                f"{_at(where)}unknown type {name!r} (define it before its first use, or declare the "
                "subject that defines it under references)"
            )
        return full

    def _union(self, branches: list[Any], namespace: str, where: str) -> list[Any]:
        out: list[Any] = []
        seen: set[str] = set()
        for i, branch in enumerate(branches):
            if isinstance(branch, list):
                raise AvroError(f"{_at(_join(where, str(i)))}a union cannot hold a union directly")
            parsed = self.schema(branch, namespace, _join(where, str(i)))
            key = _union_key(parsed)
            if key in seen:
                raise AvroError(f"{_at(where)}the union holds {key} twice")
            seen.add(key)
            out.append(parsed)
        return out

    def _named(self, kind: str, data: Mapping[str, Any], namespace: str, where: str) -> dict[str, Any]:
        name = data.get("name")
        if not isinstance(name, str) or not name:
            raise AvroError(f'{_at(where)}a {kind} needs "name"')
        space = data.get("namespace")
        if space is not None and not isinstance(space, str):
            raise AvroError(f'{_at(where)}"namespace" must be a string')
        if "." in name:
            full = name
        else:
            enclosing = namespace if space is None else space
            full = f"{enclosing}.{name}" if enclosing else name
        _check_full_name(full, where)
        if space:
            _check_full_name(space + ".x", where)
        if full in self.names.defined or full in PRIMITIVES:
            raise AvroError(f"{_at(where)}type {full!r} is defined twice")
        own_space = full.rpartition(".")[0]
        out: dict[str, Any] = {"type": kind, "name": full}
        # Registered before its fields are read: a record may refer to itself.
        self.names.defined[full] = out
        here = _join(where, full)
        if "aliases" in data:
            out["aliases"] = self._aliases(data["aliases"], own_space, here, qualify=True)
        if "doc" in data:
            if not isinstance(data["doc"], str):
                raise AvroError(f'{_at(here)}"doc" must be a string')
            out["doc"] = data["doc"]
        known: tuple[str, ...]
        if kind in ("record", "error"):
            out["fields"] = self._fields(data.get("fields"), own_space, here)
            known = ("type", "name", "namespace", "aliases", "doc", "fields")
        elif kind == "enum":
            out["symbols"] = self._symbols(data.get("symbols"), here)
            if "default" in data:
                if data["default"] not in out["symbols"]:
                    raise AvroError(f"{_at(here)}the enum default {data['default']!r} is not one of its symbols")
                out["default"] = data["default"]
            known = ("type", "name", "namespace", "aliases", "doc", "symbols", "default")
        else:
            size = data.get("size")
            if isinstance(size, bool) or not isinstance(size, int) or size < 0:
                raise AvroError(f'{_at(here)}a fixed needs "size", a whole number of bytes')
            out["size"] = size
            known = ("type", "name", "namespace", "aliases", "doc", "size")
        self._props(data, out, known)  # adds the other properties to `out`, the registered definition
        return out

    def _fields(self, fields: Any, namespace: str, where: str) -> list[dict[str, Any]]:
        if not isinstance(fields, list):
            raise AvroError(f'{_at(where)}a record needs "fields", a list')
        out = []
        seen: set[str] = set()
        for i, spec in enumerate(fields):
            at = _join(where, f"fields[{i}]")
            if not isinstance(spec, Mapping):
                raise AvroError(f'{_at(at)}a field is an object with "name" and "type"')
            name = spec.get("name")
            if not isinstance(name, str) or not _NAME.fullmatch(name):
                raise AvroError(f'{_at(at)}a field needs a valid "name" ([A-Za-z_][A-Za-z0-9_]*), got {name!r}')
            at = _join(where, name)
            if name in seen:
                raise AvroError(f"{_at(where)}field {name!r} is declared twice")
            seen.add(name)
            if "type" not in spec:
                raise AvroError(f'{_at(at)}a field needs "type"')
            field_out: dict[str, Any] = {"name": name, "type": self.schema(spec["type"], namespace, at)}
            if "doc" in spec:
                if not isinstance(spec["doc"], str):
                    raise AvroError(f'{_at(at)}"doc" must be a string')
                field_out["doc"] = spec["doc"]
            if "default" in spec:
                if not self._valid_default(field_out["type"], spec["default"]):
                    raise AvroError(f"{_at(at)}the default {json.dumps(spec['default'])} does not fit the field's type")
                field_out["default"] = spec["default"]
            if "order" in spec:
                if spec["order"] not in ("ascending", "descending", "ignore"):
                    raise AvroError(f'{_at(at)}"order" is ascending, descending or ignore')
                if spec["order"] != "ascending":
                    field_out["order"] = spec["order"]
            if "aliases" in spec:
                field_out["aliases"] = self._aliases(spec["aliases"], namespace, at, qualify=False)
            out.append(self._props(spec, field_out, ("name", "type", "doc", "default", "order", "aliases")))
        return out

    def _symbols(self, symbols: Any, where: str) -> list[str]:
        if not isinstance(symbols, list):
            raise AvroError(f'{_at(where)}an enum needs "symbols", a list')
        seen: set[str] = set()
        for symbol in symbols:
            if not isinstance(symbol, str) or not _NAME.fullmatch(symbol):
                raise AvroError(f"{_at(where)}enum symbol {symbol!r} is not a valid Avro name")
            if symbol in seen:
                raise AvroError(f"{_at(where)}enum symbol {symbol!r} appears twice")
            seen.add(symbol)
        return list(symbols)

    def _aliases(self, aliases: Any, namespace: str, where: str, qualify: bool) -> list[str]:
        if not isinstance(aliases, list) or not all(isinstance(a, str) and a for a in aliases):
            raise AvroError(f'{_at(where)}"aliases" must be a list of names')
        if qualify:  # a type's aliases are names, relative to its namespace
            return sorted({_full_name(a, namespace) for a in aliases})
        return sorted(set(aliases))

    def _props(self, data: Mapping[str, Any], out: dict[str, Any], known: tuple[str, ...]) -> Any:
        """The other attributes (logicalType, precision, custom properties), kept as written."""
        for key, value in data.items():
            if key not in known and key != "namespace":
                out[str(key)] = value
        if set(out) == {"type"} and out["type"] in PRIMITIVES:
            return out["type"]  # [PRIMITIVES] {"type": "int"} is "int"
        return out

    def _valid_default(self, schema: Any, value: Any) -> bool:
        """Avro's rules for a field default (those Java's parser applies to a new schema): a union's
        default may fit any of its branches."""
        if isinstance(schema, list):
            return any(self._valid_default(branch, value) for branch in schema)
        if isinstance(schema, str) and schema not in PRIMITIVES:
            target = self.names.defined.get(schema)
            if target is None:
                return True  # a referenced type: the registry checks it
            schema = target
        kind = schema if isinstance(schema, str) else schema["type"]
        if kind == "null":
            return value is None
        if kind == "boolean":
            return isinstance(value, bool)
        if kind in ("int", "long"):
            low, high = _INT_RANGE if kind == "int" else _LONG_RANGE
            return isinstance(value, int) and not isinstance(value, bool) and low <= value <= high
        if kind in ("float", "double"):
            return isinstance(value, (int, float)) and not isinstance(value, bool)
        if kind in ("bytes", "string", "fixed"):
            return isinstance(value, str)
        if kind == "enum":
            return isinstance(value, str)
        if kind == "array":
            return isinstance(value, list) and all(self._valid_default(schema["items"], v) for v in value)
        if kind == "map":
            return isinstance(value, Mapping) and all(self._valid_default(schema["values"], v) for v in value.values())
        if kind in ("record", "error"):
            if not isinstance(value, Mapping):
                return False
            for f in schema.get("fields", ()):  # a record's own fields are not read yet
                if f["name"] in value:
                    if not self._valid_default(f["type"], value[f["name"]]):
                        return False
                elif "default" not in f:
                    return False
            return True
        return False


def _full_name(name: str, namespace: str) -> str:
    if "." in name:
        return name.lstrip(".")
    return f"{namespace}.{name}" if namespace else name


def _check_full_name(full: str, where: str) -> None:
    for part in full.split("."):
        if not _NAME.fullmatch(part):
            raise AvroError(f"{_at(where)}{full!r} is not a valid Avro name (dotted parts of [A-Za-z_][A-Za-z0-9_]*)")


def _union_key(schema: Any) -> str:
    """What a union may hold only once: a type, or a named type by name."""
    if isinstance(schema, str):
        return schema
    if schema["type"] in NAMED:
        return str(schema["name"])
    return str(schema["type"])


def _join(where: str, part: str) -> str:
    return f"{where}.{part}" if where else part


def _at(where: str) -> str:
    return f"at {where}: " if where else ""


def _kind(value: Any) -> str:
    return "null" if value is None else type(value).__name__


# -- the two forms ---------------------------------------------------------------------------------


def _form(schema: Any, strip: bool, seen: set[str]) -> Any:
    if isinstance(schema, str):
        return schema  # a primitive, or a named type by its full name
    if isinstance(schema, list):
        return [_form(s, strip, seen) for s in schema]
    kind = schema["type"]
    if kind in NAMED:
        if schema["name"] in seen:
            return schema["name"]  # defined already: referred to by full name
        seen.add(schema["name"])
    out: dict[str, Any] = {}
    for key in _PCF_ORDER:
        if key not in schema:
            continue
        value = schema[key]
        if key == "fields":
            value = [_field(f, strip, seen) for f in value]
        elif key in ("items", "values"):
            value = _form(value, strip, seen)
        out[key] = value
    if strip:
        if kind in PRIMITIVES:
            return kind  # a primitive with properties (a logical type) is the primitive
        return out
    for key in sorted(k for k in schema if k not in _PCF_ORDER):
        out[key] = _value(schema[key])
    return out


def _field(spec: Mapping[str, Any], strip: bool, seen: set[str]) -> dict[str, Any]:
    out: dict[str, Any] = {"name": spec["name"], "type": _form(spec["type"], strip, seen)}
    if not strip:
        for key in sorted(k for k in spec if k not in ("name", "type")):
            out[key] = _value(spec[key])
    return out


def _value(value: Any) -> Any:
    """A default or property, with numbers in one spelling: `1.0` is `1` (a registry written in
    Java echoes a double default as written, one in Python as `1.0`)."""
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        return int(value)
    if isinstance(value, list):
        return [_value(v) for v in value]
    if isinstance(value, Mapping):
        return {str(k): _value(v) for k, v in sorted(value.items())}
    return value
