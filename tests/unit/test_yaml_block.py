"""The line-at-a-time YAML reader (`yaml_block.parse_block`) against PyYAML (`load_with_pyyaml`).

Whenever `parse_block` answers, its value, its locations (in order) and its JSON-unsafe flag must
be PyYAML's; when PyYAML refuses a text, `parse_block` must not answer (the user sees PyYAML's
error). Checked on every YAML file of the repository, on chosen cases, and on random documents:
data dumped by PyYAML in every style, then commented, re-indented and mutated line by line.
Deterministic for CI; FUZZ_EXAMPLES=N runs more.
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from tests.fuzzing import fuzz_settings
from topoctl.errors import ManifestError
from topoctl.manifest.source import SourceMap
from topoctl.manifest.yaml_block import parse_block
from topoctl.manifest.yaml_source import _LOADER, MAX_DEPTH, _Builder, load_with_pyyaml, load_yaml

ROOT = Path(__file__).resolve().parents[2]
ENV = {"PARTITIONS": "6", "NAME": "orders", "EMPTY": ""}
FUZZ = fuzz_settings(300)


def fast(text: str) -> tuple[Any, SourceMap] | None:
    builder = _Builder(_LOADER(""), "m.yaml", ENV)
    doc = parse_block(text, builder, MAX_DEPTH)
    return None if doc is None else (doc, builder.sources)


def agree(text: str) -> bool:
    """Asserts the two readers agree on `text`; whether the fast one answered."""
    mine = fast(text)
    try:
        theirs = load_with_pyyaml(text, "m.yaml", ENV)
    except ManifestError:
        assert mine is None, f"PyYAML refuses this text and the fast reader read it:\n{text}"
        return False
    if mine is None:
        return False
    (doc, sources), (want, want_sources) = mine, theirs
    assert doc == want and _types(doc) == _types(want), text
    assert list(sources.locations.items()) == list(want_sources.locations.items()), text
    assert sources.json_unsafe == want_sources.json_unsafe, text
    return True


def _types(value: Any) -> Any:
    # 1 == 1.0 == True in Python: compare the types as well.
    if isinstance(value, dict):
        return {k: _types(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_types(v) for v in value]
    return type(value).__name__


def test_every_yaml_file_of_the_repository() -> None:
    files = [p for d in ("examples", "tests", "docs", "bench") for p in (ROOT / d).rglob("*.y*ml")]
    files += ROOT.glob("*.y*ml")
    read = sum(agree(p.read_text(encoding="utf-8")) for p in files)
    assert len(files) >= 10
    assert read >= len(files) - 3  # the examples and test manifests are in the shape it reads


CASES = [
    "a: 1\nb: [x, 'y', \"z\"]\nc: {d: {e: [1, 2.5, true, null, ~]}}\n",
    "a:\n- 1\n- 2\nb:\n  - k: v\n    l: w\n  -   m: 3\n      n:\n      - x\n",
    "# head\n\na: b # tail\nc: 'it''s' # q\nd: \"^shop\\\\.retry\\\\.\\u00e9\\x41\\/\"\n",
    "a: 2026-01-01\nb: 0x1F\nc: 010\nd: 1:30\ne: 1_000\nf: .inf\ng: -.nan\nh: yes\ni: Off\nj: '1'\n",
    "a: ${PARTITIONS}\nb: '${PARTITIONS}'\nc: ${EMPTY:-}\nd: x${NAME}y\n${NAME}: 1\ne: $$HOME\n",
    "a:\n  b:\nc:\n",
    "  a: 1\n  b: 2\n",
    "a: b :c\nurl: http://x:80/y#z\nk: k.1.#\n",
    "list:\n  -\n    a: 1\n  - # c\n    b: 2\n",
]
FALLBACK = [
    "a: &x 1\nb: *x\n",  # anchors
    "a: !!str 1\n",  # tags
    "a: |\n  text\n",  # block scalars
    "a: b\n  c\n",  # a plain scalar over two lines
    "a: 1\na: 2\n",  # a duplicate (PyYAML's builder words it)
    "a: ${UNSET}\n",  # an unset variable (PyYAML's route words it)
    "1: a\n",  # a key that is not a string
    "<<: {a: 1}\n",  # a merge key
    "a: [b, c,]\n",  # a trailing comma
    "a: [b: c]\n",  # a pair in a flow sequence
    'a: "\\q"\n',  # an unknown escape
    "a:\tb\n",  # a tab
    "- a\n",  # a list at the root
    "---\na: 1\n",  # a document marker
    "a: b: c\n",  # a mapping where a scalar belongs (an error)
    "a:\n  - b\n c: 1\n",  # bad indentation (an error)
    "".join(f"{' ' * i}k{i}:\n" for i in range(MAX_DEPTH + 1)),  # too deep (PyYAML's route refuses it)
    "a: " + "[" * (MAX_DEPTH + 1) + "]" * (MAX_DEPTH + 1) + "\n",
]


@pytest.mark.parametrize("text", CASES)
def test_cases_are_read_as_pyyaml_reads_them(text: str) -> None:
    assert agree(text)


@pytest.mark.parametrize("text", FALLBACK)
def test_what_it_is_unsure_of_is_left_to_pyyaml(text: str) -> None:
    assert fast(text) is None
    agree(text)


def test_load_yaml_gives_pyyaml_errors_for_what_it_leaves() -> None:
    with pytest.raises(ManifestError, match=r"duplicate key 'a'") as caught:
        load_yaml("a: 1\nb: 2\na: 3\n", "m.yaml", ENV)
    assert caught.value.location == "m.yaml:3"
    with pytest.raises(ManifestError, match="UNSET") as caught:
        load_yaml("a: 1\nb: ${UNSET}\n", "m.yaml", ENV)
    assert caught.value.location == "m.yaml:2"


# -- random documents ------------------------------------------------------------------------------

WORDS = [
    "a", "q.1", "orders", "k.1.#", "-x", "x-y", "it's", 'say "hi"', "a b", "a: b", "a #b", "#c", "yes", "No",
    "on", "~", "null", "", " ", "1", "-1", "0x1F", "010", "1_0", "1:30", "1.5", ".inf", "1e3", "2026-01-01",
    "${NAME}", "${PARTITIONS}", "$$", "$x", "é", "[a]", "{a}", "a,b", "*", "&", "!", "|", ">", "%", "@", "?", "?a",
    ":", ":a", "-", "- a", "a:", "\\", "\\n", "x\ty", "'", '"', "=", "<<", "http://h:1/p", "...", "---",
]  # fmt: skip
scalars = st.one_of(
    st.sampled_from(WORDS),
    st.integers(-(2**40), 2**40),
    st.floats(allow_nan=True, allow_infinity=True),
    st.booleans(),
    st.none(),
    st.text(alphabet=st.sampled_from("ab.:#-'\" \\${}[],&*!|>?%@é\n\t"), max_size=8),
)
keys = st.one_of(st.sampled_from(WORDS), st.text(alphabet=st.sampled_from("ab._-:# '\"$"), min_size=1, max_size=6))
documents = st.recursive(
    scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(keys, inner, max_size=4)),
    max_leaves=25,
)


@FUZZ
@given(
    data=st.dictionaries(keys, documents, min_size=1, max_size=5),
    flow=st.sampled_from([False, None, True]),
    indent=st.integers(2, 5),
    width=st.sampled_from([20, 80, 10_000]),
    seed=st.integers(0, 2**32),
)
def test_random_documents_are_read_as_pyyaml_reads_them(
    data: dict[Any, Any], flow: bool | None, indent: int, width: int, seed: int
) -> None:
    unicode = seed % 2 == 0  # or é as "\\xE9"
    text = yaml.safe_dump(data, None, default_flow_style=flow, indent=indent, width=width, allow_unicode=unicode)
    agree(text)
    agree(_mutated(text, random.Random(seed)))


def _mutated(text: str, rnd: random.Random) -> str:
    """The same text with comments, blank lines, shifted lines and changed characters."""
    lines = text.split("\n")
    for _ in range(rnd.randint(1, 4)):
        i = rnd.randrange(len(lines))
        line = lines[i]
        roll = rnd.random()
        if roll < 0.2:
            lines.insert(i, " " * rnd.randint(0, 6) + "# " + rnd.choice(WORDS))
        elif roll < 0.35:
            lines[i] = line + " " * rnd.randint(0, 2) + rnd.choice([" # c", "#c", " ", ":", " :", ",", "]"])
        elif roll < 0.5:
            lines[i] = " " * rnd.randint(1, 3) + line if rnd.random() < 0.5 else line[rnd.randint(1, 3) :]
        elif roll < 0.65:
            lines.insert(i, "")
        elif line:
            at = rnd.randrange(len(line))
            lines[i] = line[:at] + rnd.choice("-:#'\"[]{},&*!|> \\$") + line[at + rnd.randint(0, 1) :]
    return "\n".join(lines)
