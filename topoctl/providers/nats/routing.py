"""Where a message published on a NATS subject is stored by JetStream, and which consumers see it.

* A stream captures a subject that matches one of its `subjects` (tokens split on `.`; `*` matches
  one token, `>` one or more at the end). A stream declared without subjects, and without a mirror
  or sources, captures its own name (the server's default). A KV bucket captures `$KV.<bucket>.>`
  (a read replica nothing), an object store `$O.<bucket>.C.>` and `$O.<bucket>.M.>`.
* A stream's `subject_transform` rewrites the subject it stores (`{{wildcard(n)}}` or `$n` take the
  n-th `*` of `src`, `>` the rest).
* A stream that `sources` or `mirrors` another stores what that one stores, narrowed by the
  source's `filter_subject` or `subject_transforms` (each `src` a filter, its `dest` the new subject).
* A consumer sees a stored message when one of its filter subjects matches the stored subject (no
  filter: everything in its stream).
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass, field

from topoctl.errors import RouteError
from topoctl.model import JSON, Action, Address, Change, Resource
from topoctl.providers.nats.buckets import KV_PREFIX, OBJ_PREFIX, bucket_subjects
from topoctl.providers.nats.kinds import CONSUMER, KV_BUCKET, OBJECT_STORE, STREAM
from topoctl.providers.nats.subjects import SubjectIndex, subject_matches
from topoctl.routing.model import CAPTURE, FILTER, SOURCE, Destination, Hop, Message, Request, Route

WORD = "x"  # what a `*` or `>` stands for in a representative subject
_WILDCARD = re.compile(r"\{\{\s*wildcard\s*\(\s*(\d+)\s*\)\s*\}\}")
_FUNCTION = re.compile(r"\{\{.*?\}\}")


def check_subject(subject: str) -> None:
    """A subject a client can publish to: tokens, no wildcard, no empty token, no white space."""
    if not subject or any(c.isspace() for c in subject):
        raise RouteError(f"--subject {subject!r}: a subject is non-empty and has no white space")
    tokens = subject.split(".")
    if "" in tokens:
        raise RouteError(f"--subject {subject}: a subject has no empty token (`a..b`, a leading or trailing `.`)")
    if "*" in tokens or ">" in tokens:
        raise RouteError(f"--subject {subject}: messages are published to literal subjects, not wildcards")


def transform(src: str, dest: str, subject: str) -> str | None:
    """The subject `subject` becomes under the mapping `src` -> `dest`, None when `src` does not match.
    Raises RouteError for a mapping function topoctl does not model (partition, split, ...)."""
    src = src or ">"
    if not subject_matches(src, subject):
        return None
    if not dest:
        return subject
    have = subject.split(".")
    captured: list[str] = []
    rest: list[str] = []
    for i, token in enumerate(src.split(".")):
        if token == "*":
            captured.append(have[i])
        elif token == ">":
            rest = have[i:]
    out: list[str] = []
    stars = iter(captured)
    for token in dest.split("."):
        if token == ">":
            out += rest
            continue
        if token == "*":  # legacy positional mapping
            out.append(next(stars, ""))
            continue
        if re.fullmatch(r"\$\d+", token):
            token = _capture(captured, int(token[1:]), dest)
        token = _WILDCARD.sub(lambda m: _capture(captured, int(m.group(1)), dest), token)
        if _FUNCTION.search(token):
            raise RouteError(f"subject transform {src} -> {dest}: {token} is a mapping function topoctl does not model")
        out.append(token)
    return ".".join(out)


def _capture(captured: list[str], n: int, dest: str) -> str:
    if not 1 <= n <= len(captured):
        raise RouteError(f"subject transform to {dest}: wildcard {n} does not exist in its source")
    return captured[n - 1]


@dataclass(frozen=True)
class _Origin:
    """Where a stream copies messages from (a source or its mirror), and which ones."""

    stream: str
    filter_subject: str
    transforms: tuple[tuple[str, str], ...]

    def admit(self, subject: str) -> str | None:
        if self.transforms:
            for src, dest in self.transforms:
                out = transform(src, dest, subject)
                if out is not None:
                    return out
            return None
        if self.filter_subject and not subject_matches(self.filter_subject, subject):
            return None
        return subject


@dataclass
class _Stream:
    address: Address
    subjects: list[str]
    transform: tuple[str, str] | None = None
    origins: list[_Origin] = field(default_factory=list)


def _origin(entry: JSON, prefix: str = "") -> _Origin | None:
    if not isinstance(entry, Mapping) or not isinstance(entry.get("name"), str) or entry.get("external"):
        return None  # another domain or account: not in this topology
    transforms = entry.get("subject_transforms")
    pairs = tuple(
        (str(t.get("src") or ""), str(t.get("dest") or ""))
        for t in (transforms if isinstance(transforms, list) else [])
        if isinstance(t, Mapping)
    )
    return _Origin(prefix + str(entry["name"]), str(entry.get("filter_subject") or ""), pairs)


def _filters(attrs: Mapping[str, JSON]) -> list[str]:
    many = attrs.get("filter_subjects")
    if isinstance(many, list) and many:
        return [str(s) for s in many]
    one = attrs.get("filter_subject")
    return [one] if isinstance(one, str) and one else []


class _Lookup:
    """The streams of a topology by the subjects they capture (a trie, so a subject meets only the
    patterns that can match it) and by the streams they source or mirror from, in name order."""

    def __init__(self, streams: Mapping[str, _Stream]) -> None:
        self.index = SubjectIndex()
        # A `>` before the last token is no pattern the server takes, but a manifest may say it:
        # matched one by one as `subject_matches` reads it.
        self.odd: list[tuple[str, str]] = []
        self.downstream: dict[str, list[tuple[str, _Stream]]] = {}
        for name, stream in sorted(streams.items()):
            for pattern in stream.subjects:
                if ">" in pattern.split(".")[:-1]:
                    self.odd.append((name, pattern))
                else:
                    self.index.insert(pattern, name)
            for origin in dict.fromkeys(o.stream for o in stream.origins):
                self.downstream.setdefault(origin, []).append((name, stream))

    def capturing(self, subject: str) -> list[str]:
        """The streams that store a message published on the literal `subject`, in name order."""
        names = {name for name, _ in self.index.overlapping(subject)}
        names.update(name for name, pattern in self.odd if subject_matches(pattern, subject))
        return sorted(names)


class NatsTopology:
    def __init__(self, broker: str, resources: Sequence[Resource]) -> None:
        self.broker = broker
        present = [r for r in resources if r.broker == broker and not r.absent]
        self.streams: dict[str, _Stream] = {}
        for r in present:
            a = r.attrs
            if r.kind == STREAM:
                name = r.address.name[0]
                subjects = a.get("subjects")
                listed = [str(s) for s in subjects] if isinstance(subjects, list) else []
                if not listed and not a.get("mirror") and not a.get("sources"):
                    listed = [name]  # the server's default
                stream = _Stream(r.address, listed)
                t = a.get("subject_transform")
                if isinstance(t, Mapping) and t.get("dest"):
                    stream.transform = (str(t.get("src") or ""), str(t["dest"]))
                sources = a.get("sources")
                for entry in [a.get("mirror"), *(sources if isinstance(sources, list) else [])]:
                    origin = _origin(entry)
                    if origin is not None:
                        stream.origins.append(origin)
                self.streams[name] = stream
            elif r.kind in (KV_BUCKET, OBJECT_STORE):
                bucket = r.address.name[0]
                prefix = KV_PREFIX if r.kind == KV_BUCKET else OBJ_PREFIX
                self.streams[prefix + bucket] = _Stream(r.address, bucket_subjects(r.kind, bucket, a))
        self.consumers: dict[str, list[tuple[Address, list[str]]]] = {}
        for r in sorted((r for r in present if r.kind == CONSUMER), key=lambda r: r.address):
            owner = r.address.name[0]
            if owner in self.streams:  # a consumer goes with its stream
                self.consumers.setdefault(owner, []).append((r.address, _filters(r.attrs)))
        self._lookup: _Lookup | None = None

    def _streams_by_subject(self) -> _Lookup:
        """Made once a topology, when a message is first routed: a plan routes thousands of probe
        messages through thousands of streams, and trying every stream for each cost minutes."""
        if self._lookup is None:
            self._lookup = _Lookup(self.streams)
        return self._lookup

    def route(self, message: Message) -> Route:
        subject = message.key
        check_subject(subject)
        lookup = self._streams_by_subject()
        stored: dict[str, tuple[str, tuple[Hop, ...]]] = {}  # stream -> (stored subject, path)
        todo: deque[str] = deque()
        for name in lookup.capturing(subject):
            stream = self.streams[name]
            here = subject
            if stream.transform is not None:
                here = transform(*stream.transform, subject) or subject
            stored[name] = (here, (Hop(stream.address, CAPTURE),))
            todo.append(name)
        while todo:  # sources and mirrors, each stream once
            origin = todo.popleft()
            held, path = stored[origin]
            for name, stream in lookup.downstream.get(origin, ()):
                if name in stored:
                    continue
                for o in stream.origins:
                    copied = o.admit(held) if o.stream == origin else None
                    if copied is not None:
                        stored[name] = (copied, (*path, Hop(stream.address, SOURCE)))
                        todo.append(name)
                        break
        out: list[Destination] = []
        for name, (held, path) in sorted(stored.items()):
            out.append(Destination(self.streams[name].address, path))
            for address, filters in self.consumers.get(name, []):
                if not filters or any(subject_matches(f, held) for f in filters):
                    out.append(Destination(address, (*path, Hop(address, FILTER))))
        return Route(message, tuple(out))

    def patterns(self, names: set[str]) -> list[str]:
        """The subjects, filters and transform sources of the given streams and their consumers."""
        out: list[str] = []
        for name in sorted(names):
            stream = self.streams.get(name)
            if stream is None:
                continue
            out += stream.subjects
            if stream.transform is not None:
                out.append(stream.transform[0])
            for o in stream.origins:
                out += [o.filter_subject, *(src for src, _ in o.transforms)]
                origin = self.streams.get(o.stream)
                out += origin.subjects if origin is not None else []
            for _, filters in self.consumers.get(name, []):
                out += filters
        return [p for p in out if p]


def _concrete(pattern: str) -> list[str]:
    """Subjects that exercise a pattern: `*` as one token, `>` as one and as two."""
    tokens = [WORD if t == "*" else t for t in pattern.split(".")]
    if tokens[-1] != ">":
        return [".".join(tokens)]
    return [".".join([*tokens[:-1], *[WORD] * n]) for n in (1, 2)]


class NatsRouter:
    def topology(self, broker: str, resources: Sequence[Resource]) -> NatsTopology:
        return NatsTopology(broker, resources)

    def message(self, broker: str, request: Request) -> Message:
        for option, value in (
            ("--routing-key", request.routing_key),
            ("--body", request.body),
            ("--dead-letter-of", request.dead_letter_of),
            ("--reason", request.reason),
        ):
            if value is not None:
                raise RouteError(f"{option} is not for a NATS broker (give --subject)")
        if request.headers or request.attributes:
            raise RouteError("NATS routes on the subject alone: give --subject, without --header or --attribute")
        if request.source is not None and request.source.strip("/") != broker:
            raise RouteError(f"--from {request.source}: for NATS, --from is the broker's name ({broker})")
        if request.subject is None:
            raise RouteError("--subject SUBJECT is needed for a NATS broker")
        check_subject(request.subject)
        return Message(broker, None, request.subject)

    def relevant(self, change: Change, live: Collection[Address]) -> bool:
        # What `probes` starts from, asked of the live addresses: on a server with thousands of
        # other streams, a plan that only adds streams builds no topology.
        stream = _compared(change)
        return stream is not None and _stream_address(change.broker, stream) in live

    def label(self, message: Message) -> str:
        return message.key

    def probes(self, before: NatsTopology, after: NatsTopology, changes: Sequence[Change]) -> Iterator[Message]:
        names: set[str] = set()
        for change in changes:
            stream = _compared(change)
            if stream is not None and stream in before.streams:
                names.add(stream)
        # Streams that source from a touched one see its messages too.
        for topology in (before, after):
            for name, entry in topology.streams.items():
                if any(o.stream in names for o in entry.origins):
                    names.add(name)
        patterns = dict.fromkeys(before.patterns(names) + after.patterns(names))
        for pattern in patterns:
            for subject in _concrete(pattern):
                if subject.split(".")[-1] not in ("*", ">") and "" not in subject.split("."):
                    yield Message(before.broker, None, subject)


def _compared(change: Change) -> str | None:
    """The stream whose messages `change` may send elsewhere, if it lives before the plan. None for
    a create of a stream, bucket or store: it takes subjects no stream had (the server refuses
    overlaps); a consumer is compared in its stream, and a replace is."""
    if change.kind not in (STREAM, CONSUMER, KV_BUCKET, OBJECT_STORE):
        return None
    if change.kind != CONSUMER and change.action is Action.CREATE:
        return None
    return _stream_name(change)


def _stream_address(broker: str, stream: str) -> Address:
    """The address of what holds stream `stream` (a bucket's for a bucket's stream), as `_stream_name`
    names it."""
    for prefix, kind in ((KV_PREFIX, KV_BUCKET), (OBJ_PREFIX, OBJECT_STORE)):
        if stream.startswith(prefix):
            return Address(broker, kind, (stream[len(prefix) :],))
    return Address(broker, STREAM, (stream,))


def _stream_name(change: Change) -> str:
    name = change.address.name[0]
    if change.kind == KV_BUCKET:
        return KV_PREFIX + name
    if change.kind == OBJECT_STORE:
        return OBJ_PREFIX + name
    return name


ROUTER = NatsRouter()
