"""What the double keeps of a JSON Schema or a Protobuf schema, as a registry keeps it: not the text
it was sent, but its own rendering of what it parsed.

* JSON: the document re-serialised compactly, keys in the order they came (Jackson's `toString()`);
* PROTOBUF: the file re-rendered as Wire does (Confluent's registry parses and prints with Wire):
  comments dropped, one member per line, two-space indents, each block's members grouped by kind
  (options, reserved, fields, one-ofs, nested types, extends, services).

Neither format's compatibility rules are modelled (docs/kafka.md says so): a schema of another type
is incompatible, anything else of the same type is compatible.
"""

from __future__ import annotations

import json
import re
from typing import Any


class InvalidSchema(ValueError):
    pass


def render_json_schema(text: str) -> str:
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise InvalidSchema(f"Invalid JSON {text!r}: {exc}") from None
    if not isinstance(data, (dict, bool)):
        raise InvalidSchema("Invalid JSON Schema: not an object")
    if isinstance(data, dict) and "type" in data and not isinstance(data["type"], (str, list)):
        raise InvalidSchema("Invalid JSON Schema: type must be a string or a list")
    return json.dumps(data, separators=(",", ":"), ensure_ascii=False)


_TOKENS = re.compile(
    r'\s+|//[^\n]*|/\*.*?\*/|"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|[A-Za-z0-9_.+\-]+|[{}\[\]()<>;=,:]',
    re.DOTALL,
)
_ORDER = {
    "syntax": 0,
    "package": 1,
    "import": 2,
    "option": 3,
    "reserved": 4,
    "extensions": 5,
    "oneof": 7,
    "message": 8,
    "enum": 8,
    "extend": 9,
    "service": 10,
}


def render_protobuf(text: str) -> str:
    tokens = []
    position = 0
    while position < len(text):
        match = _TOKENS.match(text, position)
        if match is None:
            raise InvalidSchema(f"Invalid protobuf schema: unexpected {text[position]!r}")
        position = match.end()
        token = match.group()
        if not token.strip() or token.startswith(("//", "/*")):
            continue
        if re.fullmatch(r"0[xX][0-9a-fA-F]+", token):
            token = str(int(token, 16))  # Wire keeps numbers, not their spelling
        tokens.append(token)
    if not tokens:
        raise InvalidSchema("Invalid protobuf schema: empty")
    members, end = _members(tokens, 0)
    if end != len(tokens):
        raise InvalidSchema("Invalid protobuf schema: unbalanced braces")
    lines: list[str] = []
    _write(members, 0, lines, top=True)
    return "\n".join(lines) + "\n"


Member = tuple[list[str], "list[Any] | None"]


def _members(tokens: list[str], i: int) -> tuple[list[Member], int]:
    out: list[Member] = []
    while i < len(tokens) and tokens[i] != "}":
        if tokens[i] == ";":
            i += 1
            continue
        head: list[str] = []
        depth = 0
        while True:
            if i >= len(tokens):
                raise InvalidSchema("Invalid protobuf schema: missing ';' or '}'")
            token = tokens[i]
            if depth == 0 and token == ";":
                out.append((head, None))
                i += 1
                break
            if depth == 0 and token == "{" and head and head[-1] not in ("=", ":"):
                body, i = _members(tokens, i + 1)
                if i >= len(tokens):
                    raise InvalidSchema("Invalid protobuf schema: a block is not closed")
                out.append((head, body))
                i += 1
                break
            depth += token in ("[", "{", "(")
            depth -= token in ("]", "}", ")")
            head.append(token)
            i += 1
    return out, i


def _write(members: list[Member], indent: int, lines: list[str], top: bool = False) -> None:
    pad = "  " * indent
    ordered = sorted(enumerate(members), key=lambda m: (_ORDER.get(m[1][0][0], 6), m[0]))
    previous = None
    for _, (head, body) in ordered:
        group = _ORDER.get(head[0], 6)
        if previous is not None and (group != previous or body is not None) and (top or group >= 7):
            lines.append("")
        previous = group
        text = _spaced(head)
        if body is None:
            lines.append(f"{pad}{text};")
        else:
            lines.append(f"{pad}{text} {{")
            _write(body, indent + 1, lines)
            lines.append(f"{pad}}}")


def _spaced(tokens: list[str]) -> str:
    out = ""
    for token in tokens:
        if token.startswith("'"):
            token = '"' + token[1:-1].replace('"', '\\"') + '"'
        if out and token not in (";", ",", ")", "]", ">") and out[-1] not in ("(", "[", "<") and token != "<":
            out += " "
        out += token
    return out
