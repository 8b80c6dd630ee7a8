"""Live I/O against one Azure Service Bus namespace, through the SDK's ServiceBusAdministrationClient.

Round trips: one `$namespaceinfo` (the SKU decides two reporting traps, see values.py), one paged
listing of queues and one of topics (100 per page) with their runtime counts beside them, then,
concurrently, the subscriptions of each topic that matters and the rules of each subscription.

Updates are get -> change -> update of the whole entity, as the service replaces the description it
is sent: only declared fields change, every other setting is sent back as the service reported it,
except the two values it reports but refuses (a partitioned entity's 16-fold size, and the message
size limit of a non-Premium namespace).

The SDK (azure-servicebus, azure-identity for `namespace:`) is imported here, lazily. For the
official emulator (`UseDevelopmentEmulator=true`) the administration client still builds
`https://` URLs (azure-servicebus 7.x passes `use_tls` only to its AMQP clients), so a transport
that sends them as plain HTTP is plugged in, as the emulator serves its management API on HTTP.
"""

from __future__ import annotations

import contextlib
import html
import re
import threading
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from typing import Any, ClassVar, TypeVar

from topoctl.errors import BrokerError, PartlyApplied, PlanError
from topoctl.model import JSON, Action, Address, Change, Resource
from topoctl.providers.azure_servicebus import values as v
from topoctl.providers.azure_servicebus.compile import QUEUE_FIELDS, SUBSCRIPTION_FIELDS, TOPIC_FIELDS
from topoctl.providers.azure_servicebus.connection import Settings, safe_endpoint, settings
from topoctl.providers.azure_servicebus.kinds import (
    DEAD_LETTERS,
    DURATION_FIELDS,
    FORWARD_FIELDS,
    FORWARDED_FROM,
    MESSAGES,
    QUEUE,
    RULE,
    SUBSCRIPTION,
    SUBSCRIPTIONS,
    TOPIC,
)
from topoctl.providers.base import Driver, PruneScope

READ_WORKERS = 8
_DETAIL = re.compile(r"<Detail>(.*?)</Detail>", re.DOTALL)
RETRIES = 2
T = TypeVar("T")


def _plain_http_transport(**options: Any) -> Any:
    from azure.core.pipeline.transport import RequestsTransport

    class PlainHttpTransport(RequestsTransport):  # type: ignore[misc]
        """The emulator's management endpoint is HTTP; the SDK only writes https:// URLs."""

        def send(self, request: Any, **kwargs: Any) -> Any:
            if request.url.startswith("https://"):
                request.url = "http://" + request.url[len("https://") :]
            return super().send(request, **kwargs)

    return PlainHttpTransport(**options)


class ServiceBusDriver(Driver):
    type: ClassVar[str] = "azure_servicebus"

    def __init__(self, name: str, connection: Mapping[str, Any]) -> None:
        super().__init__(name, connection)
        self._endpoint = safe_endpoint(connection)
        self._settings: Settings | None = None
        self._local = threading.local()
        self._lock = threading.Lock()
        self._clients: list[Any] = []
        self._credential: Any = None
        self._sku = ""

    @property
    def endpoint(self) -> str:
        return self._endpoint

    # -- plumbing ---------------------------------------------------------------------------

    def _error(self, message: str) -> BrokerError:
        text = self._settings.scrub(message) if self._settings else message
        return BrokerError(self.name, self.endpoint, text)

    def _config(self) -> Settings:
        with self._lock:
            if self._settings is None:
                try:
                    self._settings = settings(self.connection)
                except ValueError as exc:
                    raise BrokerError(self.name, self.endpoint, f"bad connection settings: {exc}") from None
            return self._settings

    def _client(self) -> Any:
        """One administration client per thread (its requests session is not shared)."""
        client = getattr(self._local, "client", None)
        if client is not None:
            return client
        cfg = self._config()
        from azure.core.pipeline.transport import RequestsTransport
        from azure.servicebus.management import ServiceBusAdministrationClient

        timeouts = {"connection_timeout": cfg.timeout, "read_timeout": cfg.timeout}
        transport = _plain_http_transport(**timeouts) if cfg.emulator else RequestsTransport(**timeouts)
        try:
            if cfg.connection_string is not None:
                client = ServiceBusAdministrationClient.from_connection_string(
                    cfg.connection_string, transport=transport, retry_total=RETRIES
                )
            else:
                with self._lock:
                    if self._credential is None:
                        from azure.identity import DefaultAzureCredential

                        self._credential = DefaultAzureCredential()
                client = ServiceBusAdministrationClient(
                    cfg.host, self._credential, transport=transport, retry_total=RETRIES
                )
        except ValueError as exc:  # the SDK's own parse of the connection string
            raise self._error(f"bad connection settings: {exc}") from None
        self._local.client = client
        with self._lock:
            self._clients.append(client)
        return client

    def _call(self, what: str, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        try:
            return fn(*args, **kwargs)
        except BrokerError:
            raise
        except Exception as exc:
            raise self._error(f"{what}: {_describe(exc)}") from None

    def close(self) -> None:
        with self._lock:
            clients, self._clients = self._clients, []
            credential, self._credential = self._credential, None
        for closable in [*clients, credential]:
            if closable is not None and hasattr(closable, "close"):
                with contextlib.suppress(Exception):  # closing is best effort
                    closable.close()

    # -- read -------------------------------------------------------------------------------

    def read(self, desired: Sequence[Resource], prune: Sequence[PruneScope]) -> list[Resource]:
        client = self._client()
        info = self._call("cannot read the namespace ($namespaceinfo)", client.get_namespace_properties)
        self._sku = str(getattr(info, "messaging_sku", "") or "")
        names = _Names(desired)
        exploring = not desired and not prune

        queue_props = self._call("cannot list queues", lambda: list(client.list_queues()))
        queue_runtime = {
            r.name: r for r in self._call("cannot list queues", lambda: list(client.list_queues_runtime_properties()))
        }
        topic_props = self._call("cannot list topics", lambda: list(client.list_topics()))
        topic_runtime = {
            r.name: r for r in self._call("cannot list topics", lambda: list(client.list_topics_runtime_properties()))
        }
        host = self._config().host
        out: list[Resource] = []
        for q in queue_props:
            name = names.entity(QUEUE, q.name)
            attrs = self._entity_attrs(q, QUEUE_FIELDS, host)
            out.append(Resource(Address(self.name, QUEUE, (name,)), attrs, info=_counts(queue_runtime.get(q.name))))
        topics: dict[str, str] = {}  # declared-case name -> live name
        for t in topic_props:
            name = names.entity(TOPIC, t.name)
            topics[name] = t.name
            attrs = self._entity_attrs(t, TOPIC_FIELDS, host)
            runtime = topic_runtime.get(t.name)
            count = getattr(runtime, "subscription_count", None) if runtime is not None else None
            out.append(Resource(Address(self.name, TOPIC, (name,)), attrs, info={SUBSCRIPTIONS: count or 0}))

        expand = [n for n in topics if exploring or names.declared(TOPIC, n) or _covers_children(prune, n)]
        children, held = self._read_subscriptions(expand, topics, names, host)
        out = _with_info(out + children, held)
        self._check(desired, out)
        return out

    def _entity_attrs(self, props: Any, fields: Mapping[str, Any], host: str) -> dict[str, JSON]:
        attrs: dict[str, JSON] = {}
        for key in fields:
            value = getattr(props, key, None)
            if key in DURATION_FIELDS:
                attrs[key] = v.duration_from_sdk(value)
            elif key in FORWARD_FIELDS:
                attrs[key] = v.entity_of(value, host)
            elif key == "status":
                attrs[key] = str(value) if value is not None else None
            elif key == "max_message_size_in_kilobytes":
                if self._sku == v.PREMIUM and value is not None:
                    attrs[key] = int(value)
                # else: reported by non-Premium namespaces, yet nobody can set it there (values.py)
            elif key == "max_size_in_megabytes" and isinstance(value, int):
                attrs[key] = v.reported_max_size(value, bool(getattr(props, "enable_partitioning", False)), self._sku)
            else:
                attrs[key] = value
        return attrs

    def _read_subscriptions(
        self, expand: Sequence[str], topics: Mapping[str, str], names: _Names, host: str
    ) -> tuple[list[Resource], dict[str, int]]:
        """The subscriptions of `expand` and their rules; and the messages each topic holds."""

        def subscriptions(topic: str) -> list[tuple[str, Any, Any]]:
            client, live = self._client(), topics[topic]
            props = self._call(
                f"cannot list the subscriptions of topic {live}", lambda: list(client.list_subscriptions(live))
            )
            runtime = self._call(
                f"cannot list the subscriptions of topic {live}",
                lambda: {r.name: r for r in client.list_subscriptions_runtime_properties(live)},
            )
            return [(topic, p, runtime.get(p.name)) for p in props]

        def rules(item: tuple[str, str]) -> list[Any]:
            client = self._client()
            topic, sub = topics[item[0]], item[1]
            return self._call(
                f"cannot list the rules of subscription {topic}/{sub}", lambda: list(client.list_rules(topic, sub))
            )

        with ThreadPoolExecutor(max_workers=READ_WORKERS, thread_name_prefix=f"{self.name}-read") as pool:
            found = [s for batch in pool.map(subscriptions, expand) for s in batch]
            rule_lists = list(pool.map(rules, [(topic, p.name) for topic, p, _ in found]))
        out: list[Resource] = []
        held: dict[str, int] = {}
        for (topic, props, runtime), live_rules in zip(found, rule_lists, strict=True):
            sub = names.child(SUBSCRIPTION, (topic,), props.name)
            address = Address(self.name, SUBSCRIPTION, (topic, sub))
            attrs = self._entity_attrs(props, SUBSCRIPTION_FIELDS, host)
            info = _counts(runtime)
            held[topic] = held.get(topic, 0) + int(info.get(MESSAGES, 0) or 0)
            out.append(Resource(address, attrs, depends_on=(Address(self.name, TOPIC, (topic,)),), info=info))
            for rule in live_rules:
                rule_name = names.child(RULE, (topic, sub), rule.name)
                out.append(
                    Resource(Address(self.name, RULE, (topic, sub, rule_name)), rule_attrs(rule), depends_on=(address,))
                )
        return out, held

    def _check(self, desired: Sequence[Resource], observed: Sequence[Resource]) -> None:
        """What the service would refuse in the middle of an apply, refused before anything runs."""
        problems: list[str] = []
        live = {(r.kind, r.address.name[0].lower()) for r in observed if r.kind in (QUEUE, TOPIC)}
        declared = {(r.kind, r.address.name[0].lower()) for r in desired if r.kind in (QUEUE, TOPIC) and not r.absent}
        sizes = v.allowed_sizes(self._sku)
        for r in desired:
            if r.absent or r.kind not in (QUEUE, TOPIC, SUBSCRIPTION):
                continue
            where = f"{r.source}: " if r.source else ""
            if r.kind in (QUEUE, TOPIC):
                other = TOPIC if r.kind == QUEUE else QUEUE
                if (other, r.address.name[0].lower()) in live:
                    problems.append(f"{where}{r.address}: the namespace has a {other} of that name")
            if "max_message_size_in_kilobytes" in r.attrs and self._sku != v.PREMIUM:
                problems.append(
                    f"{where}{r.address}: max_message_size_in_kilobytes needs a Premium namespace "
                    f"(this one is {self._sku or 'not Premium'})"
                )
            size = r.attrs.get("max_size_in_megabytes")
            if isinstance(size, int) and size not in sizes:
                problems.append(
                    f"{where}{r.address}: max_size_in_megabytes {size} is not offered on {self._sku or 'this'} "
                    f"namespaces ({', '.join(map(str, sizes))})"
                )
            for key in FORWARD_FIELDS:
                target = r.attrs.get(key)
                if not isinstance(target, str) or target.lower().startswith("sb://"):
                    continue
                name = target.lower()
                if not any((k, name) in declared or (k, name) in live for k in (QUEUE, TOPIC)):
                    problems.append(
                        f"{where}{r.address}: {key} {target!r} is neither declared nor a queue or topic "
                        "of the namespace"
                    )
        if problems:
            raise PlanError(f"broker {self.name!r}: " + "; ".join(problems))

    # -- apply ------------------------------------------------------------------------------

    def apply_one(self, change: Change) -> None:
        kind, name, action = change.kind, change.address.name, change.action
        client = self._client()
        if action is Action.DELETE:
            self._delete(client, kind, name)
        elif kind == RULE:
            self._write_rule(client, name, change.after or {}, action)
        elif action is Action.CREATE:
            self._create(client, kind, name, change.after or {})
        else:
            self._update(client, kind, name, change.after or {})

    def _delete(self, client: Any, kind: str, name: tuple[str, ...]) -> None:
        from azure.core.exceptions import ResourceNotFoundError

        calls: dict[str, Callable[[], None]] = {
            QUEUE: lambda: client.delete_queue(name[0]),
            TOPIC: lambda: client.delete_topic(name[0]),
            SUBSCRIPTION: lambda: client.delete_subscription(name[0], name[1]),
            RULE: lambda: client.delete_rule(name[0], name[1], name[2]),
        }
        try:
            self._call(f"cannot delete {_what(kind, name)}", _tolerate(calls[kind], ResourceNotFoundError))
        except BrokerError:
            raise

    def _create(self, client: Any, kind: str, name: tuple[str, ...], after: Mapping[str, JSON]) -> None:
        kwargs = _sdk_kwargs(after)
        what = _what(kind, name)
        if kind == QUEUE:
            self._call(f"cannot create {what}", client.create_queue, name[0], **kwargs)
        elif kind == TOPIC:
            self._call(f"cannot create {what}", client.create_topic, name[0], **kwargs)
        else:
            self._call(f"cannot create {what}", client.create_subscription, name[0], name[1], **kwargs)
            if after.get("default_rule") is False:
                from azure.core.exceptions import ResourceNotFoundError

                try:
                    self._call(
                        f"cannot remove the {v.DEFAULT_RULE} rule of the new {what}",
                        _tolerate(lambda: client.delete_rule(name[0], name[1], v.DEFAULT_RULE), ResourceNotFoundError),
                    )
                except BrokerError as exc:
                    raise PartlyApplied(self.name, self.endpoint, str(exc).split(": ", 1)[-1]) from None

    def _update(self, client: Any, kind: str, name: tuple[str, ...], after: Mapping[str, JSON]) -> None:
        what = _what(kind, name)
        getter: Callable[[], Any]
        setter: Callable[[Any], None]
        if kind == QUEUE:
            getter, setter = (lambda: client.get_queue(name[0])), client.update_queue
        elif kind == TOPIC:
            getter, setter = (lambda: client.get_topic(name[0])), client.update_topic
        else:
            getter = lambda: client.get_subscription(name[0], name[1])  # noqa: E731
            setter = lambda p: client.update_subscription(name[0], p)  # noqa: E731
        props = self._call(f"cannot read {what}", getter)
        # Sent back as reported, except what the service reports but would refuse (values.py).
        if getattr(props, "max_size_in_megabytes", None) is not None:
            props.max_size_in_megabytes = v.reported_max_size(
                props.max_size_in_megabytes, bool(getattr(props, "enable_partitioning", False)), self._sku_now(client)
            )
        if hasattr(props, "max_message_size_in_kilobytes") and self._sku_now(client) != v.PREMIUM:
            props.max_message_size_in_kilobytes = None
        for key, value in _sdk_kwargs(after).items():
            setattr(props, key, value)
        self._call(f"cannot update {what}", setter, props)

    def _sku_now(self, client: Any) -> str:
        if not self._sku:  # a saved plan applied without a read first
            info = self._call("cannot read the namespace ($namespaceinfo)", client.get_namespace_properties)
            self._sku = str(getattr(info, "messaging_sku", "") or "")
        return self._sku

    def _write_rule(self, client: Any, name: tuple[str, ...], after: Mapping[str, JSON], action: Action) -> None:
        from azure.core.exceptions import ResourceExistsError

        topic, sub, rule = name
        what = _what(RULE, name)
        rule_filter, rule_action = rule_objects(after)
        if action is Action.CREATE:
            try:
                kwargs: dict[str, Any] = {"action": rule_action}
                if rule_filter is not None:
                    kwargs["filter"] = rule_filter
                client.create_rule(topic, sub, rule, **kwargs)
                return
            except ResourceExistsError:
                if not after:
                    return  # `$Default` kept: the service made it with the subscription
                if rule != v.DEFAULT_RULE:
                    raise self._error(f"cannot create {what}: it exists already") from None
            except Exception as exc:
                raise self._error(f"cannot create {what}: {_describe(exc)}") from None
        props = self._call(f"cannot read {what}", client.get_rule, topic, sub, rule)
        props.filter = rule_filter
        props.action = rule_action
        self._call(f"cannot update {what}", client.update_rule, topic, sub, props)


# -- helpers (pure, or SDK objects in, JSON out) ----------------------------------------------------


class _Names:
    """Entity names are case-insensitive: a live `Orders` is the manifest's `orders`."""

    def __init__(self, desired: Sequence[Resource]) -> None:
        self._by: dict[tuple[str, tuple[str, ...]], tuple[str, ...]] = {}
        for r in desired:
            self._by[(r.kind, tuple(p.lower() for p in r.address.name))] = r.address.name

    def declared(self, kind: str, name: str) -> bool:
        return (kind, (name.lower(),)) in self._by

    def entity(self, kind: str, live: str) -> str:
        return self._by.get((kind, (live.lower(),)), (live,))[0]

    def child(self, kind: str, parents: tuple[str, ...], live: str) -> str:
        key = (kind, tuple(p.lower() for p in (*parents, live)))
        return self._by.get(key, (*parents, live))[-1]


def _covers_children(prune: Sequence[PruneScope], topic: str) -> bool:
    """Whether pruning may delete subscriptions of `topic` (or the topic itself, taking them along)."""
    for scope in prune:
        if scope.kinds and not scope.kinds & {TOPIC, SUBSCRIPTION, RULE}:
            continue
        if TOPIC in scope.kinds and not scope.parent and not topic.startswith(scope.prefix):
            continue
        if scope.parent and scope.parent[0] != topic:
            continue
        return True
    return False


def _counts(runtime: Any) -> dict[str, JSON]:
    if runtime is None:
        return {}
    total = getattr(runtime, "total_message_count", None)
    dead = getattr(runtime, "dead_letter_message_count", None)
    return {MESSAGES: int(total or 0), DEAD_LETTERS: int(dead or 0)}


def _with_info(resources: list[Resource], held: Mapping[str, int]) -> list[Resource]:
    """Add to queues and topics who forwards to them (their delete leaves those forwarding
    nowhere) and to topics the messages their subscriptions hold."""
    targets: dict[str, list[str]] = {}
    for r in resources:
        for key in FORWARD_FIELDS:
            target = r.attrs.get(key)
            if isinstance(target, str) and target:
                targets.setdefault(target.lower(), []).append(str(r.address))
    out = []
    for r in resources:
        if r.kind not in (QUEUE, TOPIC):
            out.append(r)
            continue
        info = dict(r.info)
        sources = sorted(s for s in targets.get(r.address.name[0].lower(), []) if s != str(r.address))
        if sources:
            info[FORWARDED_FROM] = sources
        if r.kind == TOPIC:
            info[MESSAGES] = held.get(r.address.name[0], 0)
        out.append(Resource(r.address, r.attrs, r.depends_on, r.absent, r.source, info))
    return out


def _plain(value: Any) -> JSON:
    """A property or parameter value as JSON: dates and durations the service holds read as text."""
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, timedelta):
        return str(v.format_sb_duration(v.duration_from_sdk(value)))
    return str(value)


def rule_attrs(rule: Any) -> dict[str, JSON]:
    """A RuleProperties -> attrs: `filter: true|false`, `sql_filter` (+ `parameters`) or
    `correlation_filter`, and `action` (+ `action_parameters`) when it has one."""
    from azure.servicebus.management import CorrelationRuleFilter, FalseRuleFilter, SqlRuleFilter, TrueRuleFilter

    attrs: dict[str, JSON] = {}
    f = rule.filter
    if isinstance(f, TrueRuleFilter):
        attrs["filter"] = True
    elif isinstance(f, FalseRuleFilter):
        attrs["filter"] = False
    elif isinstance(f, SqlRuleFilter):
        attrs["sql_filter"] = f.sql_expression
        if f.parameters:
            attrs["parameters"] = {str(k): _plain(x) for k, x in f.parameters.items()}
    elif isinstance(f, CorrelationRuleFilter):
        correlation: dict[str, JSON] = {}
        for key in ("correlation_id", "message_id", "to", "reply_to", "label", "session_id",
                    "reply_to_session_id", "content_type"):  # fmt: skip
            value = getattr(f, key, None)
            if value is not None:
                correlation[key] = value
        if f.properties:
            correlation["properties"] = {str(k): _plain(x) for k, x in f.properties.items()}
        attrs["correlation_filter"] = correlation
    action = rule.action
    if action is not None and getattr(action, "sql_expression", None):
        attrs["action"] = action.sql_expression
        if action.parameters:
            attrs["action_parameters"] = {str(k): _plain(x) for k, x in action.parameters.items()}
    return attrs


def rule_objects(attrs: Mapping[str, JSON]) -> tuple[Any, Any]:
    """attrs -> (filter, action) SDK objects; (None, None) for the service's default (true, none)."""
    from azure.servicebus.management import (
        CorrelationRuleFilter,
        FalseRuleFilter,
        SqlRuleAction,
        SqlRuleFilter,
        TrueRuleFilter,
    )

    rule_filter: Any = None
    if attrs.get("filter") is True:
        rule_filter = TrueRuleFilter()
    elif attrs.get("filter") is False:
        rule_filter = FalseRuleFilter()
    elif isinstance(attrs.get("sql_filter"), str):
        params = attrs.get("parameters")
        rule_filter = SqlRuleFilter(str(attrs["sql_filter"]), parameters=dict(params) if params else None)
    elif isinstance(attrs.get("correlation_filter"), Mapping):
        fields = dict(attrs["correlation_filter"])
        props = fields.pop("properties", None)
        rule_filter = CorrelationRuleFilter(**fields, properties=dict(props) if props else None)
    rule_action = None
    if isinstance(attrs.get("action"), str):
        params = attrs.get("action_parameters")
        rule_action = SqlRuleAction(str(attrs["action"]), parameters=dict(params) if params else None)
    return rule_filter, rule_action


def _sdk_kwargs(after: Mapping[str, JSON]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in after.items():
        if key == "default_rule":
            continue
        out[key] = v.duration_to_sdk(value) if key in DURATION_FIELDS else value
    return out


def _tolerate(fn: Callable[[], Any], error: type[BaseException]) -> Callable[[], None]:
    """`fn`, where `error` (the thing is gone already) counts as done."""

    def run() -> None:
        with contextlib.suppress(error):
            fn()

    return run


def _what(kind: str, name: tuple[str, ...]) -> str:
    if kind == SUBSCRIPTION:
        return f"subscription {name[1]} of topic {name[0]}"
    if kind == RULE:
        return f"rule {name[2]} of subscription {name[0]}/{name[1]}"
    return f"{kind} {name[0]}"


def _describe(exc: BaseException) -> str:
    """The service's own words, without its tracking tail (TrackingId, SystemTracker, Timestamp)."""
    status = getattr(exc, "status_code", None)
    text = str(getattr(exc, "message", None) or exc).strip()
    detail = _DETAIL.search(str(exc)) or _DETAIL.search(text)
    if detail is not None:  # "Operation returned an invalid status ... Content: <Error>...<Detail>"
        text = html.unescape(detail.group(1))
    for cut in (" To know more visit", " TrackingId:", "\nContent:", "\nStatus code"):
        if cut in text:
            text = text.split(cut, 1)[0]
    text = " ".join(text.split()).rstrip(" .,")
    name = type(exc).__name__
    if name in ("ServiceRequestError", "ServiceRequestTimeoutError", "ServiceResponseError"):
        return f"cannot connect: {text}"
    if name == "ClientAuthenticationError" or status == 401:
        return f"not authorised (HTTP 401): {text}"
    if status:
        return f"HTTP {status}: {text}"
    return text or name
