"""The compiled validator (jsonschema-rs) decides pass or fail; jsonschema only words the error
(issue 10). A manifest jsonschema refuses must never pass the fast path: checked on the shipped
examples mutated at random (wrong types, unknown and misspelt fields, odd strings, removed keys)."""

from __future__ import annotations

import copy
import datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from topoctl.errors import ManifestError
from topoctl.manifest.loader import read_documents
from topoctl.manifest.schema import _compiled, _passes, _schema, _validator, validate_document
from topoctl.manifest.source import SourceMap

EXAMPLES = sorted((Path(__file__).resolve().parents[2] / "examples").glob("*.yaml"))


def _vocabulary(schema: Any) -> tuple[list[str], list[Any]]:
    """Every field name and every enum value the schema knows: the words mutations are made of."""
    names: set[str] = set()
    values: list[Any] = []
    stack = [schema]
    while stack:
        node = stack.pop()
        if isinstance(node, list):
            stack.extend(node)
        elif isinstance(node, dict):
            names.update(k for k in (node.get("properties") or {}) if isinstance(k, str))
            values.extend(v for v in node.get("enum") or () if v not in values)
            stack.extend(node.values())
    return sorted(names), values


NAMES, ENUMS = _vocabulary(_schema())
DOCUMENTS = [read_documents([str(p)], env={})[0] for p in EXAMPLES]

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**40), max_value=2**40),
    st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from(["", "30s", "7d", "1GiB", "512KiB", "-1", "1.5", "abc\n", "a b", "${X}", "µs", "0x10", "ABC"]),
    st.sampled_from(ENUMS),
    st.text(max_size=12),
)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.dictionaries(st.one_of(st.sampled_from(NAMES), st.text(max_size=8)), inner, max_size=3),
    ),
    max_leaves=6,
)


def _paths(doc: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix]
    items = doc.items() if isinstance(doc, dict) else enumerate(doc) if isinstance(doc, list) else ()
    for key, value in items:
        out += _paths(value, (*prefix, key))
    return out


@st.composite
def mutated(draw: st.DrawFn) -> Any:
    doc = copy.deepcopy(draw(st.sampled_from(DOCUMENTS)))
    for _ in range(draw(st.integers(min_value=1, max_value=3))):
        path = draw(st.sampled_from(_paths(doc)))
        if not path:
            continue
        parent = doc
        for key in path[:-1]:
            parent = parent[key]
        what = draw(st.sampled_from(["replace", "delete", "add"]))
        if what == "replace":
            parent[path[-1]] = draw(values)
        elif what == "delete":
            del parent[path[-1]]
        elif isinstance(parent[path[-1]], dict):
            parent[path[-1]][draw(st.one_of(st.sampled_from(NAMES), st.text(max_size=8)))] = draw(values)
    return doc


def test_the_compiled_validator_is_in_use() -> None:
    assert _compiled() is not None


@pytest.mark.parametrize("doc", DOCUMENTS, ids=[p.name for p in EXAMPLES])
def test_the_examples_pass_both(doc: Any) -> None:
    assert _passes(doc) and _validator().is_valid(doc)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated())
def test_what_the_fast_path_passes_jsonschema_passes_too(doc: Any) -> None:
    if _passes(doc):
        assert _validator().is_valid(doc), list(_validator().iter_errors(doc))[:1]


def test_values_json_cannot_hold_fall_back_to_jsonschema() -> None:
    doc = {"version": 1, "brokers": {"b": {"type": "kafka", "topics": {1: {}}}}}
    assert not _passes(doc)  # an integer key: jsonschema-rs refuses it, jsonschema decides
    with pytest.raises(ManifestError):
        validate_document(doc, SourceMap())
    dated = {"version": 1, "brokers": {"b": {"type": "kafka", "topics": {"t": {"partitions": datetime.date.today()}}}}}
    assert not _passes(dated)
    with pytest.raises(ManifestError, match="partitions"):
        validate_document(dated, SourceMap())
