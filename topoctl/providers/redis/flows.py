"""`topoctl graph` for Redis: stream -> consumer group (labelled with the retention producers are
asked to keep, when declared), group -> its dead-letter stream (dashed, with the delivery limit).

Users are not drawn: they grant access, messages do not flow through them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from topoctl.model import JSON, Address, Resource
from topoctl.providers.base import Flow
from topoctl.providers.redis.kinds import GROUP, STREAM

NODE_KINDS = frozenset({STREAM, GROUP})


def retention_label(attrs: Mapping[str, JSON]) -> str:
    """`MAXLEN ~ 100000` / `MINID = 7d`: the XADD trimming producers are asked to use."""
    sign = "~" if attrs.get("approximate", True) else "="
    if "maxlen" in attrs:
        return f"MAXLEN {sign} {attrs['maxlen']}"
    if "minid" in attrs:
        return f"MINID {sign} {attrs['minid']}"
    return ""


def flows(desired: Sequence[Resource]) -> list[Flow]:
    streams = {r.address: r for r in desired if r.kind == STREAM}
    out: list[Flow] = []
    for r in desired:
        if r.kind != GROUP:
            continue
        stream = Address(r.broker, STREAM, (r.address.name[0],))
        source = streams.get(stream)
        out.append(Flow(stream, r.address, retention_label(source.attrs) if source else ""))
        dead = r.attrs.get("dead_letter")
        if isinstance(dead, Mapping) and isinstance(dead.get("stream"), str):
            label = f"dead letters after {dead.get('max_deliveries')} deliveries"
            out.append(Flow(r.address, Address(r.broker, STREAM, (str(dead["stream"]),)), label, dead_letter=True))
    return out
