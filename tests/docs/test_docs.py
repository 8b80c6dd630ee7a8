"""Every block of README.md and docs/*.md, as one test each (`README.md:42`), in document order.

Sybil parses the documents (its Markdown lexers, its `skip` directive and its invisible Python
blocks; blocks.py says what our blocks mean). Sybil's own pytest plugin collects only documents
below the conftest.py that installs it, and the docs live outside tests/, so the examples are
parametrized here instead; a document's examples share its namespace and run in order.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
from sybil import Document, Example, Sybil
from sybil.evaluators.skip import Skipper
from sybil.parsers.markdown import PythonCodeBlockParser, SkipParser

from tests.docs.blocks import ROOT, Block, BlockParser
from tests.docs.conftest import SessionFor

DOCUMENTS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
SYBIL = Sybil(parsers=[SkipParser(), PythonCodeBlockParser(), BlockParser()])
PARSED: list[Document] = [SYBIL.parse(path) for path in DOCUMENTS]
EXAMPLES: list[Example] = [example for document in PARSED for example in document.examples()]


def _id(example: Example) -> str:
    return f"{Path(example.path).relative_to(ROOT)}:{example.line}"


@pytest.mark.parametrize("example", EXAMPLES, ids=[_id(e) for e in EXAMPLES])
def test_block(example: Example, session_for: SessionFor) -> None:
    session = session_for(example.document)
    # A block may need the ones before it (hidden set-up, a saved manifest): run those first when
    # this one was selected alone (`-k kafka.md:150`). Each block runs once, failed or not.
    for earlier in example.document.examples():
        if earlier.start >= example.start:
            break
        if earlier.start not in session.done:
            session.done.add(earlier.start)
            earlier.evaluate()
    session.done.add(example.start)
    example.evaluate()


def kind(example: Example, skipped: bool) -> str:
    """What a test does with this example: the words of the closing note of issue 18."""
    block = example.parsed
    if isinstance(example.region.evaluator, Skipper):
        return "skip marker"
    if not isinstance(block, Block):
        return "hidden set-up"
    if skipped:
        return "illustrative"
    if block.directive == "same-as":
        return "quoted file"
    if block.directive == "output-of" or block.language == "console":
        return "run and compared"
    if block.language in ("yaml", "yml"):
        return "manifest validated" if "version:" in block.text else "file"
    if block.language == "json":
        return "plan schema-checked"
    return "commands parsed"


def inventory() -> Counter[str]:
    counts: Counter[str] = Counter()
    for document in PARSED:
        skipped = False
        for example in document.examples():
            what = kind(example, skipped)
            skipped = what == "skip marker"
            counts[what] += 1
    return counts


def test_every_skip_marker_is_followed_by_a_block() -> None:
    # Sybil's `skip: next` skips the next *example*: right before a block it marks that block
    # illustrative; anywhere else it would silently switch off something else.
    for document in PARSED:
        examples = list(document.examples())
        for example, following in zip(examples, [*examples[1:], None], strict=True):
            if isinstance(example.region.evaluator, Skipper):
                where = _id(example)
                assert example.parsed == ("next", None), f"{where}: use `<!-- skip: next -->` only"
                assert following is not None and isinstance(following.parsed, Block), (
                    f"{where}: `skip: next` must stand right before a fenced block"
                )


def test_most_blocks_are_tested() -> None:
    counts = inventory()
    print(dict(counts))
    blocks = sum(n for what, n in counts.items() if what not in ("skip marker", "hidden set-up"))
    # Illustrative blocks are the exception: a diagram, a fragment, a snippet for another tool.
    assert counts["illustrative"] < 0.35 * blocks, counts


if __name__ == "__main__":
    for what, n in sorted(inventory().items()):
        print(f"{n:4}  {what}")
