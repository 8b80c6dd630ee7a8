"""Which policy applies to a queue or exchange, as RabbitMQ decides it, and the compile warnings
about policies that cannot all do what they say.

RabbitMQ applies at most one user policy to an object: among the policies of its vhost whose
`apply-to` covers the object's kind and whose pattern matches its name (`re:run`, a search, not a
full match), the one of highest priority. Policies do not add up, so two policies that match the
same object either shadow one another (different priorities) or are ambiguous (same priority).
Where a queue argument and its policy set the same thing, the argument wins for the dead-letter
exchange and routing key, and the smaller value wins for numeric limits.

Patterns are Erlang (PCRE) regular expressions; one that Python's `re` cannot read is left out of
these checks rather than guessed at. Whether the broker accepts a pattern at all is
`pattern_problem`'s question, answered by a real PCRE rather than by Python's `re`.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from itertools import combinations

from topoctl.model import JSON, Resource
from topoctl.providers.rabbitmq.kinds import EXCHANGE, POLICY, QUEUE
from topoctl.providers.rabbitmq.values import MAX_AGE_KEYS, max_age_seconds

APPLIES_TO = {"queues": frozenset({QUEUE}), "exchanges": frozenset({EXCHANGE}), "all": frozenset({QUEUE, EXCHANGE})}

# Queue argument -> the policy key that sets the same thing.
ARGUMENT_WINS = {
    "x-dead-letter-exchange": "dead-letter-exchange",
    "x-dead-letter-routing-key": "dead-letter-routing-key",
}
MINIMUM_WINS = {
    "x-message-ttl": "message-ttl",
    "x-expires": "expires",
    "x-max-length": "max-length",
    "x-max-length-bytes": "max-length-bytes",
    "x-delivery-limit": "delivery-limit",
    "x-max-age": "max-age",  # streams: compared by length (`1M` is 30 days)
}
_LISTED = 3  # object names shown in one warning before "and N more"

# PCRE2 compile options (pcre2.h) that the pcre2 package turns on for Python compatibility and that
# Erlang's `re` does not use: `\u0041` read as Python does, `\C` refused.
_PCRE2_ALT_BSUX = 0x00000002
_PCRE2_NEVER_BACKSLASH_C = 0x00100000


@dataclass(frozen=True)
class Policy:
    resource: Resource
    regex: re.Pattern[str] | None  # None: a pattern Python cannot read

    @property
    def name(self) -> str:
        return self.resource.address.name[-1]

    @property
    def vhost(self) -> str:
        return self.resource.address.name[0]

    @property
    def priority(self) -> int:
        value = self.resource.attrs.get("priority", 0)
        return value if isinstance(value, int) and not isinstance(value, bool) else 0

    @property
    def kinds(self) -> frozenset[str]:
        return APPLIES_TO.get(str(self.resource.attrs.get("apply_to", "all")), frozenset())

    @property
    def definition(self) -> dict[str, JSON]:
        definition = self.resource.attrs.get("definition")
        return dict(definition) if isinstance(definition, Mapping) else {}

    def matches(self, kind: str, name: str) -> bool:
        return self.regex is not None and kind in self.kinds and self.regex.search(name) is not None

    def may_match(self, kind: str, name: str) -> bool:
        """`matches`, or cannot tell (a pattern Python cannot read)."""
        return kind in self.kinds and (self.regex is None or self.regex.search(name) is not None)


def pattern_problem(pattern: str) -> str | None:
    r"""Why RabbitMQ would refuse `pattern` (`re:compile/1` fails, HTTP 400), or None.

    RabbitMQ compiles a policy pattern with Erlang's `re`, which is PCRE: the pattern's UTF-8 bytes,
    in PCRE's 8-bit non-UTF mode (no `unicode` option). Python's `re` is a poor stand-in: it refuses
    `\z`, `\Q..\E`, `\p{L}`, `(?<name>..)`, `\x{41}`, which RabbitMQ takes, and takes `\u0041`,
    `a{70000}`, `[[:foo:]]`, which RabbitMQ refuses. So the pattern is compiled by PCRE2 itself, with
    the options Erlang uses. PCRE2 is what Erlang/OTP 28 bundles; the PCRE 8.45 of older Erlangs
    differs on a few archaic forms (a literal `\8`, a `{,2}` with nothing before it, `\x` with no
    digits: refused here, write `8`, `\{,2}`, `\x00`) and refuses a few that PCRE2 10.43+ takes (a
    lookbehind of variable length such as `(?<=a{1,2})`): those still fail at apply on such a broker.
    `\C` (one byte) is taken unchecked: the pcre2 package's library is built without it.
    tests/integration/test_refused_at_validate.py checks this against the real broker.
    """
    from pcre2 import _cy  # a C extension: imported when a policy is compiled, not for --help

    data = pattern.encode("utf-8", "surrogatepass")  # YAML's "\ud800" is a lone surrogate
    try:
        _cy.compile(data, 0, _PCRE2_ALT_BSUX | _PCRE2_NEVER_BACKSLASH_C)
    except _cy.PatternError as exc:
        reason = str(getattr(exc, "msg", "") or exc).split("; ")[-1]
        if "\\C is disabled" in reason:
            return None  # the library's build, not PCRE's syntax: Erlang takes `\C`
        position = len(data[: int(getattr(exc, "pos", 0) or 0)].decode("utf-8", "ignore"))
        return f"{reason} (at character {position})"
    return None


def policies_of(resources: Iterable[Resource], kind: str = POLICY) -> list[Policy]:
    """The present policies (or operator policies: `kind`) among `resources`, in their order."""
    out = []
    for r in resources:
        if r.kind != kind or r.absent:
            continue
        try:
            regex: re.Pattern[str] | None = re.compile(str(r.attrs.get("pattern", "")))
        except re.error:
            regex = None
        out.append(Policy(r, regex))
    return out


def born_with_policies(resources: Sequence[Resource]) -> list[Resource]:
    """`resources` with every present queue and exchange depending on the policies of its vhost
    that match it, so apply creates (or updates) those policies first.

    RabbitMQ 3.10 races when a policy and an object it matches are created at the same time: the
    policy's sweep over existing objects can miss the object, whose declaration did not see the
    policy yet, and the policy then never applies to it (nothing in the plan shows it). A queue
    declared after the policy picks it up.
    """
    policies = policies_of(resources)
    if not policies:
        return list(resources)
    out = []
    for r in resources:
        if r.kind in (QUEUE, EXCHANGE) and not r.absent:
            vhost, name = r.address.name
            extra = tuple(p.resource.address for p in policies if p.vhost == vhost and p.may_match(r.kind, name))
            if extra:
                r = replace(r, depends_on=r.depends_on + extra)
        out.append(r)
    return out


def applying(policies: Sequence[Policy], kind: str, vhost: str, name: str) -> Policy | None:
    """The policy RabbitMQ applies to object `name` of `kind` (on a tie: the first declared)."""
    best: Policy | None = None
    for p in policies:
        if p.vhost == vhost and p.matches(kind, name) and (best is None or p.priority > best.priority):
            best = p
    return best


def warnings(resources: Sequence[Resource]) -> list[str]:
    """Overlapping policies and queue arguments that a policy also sets, each with file:line."""
    policies = policies_of(resources)
    if not policies:
        return []
    objects: dict[str, list[Resource]] = defaultdict(list)  # vhost -> its present queues, exchanges
    for r in resources:
        if r.kind in (QUEUE, EXCHANGE) and not r.absent:
            objects[r.address.name[0]].append(r)
    out: list[str] = []
    for vhost in dict.fromkeys(p.vhost for p in policies):
        mine = [p for p in policies if p.vhost == vhost]
        names = sorted((o.kind, o.address.name[1]) for o in objects[vhost])
        matched = {p.name: {o for o in names if p.matches(*o)} for p in mine}
        for a, b in combinations(mine, 2):
            common = sorted(matched[a.name] & matched[b.name])
            if common:
                out.append(_overlap(a, b, common))
        out += _argument_overlaps([o for o in objects[vhost] if o.kind == QUEUE], mine)
    return out


def _overlap(a: Policy, b: Policy, common: list[tuple[str, str]]) -> str:
    what = _objects(common)
    if a.priority == b.priority:
        return (
            f"{_at(b.resource)}policies {a.name!r} and {b.name!r} in vhost {a.vhost!r} both match {what} at the same"
            f" priority ({a.priority}): RabbitMQ applies only one of them, and which one is not defined;"
            f" give one a higher priority (policy {a.name!r} is at {a.resource.source})"
        )
    low, high = sorted((a, b), key=lambda p: p.priority)
    return (
        f"{_at(low.resource)}policy {low.name!r} (priority {low.priority}) in vhost {low.vhost!r} does not apply to"
        f" {what}: policy {high.name!r} (priority {high.priority}, at {high.resource.source}) matches too, and"
        " only the highest-priority policy applies (policies do not add up)"
    )


def _argument_overlaps(queues: Sequence[Resource], policies: Sequence[Policy]) -> list[str]:
    """One warning per (policy, argument), naming the queues concerned and located at the first."""
    found: dict[tuple[str, str], list[tuple[Resource, JSON, JSON]]] = defaultdict(list)
    applied: dict[str, Policy] = {}
    for queue in queues:
        vhost, name = queue.address.name
        policy = applying(policies, QUEUE, vhost, name)
        arguments = queue.attrs.get("arguments")
        if policy is None or not isinstance(arguments, Mapping):
            continue
        applied[policy.name] = policy
        definition = policy.definition
        for argument, key in (*ARGUMENT_WINS.items(), *MINIMUM_WINS.items()):
            mine, theirs = arguments.get(argument), definition.get(key)
            if argument not in arguments or key not in definition or mine == theirs:
                continue
            if argument in MINIMUM_WINS and (_length(argument, mine) is None or _length(key, theirs) is None):
                continue
            found[(policy.name, argument)].append((queue, mine, theirs))
    out = []
    for (policy_name, argument), hits in found.items():
        policy = applied[policy_name]
        key = ARGUMENT_WINS.get(argument) or MINIMUM_WINS[argument]
        first, mine, theirs = hits[0]
        vhost = first.address.name[0]
        if len(hits) == 1:
            who = f"queue {first.address.name[1]!r} in vhost {vhost!r} sets {argument} ({mine!r})"
            sets = f"sets {key} ({theirs!r})"
        else:
            listed = _objects([(QUEUE, q.address.name[1]) for q, _, _ in hits])
            who = f"{listed} in vhost {vhost!r} set {argument}"
            sets = f"sets {key} ({theirs!r}) too"
        if argument in ARGUMENT_WINS:
            outcome = "the queue's argument wins, the policy's value does not apply"
        elif len(hits) == 1:
            ours = _length(argument, mine) or 0  # both are lengths: checked when found
            smaller = "the queue's argument" if ours < (_length(key, theirs) or 0) else f"policy {policy_name!r}"
            outcome = f"the smaller value applies, so {smaller} decides"
        else:
            outcome = "the smaller of the two values applies to each queue"
        out.append(f"{_at(first)}{who} and policy {policy_name!r} {sets}: {outcome}")
    return out


def _length(key: str, value: JSON) -> int | None:
    """A numeric limit as a number to compare (a max-age in seconds), or None if it is not one."""
    if key in MAX_AGE_KEYS:
        try:
            return max_age_seconds(value)
        except ValueError:
            return None
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _objects(found: list[tuple[str, str]]) -> str:
    shown = ", ".join(f"{kind} {name!r}" for kind, name in found[:_LISTED])
    return shown + (f" and {len(found) - _LISTED} more" if len(found) > _LISTED else "")


def _at(resource: Resource) -> str:
    return f"{resource.source}: " if resource.source else ""
