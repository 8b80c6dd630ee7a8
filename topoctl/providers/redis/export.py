"""Observed Redis objects -> the `streams:` / `users:` section of a manifest (`topoctl export`).

What Redis keeps is what is written: streams with their groups, users with `enabled`, `keys`,
`channels` and `commands` (in the form Redis stores them; plans compare them by meaning). Left out,
because Redis does not keep them or topoctl never prints them: a group's start position (runtime
state), retention (producers' business), `dead_letter:` (the `<key>:dlq` stream comes out as the
plain stream it is), passwords (only their hashes exist), the `default` user and the user topoctl
connects as (only touched when declared).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from topoctl.model import Resource
from topoctl.providers.redis.driver import DIFFERS
from topoctl.providers.redis.kinds import GROUP, STREAM, USER

USER_FIELDS = ("enabled", "keys", "channels", "commands")


def export_broker(broker: str, observed: Sequence[Resource]) -> dict[str, Any]:
    section: dict[str, dict[str, Any]] = {}
    mine = sorted((r for r in observed if r.broker == broker), key=lambda r: r.address)
    for r in mine:
        if r.kind == STREAM:
            section.setdefault("streams", {}).setdefault(r.address.name[0], {})
        elif r.kind == GROUP:
            key, group = r.address.name
            stream = section.setdefault("streams", {}).setdefault(key, {})
            stream.setdefault("groups", {})[group] = {}
        elif r.kind == USER:
            body = {f: r.attrs[f] for f in USER_FIELDS if f in r.attrs and r.attrs[f] != DIFFERS}
            section.setdefault("users", {})[r.address.name[0]] = body
    return section
