"""The YAML that manifests are written in, parsed a line at a time: block mappings and sequences,
one-line scalars (plain or quoted without escapes) and one-line flow collections of scalars.

PyYAML builds a node, with two marks, for every value before any of it is used; at estate scale
that is most of a plan's CPU (0.7 s of a 10,000-object RabbitMQ file). This parser reads that
common shape directly into the same values and the same `SourceMap` (entries located at their
key's line, list items at their own), through the same scalar resolution (`_Builder.scalar`: the
YAML 1.1 resolver and constructors PyYAML uses), so its result is PyYAML's.

It accepts only what it is sure of. Anything else (anchors, tags, block scalars, escapes, values
over several lines, duplicate keys, documents, tabs, errors of any kind) makes it answer None,
and the caller parses the file with PyYAML, which builds what it can and words every error.
`tests/unit/test_yaml_block.py` checks that on random documents the two agree whenever this one
answers.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

import yaml

from topoctl.errors import ManifestError
from topoctl.manifest.source import Path

if TYPE_CHECKING:
    from topoctl.manifest.yaml_source import _Builder

_STR_TAG = "tag:yaml.org,2002:str"
# Text this parser leaves to PyYAML wholesale: tabs, other line breaks than \n, a byte order mark,
# and characters YAML does not allow (PyYAML's reader refuses them, with its own message).
_UNSUPPORTED = re.compile("[\t\r\x85\u2028\u2029\ufeff]|[^\x0a\x20-\x7e\xa0-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
# `key: value` or `key:` on a line of a block mapping, the key plain or quoted (no escapes). A plain
# key ends at the first `:` followed by a space or the end of the line, as in YAML; one that starts
# with an indicator, or holds a `#`, is left to PyYAML.
_ENTRY = re.compile(
    r"""(?:(?P<plain>[^\s\-?:,\[\]{}#&*!|>'"%@`][^#]*?|-[^\s#][^#]*?)|"(?P<double>(?:[^"\\]|\\.)*)"|'(?P<single>(?:[^']|'')*)')"""
    r"""[ ]*:(?:[ ]+(?P<value>.*))?$"""
)
# A value that is one quoted scalar, perhaps with a comment after it.
_DOUBLE = re.compile(r'"((?:[^"\\]|\\.)*)"(?:[ ]+#.*)?$')
# The escapes of double-quoted scalars read here (`"^shop\\.retry"`); any other is left to PyYAML.
_ESCAPE = re.compile(r"\\(?:([\"\\/ntr0])|x([0-9A-Fa-f]{2})|u([0-9A-Fa-f]{4})|.?)")
_ESCAPED = {'"': '"', "\\": "\\", "/": "/", "n": "\n", "t": "\t", "r": "\r", "0": "\0"}
_SINGLE = re.compile(r"'((?:[^']|'')*)'(?:[ ]+#.*)?$")
# A one-line flow collection of scalars, perhaps with a comment after it.
# A scalar inside a flow collection: quoted, or plain up to the next `,`, bracket or brace. Plain ones
# holding `:`, `?` or `#` are left to PyYAML (libyaml versions differ on some of them).
_FLOW_SCALAR = re.compile(
    r""""(?P<double>(?:[^"\\]|\\.)*)"|'(?P<single>(?:[^']|'')*)'|(?P<plain>(?:[^\s\-?:,\[\]{}#&*!|>'"%@`]|-[^\s,\[\]{}#:?])[^,\[\]{}#:?]*)"""
)
_COMMENT = re.compile(r"[ ]+#")
# First characters a plain scalar may not start with (most are YAML indicators); `-` may when a
# character other than a space follows (`-5`).
_NOT_PLAIN = frozenset("?:,[]{}#&*!|>'\"%@`")


class _Unsure(Exception):
    """The text is not in the shape this parser reads: PyYAML will parse it."""


def parse_block(text: str, builder: _Builder, max_depth: int) -> dict[Any, Any] | None:
    """The document `text` holds, its locations recorded in `builder.sources`; None when this
    parser is not sure of it (then `builder` holds partial locations: use a new one), or when
    collections nest deeper than `max_depth` (PyYAML's route refuses that at its line)."""
    if _UNSUPPORTED.search(text):
        return None
    rows: list[tuple[int, int, str]] = []
    for number, line in enumerate(text.split("\n"), 1):
        content = line.lstrip(" ")
        if content and content[0] != "#":
            rows.append((number, len(line) - len(content), content.rstrip(" ")))
    if not rows:
        return None
    parser = _Parser(rows, builder, max_depth)
    try:
        first = rows[0]
        if first[1] == 0 and (first[2].startswith(("---", "...")) or first[2] == "-" or first[2][:2] == "- "):
            return None
        builder.sources.locations[()] = f"{builder.filename}:{first[0]}"
        value = parser.mapping(first[1], ())
        if parser.i != len(rows):
            return None
    except (_Unsure, ManifestError):
        # An error too (an unset variable): PyYAML may find an earlier one in the same text, and
        # the error a user sees must not depend on which parser read the file.
        return None
    return value


class _Parser:
    def __init__(self, rows: list[tuple[int, int, str]], builder: _Builder, max_depth: int) -> None:
        self.rows = rows
        self.max_depth = max_depth  # a path is as long as the collections around its value are deep
        self.i = 0
        self.builder = builder
        self.locations = builder.sources.locations
        self.prefix = f"{builder.filename}:"
        self.resolve = builder.loader.resolve
        self.keys: dict[str, Any] = {}  # plain key text -> its resolved value

    def block(self, indent: int, path: Path) -> Any:
        content = self.rows[self.i][2]
        if content == "-" or content[:2] == "- ":
            return self.sequence(indent, path)
        return self.mapping(indent, path)

    def mapping(self, indent: int, path: Path) -> dict[Any, Any]:
        if len(path) >= self.max_depth:
            raise _Unsure
        out: dict[Any, Any] = {}
        locations, prefix = self.locations, self.prefix
        while (row := self._next(indent)) is not None:
            number, content = row
            if indent == 0 and content.startswith(("---", "...")):
                raise _Unsure
            match = _ENTRY.match(content)
            if match is None:
                raise _Unsure
            key = self.key(match, number)
            if key in out:
                raise _Unsure  # PyYAML's builder words the duplicate
            sub = (*path, key)
            locations[sub] = prefix + str(number)
            self.i += 1
            value = match.group("value")
            if value is None or value[0] == "#":
                out[key] = self.nested(indent, sub, number)
            else:
                out[key] = self.inline(value, number, sub)
        return out

    def sequence(self, indent: int, path: Path) -> list[Any]:
        if len(path) >= self.max_depth:
            raise _Unsure
        rows, locations, prefix = self.rows, self.locations, self.prefix
        out: list[Any] = []
        end = len(rows)
        while (row := self._next(indent)) is not None:
            number, content = row
            if not (content == "-" or content[:2] == "- "):
                break
            sub = (*path, len(out))
            item = content[2:].lstrip(" ")
            if not item or item[0] == "#":
                self.i += 1
                if self.i == end or rows[self.i][1] <= indent:
                    raise _Unsure  # an empty item: where PyYAML puts it is its own business
                locations[sub] = prefix + str(rows[self.i][0])
                out.append(self.block(rows[self.i][1], sub))
                continue
            locations[sub] = prefix + str(number)
            if item == "-" or item[:2] == "- ":
                raise _Unsure  # a list in a list on one line
            match = _ENTRY.match(item)
            if match is not None:  # `- key: value`: a mapping whose keys line up after the dash
                column = indent + len(content) - len(item)
                rows[self.i] = (number, column, item)
                out.append(self.mapping(column, sub))
            else:
                self.i += 1
                out.append(self.inline(item, number, sub))
        return out

    def _next(self, indent: int) -> tuple[int, str] | None:
        """The line number and text of the next row of a block at `indent`; None where the block
        ends (a row less indented, or none left). A row more indented belongs to nothing here."""
        if self.i == len(self.rows):
            return None
        number, at, content = self.rows[self.i]
        if at != indent:
            if at < indent:
                return None
            raise _Unsure
        return number, content

    def nested(self, indent: int, path: Path, number: int) -> Any:
        """The value of `key:` with nothing after it: the block below, or null."""
        rows = self.rows
        if self.i < len(rows):
            _, at, content = rows[self.i]
            if at > indent:
                return self.block(at, path)
            if at == indent and (content == "-" or content[:2] == "- "):
                return self.sequence(indent, path)  # `key:` then `- item` lined up with the key
        return self.plain("", number)

    def key(self, match: re.Match[str], number: int) -> Any:
        text = match.group("plain")
        if text is not None and (len(text) > 1000 or ": " in text):
            # libyaml's limit of a simple key is 1,024 characters; `-: a} :` is no key but an error
            raise _Unsure
        if text is not None:
            key = self.keys.get(text)
            if key is None:
                if self.resolve(yaml.ScalarNode, text, (True, False)) != _STR_TAG:
                    raise _Unsure  # `1:`, `true:`, `<<:`: PyYAML's builder has the rules for those
                key = self.keys[text] = text
        else:
            key = _quoted(match)
        if "$" in key:
            from topoctl.manifest.yaml_source import interpolate

            key = interpolate(key, self.builder.env, self.prefix + str(number))
        return key

    def inline(self, text: str, number: int, path: Path) -> Any:
        """A value written on the line of its key or dash: a scalar or a flow collection."""
        if self.i < len(self.rows) and self.rows[self.i][1] > self.rows[self.i - 1][1]:
            raise _Unsure  # more of it on the next lines (a plain scalar over several lines)
        first = text[0]
        if first == '"':
            match = _DOUBLE.match(text)
            if match is None:
                raise _Unsure
            return self.builder.scalar(None, _STR_TAG, _unescaped(match.group(1)), False, number)
        if first == "'":
            match = _SINGLE.match(text)
            if match is None:
                raise _Unsure
            return self.builder.scalar(None, _STR_TAG, match.group(1).replace("''", "'"), False, number)
        if first in "[{":
            return self.flow(text, number, path)
        if first in _NOT_PLAIN or (first == "-" and (len(text) == 1 or text[1] == " ")):
            raise _Unsure
        cut = text.find(" #")
        if cut >= 0:
            text = text[:cut].rstrip(" ")
        if ": " in text or text[-1] == ":":
            raise _Unsure  # a mapping where a scalar belongs: PyYAML's error
        return self.plain(text, number)

    def plain(self, text: str, number: int) -> Any:
        tag = self.resolve(yaml.ScalarNode, text, (True, False))
        return self.builder.scalar(None, tag, text, True, number)

    def flow(self, text: str, number: int, path: Path) -> Any:
        """A flow collection written whole on this line (`[a, "b"]`, `{type: topic, args: {x: 1}}`)."""
        value, end = _Flow(self, number).node(text, 0, path)
        rest = text[end:]
        if rest and not _COMMENT.match(rest):
            raise _Unsure
        return value


class _Flow:
    """One line's flow collections, nested or not, read from left to right."""

    def __init__(self, parser: _Parser, number: int) -> None:
        self.parser = parser
        self.number = number
        self.where = parser.prefix + str(number)

    def node(self, text: str, at: int, path: Path) -> tuple[Any, int]:
        """The value starting at `at` (no space there) and where it ends."""
        if len(path) >= self.parser.max_depth:
            raise _Unsure
        opening = text[at : at + 1]
        if opening == "[":
            return self.sequence(text, at + 1, path)
        if opening == "{":
            return self.mapping(text, at + 1, path)
        return self.scalar(text, at)

    def sequence(self, text: str, at: int, path: Path) -> tuple[list[Any], int]:
        out: list[Any] = []
        at = _skip(text, at)
        if text[at : at + 1] == "]":
            return out, at + 1
        while True:
            sub = (*path, len(out))
            self.parser.locations[sub] = self.where
            value, at = self.node(text, at, sub)
            out.append(value)
            at = _skip(text, at)
            ahead = text[at : at + 1]
            if ahead == "]":
                return out, at + 1
            if ahead != ",":
                raise _Unsure  # `[a: b]` (a pair), `[a b]`, an end of line: PyYAML's to read
            at = _skip(text, at + 1)
            if text[at : at + 1] in ("]", ""):
                raise _Unsure  # a trailing comma

    def mapping(self, text: str, at: int, path: Path) -> tuple[dict[str, Any], int]:
        out: dict[str, Any] = {}
        at = _skip(text, at)
        if text[at : at + 1] == "}":
            return out, at + 1
        while True:
            key, at = self.scalar(text, at, key=True)
            if key in out or text[at : at + 2] != ": ":
                raise _Unsure  # a duplicate, `{a}` (no value), `{a:b}`: PyYAML's to read
            sub = (*path, key)
            self.parser.locations[sub] = self.where
            value, at = self.node(text, _skip(text, at + 2), sub)
            out[key] = value
            at = _skip(text, at)
            ahead = text[at : at + 1]
            if ahead == "}":
                return out, at + 1
            if ahead != ",":
                raise _Unsure
            at = _skip(text, at + 1)
            if text[at : at + 1] in ("}", ""):
                raise _Unsure

    def scalar(self, text: str, at: int, key: bool = False) -> tuple[Any, int]:
        match = _FLOW_SCALAR.match(text, at)
        if match is None:
            raise _Unsure
        builder, end = self.parser.builder, match.end()
        plain = match.group("plain")
        if plain is not None:
            plain = plain.rstrip(" ")
            if key:
                if "$" in plain:
                    raise _Unsure  # a name made from the environment: a key is not typed as a value is
                if self.parser.resolve(yaml.ScalarNode, plain, (True, False)) != _STR_TAG:
                    raise _Unsure
                return plain, end
            return self.parser.plain(plain, self.number), end
        value = _quoted(match)
        if key:
            if "$" in value:
                raise _Unsure
            return value, end
        return builder.scalar(None, _STR_TAG, value, False, self.number), end


def _quoted(match: re.Match[str]) -> str:
    """The text of the quoted scalar `match` holds (groups `double` or `single`)."""
    double = match.group("double")
    return _unescaped(double) if double is not None else match.group("single").replace("''", "'")


def _unescaped(text: str) -> str:
    return _ESCAPE.sub(_escape, text) if "\\" in text else text


def _escape(match: re.Match[str]) -> str:
    simple, byte, code = match.groups()
    if simple:
        return _ESCAPED[simple]
    if byte or code:
        char = int(byte or code, 16)
        if not 0xD800 <= char <= 0xDFFF:  # a lone surrogate is no character
            return chr(char)
    raise _Unsure


def _skip(text: str, at: int) -> int:
    while text[at : at + 1] == " ":
        at += 1
    return at
