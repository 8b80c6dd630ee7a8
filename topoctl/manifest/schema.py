"""JSON Schema validation of the merged manifest, with errors located by file and line.

`schemas/manifest.schema.json` holds the top level and `$ref`s one file per broker type, so editors
(yaml-language-server) and `topoctl validate` enforce the same thing.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import Any

from topoctl.errors import ManifestError
from topoctl.manifest.source import SourceMap

SCHEMA_DIR = Path(__file__).resolve().parent.parent / "schemas"
MANIFEST_SCHEMA = "manifest.schema.json"


@cache
def _validator() -> Any:
    # Imported here: jsonschema costs ~100 ms to import and `--help` should not pay for it.
    from jsonschema import Draft202012Validator
    from referencing import Registry, Resource

    resources = []
    for path in sorted(SCHEMA_DIR.glob("*.schema.json")):
        contents = json.loads(path.read_text(encoding="utf-8"))
        resources.append((path.name, Resource.from_contents(contents, default_specification=_draft())))
    registry: Registry[Any] = Registry().with_resources(resources)
    root = json.loads((SCHEMA_DIR / MANIFEST_SCHEMA).read_text(encoding="utf-8"))
    return Draft202012Validator(root, registry=registry)


def _draft() -> Any:
    from referencing.jsonschema import DRAFT202012

    return DRAFT202012


def validate_document(document: Mapping[str, Any], sources: SourceMap) -> None:
    from jsonschema.exceptions import best_match

    validator = _validator()
    error = best_match(validator.iter_errors(document), key=_relevance)
    if error is None:
        return
    path = tuple(error.absolute_path)
    if error.validator == "additionalProperties" and isinstance(error.instance, dict):
        extra = sorted(set(error.instance) - set(error.schema.get("properties", {})), key=str)
        if extra:  # point at the offending key itself, not at its parent
            path = (*path, extra[0])
    dotted = ".".join(str(p) for p in path)
    message = _message(error)
    raise ManifestError(f"{dotted}: {message}" if dotted else message, sources.where(path))


def _relevance(error: Any) -> Any:
    # Prefer the deepest error: "brokers.x.queues.q.type: 'quorom' is not one of ..." beats
    # "brokers.x does not match any of ...".
    from jsonschema.exceptions import relevance

    return (len(error.absolute_path), relevance(error))


def _message(error: Any) -> str:
    if error.validator == "additionalProperties":
        extra = sorted(set(error.instance) - set(error.schema.get("properties", {})))
        allowed = ", ".join(sorted(error.schema.get("properties", {})))
        names = ", ".join(repr(e) for e in extra)
        return f"unknown field {names} (allowed: {allowed})"
    if error.validator == "enum":
        return f"{error.instance!r} is not one of {', '.join(repr(e) for e in error.validator_value)}"
    return str(error.message)
