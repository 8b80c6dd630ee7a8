"""`topoctl graph` for NATS JetStream: stream -> consumer (its filter subjects), consumer -> the
dead-letter stream that captures its MAX_DELIVERIES / MSG_TERMINATED advisories, and stream ->
stream (bucket -> bucket) for mirrors and sources.

A dead-letter stream is recognised by its subjects, not by its name, so one declared by hand
(with the advisory subjects written out) is drawn like one `dead_letter:` generated.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from topoctl.model import JSON, Address, Resource
from topoctl.providers.base import Flow
from topoctl.providers.nats.buckets import KV_PREFIX
from topoctl.providers.nats.compile import ADVISORY, DLQ_ADVISORIES
from topoctl.providers.nats.kinds import CONSUMER, KV_BUCKET, STREAM

NODE_KINDS = frozenset({STREAM, CONSUMER, KV_BUCKET})
DEAD_LETTERS = "dead letters"


def flows(desired: Sequence[Resource]) -> list[Flow]:
    out: list[Flow] = []
    captured = _advisory_captures(desired)
    for r in desired:
        if r.kind == CONSUMER:
            stream, consumer = r.address.name
            out.append(Flow(Address(r.broker, STREAM, (stream,)), r.address, _filter_label(r.attrs)))
            for dlq in sorted(captured.get((r.broker, stream, consumer), ())):
                out.append(Flow(r.address, Address(r.broker, STREAM, (dlq,)), DEAD_LETTERS, dead_letter=True))
        elif r.kind in (STREAM, KV_BUCKET):
            out += _replication(r)
    return out


def _advisory_captures(desired: Sequence[Resource]) -> dict[tuple[str, str, str], set[str]]:
    """(broker, stream, consumer) -> the streams whose subjects take its dead-letter advisories."""
    prefixes = tuple(f"{ADVISORY}.{kind}." for kind in DLQ_ADVISORIES)
    out: dict[tuple[str, str, str], set[str]] = {}
    for r in desired:
        subjects = r.attrs.get("subjects") if r.kind == STREAM else None
        for subject in subjects if isinstance(subjects, list) else []:
            if not isinstance(subject, str) or not subject.startswith(prefixes):
                continue
            parts = subject.split(".")[-2:]  # `<stream>.<consumer>` end the advisory subject
            if len(parts) == 2:
                out.setdefault((r.broker, parts[0], parts[1]), set()).add(r.address.name[0])
    return out


def _filter_label(attrs: Mapping[str, JSON]) -> str:
    subjects = attrs.get("filter_subjects")
    if isinstance(subjects, list) and subjects:
        return ", ".join(str(s) for s in subjects)
    subject = attrs.get("filter_subject")
    return subject if isinstance(subject, str) else ""


def _replication(stream: Resource) -> list[Flow]:
    entries: list[tuple[str, JSON]] = [("mirror", stream.attrs.get("mirror"))]
    sources = stream.attrs.get("sources")
    entries += [("source", s) for s in (sources if isinstance(sources, list) else [])]
    out = []
    for label, entry in entries:
        # A stream of another domain or account (`external`) is not in this manifest: not drawn.
        if isinstance(entry, Mapping) and isinstance(entry.get("name"), str) and not entry.get("external"):
            name = str(entry["name"])
            if stream.kind == KV_BUCKET:  # a bucket mirrors or sources buckets: KV_<bucket>
                origin = Address(stream.broker, KV_BUCKET, (name.removeprefix(KV_PREFIX),))
            else:
                origin = Address(stream.broker, STREAM, (name,))
            out.append(Flow(origin, stream.address, label))
    return out
