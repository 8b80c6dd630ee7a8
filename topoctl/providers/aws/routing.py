"""Where an SNS message goes: the subscriptions of its topic whose filter policy accepts it, and the
SQS queues behind them, as Amazon SNS documents subscription filter policies.

A policy with no keys (or none at all) accepts everything. Otherwise every key must be satisfied
(AND); a key's list of conditions is satisfied by any of them (OR); `$or` takes alternative
sub-policies. With `filter_policy_scope: MessageAttributes` (the default) keys name message
attributes: a String is one string, a Number one number, a String.Array each of its elements
(Binary attributes are ignored). With `MessageBody` the policy mirrors the JSON body: nested keys are
nested objects, arrays are matched element by element, a body that is not a JSON object matches
nothing.

Conditions: a string (exact, case-sensitive, strings only), a number (numbers only, 5 decimal
digits), `true`/`false`/`null` (body values), `prefix`, `suffix`, `equals-ignore-case`,
`anything-but` (a value or a list, or `{prefix|suffix|equals-ignore-case: ...}`; the property must
exist, and no element of an array may be listed), `numeric` (`=`, `<`, `<=`, `>`, `>=`, up to two
comparisons), `exists` (`false` matches only a missing property) and `cidr` (IPv4 or IPv6 source
strings). A subscription waiting for confirmation receives nothing.
"""

from __future__ import annotations

import ipaddress
import json
import operator
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass

from topoctl.errors import RouteError
from topoctl.model import JSON, Action, Address, Change, Resource
from topoctl.providers.aws.arns import ACCOUNT
from topoctl.providers.aws.kinds import PENDING, SNS_SUBSCRIPTION, SNS_TOPIC, SQS_QUEUE
from topoctl.routing.model import SUBSCRIPTION, Destination, Hop, Message, Request, Route
from topoctl.routing.values import parse_pairs

MESSAGE_BODY = "MessageBody"
WORD = "x"  # a value that only `exists: true` or `anything-but` asks for
_ABSENT = object()
_NUMERIC = {"=": operator.eq, "<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge}


# -- matching ------------------------------------------------------------------------------------


def _number(v: object) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _fixed(v: float) -> int:
    """SNS compares numbers to 5 digits after the decimal point."""
    return round(float(v) * 100_000)


def accepts(policy: JSON, scope: JSON, attributes: Mapping[str, JSON], body: str | None) -> bool:
    """Whether a subscription with `policy` (parsed) and `scope` receives the message."""
    if policy is None or policy == {}:
        return True
    if not isinstance(policy, Mapping):
        return False  # not a policy SNS would have accepted
    if scope == MESSAGE_BODY:
        try:
            document = json.loads(body) if body is not None else None
        except ValueError:
            return False
        return isinstance(document, dict) and _policy(policy, document, True)
    values = {name: _attribute_values(value) for name, value in attributes.items()}
    return _policy(policy, values, False)


def _attribute_values(value: JSON) -> list[JSON]:
    return list(value) if isinstance(value, list) else [value]


def _policy(policy: Mapping[str, JSON], found: Mapping[str, JSON], body: bool) -> bool:
    for key, condition in policy.items():
        if key == "$or":
            ok = isinstance(condition, list) and any(
                _policy(p, found, body) for p in condition if isinstance(p, Mapping)
            )
        elif isinstance(condition, Mapping):  # a nested property of the body
            value = found.get(key) if body else None
            if isinstance(value, Mapping):
                ok = _policy(condition, value, body)
            elif isinstance(value, list) and any(isinstance(v, Mapping) for v in value):
                ok = any(_policy(condition, v, body) for v in value if isinstance(v, Mapping))
            else:
                ok = _policy(condition, {}, body)
        elif isinstance(condition, list):
            ok = _conditions(condition, _leaf(found, key, body))
        else:
            ok = False
        if not ok:
            return False
    return True


def _leaf(found: Mapping[str, JSON], key: str, body: bool) -> list[JSON] | None:
    """The values of a property, None when it is missing. An empty array (or, in a body, an
    object where a value was expected) is there without a value: only `exists: true` matches it."""
    if key not in found:
        return None
    value = found[key]
    if not body:
        return list(value) if isinstance(value, list) else [value]
    if isinstance(value, Mapping):
        return []
    if isinstance(value, list):
        return list(_flatten(value))
    return [value]


def _flatten(values: list[JSON]) -> Iterator[JSON]:
    for v in values:
        if isinstance(v, list):
            yield from _flatten(v)
        elif not isinstance(v, Mapping):
            yield v


def _conditions(conditions: list[JSON], values: list[JSON] | None) -> bool:
    if values is None:
        return any(c == {"exists": False} for c in conditions)
    return any(_condition(c, values) for c in conditions)


def _same(a: JSON, b: JSON) -> bool:
    if _number(a) and _number(b):
        return _fixed(a) == _fixed(b)
    if isinstance(a, bool) or isinstance(b, bool) or a is None or b is None:
        return a is b
    return isinstance(a, str) and isinstance(b, str) and a == b


def _condition(c: JSON, values: list[JSON]) -> bool:
    if not isinstance(c, Mapping):
        return any(_same(c, v) for v in values)
    if len(c) != 1:
        return False
    ((op, arg),) = c.items()
    strings = [v for v in values if isinstance(v, str)]
    if op in ("prefix", "suffix", "equals-ignore-case"):
        test = _string_test(op, arg)
        return test is not None and any(test(v) for v in strings)
    if op == "anything-but":
        banned = _banned(arg)
        return banned is not None and not any(banned(v) for v in values)
    if op == "numeric":
        return isinstance(arg, list) and any(_numeric(arg, v) for v in values if _number(v))
    if op == "exists":
        return arg is True
    if op == "cidr":
        return isinstance(arg, str) and any(_in_network(arg, v) for v in strings)
    return False


def _string_test(op: str, arg: JSON) -> Callable[[str], bool] | None:
    fold = False
    if isinstance(arg, Mapping) and list(arg) == ["equals-ignore-case"] and op != "equals-ignore-case":
        arg, fold = arg["equals-ignore-case"], True  # {"prefix": {"equals-ignore-case": "ab"}}
    if not isinstance(arg, str):
        return None
    if op == "equals-ignore-case":
        return lambda v: v.lower() == arg.lower()
    want = arg.lower() if fold else arg
    if op == "prefix":
        return lambda v: (v.lower() if fold else v).startswith(want)
    return lambda v: (v.lower() if fold else v).endswith(want)


def _banned(arg: JSON) -> Callable[[JSON], bool] | None:
    if isinstance(arg, Mapping):
        if len(arg) != 1:
            return None
        ((op, inner),) = arg.items()
        if op == "equals-ignore-case" and isinstance(inner, list):
            folded = {x.lower() for x in inner if isinstance(x, str)}
            return lambda v: isinstance(v, str) and v.lower() in folded
        test = _string_test(op, inner)
        return None if test is None else (lambda v: isinstance(v, str) and test(v))
    listed = arg if isinstance(arg, list) else [arg]
    return lambda v: any(_same(x, v) for x in listed)


def _numeric(arg: list[JSON], value: JSON) -> bool:
    if len(arg) % 2 or not arg:
        return False
    for op, bound in zip(arg[0::2], arg[1::2], strict=True):
        compare = _NUMERIC.get(op) if isinstance(op, str) else None
        if compare is None or not _number(bound) or not compare(_fixed(value), _fixed(bound)):
            return False
    return True


def _in_network(cidr: str, value: str) -> bool:
    try:
        return ipaddress.ip_address(value) in ipaddress.ip_network(cidr, strict=False)
    except ValueError:
        return False


# -- the topology --------------------------------------------------------------------------------


def queue_name(endpoint: str) -> str | None:
    """The queue of this broker an SQS subscription delivers to: a name, or an ARN of our own
    account as the compiler writes it (`arn:aws:sqs:<region>:{account}:<name>`)."""
    if not endpoint.startswith("arn:"):
        return endpoint
    parts = endpoint.split(":")
    return parts[5] if len(parts) == 6 and parts[2] == "sqs" and parts[4] == ACCOUNT else None


@dataclass(frozen=True)
class _Subscription:
    address: Address
    policy: JSON
    scope: JSON
    queue: Address | None  # the queue of this broker it delivers to


class SnsTopology:
    def __init__(self, broker: str, resources: Sequence[Resource]) -> None:
        self.broker = broker
        present = [r for r in resources if r.broker == broker and not r.absent]
        self.topics = {r.address.name[0] for r in present if r.kind == SNS_TOPIC}
        self.queues = {r.address.name[0] for r in present if r.kind == SQS_QUEUE}
        self.subscriptions: dict[str, list[_Subscription]] = {}
        for r in sorted((r for r in present if r.kind == SNS_SUBSCRIPTION), key=lambda r: r.address):
            topic, protocol, endpoint = r.address.name
            if topic not in self.topics or r.info.get(PENDING):
                continue  # a pending subscription receives nothing until its endpoint confirms
            name = queue_name(endpoint) if protocol == "sqs" else None
            queue = Address(broker, SQS_QUEUE, (name,)) if name is not None and name in self.queues else None
            policy = r.attrs.get("filter_policy")
            self.subscriptions.setdefault(topic, []).append(
                _Subscription(r.address, policy, r.attrs.get("filter_policy_scope"), queue)
            )

    def route(self, message: Message) -> Route:
        source = message.source
        if source is None or source.kind != SNS_TOPIC or len(source.name) != 1:
            raise RouteError("an SNS message is published to a topic: --from <broker>/sns_topic/<name>")
        topic = source.name[0]
        if topic not in self.topics:
            raise RouteError(f"{source}: no SNS topic {topic!r} on broker {self.broker!r}")
        out = []
        for s in self.subscriptions.get(topic, []):
            if accepts(s.policy, s.scope, message.headers, message.body):
                path = (Hop(source), Hop(s.address, SUBSCRIPTION))
                if s.queue is not None:
                    out.append(Destination(s.queue, (*path, Hop(s.queue))))
                else:
                    out.append(Destination(s.address, path))
        return Route(message, tuple(out))


# -- representative messages ---------------------------------------------------------------------


def examples(policy: JSON, body: bool) -> list[dict[str, JSON]]:
    """Attribute sets (or bodies) that exercise each condition of `policy`: one that satisfies every
    key with its first condition, and one per other condition of each key."""
    if not isinstance(policy, Mapping) or not policy:
        return [{}]
    options: list[list[dict[str, JSON]]] = []
    for key, condition in policy.items():
        if key == "$or" and isinstance(condition, list):
            found = [e for p in condition for e in examples(p, body)]
        elif isinstance(condition, Mapping):
            found = [{key: e} for e in examples(condition, body)]
        elif isinstance(condition, list):
            found = [{} if v is _ABSENT else {key: v} for c in condition for v in _values(c)]
        else:
            found = []
        options.append(found or [{}])
    base: dict[str, JSON] = {}
    for found in options:
        base = _merge(base, found[0])
    out = [base]
    for i, found in enumerate(options):
        for alternative in found[1:]:
            rest: dict[str, JSON] = {}
            for j, other in enumerate(options):
                rest = _merge(rest, alternative if j == i else other[0])
            out.append(rest)
    return out


def _merge(a: dict[str, JSON], b: Mapping[str, JSON]) -> dict[str, JSON]:
    out = dict(a)
    for key, value in b.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = _merge(dict(out[key]), value)
        else:
            out[key] = value
    return out


def _values(c: JSON) -> list[object]:
    """Values that exercise one condition: ones it accepts, and for `anything-but` ones it refuses."""
    if not isinstance(c, Mapping):
        return [c]
    if len(c) != 1:
        return []
    ((op, arg),) = c.items()
    if isinstance(arg, Mapping) and len(arg) == 1:  # {"prefix": {"equals-ignore-case": "ab"}}
        arg = next(iter(arg.values()))
    if op in ("prefix", "suffix", "equals-ignore-case"):
        return [arg] if isinstance(arg, str) else []
    if op == "anything-but":
        listed = arg if isinstance(arg, list) else [arg]
        numbers = [x for x in listed if _number(x)]
        other: JSON = max(numbers) + 1 if numbers and len(numbers) == len(listed) else "other"
        return [*listed, other]
    if op == "numeric" and isinstance(arg, list):
        bounds = [b for b in arg[1::2] if _number(b)]
        return list(dict.fromkeys(v for b in bounds for v in (b - 1, b, b + 1)))
    if op == "exists":
        return [WORD] if arg is True else [_ABSENT]
    if op == "cidr" and isinstance(arg, str):
        try:
            return [str(ipaddress.ip_network(arg, strict=False).network_address)]
        except ValueError:
            return []
    return []


def _label(message: Message) -> str:
    parts = [f"{k}={_text(v)}" for k, v in sorted(message.headers.items())]
    if message.body is not None:
        parts.append(f"body {message.body}")
    return ", ".join(parts) or "(no attributes)"


def _text(value: JSON) -> str:
    return value if isinstance(value, str) else json.dumps(value, sort_keys=True)


class SnsRouter:
    def topology(self, broker: str, resources: Sequence[Resource]) -> SnsTopology:
        return SnsTopology(broker, resources)

    def message(self, broker: str, request: Request) -> Message:
        for option, value in (
            ("--routing-key", request.routing_key),
            ("--subject", request.subject),
            ("--dead-letter-of", request.dead_letter_of),
            ("--reason", request.reason),
        ):
            if value is not None:
                raise RouteError(f"{option} is not for an SNS topic (use --attribute NAME=VALUE and --body)")
        if request.headers:
            raise RouteError("--header is for RabbitMQ; an SNS message has --attribute NAME=VALUE")
        attributes = parse_pairs(request.attributes, "--attribute")
        for name, value in attributes.items():
            if isinstance(value, (bool, dict)) or value is None:
                raise RouteError(
                    f"--attribute {name}: an SNS attribute is a String (NAME=VALUE), a Number (NAME:=5)"
                    ' or a String.Array (NAME:=["a","b"])'
                )
        if request.source is None:
            raise RouteError("--from <broker>/sns_topic/<name> is needed")
        try:
            source = Address.parse(request.source)
        except ValueError as exc:
            raise RouteError(f"--from {request.source}: {exc}") from None
        if source.kind != SNS_TOPIC or len(source.name) != 1:
            raise RouteError(f"--from {request.source}: expected an SNS topic, {broker}/sns_topic/<name>")
        return Message(broker, source, headers=attributes, body=request.body)

    def relevant(self, change: Change, live: Collection[Address]) -> bool:
        if change.kind == SNS_SUBSCRIPTION:
            return True
        return change.kind in (SNS_TOPIC, SQS_QUEUE) and change.action is not Action.CREATE

    def label(self, message: Message) -> str:
        return _label(message)

    def probes(self, before: SnsTopology, after: SnsTopology, changes: Sequence[Change]) -> Iterator[Message]:
        touched: set[str] = set()
        for change in changes:
            if change.kind in (SNS_SUBSCRIPTION, SNS_TOPIC):
                touched.add(change.address.name[0])
            elif change.kind == SQS_QUEUE:
                queue = Address(change.broker, SQS_QUEUE, change.address.name)
                touched |= {
                    topic
                    for topology in (before, after)
                    for topic, subscriptions in topology.subscriptions.items()
                    if any(s.queue == queue for s in subscriptions)
                }
        for topic in sorted(touched & before.topics & after.topics):
            source = Address(before.broker, SNS_TOPIC, (topic,))
            yield Message(before.broker, source)
            for topology in (before, after):
                for s in topology.subscriptions.get(topic, []):
                    body = s.scope == MESSAGE_BODY
                    for example in examples(s.policy, body):
                        if body:
                            yield Message(before.broker, source, body=json.dumps(example, sort_keys=True))
                        else:
                            yield Message(before.broker, source, headers=example)


ROUTER = SnsRouter()
