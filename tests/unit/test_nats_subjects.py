"""NATS subject wildcards: matching, overlap (what the server refuses between streams, 10065), and
the index that finds overlaps among thousands of streams."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from topoctl.providers.nats.subjects import SubjectIndex, subject_matches, subjects_overlap


@pytest.mark.parametrize(
    ("pattern", "subject", "match"),
    [
        ("a.>", "a.b.c", True),
        ("a.>", "a", False),
        ("a.*", "a.b", True),
        ("a.*", "a.b.c", False),
        ("a.b", "a.b", True),
        ("a.b", "a.c", False),
        (">", "x", True),
        ("*", "x.y", False),
        ("a*", "ab", False),  # a wildcard is a whole token
    ],
)
def test_subject_matching(pattern: str, subject: str, match: bool) -> None:
    assert subject_matches(pattern, subject) is match


@pytest.mark.parametrize(
    ("a", "b", "overlap"),
    [
        ("a.>", "a.b", True),
        ("a.>", "a.b.c.d", True),
        ("a.>", "a", False),
        ("a.*", "a.b", True),
        ("a.*", "*.b", True),
        ("a.*", "a.b.c", False),
        ("a.*", "a.>", True),
        ("a.*.c", "a.>", True),
        ("*.*", "a.>", True),
        ("*", "a.b", False),
        ("a.b", "a.b", True),
        ("a.b", "a.c", False),
        ("*.b", "a.*", True),
        (">", "x.y", True),
        (">", ">", True),
        (">", "*", True),
        ("a", "a.b", False),
        ("a.b.>", "a.*.c", True),
        ("a.b.>", "a.c.>", False),
        ("pb.w.>", "pb.w2.>", False),
        ("pb.w2.>", "pb.w2.>", True),
        ("a*.b", "a.b", False),
    ],
)
def test_subjects_overlap(a: str, b: str, overlap: bool) -> None:
    assert subjects_overlap(a, b) is overlap
    assert subjects_overlap(b, a) is overlap


# Patterns over a small alphabet; `c` never appears in them, so it stands for "any other token".
TOKENS = ["a", "b", "*"]
_token = st.sampled_from(TOKENS)
patterns = st.builds(
    lambda body, tail: ".".join([*body, *tail]),
    st.lists(_token, min_size=0, max_size=3),
    st.sampled_from([[], [">"]]),
).filter(bool)


def _witness(a: str, b: str) -> bool:
    """Whether a literal subject matches both: tried over every subject long enough to tell."""
    longest = max(len(a.split(".")), len(b.split("."))) + 1
    for n in range(1, longest + 1):
        for tokens in itertools.product(["a", "b", "c"], repeat=n):
            subject = ".".join(tokens)
            if subject_matches(a, subject) and subject_matches(b, subject):
                return True
    return False


@settings(max_examples=400, deadline=None)
@given(patterns, patterns)
def test_overlap_is_the_existence_of_a_subject_matching_both(a: str, b: str) -> None:
    assert subjects_overlap(a, b) is _witness(a, b), (a, b)


def test_the_index_agrees_with_pairwise_comparison() -> None:
    every = [">"] + [
        ".".join(p) + tail for n in (1, 2, 3) for p in itertools.product(TOKENS, repeat=n) for tail in ("", ".>")
    ]
    for mine in every:
        index = SubjectIndex()
        for theirs in every:
            index.insert(theirs, theirs)
        found = {pattern for _, pattern in index.overlapping(mine)}
        assert found == {theirs for theirs in every if subjects_overlap(mine, theirs)}, mine


def test_the_index_names_each_owner_once() -> None:
    index = SubjectIndex()
    index.insert("orders.>", "ORDERS")
    index.insert("orders.*", "ORDERS")
    index.insert("$KV.s.>", "KV_s")
    assert index.overlapping("orders.created") == [("ORDERS", "orders.>"), ("ORDERS", "orders.*")]
    assert index.overlapping(">") == [("ORDERS", "orders.>"), ("ORDERS", "orders.*"), ("KV_s", "$KV.s.>")]
    assert index.overlapping("billing.>") == []
