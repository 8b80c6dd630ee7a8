"""Where a message goes in RabbitMQ, exactly as the broker routes it (3.x `rabbit_exchange:route/2`).

* An exchange routes by its type: `direct` (key equals the binding key), `fanout` (every binding),
  `topic` (words split on `.`; `*` one word, `#` zero or more; empty words count, and the empty key
  has no words at all), `headers` (`x-match` all / any / all-with-x / any-with-x; `x-match` itself
  is never compared, other `x-` arguments only with `-with-x`; an argument without a value matches
  mere presence; values compare like Erlang's `==`: 1 equals 1.0, never `true` or "1").
* Bindings to exchanges are followed with the same message; every exchange is visited at most once,
  so cycles end.
* An exchange whose own bindings match nothing hands the message to its alternate exchange (its
  `alternate-exchange` argument, else its policy's), if that exists. An exchange that matched a
  binding to another exchange did match, even when nothing downstream takes the message.
* The default exchange (`""`) delivers to the queue named by the key, and has no alternate.
* Internal exchanges refuse publishes from clients; dead-lettering may target them.
* Dead letters of a queue go to its dead-letter exchange with its dead-letter routing key, or with
  the message's own key; each setting is the queue argument if set, else its policy's, looked up
  separately. A dead letter is dropped by the queue it died in unless it died `rejected`.

Works on `Resource`s as the diff compares them: desired (manifest) or observed (`--live`).
"""

from __future__ import annotations

import json
from collections import deque
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import product

from topoctl.errors import RouteError
from topoctl.model import JSON, Action, Address, Change, Resource
from topoctl.providers.rabbitmq.kinds import BINDING, EXCHANGE, POLICY, QUEUE, VHOST, exchange_address, queue_address
from topoctl.providers.rabbitmq.policies import Policy, applying, policies_of
from topoctl.routing.model import ALTERNATE, DEAD_LETTERS, Destination, Hop, Message, Request, Route
from topoctl.routing.values import parse_pairs

# Exchanges every vhost has, and their types; `amq.rabbitmq.trace` is internal.
BUILTIN = {
    "amq.direct": "direct",
    "amq.fanout": "fanout",
    "amq.topic": "topic",
    "amq.headers": "headers",
    "amq.match": "headers",
    "amq.rabbitmq.trace": "topic",
}
TYPES = frozenset({"direct", "fanout", "topic", "headers"})
X_MATCH = ("all", "any", "all-with-x", "any-with-x")
REASONS = ("rejected", "expired", "maxlen", "delivery_limit")
# Policy keys that change routing (what `relevant` looks for in a policy change).
ROUTING_KEYS = frozenset({"alternate-exchange", "dead-letter-exchange", "dead-letter-routing-key"})
MAX_KEY_BYTES = 255  # AMQP shortstr
# The word a `*` or `#` stands for in a representative key, and how many keys one entry may try.
WORD = "x"
MAX_PROBES = 2000
FOCUS_ABOVE = 2000  # bindings in reach beyond which only the changed ones give keys


# -- matching ------------------------------------------------------------------------------------


def words(key: str) -> list[str]:
    """`rabbit_exchange_type_topic:split_topic_key/1`: "" has no words; "a." has two ("a", "")."""
    return key.split(".") if key else []


def topic_matches(pattern: str, key: str) -> bool:
    """Whether binding key `pattern` matches routing key `key` (for one-off checks; exchanges use _Trie)."""
    trie = _Trie()
    trie.insert(words(pattern), 0)
    return bool(trie.match(words(key)))


def _erlang_equal(a: JSON, b: JSON) -> bool:
    """`==` on AMQP field values: numbers by value (1 == 1.0), booleans only with booleans."""
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return a == b
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_erlang_equal(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, Mapping) and isinstance(b, Mapping):
        return a.keys() == b.keys() and all(_erlang_equal(a[k], b[k]) for k in a)
    return type(a) is type(b) and a == b


def headers_match(arguments: Mapping[str, JSON], headers: Mapping[str, JSON]) -> bool:
    """`rabbit_exchange_type_headers:headers_match/2` (its merge walk is this set logic)."""
    mode = arguments.get("x-match")
    mode = mode if isinstance(mode, str) and mode in X_MATCH else "all"  # the broker's legacy default
    with_x = mode.endswith("-with-x")
    all_ok, any_ok = True, False
    for name, want in arguments.items():
        if name == "x-match" or (name.startswith("x-") and not with_x):
            continue
        if name not in headers:
            all_ok = False
        elif want is None or _erlang_equal(want, headers[name]):  # None: a void argument, presence only
            any_ok = True
        else:
            all_ok = False
    return any_ok if mode.startswith("any") else all_ok


@dataclass
class _Trie:
    """Topic bindings by word, as the broker keeps them; matching costs the key, not the bindings."""

    children: dict[str, _Trie] = field(default_factory=dict)
    ends: list[int] = field(default_factory=list)

    def insert(self, pattern: list[str], index: int) -> None:
        node = self
        for word in pattern:
            node = node.children.setdefault(word, _Trie())
        node.ends.append(index)

    def match(self, key: list[str]) -> set[int]:
        out: set[int] = set()
        self._match(key, 0, out, set())
        return out

    def _match(self, key: list[str], i: int, out: set[int], seen: set[tuple[int, int]]) -> None:
        if (id(self), i) in seen:  # `#.#.#` would otherwise try every split of the key
            return
        seen.add((id(self), i))
        if i == len(key):
            out.update(self.ends)
        else:
            for word in {key[i], "*"}:
                child = self.children.get(word)
                if child is not None:
                    child._match(key, i + 1, out, seen)
        hashed = self.children.get("#")
        if hashed is not None:
            for j in range(i, len(key) + 1):
                hashed._match(key, j, out, seen)


# -- the topology --------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Binding:
    destination_type: str  # "queue" or "exchange"
    destination: str
    key: str
    arguments: Mapping[str, JSON]


@dataclass
class _Exchange:
    type: str
    internal: bool
    arguments: Mapping[str, JSON]
    bindings: list[_Binding] = field(default_factory=list)
    # Built on first use: a plan routes through few of the exchanges it reads.
    _by_key: dict[str, list[int]] | None = None
    _trie: _Trie | None = None

    def match(self, name: str, key: str, headers: Mapping[str, JSON]) -> list[_Binding]:
        if self.type == "direct":
            if self._by_key is None:
                self._by_key = {}
                for i, b in enumerate(self.bindings):
                    self._by_key.setdefault(b.key, []).append(i)
            return [self.bindings[i] for i in self._by_key.get(key, ())]
        if self.type == "fanout":
            return list(self.bindings)
        if self.type == "topic":
            if self._trie is None:
                self._trie = _Trie()
                for i, b in enumerate(self.bindings):
                    self._trie.insert(words(b.key), i)
            return [self.bindings[i] for i in sorted(self._trie.match(words(key)))]
        if self.type == "headers":
            return [b for b in self.bindings if headers_match(b.arguments, headers)]
        raise RouteError(f"exchange {name!r} is of type {self.type!r}, whose routing topoctl does not model")


def _mapping(value: JSON) -> Mapping[str, JSON]:
    return value if isinstance(value, Mapping) else {}


class RabbitTopology:
    """The exchanges, queues, bindings and policies of one broker, indexed for routing."""

    def __init__(self, broker: str, resources: Sequence[Resource]) -> None:
        self.broker = broker
        present = [r for r in resources if r.broker == broker and not r.absent]
        self.vhosts = {r.address.name[0] for r in present if r.kind in (VHOST, EXCHANGE, QUEUE, BINDING, POLICY)}
        self.exchanges: dict[tuple[str, str], _Exchange] = {}
        self.queues: dict[tuple[str, str], Resource] = {}
        for vhost in self.vhosts:
            for name, kind in BUILTIN.items():
                self.exchanges[(vhost, name)] = _Exchange(kind, name == "amq.rabbitmq.trace", {})
        for r in present:
            if r.kind == EXCHANGE:
                a = r.attrs
                self.exchanges[(r.address.name[0], r.address.name[1])] = _Exchange(
                    str(a.get("type", "direct")), bool(a.get("internal", False)), _mapping(a.get("arguments"))
                )
            elif r.kind == QUEUE:
                self.queues[(r.address.name[0], r.address.name[1])] = r
        for r in present:
            if r.kind != BINDING:
                continue
            a, vhost = r.attrs, r.address.name[0]
            source, destination = str(a.get("source", "")), str(a.get("destination", ""))
            kind = "exchange" if a.get("destination_type") == "exchange" else "queue"
            # A binding lives only as long as both its ends (the broker deletes it with either).
            ends = self.exchanges if kind == "exchange" else self.queues
            if (vhost, source) not in self.exchanges or (vhost, destination) not in ends:
                continue
            key = a.get("routing_key")
            self.exchanges[(vhost, source)].bindings.append(
                _Binding(kind, destination, key if isinstance(key, str) else "", _mapping(a.get("arguments")))
            )
        self.policies: list[Policy] = policies_of(r for r in present if r.kind == POLICY)

    # -- effective settings (argument first, then the one applying policy) ------------------------

    def _policy_value(self, kind: str, vhost: str, name: str, key: str) -> JSON:
        if not self.policies:
            return None
        policy = applying(self.policies, kind, vhost, name)
        return None if policy is None else policy.definition.get(key)

    def alternate(self, vhost: str, name: str) -> str | None:
        exchange = self.exchanges.get((vhost, name))
        if exchange is None or name == "":
            return None
        value = exchange.arguments.get("alternate-exchange")
        if value is None:
            value = self._policy_value(EXCHANGE, vhost, name, "alternate-exchange")
        return value if isinstance(value, str) else None

    def may_dead_letter(self, vhost: str, name: str) -> bool:
        """Cheap: whether the queue has a dead-letter argument or some policy could give it one."""
        queue = self.queues.get((vhost, name))
        if queue is None:
            return False
        return bool(self.policies) or "x-dead-letter-exchange" in _mapping(queue.attrs.get("arguments"))

    def dead_letter(self, vhost: str, name: str) -> tuple[str | None, str | None]:
        """(dead-letter exchange, dead-letter routing key) of a queue; None where not set."""
        queue = self.queues.get((vhost, name))
        if queue is None:
            return None, None
        arguments = _mapping(queue.attrs.get("arguments"))
        out: list[str | None] = []
        for argument, key in (
            ("x-dead-letter-exchange", "dead-letter-exchange"),
            ("x-dead-letter-routing-key", "dead-letter-routing-key"),
        ):
            value = arguments.get(argument)
            if value is None:
                value = self._policy_value(QUEUE, vhost, name, key)
            out.append(value if isinstance(value, str) else None)
        return out[0], out[1]

    # -- routing ---------------------------------------------------------------------------------

    def route(self, message: Message) -> Route:
        source = message.source
        if source is None or len(source.name) != 2:
            raise RouteError("a RabbitMQ message starts at an exchange (or, with --dead-letter-of, a queue)")
        vhost, name = source.name
        if vhost not in self.vhosts:
            raise RouteError(f"{source}: broker {self.broker!r} has no vhost {vhost!r}")
        if message.dead_letter:
            return self._dead_letters(message, vhost, name)
        if name == "":
            return Route(message, self._default(vhost, message.key, (Hop(source),)))
        exchange = self.exchanges.get((vhost, name))
        if exchange is None:
            raise RouteError(f"{source}: no exchange {name!r} in vhost {vhost!r}")
        if exchange.internal:
            raise RouteError(
                f"{source}: exchange {name!r} is internal: clients cannot publish to it (only other exchanges"
                " route to it)"
            )
        return Route(message, self._from_exchange(vhost, name, message, (Hop(source),)))

    def _default(self, vhost: str, key: str, path: tuple[Hop, ...]) -> tuple[Destination, ...]:
        if (vhost, key) not in self.queues:
            return ()
        address = queue_address(self.broker, vhost, key)
        return (Destination(address, (*path, Hop(address))),)

    def _from_exchange(
        self, vhost: str, start: str, message: Message, path: tuple[Hop, ...]
    ) -> tuple[Destination, ...]:
        seen = {start}
        found: dict[str, tuple[Hop, ...]] = {}
        todo = deque([(start, path)])
        while todo:
            name, here = todo.popleft()
            matched = self.exchanges[(vhost, name)].match(name, message.key, message.headers)
            hops: list[tuple[str, str, str]] = [(b.destination_type, b.destination, "") for b in matched]
            if not matched:
                alternate = self.alternate(vhost, name)
                if alternate is not None:
                    hops.append(("exchange", alternate, ALTERNATE))
            for kind, destination, via in hops:
                if kind == "exchange":
                    if destination in seen:
                        continue
                    seen.add(destination)
                    if (vhost, destination) in self.exchanges:
                        address = exchange_address(self.broker, vhost, destination)
                        todo.append((destination, (*here, Hop(address, via))))
                elif destination not in found and (vhost, destination) in self.queues:
                    found[destination] = (*here, Hop(queue_address(self.broker, vhost, destination), via))
        return tuple(Destination(hops[-1].address, hops) for _, hops in sorted(found.items()))

    def _dead_letters(self, message: Message, vhost: str, name: str) -> Route:
        origin = message.source
        assert origin is not None
        if (vhost, name) not in self.queues:
            raise RouteError(f"{origin}: no queue {name!r} in vhost {vhost!r}")
        exchange, key = self.dead_letter(vhost, name)
        if exchange is None:
            return Route(message, (), (f"queue {name!r} has no dead-letter exchange: its dead letters are dropped",))
        key = key if key is not None else message.key
        if exchange == "":  # the default exchange: the queue named by the key
            destinations: tuple[Destination, ...] = ()
            if (vhost, key) in self.queues:
                address = queue_address(self.broker, vhost, key)
                destinations = (Destination(address, (Hop(origin), Hop(address, DEAD_LETTERS))),)
        elif (vhost, exchange) not in self.exchanges:
            return Route(
                message, (), (f"dead-letter exchange {exchange!r} does not exist: the dead letters are dropped",)
            )
        else:
            routed = Message(message.broker, exchange_address(self.broker, vhost, exchange), key, message.headers)
            start = (Hop(origin), Hop(exchange_address(self.broker, vhost, exchange), DEAD_LETTERS))
            destinations = self._from_exchange(vhost, exchange, routed, start)
        notes: tuple[str, ...] = ()
        if message.reason != "rejected" and any(d.address == origin for d in destinations):
            # rabbit_dead_letter:detect_cycles/3: only rejected messages may come back.
            destinations = tuple(d for d in destinations if d.address != origin)
            notes = (f"a dead letter that died {message.reason} is not delivered back to {name!r} (cycle)",)
        return Route(message, destinations, notes)

    # -- what the plan compares ------------------------------------------------------------------

    def publishable(self) -> set[tuple[str, str]]:
        """Exchanges a client can publish to, of a type topoctl can route (the default one aside)."""
        return {key for key, x in self.exchanges.items() if not x.internal and x.type in TYPES}

    def reach(self, vhost: str, start: tuple[str, str]) -> set[tuple[str, str]]:
        """(kind, name) of everything a message from `start` could pass, whatever its key."""
        out = {start}
        todo = [start]
        while todo:
            kind, name = todo.pop()
            if kind != EXCHANGE:
                continue
            exchange = self.exchanges.get((vhost, name))
            if exchange is None:
                continue
            nexts = [
                (EXCHANGE if b.destination_type == "exchange" else QUEUE, b.destination) for b in exchange.bindings
            ]
            alternate = self.alternate(vhost, name)
            if alternate is not None:
                nexts.append((EXCHANGE, alternate))
            for item in nexts:
                if item not in out:
                    out.add(item)
                    todo.append(item)
        return out


# -- the router ----------------------------------------------------------------------------------


def _concrete(pattern: str) -> list[str]:
    """Keys that exercise a topic binding key: `*` as one word, `#` as none and as one."""
    parts = words(pattern)
    hashes = [i for i, w in enumerate(parts) if w == "#"]
    choices: Iterable[tuple[int, ...]] = (
        product((0, 1), repeat=len(hashes)) if len(hashes) <= 2 else [(0,) * len(hashes), (1,) * len(hashes)]
    )
    out = []
    for choice in choices:
        length = dict(zip(hashes, choice, strict=True))
        key: list[str] = []
        for i, w in enumerate(parts):
            if w == "#":
                key += [WORD] * length[i]
            else:
                key.append(WORD if w == "*" else w)
        out.append(".".join(key))
    return out


def _header_sets(arguments: Mapping[str, JSON]) -> list[dict[str, JSON]]:
    mode = arguments.get("x-match")
    with_x = isinstance(mode, str) and mode.endswith("-with-x")
    wanted = {
        k: (WORD if v is None else v)
        for k, v in arguments.items()
        if k != "x-match" and (with_x or not k.startswith("x-"))
    }
    sets = [wanted] if wanted else []
    if isinstance(mode, str) and mode.startswith("any") and len(wanted) > 1:
        sets += [{k: v} for k, v in wanted.items()]
    return sets


def _key_label(message: Message) -> str:
    label = message.key if message.key else '""'
    if message.headers:
        label += " [" + ", ".join(f"{k}={_short(v)}" for k, v in sorted(message.headers.items())) + "]"
    return label


def _short(value: JSON) -> str:
    return value if isinstance(value, str) else json.dumps(value, sort_keys=True)


class RabbitRouter:
    def topology(self, broker: str, resources: Sequence[Resource]) -> RabbitTopology:
        return RabbitTopology(broker, resources)

    def message(self, broker: str, request: Request) -> Message:
        for option, value in (("--subject", request.subject), ("--body", request.body)):
            if value is not None:
                raise RouteError(f"{option} is not for a RabbitMQ broker (use --routing-key and --header)")
        if request.attributes:
            raise RouteError("--attribute is for SNS topics; a RabbitMQ message has --header NAME=VALUE")
        headers = parse_pairs(request.headers, "--header")
        for reserved in ("CC", "BCC"):
            if reserved in headers:
                raise RouteError(f"--header {reserved}: sender-selected distribution is not modelled by topoctl route")
        key = request.routing_key or ""
        if len(key.encode()) > MAX_KEY_BYTES:
            raise RouteError(f"--routing-key is longer than {MAX_KEY_BYTES} bytes, which AMQP refuses")
        reason = request.reason or "rejected"
        if reason not in REASONS:
            raise RouteError(f"--reason {reason}: one of {', '.join(REASONS)}")
        if request.dead_letter_of is not None:
            if request.source is not None:
                raise RouteError("give --from or --dead-letter-of, not both")
            queue = _address(request.dead_letter_of, "--dead-letter-of", QUEUE, broker)
            return Message(broker, queue, key, headers, dead_letter=True, reason=reason)
        if request.reason is not None:
            raise RouteError("--reason goes with --dead-letter-of")
        if request.source is None:
            raise RouteError("--from <broker>/exchange/<vhost>/<exchange> is needed (or --dead-letter-of a queue)")
        return Message(broker, _address(request.source, "--from", EXCHANGE, broker), key, headers)

    def relevant(self, change: Change, live: Collection[Address]) -> bool:
        if change.kind == QUEUE:
            return change.action is not Action.CREATE  # a new queue gets messages only through new bindings
        if change.kind == POLICY:
            sides = (change.before or {}, change.after or {})
            return any(ROUTING_KEYS & set(_mapping(side.get("definition"))) for side in sides)
        if change.kind == VHOST:
            return change.action is Action.DELETE
        return change.kind in (EXCHANGE, BINDING)

    def label(self, message: Message) -> str:
        return _key_label(message)

    def probes(self, before: RabbitTopology, after: RabbitTopology, changes: Sequence[Change]) -> Iterator[Message]:
        focus = _touched(before, after, changes)
        touched = focus.touched
        publishable = before.publishable() & after.publishable()
        for vhost in sorted({vhost for vhost, _, _ in touched}):
            mine = {(kind, name) for v, kind, name in touched if v == vhost}
            entries = sorted(name for v, name in publishable if v == vhost)
            for name in entries:
                start = (EXCHANGE, name)
                reach_b, reach_a = before.reach(vhost, start), after.reach(vhost, start)
                if not (reach_b | reach_a) & mine:
                    continue
                source = exchange_address(before.broker, vhost, name)
                for key, headers in _keys(vhost, ((before, reach_b), (after, reach_a)), focus):
                    yield Message(before.broker, source, key, headers)
            for queue in sorted(q for v, q in before.queues.keys() & after.queues.keys() if v == vhost):
                if before.may_dead_letter(vhost, queue) or after.may_dead_letter(vhost, queue):
                    yield from _dead_letter_probes(before, after, vhost, queue, mine)


def _address(text: str, option: str, kind: str, broker: str) -> Address:
    try:
        address = Address.parse(text)
    except ValueError as exc:
        raise RouteError(f"{option} {text}: {exc}") from None
    if address.kind != kind or len(address.name) != 2:
        example = f"{broker}/{kind}/<vhost>/<name>"
        raise RouteError(f"{option} {text}: expected {'an' if kind == EXCHANGE else 'a'} {kind} address, {example}")
    return address


@dataclass
class _Focus:
    """What the changes touch: exchanges and queues whose routing they can alter (`touched`), and,
    for exchanges with very many bindings, which bindings are worth deriving keys from."""

    touched: set[tuple[str, str, str]] = field(default_factory=set)  # (vhost, kind, name)
    objects: set[tuple[str, str, str]] = field(default_factory=set)  # changed themselves
    bindings: set[tuple[str, str, str, str, str]] = field(default_factory=set)  # vhost, source, type, dest, key

    def wants(self, vhost: str, source: str, b: _Binding) -> bool:
        kind = EXCHANGE if b.destination_type == "exchange" else QUEUE
        return (
            (vhost, source, b.destination_type, b.destination, b.key) in self.bindings
            or (vhost, EXCHANGE, source) in self.objects
            or (vhost, kind, b.destination) in self.objects
        )


def _touched(before: RabbitTopology, after: RabbitTopology, changes: Sequence[Change]) -> _Focus:
    focus = _Focus()
    out = focus.touched
    policy_vhosts: set[str] = set()
    for change in changes:
        vhost = change.address.name[0]
        if change.kind in (EXCHANGE, QUEUE):
            out.add((vhost, change.kind, change.address.name[1]))
            focus.objects.add((vhost, change.kind, change.address.name[1]))
        elif change.kind == BINDING:
            for side in (change.before, change.after):
                if side:
                    source, destination = str(side.get("source")), str(side.get("destination"))
                    kind = EXCHANGE if side.get("destination_type") == "exchange" else QUEUE
                    out |= {(vhost, EXCHANGE, source), (vhost, kind, destination)}
                    key = side.get("routing_key")
                    focus.bindings.add((vhost, source, kind, destination, key if isinstance(key, str) else ""))
        elif change.kind == POLICY:
            policy_vhosts.add(vhost)
        elif change.kind == VHOST:
            out |= {(vhost, EXCHANGE, n) for v, n in before.exchanges if v == vhost}
    for vhost in policy_vhosts:
        for v, name in before.exchanges.keys() | after.exchanges.keys():
            if v == vhost and before.alternate(v, name) != after.alternate(v, name):
                out.add((v, EXCHANGE, name))
                focus.objects.add((v, EXCHANGE, name))
        for v, name in before.queues.keys() | after.queues.keys():
            if v == vhost and before.dead_letter(v, name) != after.dead_letter(v, name):
                out.add((v, QUEUE, name))
                focus.objects.add((v, QUEUE, name))
    return focus


def _keys(
    vhost: str, sides: Iterable[tuple[RabbitTopology, set[tuple[str, str]]]], focus: _Focus | None = None
) -> list[tuple[str, dict[str, JSON]]]:
    """Representative (routing key, headers) for what the exchanges in reach bind on, both sides.

    Every binding in reach gives keys, so a reader sees each existing key a new binding also takes.
    Beyond FOCUS_ABOVE bindings only the changed ones (and those of changed exchanges and queues) do:
    a key of an untouched binding then shows only through one derived from a changed binding."""
    exchanges = [
        (name, exchange)
        for topology, reach in sides
        for kind, name in sorted(reach)
        if kind == EXCHANGE and (exchange := topology.exchanges.get((vhost, name))) is not None
    ]
    narrow = focus is not None and sum(len(x.bindings) for _, x in exchanges) > FOCUS_ABOVE
    # The changed bindings first: when there are more keys than MAX_PROBES, theirs are kept.
    ordered = [(name, x, b) for name, x in exchanges for b in x.bindings]
    if focus is not None:
        wanted = [focus.wants(vhost, name, b) for name, _, b in ordered]
        first = [t for t, w in zip(ordered, wanted, strict=True) if w]
        ordered = first if narrow else first + [t for t, w in zip(ordered, wanted, strict=True) if not w]
    keys: dict[str, None] = {"": None}
    header_sets: dict[str, dict[str, JSON]] = {}
    for _, exchange, b in ordered:
        if exchange.type == "direct":
            keys[b.key] = None
        elif exchange.type == "topic":
            keys.update(dict.fromkeys(_concrete(b.key)))
        elif exchange.type == "headers":
            for h in _header_sets(b.arguments):
                header_sets[json.dumps(h, sort_keys=True, default=str)] = h
    heads = list(header_sets.values())[: MAX_PROBES // 2]
    out: list[tuple[str, dict[str, JSON]]] = [(k, {}) for k in list(keys)[: MAX_PROBES - len(heads)]]
    out += [("", h) for h in heads]
    if len(keys) * len(heads) <= MAX_PROBES // 4:  # a key and headers both matter past a topic exchange
        out += [(k, h) for h in heads for k in keys if k]
    return out


def _dead_letter_probes(
    before: RabbitTopology, after: RabbitTopology, vhost: str, queue: str, touched: set[tuple[str, str]]
) -> Iterator[Message]:
    settings = (before.dead_letter(vhost, queue), after.dead_letter(vhost, queue))
    if all(exchange is None for exchange, _ in settings):
        return
    sides = []
    reach: set[tuple[str, str]] = {(QUEUE, queue)}
    for topology, (exchange, _) in zip((before, after), settings, strict=True):
        here = topology.reach(vhost, (EXCHANGE, exchange)) if exchange else set()
        if exchange == "":  # the default exchange: the touched queues are the keys worth trying
            here = {t for t in touched if t[0] == QUEUE}
        sides.append((topology, here))
        reach |= here | ({(EXCHANGE, exchange)} if exchange else set())
    if settings[0] == settings[1] and not reach & touched:
        return
    source = queue_address(before.broker, vhost, queue)
    if all(exchange is None or key is not None for exchange, key in settings):
        # The message's own key matters on neither side (no dead-lettering, or a fixed key).
        yield Message(before.broker, source, "", {}, dead_letter=True)
        return
    probes = _keys(vhost, sides)
    if any(exchange == "" for exchange, _ in settings):
        probes += [(name, {}) for kind, name in sorted(reach) if kind == QUEUE]
    for key, headers in probes:
        yield Message(before.broker, source, key, headers, dead_letter=True)


ROUTER = RabbitRouter()
