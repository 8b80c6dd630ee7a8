"""NATS subject patterns: matching and overlap (pure).

A subject is dot-separated tokens; in a pattern `*` matches exactly one token and `>` (last token
only) one or more. Two patterns overlap when some literal subject matches both: that is what the
server refuses between two streams (10065, `SubjectsCollide` in nats-server) and between the
consumers of a workqueue stream.
"""

from __future__ import annotations

from collections.abc import Iterator


def subject_matches(pattern: str, subject: str) -> bool:
    """Whether the literal `subject` is matched by `pattern`."""
    want, have = pattern.split("."), subject.split(".")
    for i, token in enumerate(want):
        if token == ">":
            return len(have) > i
        if i >= len(have) or (token != "*" and token != have[i]):
            return False
    return len(want) == len(have)


def subjects_overlap(a: str, b: str) -> bool:
    """Whether some literal subject matches both patterns.

    Token by token, two tokens can match the same token when they are equal or one is a wildcard;
    a `>` matches the rest (at least one token), so it settles the question. Without a `>` reached,
    both must have the same number of tokens (`a.*` never meets `a.b.c`).
    """
    left, right = a.split("."), b.split(".")
    for x, y in zip(left, right, strict=False):
        if ">" in (x, y):
            return True
        if x != y and "*" not in (x, y):
            return False
    return len(left) == len(right)


class SubjectIndex:
    """A trie of subject patterns by token, to find the overlapping ones without comparing all pairs
    (thousands of streams are read in one plan). Entries are (owner, pattern)."""

    __slots__ = ("children", "ends")  # a node per token of thousands of subjects: kept small

    def __init__(self) -> None:
        self.children: dict[str, SubjectIndex] = {}
        self.ends: list[tuple[str, str]] = []  # (owner, pattern) ending here

    def insert(self, pattern: str, owner: str) -> None:
        node = self
        for token in pattern.split("."):
            child = node.children.get(token)
            if child is None:
                child = node.children[token] = SubjectIndex()
            node = child
        node.ends.append((owner, pattern))

    def overlapping(self, pattern: str) -> list[tuple[str, str]]:
        """The (owner, pattern) entries whose pattern overlaps `pattern`, each once."""
        return list(dict.fromkeys(self._overlapping(pattern.split("."), 0)))

    def _every(self) -> Iterator[tuple[str, str]]:
        yield from self.ends
        for child in self.children.values():
            yield from child._every()

    def _overlapping(self, tokens: list[str], i: int) -> Iterator[tuple[str, str]]:
        if i == len(tokens):
            yield from self.ends
            return
        token = tokens[i]
        if token == ">":  # anything with at least one more token
            for child in self.children.values():
                yield from child._every()
            return
        if ">" in self.children:
            yield from self.children[">"].ends
        if token == "*":
            keys: list[str] = [k for k in self.children if k != ">"]
        else:
            keys = [k for k in (token, "*") if k in self.children]
        for key in keys:
            yield from self.children[key]._overlapping(tokens, i + 1)
