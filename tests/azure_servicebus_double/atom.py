"""ATOM/XML in and out, in the shapes the real service uses (recorded responses, see model.py).

Requests are parsed by namespace-qualified names, so the prefixes the SDK happens to use (`ns0:`,
a default namespace, `xsi:` or `i:`) do not matter, as they do not for the service.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Sequence
from datetime import datetime
from xml.sax.saxutils import escape, quoteattr

from tests.azure_servicebus_double.model import (
    QUEUE,
    SUBSCRIPTION,
    TOPIC,
    Entity,
    Namespace,
    Rule,
    ServiceError,
    bad_request,
)

ATOM = "http://www.w3.org/2005/Atom"
SB = "http://schemas.microsoft.com/netservices/2010/10/servicebus/connect"
XSI = "http://www.w3.org/2001/XMLSchema-instance"
XSD = "http://www.w3.org/2001/XMLSchema"
SER = "http://schemas.microsoft.com/2003/10/Serialization/"
COUNTS = "http://schemas.microsoft.com/netservices/2011/06/servicebus"
DESCRIPTIONS = {"QueueDescription": QUEUE, "TopicDescription": TOPIC, "SubscriptionDescription": SUBSCRIPTION}
# Read-only elements a client may send back (the SDKs send what they got): ignored.
READ_ONLY = {
    "SizeInBytes",
    "MessageCount",
    "AuthorizationRules",
    "CreatedAt",
    "UpdatedAt",
    "AccessedAt",
    "CountDetails",
    "EntityAvailabilityStatus",
    "SubscriptionCount",
    "SqlFilterCount",
    "CorrelationFilterCount",
    "SkippedUpdate",
}


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def parse_entry(body: bytes) -> ET.Element:
    """The description element inside <entry><content>."""
    try:
        root = ET.fromstring(body)
    except ET.ParseError as exc:
        raise bad_request(f"The request body is not valid XML: {exc}.") from None  # unverified text
    content = root.find(f"{{{ATOM}}}content")
    if _local(root.tag) != "entry" or content is None or len(content) != 1:
        raise bad_request("The specified resource description is invalid.")  # unverified text
    return content[0]


def description_kind(element: ET.Element) -> str | None:
    return DESCRIPTIONS.get(_local(element.tag)) if element.tag.startswith(f"{{{SB}}}") else None


def description_props(element: ET.Element) -> tuple[dict[str, str | None], ET.Element | None]:
    """Settable elements -> text; and a DefaultRuleDescription if the client sent one."""
    props: dict[str, str | None] = {}
    default_rule = None
    for child in element:
        name = _local(child.tag)
        if name == "DefaultRuleDescription":
            default_rule = child
        elif name not in READ_ONLY:
            props[name] = child.text or ""
    return props, default_rule


def parse_rule(element: ET.Element, name: str) -> Rule:
    if _local(element.tag) not in ("RuleDescription", "DefaultRuleDescription"):
        raise bad_request("The specified resource description is invalid.")  # unverified text
    flt = element.find(f"{{{SB}}}Filter")
    act = element.find(f"{{{SB}}}Action")
    filter_type = _type(flt) if flt is not None else "TrueFilter"
    if filter_type not in ("SqlFilter", "TrueFilter", "FalseFilter", "CorrelationFilter"):
        raise bad_request(f"The filter type '{filter_type}' is not supported.")  # unverified text
    fields, values = _fields(flt) if flt is not None else ([("SqlExpression", "1=1"), ("CompatibilityLevel", "20")], [])
    if filter_type != "CorrelationFilter" and not dict(fields).get("SqlExpression", "").strip():
        raise bad_request("The SQL expression of the filter cannot be empty.")  # unverified text
    if filter_type == "CorrelationFilter" and not fields and not values:
        raise bad_request("A CorrelationFilter needs at least one property to match.")  # unverified text
    action_type = _type(act) if act is not None else "EmptyRuleAction"
    if action_type not in ("EmptyRuleAction", "SqlRuleAction"):
        raise bad_request(f"The action type '{action_type}' is not supported.")  # unverified text
    action_fields, action_values = _fields(act) if act is not None and action_type == "SqlRuleAction" else ([], [])
    return Rule(name, filter_type, fields, values, action_type, action_fields, action_values)


def _type(element: ET.Element) -> str:
    return element.get(f"{{{XSI}}}type", "").split(":")[-1]


def _fields(element: ET.Element) -> tuple[list[tuple[str, str]], list[tuple[str, str, str]]]:
    fields: list[tuple[str, str]] = []
    values: list[tuple[str, str, str]] = []
    for child in element:
        name = _local(child.tag)
        if name in ("Parameters", "Properties"):
            for kv in child:
                key = kv.find(f"{{{SB}}}Key")
                value = kv.find(f"{{{SB}}}Value")
                if key is None or value is None:
                    raise bad_request("A key-value pair of the rule is incomplete.")  # unverified text
                values.append((key.text or "", _type(value) or "string", value.text or ""))
        else:
            fields.append((name, child.text or ""))
    return fields, values


# -- rendering ---------------------------------------------------------------------------------------


def stamp(when: datetime) -> str:
    return when.strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03}Z"


def _second(when: datetime) -> str:
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")


def _el(name: str, text: str | None) -> str:
    return f"<{name}>{escape(text)}</{name}>" if text is not None else ""


def _counts(entity: Entity) -> str:
    c = entity.counts
    parts = (
        ("ActiveMessageCount", c.active),
        ("DeadLetterMessageCount", c.dead_letter),
        ("ScheduledMessageCount", c.scheduled),
        ("TransferMessageCount", c.transfer),
        ("TransferDeadLetterMessageCount", c.transfer_dead_letter),
    )
    inner = "".join(f"<d2p1:{n}>{v}</d2p1:{n}>" for n, v in parts)
    return f'<CountDetails xmlns:d2p1="{COUNTS}">{inner}</CountDetails>'


def description(ns: Namespace, entity: Entity, api_version: str, created: bool) -> str:
    """The description element of a queue, topic or subscription, in the service's element order."""
    p = dict(entity.props)
    if entity.kind != SUBSCRIPTION:
        p["MaxSizeInMegabytes"] = ns.reported_size(entity)
        if p.get("MaxMessageSizeInKilobytes") is None and api_version >= "2021-05":
            p["MaxMessageSizeInKilobytes"] = ns.message_size()
        if api_version < "2021-05":
            p["MaxMessageSizeInKilobytes"] = None
    runtime = not created  # a create's response has no AccessedAt nor CountDetails (recorded)
    size = str(entity.counts.total * 1024)
    times = _el("CreatedAt", stamp(entity.created)) + _el("UpdatedAt", stamp(entity.updated))
    if runtime:
        times += _el("AccessedAt", "0001-01-01T00:00:00Z")
    counts = _counts(entity) if runtime else ""
    g = p.get
    if entity.kind == QUEUE:
        body = (
            _el("LockDuration", g("LockDuration"))
            + _el("MaxSizeInMegabytes", g("MaxSizeInMegabytes"))
            + _el("RequiresDuplicateDetection", g("RequiresDuplicateDetection"))
            + _el("RequiresSession", g("RequiresSession"))
            + _el("DefaultMessageTimeToLive", g("DefaultMessageTimeToLive"))
            + _el("DeadLetteringOnMessageExpiration", g("DeadLetteringOnMessageExpiration"))
            + _el("DuplicateDetectionHistoryTimeWindow", g("DuplicateDetectionHistoryTimeWindow"))
            + _el("MaxDeliveryCount", g("MaxDeliveryCount"))
            + _el("EnableBatchedOperations", g("EnableBatchedOperations"))
            + _el("SizeInBytes", size)
            + _el("MessageCount", str(entity.counts.total))
            + _el("IsAnonymousAccessible", g("IsAnonymousAccessible"))
            + "<AuthorizationRules></AuthorizationRules>"
            + _el("Status", g("Status"))
            + times
            + _el("SupportOrdering", g("SupportOrdering"))
            + counts
            + _el("AutoDeleteOnIdle", g("AutoDeleteOnIdle"))
            + _el("EnablePartitioning", g("EnablePartitioning"))
            + _el("EntityAvailabilityStatus", "Available")
            + _el("EnableExpress", g("EnableExpress"))
            + _el("ForwardTo", g("ForwardTo"))
            + _el("UserMetadata", g("UserMetadata"))
            + _el("ForwardDeadLetteredMessagesTo", g("ForwardDeadLetteredMessagesTo"))
            + _el("MaxMessageSizeInKilobytes", g("MaxMessageSizeInKilobytes"))
        )
        tag = "QueueDescription"
    elif entity.kind == TOPIC:
        body = (
            _el("DefaultMessageTimeToLive", g("DefaultMessageTimeToLive"))
            + _el("MaxSizeInMegabytes", g("MaxSizeInMegabytes"))
            + _el("RequiresDuplicateDetection", g("RequiresDuplicateDetection"))
            + _el("DuplicateDetectionHistoryTimeWindow", g("DuplicateDetectionHistoryTimeWindow"))
            + _el("EnableBatchedOperations", g("EnableBatchedOperations"))
            + _el("SizeInBytes", "0")
            + _el("FilteringMessagesBeforePublishing", g("FilteringMessagesBeforePublishing"))
            + _el("IsAnonymousAccessible", g("IsAnonymousAccessible"))
            + "<AuthorizationRules></AuthorizationRules>"
            + _el("Status", g("Status"))
            + times
            + _el("SupportOrdering", g("SupportOrdering"))
            + (counts + _el("SubscriptionCount", str(len(entity.subscriptions))) if runtime else "")
            + _el("AutoDeleteOnIdle", g("AutoDeleteOnIdle"))
            + _el("EnablePartitioning", g("EnablePartitioning"))
            + _el("EntityAvailabilityStatus", "Available")
            + _el("EnableSubscriptionPartitioning", g("EnableSubscriptionPartitioning"))
            + _el("EnableExpress", g("EnableExpress"))
            + _el("UserMetadata", g("UserMetadata"))
            + _el("MaxMessageSizeInKilobytes", g("MaxMessageSizeInKilobytes"))
        )
        tag = "TopicDescription"
    else:
        body = (
            _el("LockDuration", g("LockDuration"))
            + _el("RequiresSession", g("RequiresSession"))
            + _el("DefaultMessageTimeToLive", g("DefaultMessageTimeToLive"))
            + _el("DeadLetteringOnMessageExpiration", g("DeadLetteringOnMessageExpiration"))
            + _el("DeadLetteringOnFilterEvaluationExceptions", g("DeadLetteringOnFilterEvaluationExceptions"))
            + _el("MessageCount", str(entity.counts.total))
            + _el("MaxDeliveryCount", g("MaxDeliveryCount"))
            + _el("EnableBatchedOperations", g("EnableBatchedOperations"))
            + _el("Status", g("Status"))
            + _el("ForwardTo", g("ForwardTo"))
            + times
            + (_counts(entity) if runtime else "")
            + _el("ForwardDeadLetteredMessagesTo", g("ForwardDeadLetteredMessagesTo"))
            + _el("AutoDeleteOnIdle", g("AutoDeleteOnIdle"))
            + _el("EntityAvailabilityStatus", "Available")
            + _el("UserMetadata", g("UserMetadata"))
        )
        tag = "SubscriptionDescription"
    return f'<{tag} xmlns="{SB}" xmlns:i="{XSI}">{body}</{tag}>'


def _values(values: Sequence[tuple[str, str, str]], wrapper: str) -> str:
    if not values:
        return ""
    items = []
    for key, kind, text in values:
        ns = SER if kind == "duration" else XSD  # as recorded: durations in the Serialization namespace
        items.append(
            f'<KeyValueOfstringanyType><Key>{escape(key)}</Key><Value i:type="d6p1:{kind}" '
            f'xmlns:d6p1="{ns}">{escape(text)}</Value></KeyValueOfstringanyType>'
        )
    return f"<{wrapper}>{''.join(items)}</{wrapper}>"


def rule_description(rule: Rule) -> str:
    fields = "".join(_el(n, t) for n, t in rule.filter_fields)
    wrapper = "Properties" if rule.filter_type == "CorrelationFilter" else "Parameters"
    if rule.filter_type == "CorrelationFilter":
        flt = f'<Filter i:type="CorrelationFilter">{fields}{_values(rule.filter_values, wrapper)}</Filter>'
    else:
        flt = f'<Filter i:type="{rule.filter_type}">{_sql_fields(rule.filter_fields, rule.filter_values)}</Filter>'
    if rule.action_type == "SqlRuleAction":
        action = f'<Action i:type="SqlRuleAction">{_sql_fields(rule.action_fields, rule.action_values)}</Action>'
    else:
        action = '<Action i:type="EmptyRuleAction"/>'
    return (
        f'<RuleDescription xmlns="{SB}" xmlns:i="{XSI}">{flt}{action}'
        f"{_el('CreatedAt', rule.created.strftime('%Y-%m-%dT%H:%M:%S.%fZ'))}{_el('Name', rule.name)}</RuleDescription>"
    )


def _sql_fields(fields: Sequence[tuple[str, str]], values: Sequence[tuple[str, str, str]]) -> str:
    """SqlExpression, CompatibilityLevel, then Parameters, then RequiresPreprocessing (recorded order)."""
    d = dict(fields)
    out = _el("SqlExpression", d.get("SqlExpression")) + _el("CompatibilityLevel", d.get("CompatibilityLevel", "20"))
    out += _values(values, "Parameters")
    return out + _el("RequiresPreprocessing", d.get("RequiresPreprocessing"))


def entry(ns: Namespace, base: str, path: str, title: str, content: str, author: bool, query: str) -> str:
    url = f"{base}/{path}?{query}"
    who = f"<author><name>{escape(ns.name)}</name></author>" if author else ""
    when = _second(ns.created)
    return (
        f'<entry xmlns="{ATOM}"><id>{escape(url)}</id><title type="text">{escape(title)}</title>'
        f"<published>{when}</published><updated>{when}</updated>{who}"
        f'<link rel="self" href={quoteattr(url)}/><content type="application/xml">{content}</content></entry>'
    )


def feed(title: str, self_url: str, entries: Sequence[str], next_url: str | None) -> str:
    links = f'<link rel="self" href={quoteattr(self_url)}/>'
    if next_url:
        links += f'<link rel="next" href={quoteattr(next_url)}/>'
    body = "".join(e.replace(f'<entry xmlns="{ATOM}">', f"<entry xml:base={quoteattr(self_url)}>", 1) for e in entries)
    return (
        f'<feed xmlns="{ATOM}"><title type="text">{escape(title)}</title><id>{escape(self_url)}</id>'
        f"<updated>{_second(datetime.now())}</updated>{links}{body}</feed>"
    )


def not_found_feed() -> str:
    """What GET of a missing entity returns: 200 and an empty feed (recorded)."""
    return (
        f'<feed xmlns="{ATOM}"><title type="text">Publicly Listed Services</title><subtitle type="text">This is '
        "the list of publicly-listed services currently available.</subtitle><id>uuid:00000000-0000-0000-0000-"
        f"000000000000;id=1</id><updated>{_second(datetime.now())}</updated>"
        "<generator>Service Bus 1.1</generator></feed>"
    )


def namespace_info(ns: Namespace) -> str:
    created = stamp(ns.created)
    units = "<MessagingUnits>1</MessagingUnits>" if ns.sku == "Premium" else ""
    return (
        f'<NamespaceInfo xmlns="{SB}" xmlns:i="{XSI}"><CreatedTime>{created}</CreatedTime>'
        f"<MessagingSKU>{ns.sku}</MessagingSKU>{units}<ModifiedTime>{created}</ModifiedTime>"
        f"<Name>{escape(ns.name)}</Name><NamespaceType>Messaging</NamespaceType></NamespaceInfo>"
    )


def error(status: int, detail: str, tracker: str) -> str:
    tail = (
        f" TrackingId:00000000-0000-0000-0000-000000000000_G0, SystemTracker:{tracker}, Timestamp:"
        + datetime.now().strftime("%Y-%m-%dT%H:%M:%S")
    )
    return f"<Error><Code>{status}</Code><Detail>{escape(detail + tail)}</Detail></Error>"


__all__ = ["ServiceError"]
