"""The `type: redis` broker section -> desired resources (pure; imports no client).

Also expands `dead_letter:` on a group into the `<key>:dlq` stream it names, and hashes the
declared passwords: from here on only their SHA-256 hashes exist, in `info` (never in `attrs`,
which plans show and save).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from topoctl.manifest.source import Context
from topoctl.model import JSON, Address, Resource
from topoctl.providers.base import Compiled, PruneScope
from topoctl.providers.redis import acl
from topoctl.providers.redis.connection import check as check_connection
from topoctl.providers.redis.kinds import GROUP, STREAM, USER
from topoctl.units import INT64_MAX

# A stream entry ID as XGROUP CREATE takes it: `$` (new entries only), `0` (all) or `<ms>[-<seq>]`.
# ASCII digits: `\d` also takes '٣', which Redis refuses. Each part of an ID is an unsigned 64-bit
# integer, and counts (ENTRIESREAD) a signed one: beyond them Redis answers "Invalid stream ID" /
# "value is not an integer or out of range" (tests/integration/test_refused_at_validate.py).
ENTRY_ID = re.compile(r"^(\$|[0-9]+(-[0-9]+)?)$")
UINT64_MAX = 2**64 - 1
USER_NAME = re.compile(r"^[^\s]+$")
DLQ_SUFFIX = ":dlq"
DEFAULT_START = "$"


def _state(section: Mapping[str, Any], ctx: Context) -> bool:
    """True when the section says `state: absent`."""
    state = section.get("state", "present")
    if state not in ("present", "absent"):
        raise ctx.at("state").error(f"state must be present or absent, got {state!r}")
    return bool(state == "absent")


def _int(value: Any, ctx: Context, minimum: int = 0) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ctx.error(f"expected an integer, got {value!r}")
    if value < minimum:
        raise ctx.error(f"must be {minimum} or more, got {value}")
    if value > INT64_MAX:
        raise ctx.error(f"{value} is beyond what Redis can store (at most {INT64_MAX}, a signed 64-bit integer)")
    return value


def _entry_id(text: str) -> bool:
    """`$`, or an entry ID whose parts Redis can read (unsigned 64-bit)."""
    return bool(ENTRY_ID.match(text)) and (text == "$" or all(int(p) <= UINT64_MAX for p in text.split("-")))


def _strings(value: Any, ctx: Context) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ctx.error("expected a list of strings")
    return list(value)


@dataclass
class _DeadLetter:
    ctx: Context
    sources: set[str] = field(default_factory=set)


@dataclass
class _Compiler:
    broker: str
    resources: list[Resource] = field(default_factory=list)
    dead_letters: dict[str, _DeadLetter] = field(default_factory=dict)

    def addr(self, kind: str, *name: str) -> Address:
        return Address(self.broker, kind, name)

    def stream(self, key: str, section: Mapping[str, Any], ctx: Context) -> Resource:
        if not key:
            raise ctx.error("a stream key cannot be empty")
        absent = _state(section, ctx)
        attrs: dict[str, JSON] = {}
        if not absent:
            attrs = self.retention(section, ctx)
        for name, body in ctx.mapping(section.get("groups")).items():
            gctx = ctx.at("groups", name)
            group = self.group(key, str(name), gctx.mapping(body), gctx)
            if absent and not group.absent:
                raise gctx.error(f"stream {key!r} is declared absent: its groups can only be absent too")
            self.resources.append(group)
        return Resource(self.addr(STREAM, key), attrs, absent=absent, source=ctx.where())

    @staticmethod
    def retention(section: Mapping[str, Any], ctx: Context) -> dict[str, JSON]:
        """`maxlen` / `minid` / `approximate`: what producers should trim to (XADD MAXLEN|MINID).
        Intent only: Redis has no retention setting on a stream, and topoctl never trims."""
        attrs: dict[str, JSON] = {}
        if "maxlen" in section and "minid" in section:
            raise ctx.at("minid").error("give maxlen or minid, not both (XADD trims by one of them)")
        if "maxlen" in section:
            attrs["maxlen"] = _int(section["maxlen"], ctx.at("maxlen"))
        if "minid" in section:
            minid = section["minid"]
            if isinstance(minid, int) and not isinstance(minid, bool):
                minid = str(minid)
            if not isinstance(minid, str) or not (_entry_id(minid) and minid != "$"):
                # Not an entry ID: an age (7d), which producers turn into MINID <now - age>.
                ctx.at("minid").duration(minid, "ms")
            attrs["minid"] = minid
        if "approximate" in section:
            if not isinstance(section["approximate"], bool):
                raise ctx.at("approximate").error("expected true or false")
            if not attrs:
                raise ctx.at("approximate").error("approximate goes with maxlen or minid")
            attrs["approximate"] = section["approximate"]
        elif attrs:
            attrs["approximate"] = True  # `~`: what Redis recommends, trimming whole nodes
        return attrs

    def group(self, key: str, name: str, section: Mapping[str, Any], ctx: Context) -> Resource:
        if not name:
            raise ctx.error("a consumer group name cannot be empty")
        address = self.addr(GROUP, key, name)
        depends = [self.addr(STREAM, key)]
        if _state(section, ctx):
            return Resource(address, {}, tuple(depends), absent=True, source=ctx.where())
        start = section.get("start", DEFAULT_START)
        if isinstance(start, int) and not isinstance(start, bool):
            start = str(start)
        if not isinstance(start, str) or not _entry_id(start):
            raise ctx.at("start").error(
                f"start must be $ (new entries only), 0 (the whole stream) or an entry ID like 1700000000000-0, "
                f"got {start!r}"
            )
        attrs: dict[str, JSON] = {"start": start}
        if "entries_read" in section:
            attrs["entries_read"] = _int(section["entries_read"], ctx.at("entries_read"))
        if "dead_letter" in section:
            dctx = ctx.at("dead_letter")
            attrs["dead_letter"] = self.dead_letter(key, section["dead_letter"], dctx)
            depends.append(self.addr(STREAM, str(attrs["dead_letter"]["stream"])))
        return Resource(address, attrs, tuple(depends), source=ctx.where())

    def dead_letter(self, key: str, value: Any, ctx: Context) -> dict[str, JSON]:
        options = dict(ctx.mapping(value))
        dlq = options.pop("stream", None) or f"{key}{DLQ_SUFFIX}"
        limit = options.pop("max_deliveries", None)
        if options:
            name = next(iter(options))
            raise ctx.at(name).error(f"unknown dead_letter option {name!r} (allowed: max_deliveries, stream)")
        if not isinstance(dlq, str):
            raise ctx.at("stream").error("the dead letter stream is a key (a string)")
        if dlq == key:
            raise ctx.at("stream").error("the dead letter stream cannot be the stream itself")
        if limit is None:
            raise ctx.error(
                "dead_letter needs max_deliveries: the number of deliveries (XPENDING's delivery count) "
                "after which the consumer moves an entry to the dead letter stream"
            )
        max_deliveries = _int(limit, ctx.at("max_deliveries"), minimum=1)
        self.dead_letters.setdefault(dlq, _DeadLetter(ctx)).sources.add(key)
        return {"stream": dlq, "max_deliveries": max_deliveries}

    def user(self, name: str, section: Mapping[str, Any], ctx: Context) -> Resource:
        if not USER_NAME.match(name):
            raise ctx.error(f"invalid user name {name!r}: no whitespace")
        address = self.addr(USER, name)
        if _state(section, ctx):
            return Resource(address, {}, absent=True, source=ctx.where())
        enabled = section.get("enabled", True)
        if not isinstance(enabled, bool):
            raise ctx.at("enabled").error("expected true or false")
        attrs: dict[str, JSON] = {"enabled": enabled}
        info: dict[str, JSON] = {}
        if "passwords" in section:
            pctx = ctx.at("passwords")
            passwords = section["passwords"]
            if isinstance(passwords, str):
                passwords = [passwords]
            if not isinstance(passwords, list) or not all(isinstance(p, str) for p in passwords):
                raise pctx.error("expected a list of passwords (strings, from ${VAR})")
            for i, password in enumerate(passwords):
                if not password:
                    raise pctx.at(i).error("a password cannot be empty (is its variable set?)")
            info["password_hashes"] = sorted({acl.password_hash(p) for p in passwords})
            attrs["passwords"] = acl.SENSITIVE if passwords else acl.NO_PASSWORD
        for key, check in (("keys", acl.check_key), ("channels", acl.check_channel), ("commands", acl.check_command)):
            if key not in section:
                continue
            kctx = ctx.at(key)
            rules = _strings(section[key], kctx)
            for i, rule in enumerate(rules):
                problem = check(rule)
                if problem:
                    raise kctx.at(i).error(f"{rule!r}: {problem}")
            attrs[key] = rules
        _check_all(attrs, ctx)
        return Resource(address, attrs, absent=False, source=ctx.where(), info=info)


def _check_all(attrs: Mapping[str, JSON], ctx: Context) -> None:
    """`~*` (or `allkeys`) beside other key patterns: Redis keeps only the `~*`, or worse, so the
    next plan would never be empty. The same for `&*` among channels."""
    for key, everything, words in (("keys", "~*", ("~*", "allkeys")), ("channels", "&*", ("&*", "allchannels"))):
        rules = attrs.get(key)
        if isinstance(rules, list) and len(rules) > 1 and any(r in words for r in rules):
            raise ctx.at(key).error(f"{everything} already covers every {key[:-1]}: declare it alone")


def compile_broker(broker: str, section: Mapping[str, Any], ctx: Context) -> Compiled:
    problem = check_connection(ctx.at("connection").mapping(section.get("connection")))
    if problem:
        raise ctx.at("connection", problem[0]).error(problem[1])
    c = _Compiler(broker)
    streams: dict[str, Resource] = {}
    for key, body in ctx.mapping(section.get("streams")).items():
        sctx = ctx.at("streams", key)
        streams[str(key)] = c.stream(str(key), sctx.mapping(body), sctx)

    for dlq, entry in sorted(c.dead_letters.items()):
        declared = streams.get(dlq)
        if declared is None:
            streams[dlq] = Resource(c.addr(STREAM, dlq), {}, source=entry.ctx.where())
        elif declared.absent:
            raise entry.ctx.error(f"dead letter stream {dlq!r} is declared absent")

    users = [
        c.user(str(name), ctx.at("users", name).mapping(body), ctx.at("users", name))
        for name, body in ctx.mapping(section.get("users")).items()
    ]
    resources = [*streams.values(), *c.resources, *users]
    return Compiled(resources, _prune_scopes(section.get("prune"), streams, ctx.at("prune")))


def _prune_scopes(value: Any, streams: Mapping[str, Resource], ctx: Context) -> list[PruneScope]:
    """`prune: true`: every undeclared stream, group and user (never `default` nor the user topoctl
    connects as). `{prefix, streams (true), users (false)}`: streams whose key starts with the
    prefix, the undeclared groups of declared streams there, and users whose name does."""
    if value is None or value is False:
        return []
    if value is True:
        return [PruneScope(kinds=frozenset({STREAM, GROUP})), PruneScope(kinds=frozenset({USER}))]
    spec = ctx.mapping(value)
    prefix = spec.get("prefix", "")
    if not isinstance(prefix, str):
        raise ctx.at("prefix").error("prefix must be a string")
    flags = {}
    for key, default in (("streams", True), ("users", False)):
        flag = spec.get(key, default)
        if not isinstance(flag, bool):
            raise ctx.at(key).error(f"{key} must be true or false")
        flags[key] = flag
    scopes: list[PruneScope] = []
    if flags["streams"] and not prefix:
        scopes.append(PruneScope(kinds=frozenset({STREAM, GROUP})))
    elif flags["streams"]:
        scopes.append(PruneScope(kinds=frozenset({STREAM}), prefix=prefix))
        # Groups of the declared streams in scope; those of undeclared streams go with their stream.
        for key, stream in streams.items():
            if key.startswith(prefix) and not stream.absent:
                scopes.append(PruneScope(kinds=frozenset({GROUP}), parent=(key,)))
    if flags["users"]:
        scopes.append(PruneScope(kinds=frozenset({USER}), prefix=prefix))
    return scopes
