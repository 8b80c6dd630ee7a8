"""JSON Schema validation of the merged manifest, with errors located by file and line.

`schemas/manifest.schema.json` holds the top level and `$ref`s one file per broker type, so editors
(yaml-language-server) and `topoctl validate` enforce the same thing.

jsonschema's own `best_match` often lands on "... is not valid under any of the given schemas" for
`anyOf`/`oneOf` values; `_most_precise` instead descends into the branch that fits the value's type
and reports the deepest error there, and `_message` words each error for a person, with a "did you
mean" for misspelt field names and values.
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Iterable, Mapping, Sequence
from functools import cache
from pathlib import Path
from typing import Any

from topoctl.errors import ManifestError
from topoctl.manifest.source import SourceMap

SCHEMA_DIR = Path(__file__).resolve().parent.parent / "schemas"
MANIFEST_SCHEMA = "manifest.schema.json"

_DROPPED = frozenset({"$ref", "$defs", "$schema"})  # resolved, or no use once references are inlined
_WEAK = frozenset({"anyOf", "oneOf", "allOf", "if", "then", "else", "not", "$ref"})
_TYPE_WORDS = {
    "object": "a mapping",
    "array": "a list",
    "string": "a string",
    "integer": "an integer",
    "number": "a number",
    "boolean": "true/false",
    "null": "nothing (null)",
}


@cache
def _schema() -> Any:
    documents = {path.name: json.loads(path.read_text(encoding="utf-8")) for path in SCHEMA_DIR.glob("*.schema.json")}
    return _inline(documents[MANIFEST_SCHEMA], MANIFEST_SCHEMA, documents, ())


@cache
def _validator() -> Any:
    # Imported here: jsonschema costs ~100 ms to import and `--help` should not pay for it.
    from jsonschema import Draft202012Validator

    return Draft202012Validator(_schema())


@cache
def _compiled() -> Any:
    """jsonschema-rs, compiled once: it decides pass or fail about 100 times faster than jsonschema
    (10 ms for 10,000 objects, against 0.8 s). None when it is not installed."""
    try:
        import jsonschema_rs
    except ImportError:  # pragma: no cover - a dependency; jsonschema alone still works
        return None
    return jsonschema_rs.Draft202012Validator(_schema(), validate_formats=False)


def _passes(document: Mapping[str, Any]) -> bool:
    """The fast decision. Only "valid" is trusted: on "invalid" (or a value JSON cannot hold, such
    as a YAML date or an integer key) jsonschema decides again, and words the error."""
    compiled = _compiled()
    if compiled is None:
        return False
    try:
        return bool(compiled.is_valid(document))
    except Exception:  # any refusal of the fast path falls back to the full one
        return False


def _inline(schema: Any, document: str, documents: Mapping[str, Any], seen: tuple[str, ...]) -> Any:
    """The schema with every `$ref` replaced by what it points at (they are files and `#/$defs/...`
    pointers, none recursive). Resolving references costs a quarter of validating a big manifest."""
    if isinstance(schema, list):
        return [_inline(item, document, documents, seen) for item in schema]
    if not isinstance(schema, dict):
        return schema
    out = {key: _inline(value, document, documents, seen) for key, value in schema.items() if key not in _DROPPED}
    ref = schema.get("$ref")
    if not isinstance(ref, str):
        return out
    file, _, pointer = ref.partition("#")
    target_doc = file or document
    if f"{target_doc}#{pointer}" in seen or target_doc not in documents:
        raise ValueError(f"schema $ref {ref} in {document} is recursive or unknown")
    target: Any = documents[target_doc]
    for part in (p for p in pointer.split("/") if p):
        target = target[part.replace("~1", "/").replace("~0", "~")]
    resolved = _inline(target, target_doc, documents, (*seen, f"{target_doc}#{pointer}"))
    if not out:
        return resolved
    return {**out, "allOf": [*out.get("allOf", []), resolved]}  # `$ref` beside other keywords


def validate_document(document: Mapping[str, Any], sources: SourceMap) -> None:
    if _passes(document):
        return
    errors = list(_validator().iter_errors(document))
    if not errors:
        return
    error = _most_precise(errors)
    path = _path_of(error)
    dotted = ".".join(str(p) for p in path)
    # Connections hold secrets (passwords, tokens, credentials in URLs): their values are never
    # echoed, even when misplaced or of the wrong type.
    message = _message(error, hide_values="connection" in path[:3])
    raise ManifestError(f"{dotted}: {message}" if dotted else message, sources.where(path))


def _unknown(error: Any) -> list[str]:
    """The undeclared keys of an additionalProperties error."""
    if error.validator != "additionalProperties" or not isinstance(error.instance, dict):
        return []
    declared = error.schema.get("properties", {})
    return sorted((k for k in error.instance if k not in declared), key=str)


def _is_name(error: Any) -> bool:
    return "propertyNames" in error.absolute_schema_path


def _path_of(error: Any) -> tuple[Any, ...]:
    path = tuple(error.absolute_path)
    if _is_name(error):  # a bad name: point at it
        return (*path, error.instance)
    extra = _unknown(error)
    return (*path, extra[0]) if extra else path  # point at the offending key itself, not at its parent


def _rank(error: Any) -> tuple[int, bool]:
    # The deepest error is the most precise ("queues.q.type: 'quorom' ..." beats "queues.q: ...");
    # at one depth a concrete keyword beats a combinator.
    return (len(_path_of(error)), error.validator not in _WEAK)


def _most_precise(errors: Iterable[Any]) -> Any:
    best = max(errors, key=_rank)
    while best.validator in ("anyOf", "oneOf") and best.context:
        # Only the branches whose type fits the value can tell what is wrong with it: for
        # `prune: {prefx: a}` against `boolean | {prefix}`, the mapping branch knows.
        branches: dict[Any, list[Any]] = {}
        for sub in best.context:
            branches.setdefault(sub.relative_schema_path[0], []).append(sub)
        depth = len(best.absolute_path)
        fitting = [
            sub
            for subs in branches.values()
            if not any(s.validator == "type" and len(s.absolute_path) == depth for s in subs)
            for sub in subs
        ]
        if not fitting:
            break  # no branch takes this type: _message lists the types that would do
        best = max(fitting, key=_rank)
    return best


def suggest(word: object, choices: Iterable[object]) -> str | None:
    """The closest valid name to a misspelt one, if any is close enough."""
    names = [str(c) for c in choices]
    found = difflib.get_close_matches(str(word), names, n=1, cutoff=0.6)
    if not found:  # a case slip (`Quorum`) or a missing separator (`maxage`) is not a typo difflib sees
        folded = {n.lower().replace("_", "").replace("-", ""): n for n in names}
        key = str(word).lower().replace("_", "").replace("-", "")
        return folded.get(key)
    return found[0]


def _did_you_mean(word: object, choices: Iterable[object]) -> str:
    found = suggest(word, choices)
    return f"; did you mean {found!r}?" if found is not None else ""


def _belongs_under(key: object, schema: Any, depth: int = 4) -> str | None:
    """Where, below this level, `key` is a field: `queues` right under a RabbitMQ broker goes in
    `vhosts.<name>.queues`. The nearest place wins."""
    frontier: list[tuple[tuple[str, ...], Any]] = [((), schema)]
    for _ in range(depth):
        deeper: list[tuple[tuple[str, ...], Any]] = []
        for path, node in frontier:
            for sub in _alternatives(node):
                for name, child in (sub.get("properties") or {}).items():
                    if name == "prune":  # its flags are named after the sections they prune
                        continue
                    if path and name == key:
                        return ".".join((*path, name))
                    deeper.append(((*path, name), child))
                for keyword, step in (("additionalProperties", "<name>"), ("items", "[]")):
                    if isinstance(sub.get(keyword), dict):
                        deeper.append(((*path, step), sub[keyword]))
        frontier = deeper
    return None


def _alternatives(schema: Any) -> list[dict[str, Any]]:
    if not isinstance(schema, dict):
        return []
    found = [schema]
    for keyword in ("allOf", "anyOf", "oneOf"):
        for sub in schema.get(keyword) or ():
            found += _alternatives(sub)
    if isinstance(schema.get("then"), dict):
        found += _alternatives(schema["then"])
    return found


def _got(value: object, hide: bool = False) -> str:
    if hide and isinstance(value, str):
        return "a string"
    if hide and isinstance(value, (int, float)) and not isinstance(value, bool):
        return "a number"
    if value is None:
        return "nothing"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return repr(value)


def _expected(types: Sequence[str]) -> str:
    words = list(dict.fromkeys(_TYPE_WORDS.get(t, t) for t in types))
    return " or ".join(words)


def _types_of(error: Any) -> list[str]:
    if error.validator == "type":
        value = error.validator_value
        return [value] if isinstance(value, str) else list(value)
    if error.validator in ("anyOf", "oneOf"):
        return [t for sub in error.context or () for t in _types_of(sub) if len(sub.path) == 0]
    return []


def _message(error: Any, hide_values: bool = False) -> str:
    validator = error.validator
    shown = "the value" if hide_values else repr(error.instance)
    if _is_name(error):
        rule = f"must match {error.validator_value}" if validator == "pattern" else error.message
        return f"the name {error.instance!r} is not allowed ({rule})"
    if validator == "additionalProperties":
        extra = _unknown(error)
        declared = error.schema.get("properties", {})
        names = ", ".join(repr(e) for e in extra)
        hint = suggest(extra[0], declared) if len(extra) == 1 else None
        if hint is not None:
            return f"unknown field {names}; did you mean {hint!r}?"
        belongs = _belongs_under(extra[0], error.schema) if len(extra) == 1 else None
        if belongs is not None:
            return f"unknown field {names} here: it goes in {belongs}"
        return f"unknown field {names} (allowed: {', '.join(sorted(declared))})"
    if validator == "required":
        absent = [name for name in error.validator_value if name not in error.instance]
        missing = absent[0] if absent else error.message
        options = error.schema.get("properties", {}).get(missing, {})
        if missing == "version" and not error.absolute_path:
            return "missing 'version': a manifest starts with `version: 1`"
        if isinstance(options, dict) and "enum" in options:
            return f"missing field {missing!r} (one of: {', '.join(map(str, options['enum']))})"
        return f"missing field {missing!r}"
    if validator == "enum":
        allowed = error.validator_value
        listed = ", ".join(repr(e) for e in allowed)
        return f"{shown} is not one of {listed}{_did_you_mean(error.instance, allowed)}"
    if validator == "const":
        return f"must be {error.validator_value!r}, got {_got(error.instance, hide_values)}"
    if validator == "pattern":
        if "ms|s|m|h|d" in str(error.validator_value):
            return f"not a duration: {shown} (use e.g. 500ms, 30s, 5m, 1h, 7d)"
        description = error.schema.get("description")
        if description:
            return f"{shown} does not have the expected form ({description})"
    if validator == "type" or (validator in ("anyOf", "oneOf") and _types_of(error)):
        return f"expected {_expected(_types_of(error))}, got {_got(error.instance, hide_values)}"
    if validator == "minLength" and error.validator_value == 1:
        return "must not be empty"
    if hide_values:
        return f"{shown} is not valid here ({validator}: {error.validator_value!r})"
    return str(error.message)
