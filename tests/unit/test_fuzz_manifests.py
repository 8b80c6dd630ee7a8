"""Fuzzing the loader, the compilers and the diff (issue 9, point 6).

Manifests come from two sources: documents generated from each broker's JSON Schema (so they
reach deep into the compilers, valid or nearly so), and the shipped examples mutated at random
(a value replaced, a key dropped or renamed, a list entry duplicated, bytes of the file changed).
Whatever comes in, loading ends in a manifest or a ManifestError (what the CLI turns into one line
and exit 1), never in another exception. For every manifest that loads:

- `diff(x, x)` is empty: desired state compared with itself (as live state) plans nothing;
- its plans (create all, delete all, change every field) round-trip through JSON exactly:
  `Plan.from_json(json.loads(json.dumps(plan.to_json()))) == plan`.

Deterministic for CI (`derandomize=True`, no example database) and bounded by BUDGET examples per
test; FUZZ_EXAMPLES=N runs more locally.
"""

from __future__ import annotations

import copy
import json
import math
import tempfile
from collections.abc import Callable, Iterator, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

import topoctl
from tests.fuzzing import budget, fuzz_settings
from topoctl.engine.diff import diff
from topoctl.errors import ManifestError
from topoctl.manifest.loader import Manifest, load_manifest
from topoctl.model import JSON, Address, Plan, Resource
from topoctl.providers import provider
from topoctl.providers.base import KindSpec

REPO = Path(__file__).resolve().parents[2]
SCHEMAS = Path(topoctl.__file__).parent / "schemas"
EXAMPLES = sorted((REPO / "examples").glob("*.yaml"))
BROKER_SCHEMAS = {
    p.name.removesuffix(".schema.json"): p
    for p in sorted(SCHEMAS.glob("*.schema.json"))
    if p.name not in ("manifest.schema.json", "plan.schema.json")
}
BUDGET = budget(150)
FUZZ = fuzz_settings(150)
_DIR = tempfile.TemporaryDirectory(prefix="topoctl-fuzz-")


# -- loading ---------------------------------------------------------------------------------------


def load_text(text: str) -> Manifest | None:
    """The manifest in `text`, or None for a ManifestError. Any other exception fails the test."""
    path = Path(_DIR.name) / "m.yaml"
    path.write_text(text, encoding="utf-8", errors="surrogatepass")
    try:
        return load_manifest([str(path)], env={})
    except ManifestError:
        return None


def load_document(document: Any) -> Manifest | None:
    return load_text(yaml.safe_dump(document, sort_keys=False, allow_unicode=True))


# -- the properties ------------------------------------------------------------------------------


def spec_of(manifest: Manifest) -> Callable[[Address], KindSpec]:
    return lambda address: provider(manifest.brokers[address.broker].type).kinds[address.kind]


def roundtrip(plan: Plan) -> None:
    text = json.dumps(plan.to_json())
    assert Plan.from_json(json.loads(text)) == plan, text[:2000]


def _other(value: JSON) -> JSON:
    """A value of another shape than `value`, so a field compares unequal."""
    if isinstance(value, bool):
        return not value
    if isinstance(value, int):
        return value + 1
    if isinstance(value, str):
        return value + "x"
    if isinstance(value, list):
        return [*value, "x"]
    if isinstance(value, dict):
        return {**value, "fuzz-extra": 1}
    return "x"


def _changed(resource: Resource) -> Resource:
    attrs = {k: _other(v) for k, v in resource.attrs.items()}
    return replace(resource, attrs=attrs)


def check_properties(manifest: Manifest) -> None:
    desired = manifest.resources
    live = [r for r in desired if not r.absent]
    spec = spec_of(manifest)
    same = diff(desired, live, spec)
    assert same.changes == (), [f"{c.address} {c.action.value} {c.fields}" for c in same.changes]
    brokers = {name: b.type for name, b in manifest.brokers.items()}
    prune = {name: b.compiled.prune for name, b in manifest.brokers.items()}
    plans = [
        diff(desired, [], spec, prune),  # everything created
        diff([replace(r, absent=True) for r in live], live, spec),  # everything deleted
        diff(live, [_changed(r) for r in live], spec, prune),  # every field changed
    ]
    for plan in plans:
        roundtrip(replace(plan, manifests=("m.yaml",), brokers=brokers, targets=("x/y/z",)))


# -- documents from the schemas ------------------------------------------------------------------

SCALAR_STRINGS = [
    "",
    "a",
    "orders",
    "orders.>",
    "*",
    ">",
    "30s",
    "7d",
    "106752d",
    "1GiB",
    "-1",
    "0",
    "1.5h",
    "${UNSET}",
    "${X:-d}",
    "$",
    "%2F",
    "/",
    "..",
    "amq.x",
    "KV_x",
    "a/b",
    "é",
    "\u0000",
    "[",
    "x" * 300,
    "2024-01-01T00:00:00Z",
    "arn:aws:sqs:us-east-1:000000000000:q",
    "User:alice",
]
INTEGERS = st.one_of(
    st.integers(min_value=-3, max_value=70),
    st.sampled_from([2**31 - 1, 2**31, 2**63 - 1, 2**63, 2**64, -(2**63) - 1, 10**30]),
)
# Realistic values for the fields a random string rarely satisfies, so more documents get past them.
HINTS: dict[str, list[Any]] = {
    "namespace": ["ns1", "ns1.servicebus.windows.net"],
    "connection_string": ["Endpoint=sb://ns1.servicebus.windows.net/;SharedAccessKeyName=k;SharedAccessKey=c2VjcmV0"],
    "url": ["http://127.0.0.1:15672", "redis://127.0.0.1:6379", "https://u:p@h:15671"],
    "region": ["us-east-1"],
    "endpoint_url": ["http://127.0.0.1:5000", ""],
    "bootstrap_servers": ["127.0.0.1:9092", ["a:1", "b:2"]],
    "servers": [["nats://127.0.0.1:4222"], "nats://a:4222,nats://b:4222"],
}
NAMES = st.sampled_from(["a", "b", "orders", "q1", "x.y", "a_b", "A-B", "dlq", "é", "a/b", "%", ".", "amq.q"])


class SchemaStrategies:
    """Hypothesis strategies for the documents a JSON Schema describes, loosely: `if`/`then`/`not`
    are ignored and bounds are sometimes overstepped, so half-valid documents reach the compilers."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.documents: dict[str, Any] = {}

    def _document(self, name: str) -> Any:
        if name not in self.documents:
            self.documents[name] = json.loads((self.root / name).read_text(encoding="utf-8"))
        return self.documents[name]

    def resolve(self, ref: str, base: str) -> tuple[Any, str]:
        file, _, pointer = ref.partition("#")
        file = file or base
        node = self._document(file)
        for part in [p for p in pointer.split("/") if p]:
            node = node[part]
        return node, file

    def of(self, schema: Any, base: str, depth: int = 0) -> st.SearchStrategy[Any]:
        if not isinstance(schema, Mapping) or depth > 7:
            return self.scalar()
        if "$ref" in schema:
            target, file = self.resolve(schema["$ref"], base)
            return self.of(target, file, depth + 1)
        if "const" in schema:
            return st.one_of(st.just(schema["const"]), self.scalar()) if depth else st.just(schema["const"])
        if "enum" in schema:
            return st.one_of(st.sampled_from(schema["enum"]), st.sampled_from(schema["enum"]), self.scalar())
        choices = [*schema.get("oneOf", ()), *schema.get("anyOf", ())]
        if choices:
            return st.one_of([self.of({**schema, "oneOf": [], "anyOf": [], **c}, base, depth + 1) for c in choices])
        merged = dict(schema)
        for part in schema.get("allOf", ()):
            if isinstance(part, Mapping):
                merged.setdefault("properties", {})
                merged["properties"] = {**merged["properties"], **part.get("properties", {})}
        kinds = schema.get("type")
        if isinstance(kinds, list):
            return st.one_of([self.of({**merged, "type": k}, base, depth) for k in kinds])
        if kinds == "object" or (kinds is None and "properties" in merged):
            return self.object(merged, base, depth)
        if kinds == "array":
            return st.lists(self.of(merged.get("items", {}), base, depth + 1), max_size=3)
        if kinds == "string":
            return st.one_of(st.sampled_from(SCALAR_STRINGS), st.text(max_size=6))
        if kinds == "integer":
            return INTEGERS
        if kinds == "number":
            return st.one_of(INTEGERS, st.floats(allow_nan=True, allow_infinity=True))
        if kinds == "boolean":
            return st.booleans()
        if kinds == "null":
            return st.none()
        return self.scalar()

    def object(self, schema: Mapping[str, Any], base: str, depth: int) -> st.SearchStrategy[dict[str, Any]]:
        properties: Mapping[str, Any] = schema.get("properties", {})
        required = [k for k in schema.get("required", ()) if k in properties]
        optional = [k for k in properties if k not in required]
        extra = schema.get("additionalProperties")
        patterns = list(schema.get("patternProperties", {}).values())
        value_schema = extra if isinstance(extra, Mapping) else (patterns[0] if patterns else None)

        @st.composite
        def build(draw: st.DrawFn) -> dict[str, Any]:
            out: dict[str, Any] = {}
            chosen = draw(st.lists(st.sampled_from(optional), max_size=6, unique=True)) if optional else []
            if "connection" in optional and "connection" not in chosen and draw(st.booleans()):
                chosen.append("connection")  # most documents need one to get anywhere
            for key in [*required, *chosen]:
                value = self.of(properties[key], base, depth + 1)
                out[key] = draw(st.one_of(st.sampled_from(HINTS[key]), value) if key in HINTS else value)
            if value_schema is not None:
                for name in draw(st.lists(NAMES, max_size=3, unique=True)):
                    out[name] = draw(self.of(value_schema, base, depth + 1))
            if draw(st.integers(0, 20)) == 0:
                out[draw(NAMES)] = draw(self.scalar())  # a key the schema does not know
            return out

        return build()

    @staticmethod
    def scalar() -> st.SearchStrategy[Any]:
        return st.one_of(
            st.none(),
            st.booleans(),
            INTEGERS,
            st.sampled_from(SCALAR_STRINGS),
            st.sampled_from([0.5, -1.5, 1e300, math.inf, -math.inf, math.nan]),
            st.builds(list),
            st.builds(dict),
        )


STRATEGIES = SchemaStrategies(SCHEMAS)


def broker_document(broker_type: str) -> st.SearchStrategy[dict[str, Any]]:
    section = STRATEGIES.of(STRATEGIES._document(f"{broker_type}.schema.json"), f"{broker_type}.schema.json")
    return section.map(lambda s: {"version": 1, "brokers": {"fz": {**s, "type": broker_type}}})


@pytest.mark.parametrize("broker_type", sorted(BROKER_SCHEMAS))
def test_documents_from_the_schema_load_or_are_a_manifest_error(broker_type: str) -> None:
    loaded = 0

    @FUZZ
    @given(broker_document(broker_type))
    def run(document: dict[str, Any]) -> None:
        nonlocal loaded
        manifest = load_document(document)
        if manifest is not None:
            loaded += 1
            check_properties(manifest)

    run()
    print(f"{broker_type}: {BUDGET} generated documents, {loaded} loaded")


# -- the examples, mutated ---------------------------------------------------------------------


def example_documents() -> dict[str, Any]:
    return {p.name: yaml.safe_load(p.read_text(encoding="utf-8")) for p in EXAMPLES}


EXAMPLE_DOCUMENTS = example_documents()


def _paths(node: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    yield path
    if isinstance(node, dict):
        for k, v in node.items():
            yield from _paths(v, (*path, k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from _paths(v, (*path, i))


REPLACEMENTS = st.one_of(
    SchemaStrategies.scalar(),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=10),
    st.lists(SchemaStrategies.scalar(), max_size=3),
    st.dictionaries(st.one_of(NAMES, st.integers(-2, 2), st.booleans()), SchemaStrategies.scalar(), max_size=3),
)


@st.composite
def mutated(draw: st.DrawFn) -> dict[str, Any]:
    name = draw(st.sampled_from(sorted(EXAMPLE_DOCUMENTS)))
    document: Any = copy.deepcopy(EXAMPLE_DOCUMENTS[name])
    for _ in range(draw(st.integers(1, 4))):
        paths = [p for p in _paths(document) if p]
        if not paths:
            break  # everything dropped already
        path = draw(st.sampled_from(paths))
        parent = document
        for key in path[:-1]:
            parent = parent[key]
        key = path[-1]
        how = draw(st.sampled_from(["replace", "drop", "rename", "duplicate", "absent"]))
        if how == "replace":
            parent[key] = draw(REPLACEMENTS)
        elif how == "drop":
            del parent[key]
        elif how == "rename" and isinstance(parent, dict):
            parent[draw(st.one_of(NAMES, st.integers(-1, 1)))] = parent.pop(key)
        elif how == "duplicate" and isinstance(parent, list):
            parent.append(copy.deepcopy(parent[key]))
        elif how == "absent" and isinstance(parent[key], dict):
            parent[key]["state"] = "absent"
    return document


@FUZZ
@given(mutated())
def test_mutated_examples_load_or_are_a_manifest_error(document: dict[str, Any]) -> None:
    manifest = load_document(document)
    if manifest is not None:
        check_properties(manifest)


INSERTS = ["", ":", "- ", "  ", "\n", "{", "[", "&a ", "*a", "<<: *a", "!!python/object ", "'", '"', "#", "\t"]


@st.composite
def damaged_text(draw: st.DrawFn) -> str:
    path = draw(st.sampled_from(EXAMPLES))
    text = path.read_text(encoding="utf-8")
    for _ in range(draw(st.integers(1, 3))):
        at = draw(st.integers(0, len(text)))
        cut = draw(st.integers(0, 8))
        insert = draw(st.sampled_from(INSERTS))
        text = text[:at] + insert + text[at + cut :]
    return text


@FUZZ
@given(damaged_text())
def test_damaged_example_files_load_or_are_a_manifest_error(text: str) -> None:
    manifest = load_text(text)
    if manifest is not None:
        check_properties(manifest)


def test_every_example_has_the_properties() -> None:
    for path in EXAMPLES:
        manifest = load_text(path.read_text(encoding="utf-8"))
        assert manifest is not None, path
        check_properties(manifest)
