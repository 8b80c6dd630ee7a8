"""The state and the rules of one Service Bus namespace, as the management (ATOM) API shows them.

What is modelled, and where it comes from (see docs/azure-servicebus.md for the full list):
- element names, their order in responses, the defaults of a new queue, topic and subscription,
  the `$Default` rule of a new subscription (TrueFilter `1=1`, compatibility level 20,
  EmptyRuleAction): recorded responses of the real service in azure-sdk-for-python's test
  recordings (sdk/servicebus/azure-servicebus/tests/mgmt_tests/recordings);
- durations echoed exactly as sent (`P10675199DT2H48M5.477539S` stays so): the same recordings;
- a partitioned entity of a Basic/Standard namespace reports 16 times the size it was given, and
  `SupportOrdering` false: recorded (3072 -> 49152);
- `MaxMessageSizeInKilobytes` 256 reported by a Standard namespace (api-version 2021-05 and later):
  recorded; refused when sent to a non-Premium namespace: documented for ARM (SubCode=40000);
- the error texts of a changed RequiresSession, a too long lock, a missing entity on update and a
  duplicate create: recorded; the same templates are used for the other immutable fields.
Everything else (limits not recorded, the texts of other errors) follows Microsoft's REST API
documentation and is marked "unverified" where it is the double's own guess.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass, field
from datetime import datetime, timezone

TIMESPAN_MAX = "P10675199DT2H48M5.4775807S"
PREMIUM = "Premium"
STANDARD_SIZES = (1024, 2048, 3072, 4096, 5120)
PREMIUM_SIZES = (1024, 2048, 3072, 4096, 5120, 10240, 20480, 40960, 81920)

QUEUE, TOPIC, SUBSCRIPTION = "Queue", "Topic", "Subscription"

# Settable elements, in the order the service writes them, with the defaults it gives.
QUEUE_DEFAULTS: dict[str, str | None] = {
    "LockDuration": "PT1M",
    "MaxSizeInMegabytes": "1024",
    "RequiresDuplicateDetection": "false",
    "RequiresSession": "false",
    "DefaultMessageTimeToLive": TIMESPAN_MAX,
    "DeadLetteringOnMessageExpiration": "false",
    "DuplicateDetectionHistoryTimeWindow": "PT10M",
    "MaxDeliveryCount": "10",
    "EnableBatchedOperations": "true",
    "IsAnonymousAccessible": "false",
    "Status": "Active",
    "SupportOrdering": "true",
    "AutoDeleteOnIdle": TIMESPAN_MAX,
    "EnablePartitioning": "false",
    "EnableExpress": "false",
    "ForwardTo": None,
    "UserMetadata": None,
    "ForwardDeadLetteredMessagesTo": None,
    "MaxMessageSizeInKilobytes": None,  # by SKU, see Namespace.message_size
}
TOPIC_DEFAULTS: dict[str, str | None] = {
    "DefaultMessageTimeToLive": TIMESPAN_MAX,
    "MaxSizeInMegabytes": "1024",
    "RequiresDuplicateDetection": "false",
    "DuplicateDetectionHistoryTimeWindow": "PT10M",
    "EnableBatchedOperations": "true",
    "FilteringMessagesBeforePublishing": "false",
    "IsAnonymousAccessible": "false",
    "Status": "Active",
    "SupportOrdering": "true",
    "AutoDeleteOnIdle": TIMESPAN_MAX,
    "EnablePartitioning": "false",
    "EnableSubscriptionPartitioning": "false",
    "EnableExpress": "false",
    "UserMetadata": None,
    "MaxMessageSizeInKilobytes": None,
}
SUBSCRIPTION_DEFAULTS: dict[str, str | None] = {
    "LockDuration": "PT1M",
    "RequiresSession": "false",
    "DefaultMessageTimeToLive": TIMESPAN_MAX,
    "DeadLetteringOnMessageExpiration": "false",
    "DeadLetteringOnFilterEvaluationExceptions": "true",
    "MaxDeliveryCount": "10",
    "EnableBatchedOperations": "true",
    "Status": "Active",
    "ForwardTo": None,
    "ForwardDeadLetteredMessagesTo": None,
    "AutoDeleteOnIdle": TIMESPAN_MAX,
    "UserMetadata": None,
}
DEFAULTS = {QUEUE: QUEUE_DEFAULTS, TOPIC: TOPIC_DEFAULTS, SUBSCRIPTION: SUBSCRIPTION_DEFAULTS}
IMMUTABLE = {
    QUEUE: ("RequiresSession", "EnablePartitioning", "RequiresDuplicateDetection"),
    TOPIC: ("EnablePartitioning", "RequiresDuplicateDetection"),
    SUBSCRIPTION: ("RequiresSession",),
}
STATUSES = {
    QUEUE: ("Active", "Disabled", "SendDisabled", "ReceiveDisabled"),
    TOPIC: ("Active", "Disabled", "SendDisabled"),
    SUBSCRIPTION: ("Active", "Disabled", "ReceiveDisabled"),
}
BOOLEANS = {
    "RequiresDuplicateDetection",
    "RequiresSession",
    "DeadLetteringOnMessageExpiration",
    "DeadLetteringOnFilterEvaluationExceptions",
    "EnableBatchedOperations",
    "IsAnonymousAccessible",
    "SupportOrdering",
    "EnablePartitioning",
    "EnableSubscriptionPartitioning",
    "EnableExpress",
    "FilteringMessagesBeforePublishing",
}
INTEGERS = {"MaxSizeInMegabytes", "MaxDeliveryCount", "MaxMessageSizeInKilobytes"}
DURATIONS = {
    "LockDuration",
    "DefaultMessageTimeToLive",
    "DuplicateDetectionHistoryTimeWindow",
    "AutoDeleteOnIdle",
}

_DURATION = re.compile(r"^P(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:\.\d+)?)S)?)?$")


class ServiceError(Exception):
    """An error response: HTTP status and the detail text (the service adds a tracking tail)."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail


def bad_request(text: str) -> ServiceError:
    return ServiceError(400, f"SubCode=40000. {text} To know more visit https://aka.ms/sbResourceMgrExceptions. .")


NOT_FOUND_UPDATE = ServiceError(
    404,
    "SubCode=40400. Not Found. The Operation doesn't exist. "
    "To know more visit https://aka.ms/sbResourceMgrExceptions. .",
)
NOT_HOSTED = ServiceError(404, "No service is hosted at the specified address.")
CONFLICT = ServiceError(
    409,
    "SubCode=40900. Conflict. You're requesting an operation that isn't allowed in the resource's current state. "
    "To know more visit https://aka.ms/sbResourceMgrExceptions. .",
)


def seconds(duration: str) -> float:
    """An xs:duration without years and months (what the SDKs send) -> seconds."""
    m = _DURATION.match(duration.strip())
    if not m or duration.strip() in ("P", "PT"):
        raise bad_request(f"The value '{duration}' is not a valid TimeSpan.")  # unverified text
    days, hours, minutes, secs = m.groups()
    return int(days or 0) * 86400 + int(hours or 0) * 3600 + int(minutes or 0) * 60 + float(secs or 0)


def timespan_text(duration: str) -> str:
    """`P25D` -> `25.00:00:00`, as .NET prints a TimeSpan in error messages."""
    total = seconds(duration)
    days, rest = divmod(int(total), 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    return (f"{days}." if days else "") + f"{hours:02}:{minutes:02}:{secs:02}"


def now() -> datetime:
    return datetime.now(timezone.utc)


@dataclass
class Counts:
    active: int = 0
    dead_letter: int = 0
    scheduled: int = 0
    transfer: int = 0
    transfer_dead_letter: int = 0

    @property
    def total(self) -> int:
        return self.active + self.dead_letter + self.scheduled + self.transfer + self.transfer_dead_letter


@dataclass
class Rule:
    name: str
    filter_type: str  # SqlFilter | TrueFilter | FalseFilter | CorrelationFilter
    # SqlFilter family: SqlExpression, CompatibilityLevel, RequiresPreprocessing (as sent);
    # CorrelationFilter: its fields as sent, in order.
    filter_fields: list[tuple[str, str]]
    filter_values: list[tuple[str, str, str]]  # Parameters or Properties: (key, xsd type, text)
    action_type: str = "EmptyRuleAction"
    action_fields: list[tuple[str, str]] = field(default_factory=list)
    action_values: list[tuple[str, str, str]] = field(default_factory=list)
    created: datetime = field(default_factory=now)


def default_rule() -> Rule:
    return Rule("$Default", "TrueFilter", [("SqlExpression", "1=1"), ("CompatibilityLevel", "20")], [])


@dataclass
class Entity:
    kind: str
    name: str
    props: dict[str, str | None]
    created: datetime = field(default_factory=now)
    updated: datetime = field(default_factory=now)
    counts: Counts = field(default_factory=Counts)
    subscriptions: dict[str, Entity] = field(default_factory=dict)  # topics, by lower-case name
    rules: dict[str, Rule] = field(default_factory=dict)  # subscriptions, by lower-case name


@dataclass
class Namespace:
    name: str
    host: str  # what sb:// URLs of this namespace name
    sku: str = "Standard"
    entities: dict[str, Entity] = field(default_factory=dict)  # queues and topics, by lower-case name
    created: datetime = field(default_factory=now)
    lock: threading.RLock = field(default_factory=threading.RLock)

    # -- what a description may hold --------------------------------------------------------

    def message_size(self) -> str:
        return "1024" if self.sku == PREMIUM else "256"

    def validate(self, kind: str, props: dict[str, str | None], old: Entity | None) -> None:
        """The service's checks of a PUT, on the description as it would be stored."""
        for key in BOOLEANS & props.keys():
            if props[key] is not None and props[key] not in ("true", "false"):
                raise bad_request(f"The value '{props[key]}' is not a valid Boolean for {key}.")  # unverified
        for key in INTEGERS & props.keys():
            value = props[key]
            if value is not None and not re.fullmatch(r"-?\d+", value):
                raise bad_request(f"The value '{value}' is not a valid integer for {key}.")  # unverified
        for key in DURATIONS & props.keys():
            if props[key] is not None:
                seconds(str(props[key]))
        lock = props.get("LockDuration")
        if lock is not None and seconds(lock) > 300:
            raise bad_request(
                "The supplied lock time exceeds the allowed maximum of '5' minutes. "
                f"\r\nParameter name: LockDuration\r\nActual value was {timespan_text(lock)}."
            )
        idle = props.get("AutoDeleteOnIdle")
        if idle is not None and seconds(idle) < 300:
            raise bad_request("The minimum allowed value for AutoDeleteOnIdle is 5 minutes.")  # unverified
        window = props.get("DuplicateDetectionHistoryTimeWindow")
        if window is not None and not 20 <= seconds(window) <= 7 * 86400:
            raise bad_request(  # unverified
                "The DuplicateDetectionHistoryTimeWindow must be between 20 seconds and 7 days."
            )
        deliveries = props.get("MaxDeliveryCount")
        if deliveries is not None and int(deliveries) < 1:
            raise bad_request("MaxDeliveryCount must be greater than 0.")  # unverified
        size = props.get("MaxSizeInMegabytes")
        allowed = PREMIUM_SIZES if self.sku == PREMIUM else STANDARD_SIZES
        if size is not None and int(size) not in allowed:
            raise bad_request(
                f"The specified value {size} is invalid. The property MaxSizeInMegabytes, must be one of the "
                f"following values: {';'.join(map(str, allowed))}."
            )
        if props.get("MaxMessageSizeInKilobytes") is not None:
            if self.sku != PREMIUM:
                raise bad_request(  # the ARM error is documented; this wording is the double's own
                    "MaxMessageSizeInKilobytes can be set only on Premium namespaces."
                )
            if not 1024 <= int(str(props["MaxMessageSizeInKilobytes"])) <= 102400:
                raise bad_request("MaxMessageSizeInKilobytes must be between 1024 and 102400.")  # unverified
        status = props.get("Status")
        if status is not None and status not in STATUSES[kind]:
            raise bad_request(f"The status '{status}' is not valid for a {kind}.")  # unverified
        if self.sku == "Basic" and kind != QUEUE:
            raise bad_request("Topics and subscriptions are not supported on the Basic tier.")  # unverified
        for key in ("ForwardTo", "ForwardDeadLetteredMessagesTo"):
            target = props.get(key)
            if target:
                self.forward_target(key, target)
        if old is not None:
            for key in IMMUTABLE[kind]:
                if (props.get(key) or DEFAULTS[kind][key]) != (old.props.get(key) or DEFAULTS[kind][key]):
                    raise bad_request(f"The value for the {key} property of an existing {kind} cannot be changed.")

    def forward_target(self, key: str, target: str) -> Entity:
        """ForwardTo names an entity of this namespace by URL (the SDKs send sb://<host>/<name>)."""
        match = re.match(r"^sb://([^/]+)/(.+)$", target, re.IGNORECASE)
        if match is None:
            raise bad_request(f"The {key} value '{target}' is not a valid URI.")  # unverified
        if match.group(1).lower() != self.host.lower():
            raise bad_request(f"{key} must name an entity of the same namespace.")  # unverified
        entity = self.entities.get(match.group(2).rstrip("/").lower())
        if entity is None:
            raise ServiceError(400, f"SubCode=40000. The entity '{match.group(2)}' for {key} was not found.")
        return entity

    def stored_props(self, kind: str, sent: dict[str, str | None], old: Entity | None) -> dict[str, str | None]:
        """A PUT replaces the description: what it leaves out falls back to the default (not to
        the old value). Values are kept as sent (durations are echoed verbatim by the service)."""
        props = dict(DEFAULTS[kind])
        if kind in (QUEUE, TOPIC) and self.sku == PREMIUM:
            props["MaxMessageSizeInKilobytes"] = self.message_size()
        for key, value in sent.items():
            if key in props:
                props[key] = _normal(key, value)
        if kind in (QUEUE, TOPIC) and props.get("EnablePartitioning") == "true" and "SupportOrdering" not in sent:
            props["SupportOrdering"] = "false"
        return props

    def reported_size(self, entity: Entity) -> str | None:
        size = entity.props.get("MaxSizeInMegabytes")
        if size is not None and entity.props.get("EnablePartitioning") == "true" and self.sku != PREMIUM:
            return str(int(size) * 16)
        return size


def _normal(key: str, value: str | None) -> str | None:
    if value is None:
        return None
    if key in BOOLEANS:
        return value.strip().lower()
    return value.strip() if key in INTEGERS | DURATIONS else value
