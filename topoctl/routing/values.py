"""Command-line values of `topoctl route`: `NAME=VALUE` pairs (a string) and `NAME:=JSON` (typed)."""

from __future__ import annotations

import json
from collections.abc import Sequence

from topoctl.errors import RouteError
from topoctl.model import JSON


def parse_pairs(pairs: Sequence[str], option: str) -> dict[str, JSON]:
    """`a=1` is the string "1"; `a:=1` the number 1, `a:=true` a boolean, `a:=["x","y"]` a list.
    The first `=` splits, so a value may hold `=`; a name repeated is refused (it is ambiguous)."""
    out: dict[str, JSON] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep:
            raise RouteError(f"{option} {pair}: expected NAME=VALUE (or NAME:=JSON for a number, boolean or list)")
        typed = name.endswith(":")
        name = name[:-1] if typed else name
        if not name:
            raise RouteError(f"{option} {pair}: the name is empty")
        if name in out:
            raise RouteError(f"{option} {name} is given twice")
        if typed:
            try:
                out[name] = json.loads(value)
            except ValueError:
                raise RouteError(f"{option} {pair}: {value!r} is not JSON (use {name}={value} for a string)") from None
        else:
            out[name] = value
    return out
