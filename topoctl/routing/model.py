"""The vocabulary of routing analysis: a message, where it enters, the path it takes, and the seam
that each broker family implements (`Router`, `Topology`).

Pure data and protocols; the broker semantics live in `topoctl/providers/<type>/routing.py`, and
work on the same `Resource`s the diff compares (desired from the manifest, or observed live).
"""

from __future__ import annotations

import json
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol, TypeVar

from topoctl.model import JSON, Address, Change, Resource

# How a hop was reached, for the text tree: a binding, an alternate exchange, dead-lettering, ...
BINDING = ""
ALTERNATE = "alternate exchange"
DEAD_LETTERS = "dead letters"
SUBSCRIPTION = "subscription"
CAPTURE = "captured"
SOURCE = "sourced"
FILTER = "filter"


@dataclass(frozen=True)
class Message:
    """What is published and what routing looks at.

    `source` is where it enters: an exchange, an SNS topic, the queue whose dead letters are
    followed (`dead_letter`), or None for a NATS account (subjects are not objects). `key` is the
    routing key or the subject; `headers` are AMQP headers or SNS message attributes (a str is a
    String, a number a Number, a list a String.Array); `body` is an SNS message body (text).
    """

    broker: str
    source: Address | None
    key: str = ""
    headers: Mapping[str, JSON] = field(default_factory=dict)
    body: str | None = None
    dead_letter: bool = False
    # Why the message died (RabbitMQ: rejected, expired, maxlen, delivery_limit): only `rejected`
    # dead letters may come back to the queue they died in.
    reason: str = "rejected"

    def to_json(self) -> dict[str, JSON]:
        out: dict[str, JSON] = {}
        if self.source is not None:
            out["from"] = str(self.source)
        if self.dead_letter:
            out["dead_letter"] = True
            if self.reason != "rejected":
                out["reason"] = self.reason
        if self.key or (self.source is not None and self.source.kind in ("exchange", "queue")):
            out["key"] = self.key
        if self.headers:  # SNS calls them message attributes
            sns = self.source is not None and self.source.kind == "sns_topic"
            out["attributes" if sns else "headers"] = dict(self.headers)
        if self.body is not None:
            out["body"] = self.body
        return out

    @property
    def identity(self) -> str:
        """A stable text for deduplication (mappings are not hashable)."""
        return json.dumps(self.to_json(), sort_keys=True, separators=(",", ":"), default=str)


@dataclass(frozen=True)
class Hop:
    address: Address
    via: str = BINDING  # how this hop was reached from the previous one


@dataclass(frozen=True)
class Destination:
    """Where a message lands, and one shortest path there (entry first, destination last)."""

    address: Address
    path: tuple[Hop, ...]

    def to_json(self) -> dict[str, JSON]:
        return {"address": str(self.address), "path": [str(h.address) for h in self.path]}


@dataclass(frozen=True)
class Route:
    message: Message
    destinations: tuple[Destination, ...]
    # Why nothing or less than expected receives it (no dead-letter exchange, ...), for the text output.
    notes: tuple[str, ...] = ()

    @property
    def unroutable(self) -> bool:
        return not self.destinations

    @property
    def addresses(self) -> tuple[str, ...]:
        return tuple(sorted(str(d.address) for d in self.destinations))

    def to_json(self) -> dict[str, JSON]:
        return {"destinations": [d.to_json() for d in self.destinations], "unroutable": self.unroutable}


@dataclass(frozen=True)
class Request:
    """What `topoctl route` was asked, before a router reads it (raw command-line values)."""

    source: str | None = None
    routing_key: str | None = None
    headers: Sequence[str] = ()
    attributes: Sequence[str] = ()
    body: str | None = None
    subject: str | None = None
    dead_letter_of: str | None = None
    reason: str | None = None


class Topology(Protocol):
    """One broker's routing-relevant objects, indexed once and asked many messages."""

    def route(self, message: Message) -> Route:
        """Raises RouteError for a message the broker would refuse (no such exchange, internal, ...)."""
        ...


T = TypeVar("T", bound=Topology)


class Router(Protocol[T]):
    """The routing semantics of one broker type (`<provider>.routing.ROUTER`)."""

    def topology(self, broker: str, resources: Sequence[Resource]) -> T: ...

    def message(self, broker: str, request: Request) -> Message:
        """The message a `route` request describes; RouteError for options that do not fit."""
        ...

    def relevant(self, change: Change, live: Collection[Address]) -> bool:
        """Whether `change` can change where some message goes, given the addresses `live` before
        the plan (cheap: it gates the analysis, which builds both sides' topologies)."""
        ...

    def label(self, message: Message) -> str:
        """The message as a reader knows it, for plans: `order.paid`, `type=created`."""
        ...

    def probes(self, before: T, after: T, changes: Sequence[Change]) -> Iterable[Message]:
        """Representative messages for the plan: derived from the patterns on both sides, limited to
        where `changes` can make a difference. Only messages that exist on both sides (their entry
        exists before and after) are worth comparing."""
        ...
