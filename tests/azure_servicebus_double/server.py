"""The HTTP side of the double: the management endpoints the SDK's ServiceBusAdministrationClient
calls (see the route table in `Handler._route`), SAS authentication, and the service's error shape.

Plain HTTP, like the official emulator's management port: topoctl's driver sends the SDK's
`https://` URLs as HTTP when the connection string says `UseDevelopmentEmulator=true`.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, quote_plus, unquote, urlsplit

from tests.azure_servicebus_double import atom
from tests.azure_servicebus_double.model import (
    CONFLICT,
    NOT_FOUND_UPDATE,
    NOT_HOSTED,
    QUEUE,
    SUBSCRIPTION,
    TOPIC,
    Entity,
    Namespace,
    ServiceError,
    bad_request,
    default_rule,
    now,
)
from tests.http_double import DoubleHandler, DoubleServer

PAGE = 100  # the SDK asks for $top=100; the service pages the same way

MANAGE, LISTEN, SEND = "Manage", "Listen", "Send"


@dataclass
class Request:
    """One request as the double saw it (the Authorization header left out), for tests."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes
    status: int = 0


@dataclass
class State:
    namespace: Namespace
    keys: dict[str, tuple[str, frozenset[str]]]  # key name -> (key, rights)
    requests: list[Request] = field(default_factory=list)
    # Fault injection for tests: (method, path prefix) -> status and detail, used once.
    faults: dict[tuple[str, str], tuple[int, str]] = field(default_factory=dict)


class Handler(DoubleHandler):
    server: _Server

    # -- plumbing ---------------------------------------------------------------------------

    def _serve(self, method: str) -> None:
        parts = urlsplit(self.path)
        query = {k: v[0] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
        segments = [unquote(s) for s in parts.path.strip("/").split("/")] if parts.path.strip("/") else []
        body = self._body()
        state = self.server.state
        headers = {k: v for k, v in self.headers.items() if k.lower() != "authorization"}
        record = Request(method, "/" + "/".join(segments), query, headers, body)
        state.requests.append(record)
        tracker = f"{state.namespace.host}:{'/'.join(segments)}"
        try:
            fault = state.faults.pop((method, record.path), None)
            if fault is not None:
                raise ServiceError(*fault)
            self._authorize(method, segments)
            with state.namespace.lock:
                status, content_type, text = self._route(method, segments, query, body)
        except ServiceError as exc:
            status, content_type, text = (
                exc.status,
                "application/xml; charset=utf-8",
                atom.error(exc.status, exc.detail, tracker),
            )
        record.status = status
        data = text.encode("utf-8")
        self._answer(status, content_type if data else None, data, ("Server", "Microsoft-HTTPAPI/2.0"))

    def _authorize(self, method: str, segments: list[str]) -> None:
        """SAS: `SharedAccessSignature sr=<uri>&sig=<HMAC-SHA256(key, quote_plus(sr) + "\\n" + se)>
        &se=<expiry>&skn=<key name>`, the scheme every SDK signs with. Management needs Manage."""
        state = self.server.state
        header = self.headers.get("Authorization") or ""
        # The texts of these 401s are the double's own; the real one says "claim is empty" for a
        # request signed with a key the namespace does not have (recorded).
        rights = _check_sas(header, state.keys, self.server.audience)
        if isinstance(rights, str):
            raise ServiceError(401, rights)
        if MANAGE not in rights:
            raise ServiceError(401, "Unauthorized access. 'Manage' claim(s) are required to perform this operation.")
        for name in ("ServiceBusSupplementaryAuthorization", "ServiceBusDlqSupplementaryAuthorization"):
            extra = self.headers.get(name)
            if extra is not None:
                checked = _check_sas(extra, state.keys, None)
                if isinstance(checked, str):
                    raise ServiceError(401, f"{name}: {checked}")

    def _route(self, method: str, seg: list[str], query: Mapping[str, str], body: bytes) -> tuple[int, str, str]:
        ns = self.server.state.namespace
        version = query.get("api-version", "2017-04")
        feed = "application/atom+xml;type=feed;charset=utf-8"
        entry = "application/atom+xml;type=entry;charset=utf-8"
        if method == "GET" and seg == ["$namespaceinfo"]:
            return 200, entry, self._entry("$namespaceinfo", ns.name, atom.namespace_info(ns), version)
        if method == "GET" and len(seg) == 2 and seg[0] == "$Resources" and seg[1] in ("queues", "topics"):
            kind = QUEUE if seg[1] == "queues" else TOPIC
            found = sorted((e for e in ns.entities.values() if e.kind == kind), key=lambda e: e.name.lower())
            return 200, feed, self._feed(seg[1].title(), "/".join(seg), found, query, version)
        if "subscriptions" in seg[1:]:
            at = seg.index("subscriptions", 1)
            topic_name, rest = "/".join(seg[:at]), seg[at + 1 :]
            return self._subscriptions(method, topic_name, rest, query, body, version)
        name = "/".join(seg)
        if not name:
            raise NOT_HOSTED
        if method == "GET":
            found_entity = ns.entities.get(name.lower())
            if found_entity is None:
                return 200, feed, atom.not_found_feed()
            return 200, entry, self._entity_entry(found_entity, name, version, created=False)
        if method == "DELETE":
            if ns.entities.pop(name.lower(), None) is None:
                raise NOT_HOSTED
            return 200, "", ""
        return self._put_entity(name, body, version)

    # -- queues and topics ------------------------------------------------------------------

    def _put_entity(self, name: str, body: bytes, version: str) -> tuple[int, str, str]:
        ns = self.server.state.namespace
        element = atom.parse_entry(body)
        kind = atom.description_kind(element)
        if kind not in (QUEUE, TOPIC):
            raise bad_request("The specified resource description is invalid.")  # unverified text
        sent, _ = atom.description_props(element)
        old = ns.entities.get(name.lower())
        updating = self.headers.get("If-Match") == "*"
        if updating and old is None:
            raise NOT_FOUND_UPDATE
        if not updating and old is not None:
            raise CONFLICT
        if old is not None and old.kind != kind:
            raise bad_request(f"'{old.name}' is a {old.kind}, not a {kind}.")  # unverified text
        props = ns.stored_props(kind, sent, old)
        ns.validate(kind, props, old)
        if old is None:
            entity = Entity(kind, name, props)
            ns.entities[name.lower()] = entity
            return (
                201,
                "application/atom+xml;type=entry;charset=utf-8",
                self._entity_entry(entity, name, version, created=True),
            )
        old.props, old.updated = props, now()
        return (
            200,
            "application/atom+xml;type=entry;charset=utf-8",
            self._entity_entry(old, name, version, created=False),
        )

    # -- subscriptions and rules ------------------------------------------------------------

    def _subscriptions(
        self, method: str, topic_name: str, rest: list[str], query: Mapping[str, str], body: bytes, version: str
    ) -> tuple[int, str, str]:
        ns = self.server.state.namespace
        feed = "application/atom+xml;type=feed;charset=utf-8"
        entry = "application/atom+xml;type=entry;charset=utf-8"
        topic = ns.entities.get(topic_name.lower())
        if topic is not None and topic.kind != TOPIC:
            topic = None
        base = f"{topic_name}/subscriptions"
        if not rest:
            if method != "GET":
                raise NOT_HOSTED
            if topic is None:
                raise NOT_HOSTED  # unverified: listing the subscriptions of a missing topic
            subs = sorted(topic.subscriptions.values(), key=lambda s: s.name.lower())
            return 200, feed, self._feed("Subscriptions", base, subs, query, version)
        sub_name = rest[0]
        sub = topic.subscriptions.get(sub_name.lower()) if topic is not None else None
        if len(rest) == 1:
            if method == "GET":
                if sub is None:
                    return 200, feed, atom.not_found_feed()  # unverified for subscriptions
                return 200, entry, self._entity_entry(sub, f"{base}/{sub.name}", version, created=False)
            if method == "DELETE":
                if topic is None or topic.subscriptions.pop(sub_name.lower(), None) is None:
                    raise NOT_HOSTED
                return 200, "", ""
            if topic is None:
                raise NOT_FOUND_UPDATE  # unverified: creating a subscription of a missing topic
            return self._put_subscription(topic, sub_name, body, version)
        if rest[1:2] != ["rules"] or len(rest) > 3:
            raise NOT_HOSTED
        if sub is None:
            if method == "GET" and len(rest) == 3:
                return 200, feed, atom.not_found_feed()
            raise NOT_HOSTED
        rules_base = f"{base}/{sub.name}/rules"
        if len(rest) == 2:
            if method != "GET":
                raise NOT_HOSTED
            rules = sorted(sub.rules.values(), key=lambda r: r.name.lower())
            return 200, feed, self._rule_feed(rules_base, rules, query, version)
        rule_name = rest[2]
        rule = sub.rules.get(rule_name.lower())
        if method == "GET":
            if rule is None:
                return 200, feed, atom.not_found_feed()
            return 200, entry, self._rule_entry(rules_base, rule, version)
        if method == "DELETE":
            if sub.rules.pop(rule_name.lower(), None) is None:
                raise NOT_HOSTED
            return 200, "", ""
        updating = self.headers.get("If-Match") == "*"
        if updating and rule is None:
            raise NOT_FOUND_UPDATE
        if not updating and rule is not None:
            raise CONFLICT
        new = atom.parse_rule(atom.parse_entry(body), rule_name if rule is None else rule.name)
        if rule is not None:
            new.created = rule.created
        sub.rules[rule_name.lower()] = new
        return (200 if updating else 201), entry, self._rule_entry(rules_base, new, version)

    def _put_subscription(self, topic: Entity, name: str, body: bytes, version: str) -> tuple[int, str, str]:
        ns = self.server.state.namespace
        element = atom.parse_entry(body)
        if atom.description_kind(element) != SUBSCRIPTION:
            raise bad_request("The specified resource description is invalid.")  # unverified text
        sent, default_description = atom.description_props(element)
        old = topic.subscriptions.get(name.lower())
        updating = self.headers.get("If-Match") == "*"
        if updating and old is None:
            raise NOT_FOUND_UPDATE
        if not updating and old is not None:
            raise CONFLICT
        props = ns.stored_props(SUBSCRIPTION, sent, old)
        ns.validate(SUBSCRIPTION, props, old)
        entry = "application/atom+xml;type=entry;charset=utf-8"
        path = f"{topic.name}/subscriptions/{name}"
        if old is not None:
            old.props, old.updated = props, now()
            return 200, entry, self._entity_entry(old, path, version, created=False)
        sub = Entity(SUBSCRIPTION, name, props)
        # Every new subscription gets a rule: the one described, or `$Default` passing everything.
        first = default_rule()
        if default_description is not None:
            named = default_description.find(f"{{{atom.SB}}}Name")
            first = atom.parse_rule(default_description, (named.text if named is not None else None) or "$Default")
        sub.rules[first.name.lower()] = first
        topic.subscriptions[name.lower()] = sub
        return 201, entry, self._entity_entry(sub, path, version, created=True)

    # -- documents --------------------------------------------------------------------------

    def _base(self) -> str:
        return f"https://{self.server.state.namespace.host}"

    def _entry(self, path: str, title: str, content: str, version: str, author: bool = True) -> str:
        ns = self.server.state.namespace
        return atom.entry(ns, self._base(), path, title, content, author, f"api-version={version}")

    def _entity_entry(self, entity: Entity, path: str, version: str, created: bool) -> str:
        ns = self.server.state.namespace
        content = atom.description(ns, entity, version, created)
        return self._entry(path, entity.name, content, version, author=entity.kind != SUBSCRIPTION)

    def _rule_entry(self, base: str, rule: Any, version: str) -> str:
        return self._entry(f"{base}/{rule.name}", rule.name, atom.rule_description(rule), version, author=False)

    def _page(self, items: list[Any], query: Mapping[str, str]) -> tuple[list[Any], int, int]:
        try:
            skip, top = int(query.get("$skip", "0")), int(query.get("$top", str(PAGE)))
        except ValueError:
            raise bad_request("$skip and $top must be integers.") from None  # unverified text
        return items[skip : skip + top], skip, top

    def _feed(self, title: str, path: str, items: list[Entity], query: Mapping[str, str], version: str) -> str:
        page, skip, top = self._page(items, query)
        entries = [self._entity_entry(e, _path_of(e, path), version, created=False) for e in page]
        return self._paged_feed(title, path, entries, skip, top, len(items), version)

    def _rule_feed(self, path: str, rules: list[Any], query: Mapping[str, str], version: str) -> str:
        page, skip, top = self._page(rules, query)
        entries = [self._rule_entry(path, r, version) for r in page]
        return self._paged_feed("Rules", path, entries, skip, top, len(rules), version)

    def _paged_feed(
        self, title: str, path: str, entries: list[str], skip: int, top: int, total: int, version: str
    ) -> str:
        url = f"{self._base()}/{path}?$skip={skip}&$top={top}&api-version={version}"
        more = skip + top < total
        following = f"{self._base()}/{path}?$skip={skip + top}&$top={top}&api-version={version}" if more else None
        return atom.feed(title, url, entries, following)


def _path_of(entity: Entity, listing: str) -> str:
    if entity.kind == SUBSCRIPTION:
        return f"{listing}/{entity.name}"
    return entity.name


def _check_sas(
    header: str, keys: Mapping[str, tuple[str, frozenset[str]]], audience: str | None
) -> frozenset[str] | str:
    """The rights of a valid SAS token, or why it is not valid."""
    prefix = "SharedAccessSignature "
    if not header.startswith(prefix):
        return "MissingToken: The authorization header was not found or is not a SharedAccessSignature."
    fields = {k: v[0] for k, v in parse_qs(header[len(prefix) :]).items()}
    try:
        resource, signature, expiry, key_name = fields["sr"], fields["sig"], int(fields["se"]), fields["skn"]
    except (KeyError, ValueError):
        return "InvalidToken: The token is malformed."
    if key_name not in keys:
        return "claim is empty."
    if expiry < time.time():
        return "ExpiredToken: The token is expired."
    key, rights = keys[key_name]
    expected = hmac.new(key.encode(), f"{quote_plus(resource)}\n{expiry}".encode(), hashlib.sha256).digest()
    if not hmac.compare_digest(base64.b64encode(expected).decode(), signature):
        return "InvalidSignature: The token has an invalid signature."
    if audience is not None and not _covers(resource, audience):
        return f"InvalidAudience: The token audience {resource} does not cover this namespace."
    return rights


def _covers(resource: str, audience: str) -> bool:
    """The token is for this namespace (or a path in it); the scheme does not matter."""
    strip: Callable[[str], str] = lambda u: u.split("://", 1)[-1].lower().rstrip("/")  # noqa: E731
    return strip(audience).startswith(strip(resource)) or strip(resource).startswith(strip(audience))


class _Server(DoubleServer[State]):
    audience: str
