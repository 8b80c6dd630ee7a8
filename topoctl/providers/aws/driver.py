"""Live SQS/SNS through boto3: read everything with full paging and concurrent attribute reads,
and apply one change at a time through the Set*Attributes calls (never by re-creating)."""

from __future__ import annotations

import os
import threading
import time
from collections import Counter
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, replace
from functools import partial
from typing import Any, NoReturn, TypeVar
from urllib.parse import urlsplit, urlunsplit

import boto3
from botocore.config import Config
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectionClosedError,
    ConnectTimeoutError,
    EndpointConnectionError,
    NoCredentialsError,
    NoRegionError,
    PartialCredentialsError,
    ProfileNotFound,
    ReadTimeoutError,
)

from topoctl.errors import BrokerError, PartlyApplied, PlanError
from topoctl.model import JSON, Action, Address, Change, Resource
from topoctl.providers.aws import arns, references
from topoctl.providers.aws.attributes import (
    DEFAULT_REDRIVE_ALLOW,
    QUEUE_ATTRS,
    SUBSCRIPTION_ATTRS,
    TAGS,
    TOPIC_ATTRS,
    Attr,
    decode_all,
    encode_all,
)
from topoctl.providers.aws.documents import without_composed
from topoctl.providers.aws.kinds import DANGLING, DEAD_LETTER_FOR, PENDING, SNS_SUBSCRIPTION, SNS_TOPIC, SQS_QUEUE
from topoctl.providers.base import Driver, PruneScope
from topoctl.retry import Retrier, note

DEFAULT_WORKERS = 32
# After DeleteQueue, SQS refuses the same name for 60 seconds (QueueDeletedRecently).
RECREATE_WINDOW_S = 65.0
CONNECT_TIMEOUT_S = 3
READ_TIMEOUT_S = 30  # `connection.timeout`
SQS_PAGE = 1000  # ListQueues stops at 1000 without MaxResults; with it, it pages
MAX_QUEUE_NAME = 80
_CONNECTION_ERRORS = (EndpointConnectionError, ConnectTimeoutError, ReadTimeoutError, ConnectionClosedError)
# Queue names are [A-Za-z0-9_-], plus `.fifo` at the end. (No `.` here: moto matches the
# prefix as a regular expression.)
_NAME_CHARS = "-0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz"
# Attributes some endpoints (moto) accept but never report back, and what reading nothing means.
_QUEUE_UNREPORTED: Mapping[str, JSON] = {"redrive_allow_policy": DEFAULT_REDRIVE_ALLOW}
_TOPIC_UNREPORTED: Mapping[str, JSON] = {"signature_version": "1", "tracing_config": "PassThrough"}
_PENDING_ARNS = frozenset({"PendingConfirmation", "pending confirmation"})
# The answers that say the object does not exist (any other refusal says nothing about that).
_NO_QUEUE = frozenset({"QueueDoesNotExist", "NonExistentQueue"})
_NOT_FOUND = frozenset({"NotFound"})
T = TypeVar("T")


# Answers worth another try besides every 5xx and 429: throttled, or the service not ready.
_RETRY_CODES = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "RequestThrottled",
        "RequestThrottledException",
        "TooManyRequestsException",
        "RequestLimitExceeded",
        "SlowDown",
        "ServiceUnavailable",
        "InternalError",
        "InternalFailure",
        "RequestTimeout",
        "RequestTimeoutException",
    }
)


def _transient(exc: BaseException) -> bool:
    """Connection refused or reset, a timeout, throttling, a 5xx: worth another try."""
    if isinstance(exc, ClientError):
        status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)
        return status >= 500 or status == 429 or _code(exc) in _RETRY_CODES
    return isinstance(exc, _CONNECTION_ERRORS)


class _Retrying:
    """A boto3 client whose API calls go through the driver's retry helper. Every call the driver
    makes is safe to repeat: CreateQueue/CreateTopic/Subscribe of the same settings answer with the
    same object, Set*Attributes and tagging set the same values again, and the deletes count
    "does not exist" as done."""

    def __init__(self, client: Any, retry: Retrier) -> None:
        self._client = client
        self._retry = retry

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._client, name)
        if name.startswith("_") or name == "close" or not callable(attr):
            return attr

        def call(*args: Any, **kwargs: Any) -> Any:
            return self._retry.call(lambda: attr(*args, **kwargs), _transient)

        return call


def _seconds(value: object, default: float) -> float:
    if value is None:
        return default
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    from topoctl.units import parse_duration

    return parse_duration(value, "ms") / 1000


@dataclass(frozen=True)
class Clients:
    """The boto3 clients a driver uses; tests hand in fakes."""

    sqs: Any
    sns: Any
    sts: Any


def _code(exc: ClientError) -> str:
    # Query-protocol codes are prefixed (`AWS.SimpleQueueService.QueueDeletedRecently`).
    code = str(exc.response.get("Error", {}).get("Code", ""))
    return code.rsplit(".", 1)[-1]


def _message(exc: ClientError) -> str:
    error = exc.response.get("Error", {})
    return f"{error.get('Code', 'error')}: {error.get('Message', '') or exc}"


class AwsDriver(Driver):
    type = "aws"

    def __init__(self, name: str, connection: Mapping[str, Any], clients: Clients | None = None) -> None:
        super().__init__(name, connection)
        self.region = str(connection.get("region") or "")
        self.endpoint_url = str(connection.get("endpoint_url") or "") or None
        self.workers = int(connection.get("max_workers") or DEFAULT_WORKERS)
        self.clients = clients or self._connect()
        self._account: str | None = None
        self._lock = threading.Lock()
        self._queue_urls: dict[str, str] = {}
        self._subscription_arns: dict[Address, str] = {}
        self._paging_ignored: bool | None = None  # ListQueues ignores MaxResults (moto)?
        # Seams for tests of the QueueDeletedRecently wait.
        self.clock: Callable[[], float] = time.monotonic
        self.sleep: Callable[[float], None] = time.sleep

    # --- connection ---------------------------------------------------------------------------

    @property
    def endpoint(self) -> str:
        if self.endpoint_url:
            parts = urlsplit(self.endpoint_url)
            host = parts.hostname or ""
            netloc = f"{host}:{parts.port}" if parts.port else host
            return urlunsplit((parts.scheme, netloc, parts.path, "", ""))
        return f"AWS {self.region}"

    def _connect(self) -> Clients:
        c = self.connection
        try:
            session = boto3.session.Session(
                profile_name=c.get("profile") or None,
                aws_access_key_id=c.get("access_key_id") or None,
                aws_secret_access_key=c.get("secret_access_key") or None,
                aws_session_token=c.get("session_token") or None,
                region_name=self.region or None,
            )
            timeout = _seconds(c.get("timeout"), READ_TIMEOUT_S)
            config = Config(
                connect_timeout=min(CONNECT_TIMEOUT_S, timeout),
                read_timeout=timeout,
                # botocore tries once; topoctl's retry helper (connection.retries) does the rest.
                retries={"total_max_attempts": 1, "mode": "standard"},
                max_pool_connections=max(self.workers, 64),
            )

            def client(service: str) -> Any:
                return _Retrying(session.client(service, endpoint_url=self.endpoint_url, config=config), self.retry)

            return Clients(client("sqs"), client("sns"), client("sts"))
        except ProfileNotFound as exc:
            raise BrokerError(self.name, self.endpoint, f"AWS profile not found: {exc}") from None
        except (NoRegionError, BotoCoreError) as exc:
            raise BrokerError(self.name, self.endpoint, f"cannot set up the AWS clients: {exc}") from None
        except ValueError as exc:
            raise BrokerError(self.name, self.endpoint, f"bad connection settings: {exc}") from None

    def _scrub(self, text: str) -> str:
        """botocore quotes the endpoint URL (with any user:password in it) in its messages."""
        if self.endpoint_url:
            text = text.replace(self.endpoint_url, self.endpoint)
        for key in ("secret_access_key", "session_token"):
            secret = self.connection.get(key)
            if isinstance(secret, str) and secret:
                text = text.replace(secret, "***")
        return text

    def _fail(self, what: str, exc: BaseException) -> NoReturn:
        if isinstance(exc, ClientError):
            raise BrokerError(self.name, self.endpoint, self._scrub(f"{what}: {_message(exc)}")) from None
        if isinstance(exc, _CONNECTION_ERRORS):
            raise BrokerError(self.name, self.endpoint, self._scrub(f"cannot connect: {exc}{note(exc)}")) from None
        if isinstance(exc, (NoCredentialsError, PartialCredentialsError)):
            raise BrokerError(
                self.name,
                self.endpoint,
                "no AWS credentials: set connection.access_key_id and secret_access_key, connection.profile,"
                " or the standard AWS environment/profile/role",
            ) from None
        if isinstance(exc, BotoCoreError):
            raise BrokerError(self.name, self.endpoint, self._scrub(f"{what}: {exc}")) from None
        raise exc

    def _call(self, what: str, fn: Callable[..., Any], **kwargs: Any) -> Any:
        try:
            return fn(**kwargs)
        except (ClientError, BotoCoreError) as exc:
            self._fail(what, exc)

    def _unless_gone(self, what: str, gone: Collection[str], call: Callable[[], T]) -> T | None:
        """call(), or None when the answer is one of the `gone` codes: the object does not exist
        (or no longer). Any other failure is `what` failing, never taken for "gone"."""
        try:
            return call()
        except ClientError as exc:
            if _code(exc) in gone:
                return None
            self._fail(what, exc)
        except BotoCoreError as exc:
            self._fail(what, exc)

    def _attributes(
        self, what: str, gone: Collection[str], attributes: Callable[[], Any], tags: Callable[[], Any] | None
    ) -> tuple[dict[str, str], Any] | None:
        """All the `Attributes` of an object, and its `Tags` when `tags` is given (a separate call);
        None when it is gone (deleted since it was listed)."""
        return self._unless_gone(
            f"cannot read {what}",
            gone,
            lambda: (attributes()["Attributes"], tags().get("Tags") if tags else None),
        )

    def account(self) -> str:
        """The account id of the credentials, learned from what was read, else from STS."""
        with self._lock:
            if self._account:
                return self._account
        identity = self._call("cannot find the AWS account id", self.clients.sts.get_caller_identity)
        account = str(identity["Account"])
        with self._lock:
            self._account = self._account or account
            return self._account

    def _learn_account(self, queue_urls: Iterable[str], topic_arns: Iterable[str]) -> str | None:
        with self._lock:
            if self._account:
                return self._account
            for url in queue_urls:
                candidate = url.rstrip("/").split("/")[-2] if url.count("/") >= 2 else ""
                if candidate.isdigit() and len(candidate) == 12:
                    self._account = candidate
                    return candidate
            for arn in topic_arns:
                parts = arn.split(":")
                if len(parts) > 4 and parts[4].isdigit():
                    self._account = parts[4]
                    return parts[4]
        return None

    def close(self) -> None:
        for client in (self.clients.sqs, self.clients.sns, self.clients.sts):
            close = getattr(client, "close", None)
            if close is not None:
                close()

    # --- read ---------------------------------------------------------------------------------

    def read(self, desired: Sequence[Resource], prune: Sequence[PruneScope]) -> list[Resource]:
        wanted = {r.address: r for r in desired if not r.absent}
        declared = {r.address for r in desired}  # `state: absent` too: it names what to delete
        everything = not desired  # no manifest to narrow by (export): read tags of everything too

        def wants_tags(address: Address) -> bool:
            r = wanted.get(address)
            return everything or (r is not None and TAGS in r.attrs)

        def worth(kind: str, *name: str) -> bool:
            # What a plan can act on: declared objects and the live ones a prune scope covers. In
            # a shared account the rest can be thousands of attribute reads for nothing.
            address = Address(self.name, kind, name)
            return everything or address in declared or any(scope.covers(address) for scope in prune)

        refs = references.references(desired, self.name, self.region)
        with ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix=f"aws-{self.name}") as pool:
            prefix = _queue_prefix(desired, prune)
            urls_f = pool.submit(self._list_queue_urls, prefix) if prefix is not None else None
            # The queues named by ARN that this listing does not cover (a central DLQ, another
            # team's queue): looked up side by side with it, one call each, so that whether they
            # exist is known. Widening the prefix instead could list a whole shared account,
            # page after page.
            outside = sorted({r.queue for r in refs if prefix is None or not r.queue.startswith(prefix)})
            lookup_fs = [pool.submit(self._existing_queue_url, name) for name in outside]
            topics_f = pool.submit(self._list_topics)
            subs_f = pool.submit(self._list_subscriptions)
            urls = urls_f.result() if urls_f is not None else []
            urls += [url for f in lookup_fs if (url := f.result()) is not None]
            topic_list, subs = topics_f.result(), subs_f.result()
            account = self._learn_account(urls, topic_list)
            names = {_last(url.rstrip("/"), "/"): url for url in urls}
            queue_fs = [
                pool.submit(self._read_queue, url, account, wants_tags)
                for name, url in names.items()
                if worth(SQS_QUEUE, name)
            ]
            topics = {_last(arn, ":"): arn for arn in topic_list}
            listed = Counter(sub.get("TopicArn", "") for sub in subs)  # pending ones included
            topic_fs = [
                pool.submit(self._read_topic, arn, account, wants_tags, listed[arn])
                for name, arn in topics.items()
                if worth(SNS_TOPIC, name)
            ]
            # A topic's subscriptions go with it: read them whenever the topic is read (or a prune
            # scope covers them).
            parents = {a.name[0] for a in declared if a.kind == SNS_SUBSCRIPTION}
            sub_topics = {
                arn
                for name, arn in topics.items()
                if name in parents or worth(SNS_TOPIC, name) or worth(SNS_SUBSCRIPTION, name, "", "")
            }
            sub_fs: list[Future[Resource | None]] = [
                pool.submit(self._read_subscription, sub, account, wanted, declared, names.keys())
                for sub in subs
                if sub.get("TopicArn") in sub_topics
            ]
            results = [f.result() for f in (*queue_fs, *topic_fs, *sub_fs)]
        observed = [r for r in results if r is not None]
        if refs:
            if account is None and references.needs_account(refs):
                account = self.account()  # nothing was listed to learn it from: one STS call
            observed = self._check_references(refs, account or "", names.keys(), desired, observed, prune)
        return self._with_dead_letter_sources(observed)

    def _check_references(
        self,
        refs: Sequence[references.Reference],
        account: str,
        live_queues: Collection[str],
        desired: Sequence[Resource],
        observed: list[Resource],
        prune: Sequence[PruneScope],
    ) -> list[Resource]:
        """A plan error for queues the plan would point at that will not exist; a note on live
        objects that already point at one."""
        problems, notes = references.dangling(
            refs, account, live_queues, desired, {r.address: r for r in observed}, prune
        )
        if problems:
            raise PlanError(
                f"AWS broker {self.name!r} ({self.endpoint}) would refuse this plan:\n  " + "\n  ".join(problems)
            )
        return [replace(r, info={**r.info, DANGLING: notes[r.address]}) if r.address in notes else r for r in observed]

    def _with_dead_letter_sources(self, observed: list[Resource]) -> list[Resource]:
        """Each queue's `info["dead_letter_for"]`: the queues and subscriptions read that
        dead-letter into it, for the at-risk note of its deletion."""
        sources: dict[str, list[str]] = {}
        for r in observed:
            redrive = r.attrs.get("redrive_policy") if r.kind in (SQS_QUEUE, SNS_SUBSCRIPTION) else None
            target = redrive.get("deadLetterTargetArn") if isinstance(redrive, dict) else None
            dlq = arns.own_queue_name(target, self.region, arns.ACCOUNT) if isinstance(target, str) else None
            if dlq is not None:
                sources.setdefault(dlq, []).append(str(r.address))
        return [
            replace(r, info={**r.info, DEAD_LETTER_FOR: sorted(sources[r.address.name[0]])})
            if r.kind == SQS_QUEUE and r.address.name[0] in sources
            else r
            for r in observed
        ]

    def _list_queue_urls(self, prefix: str = "") -> list[str]:
        urls, truncated = self._list_queue_pages(prefix)
        if not truncated:
            return sorted(urls)
        # A full last page without a NextToken, from an endpoint that ignores MaxResults and stops
        # at 1000 (moto). Split the listing by the next character of the name, level by level and
        # in parallel, until no part is full. Each level holds at most one full part per 1000
        # queues, and a prefix grows by one character per level (names are at most 80), so this
        # ends, after at most 66 calls per full part.
        with ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix=f"aws-{self.name}-list") as pool:
            full = [prefix]
            while full:
                prefixes = [p + c for p in full for c in _NAME_CHARS]
                parts = list(pool.map(self._list_queue_pages, prefixes))
                # The names the longer prefixes miss: `p` itself and `p.fifo`.
                exact = [n for p in full if p for n in (p, p + ".fifo")]
                urls.update(u for u in pool.map(self._existing_queue_url, exact) if u)
                full = []
                for below, (part, part_truncated) in zip(prefixes, parts, strict=True):
                    urls |= part
                    if part_truncated and len(below) < MAX_QUEUE_NAME:
                        full.append(below)
        return sorted(urls)

    def _ignores_max_results(self) -> bool:
        """Whether ListQueues ignores MaxResults (moto), found out once with a one-queue page.

        SQS itself honours it and gives a NextToken whenever more queues follow, so a full page
        without one is simply the last: listing it again by prefix would only cost calls."""
        with self._lock:
            if self._paging_ignored is not None:
                return self._paging_ignored
        page = self._call("cannot list queues", self.clients.sqs.list_queues, MaxResults=1)
        ignored = len(page.get("QueueUrls") or []) > 1
        with self._lock:
            self._paging_ignored = ignored
        return ignored

    def _existing_queue_url(self, name: str) -> str | None:
        """The URL of this account's queue `name`, None when there is none (any other refusal is
        an error: a queue that cannot be looked up is not known to be missing)."""
        return self._unless_gone(
            f"cannot look up queue {name}",
            _NO_QUEUE,
            lambda: str(self.clients.sqs.get_queue_url(QueueName=name)["QueueUrl"]),
        )

    def _list_queue_pages(self, prefix: str) -> tuple[set[str], bool]:
        """The queues named `prefix`..., and whether that listing may have stopped short."""
        urls: set[str] = set()
        kwargs: dict[str, Any] = {"MaxResults": SQS_PAGE}
        if prefix:
            kwargs["QueueNamePrefix"] = prefix
        while True:
            page = self._call("cannot list queues", self.clients.sqs.list_queues, **kwargs)
            listed = page.get("QueueUrls") or []
            urls.update(listed)
            token = page.get("NextToken")
            if token:
                with self._lock:
                    self._paging_ignored = False  # it pages: its last page is the last
                kwargs["NextToken"] = token
                continue
            return urls, len(listed) >= SQS_PAGE and self._ignores_max_results()

    def _list_topics(self) -> list[str]:
        topics: list[str] = []
        kwargs: dict[str, Any] = {}
        while True:
            page = self._call("cannot list topics", self.clients.sns.list_topics, **kwargs)
            topics.extend(t["TopicArn"] for t in page.get("Topics") or [])
            token = page.get("NextToken")
            if not token:
                return topics
            kwargs["NextToken"] = token

    def _list_subscriptions(self) -> list[dict[str, str]]:
        subs: list[dict[str, str]] = []
        kwargs: dict[str, Any] = {}
        while True:
            page = self._call("cannot list subscriptions", self.clients.sns.list_subscriptions, **kwargs)
            subs.extend(page.get("Subscriptions") or [])
            token = page.get("NextToken")
            if not token:
                return subs
            kwargs["NextToken"] = token

    def _read_queue(self, url: str, account: str | None, wants_tags: Callable[[Address], bool]) -> Resource | None:
        name = url.rstrip("/").rsplit("/", 1)[-1]
        address = Address(self.name, SQS_QUEUE, (name,))
        sqs = self.clients.sqs
        tagged = partial(sqs.list_queue_tags, QueueUrl=url) if wants_tags(address) else None
        everything = partial(sqs.get_queue_attributes, QueueUrl=url, AttributeNames=["All"])
        read = self._attributes(f"queue {name}", _NO_QUEUE, everything, tagged)
        if read is None:
            return None  # deleted since it was listed
        wire, tags = read
        with self._lock:
            self._queue_urls[name] = url
        attrs = decode_all(QUEUE_ATTRS, wire, account)
        attrs.setdefault("fifo", False)
        attrs.setdefault("redrive_allow_policy", DEFAULT_REDRIVE_ALLOW)
        if tags is not None:
            attrs[TAGS] = _user_tags(tags)
        depends_on: list[Address] = []
        target = attrs.get("redrive_policy")
        if isinstance(target, dict) and account:
            dlq = arns.own_queue_name(str(target.get("deadLetterTargetArn", "")), self.region, account)
            if dlq:
                depends_on.append(Address(self.name, SQS_QUEUE, (dlq,)))
        messages = sum(
            _int(wire.get(k))
            for k in (
                "ApproximateNumberOfMessages",
                "ApproximateNumberOfMessagesNotVisible",
                "ApproximateNumberOfMessagesDelayed",
            )
        )
        return Resource(address, attrs, tuple(depends_on), info={"messages": messages, "account": account or ""})

    def _read_topic(
        self, arn: str, account: str | None, wants_tags: Callable[[Address], bool], listed: int = 0
    ) -> Resource | None:
        name = arn.rsplit(":", 1)[-1]
        address = Address(self.name, SNS_TOPIC, (name,))
        sns = self.clients.sns
        tagged = partial(sns.list_tags_for_resource, ResourceArn=arn) if wants_tags(address) else None
        read = self._attributes(f"topic {name}", _NOT_FOUND, partial(sns.get_topic_attributes, TopicArn=arn), tagged)
        if read is None:
            return None  # deleted since it was listed
        wire, tags = read
        attrs = decode_all(TOPIC_ATTRS, wire, account)
        attrs.setdefault("fifo", False)
        for key, default in _TOPIC_UNREPORTED.items():
            attrs.setdefault(key, default)
        if tags is not None:
            attrs[TAGS] = _user_tags({t["Key"]: t["Value"] for t in tags})
        # At least the `listed` subscriptions of the topic: the attributes lag on AWS (eventually
        # consistent) and stay 0 on moto, and this count is part of what a saved plan that deletes
        # the topic was approved with. (The listing has only the caller's own subscriptions, the
        # attributes also other accounts'.)
        subscriptions = max(_int(wire.get("SubscriptionsConfirmed")) + _int(wire.get("SubscriptionsPending")), listed)
        return Resource(address, attrs, info={"subscriptions": subscriptions, "account": account or ""})

    def _read_subscription(
        self,
        sub: Mapping[str, str],
        account: str | None,
        wanted: Mapping[Address, Resource],
        declared: Collection[Address],
        queues: Collection[str],
    ) -> Resource | None:
        topic = sub["TopicArn"].rsplit(":", 1)[-1]
        protocol = sub.get("Protocol", "")
        endpoint = sub.get("Endpoint", "")
        depends_on = [Address(self.name, SNS_TOPIC, (topic,))]
        address = Address(self.name, SNS_SUBSCRIPTION, (topic, protocol, endpoint))
        placeholder = Address(self.name, SNS_SUBSCRIPTION, (topic, protocol, str(arns.symbolise(endpoint, account))))
        if address not in declared and placeholder in declared:
            address = placeholder  # the manifest wrote the ARN with `{account}`
        queue = arns.own_queue_name(endpoint, self.region, account) if protocol == "sqs" and account else None
        if queue is not None:
            depends_on.append(Address(self.name, SQS_QUEUE, (queue,)))
            by_name = Address(self.name, SNS_SUBSCRIPTION, (topic, protocol, queue))
            # Our queues are named by name in the manifest, unless it wrote the ARN itself. A
            # subscription outliving its queue keeps the ARN: a name would not compile.
            if address not in declared and (by_name in declared or queue in queues):
                address = by_name
        arn = sub.get("SubscriptionArn", "")
        if arn in _PENDING_ARNS or not arn.startswith("arn:"):
            # Neither readable nor deletable until confirmed (or expired after 3 days): only worth
            # showing when the manifest declares it, so it is not subscribed again on each apply.
            if address not in wanted:
                return None
            return Resource(address, {}, tuple(depends_on), info={PENDING: True, "account": account or ""})
        wire = self._unless_gone(
            f"cannot read subscription {address.display_name}",
            _NOT_FOUND,
            lambda: self.clients.sns.get_subscription_attributes(SubscriptionArn=arn)["Attributes"],
        )
        if wire is None:
            return None  # unsubscribed since it was listed
        if str(wire.get("PendingConfirmation", "false")).lower() == "true":
            if address not in wanted:
                return None
            return Resource(address, {}, tuple(depends_on), info={PENDING: True, "account": account or ""})
        with self._lock:
            self._subscription_arns[address] = arn
        attrs = decode_all(SUBSCRIPTION_ATTRS, wire, account)
        # What AWS does without these attributes, so that declaring the default is no change.
        attrs.setdefault("raw_message_delivery", False)
        attrs.setdefault("filter_policy", {})
        attrs.setdefault("filter_policy_scope", "MessageAttributes")
        redrive = attrs.get("redrive_policy")
        if isinstance(redrive, dict) and account:
            dlq = arns.own_queue_name(str(redrive.get("deadLetterTargetArn", "")), self.region, account)
            if dlq:
                depends_on.append(Address(self.name, SQS_QUEUE, (dlq,)))
        return Resource(address, attrs, tuple(dict.fromkeys(depends_on)), info={"account": account or ""})

    # --- apply --------------------------------------------------------------------------------

    @staticmethod
    @contextmanager
    def _after_effect() -> Iterator[None]:
        """Inside: the change has taken effect on the broker (in part at least), so a failure is
        PartlyApplied."""
        try:
            yield
        except PartlyApplied:
            raise
        except BrokerError as exc:
            prefix = f"broker {exc.broker!r} ({exc.address}): "
            raise PartlyApplied(exc.broker, exc.address, str(exc).removeprefix(prefix)) from None

    def _steps(self, *steps: Callable[[], object]) -> None:
        """Run the calls of one change in order: once the first took effect, the change is on the
        broker in part, whatever fails next."""
        if steps:
            steps[0]()
            with self._after_effect():
                for step in steps[1:]:
                    step()

    def apply_one(self, change: Change) -> None:
        kind = change.address.kind
        if kind == SQS_QUEUE:
            {Action.CREATE: self._create_queue, Action.UPDATE: self._update_queue, Action.DELETE: self._delete_queue}[
                change.action
            ](change)
        elif kind == SNS_TOPIC:
            {Action.CREATE: self._create_topic, Action.UPDATE: self._update_topic, Action.DELETE: self._delete_topic}[
                change.action
            ](change)
        elif kind == SNS_SUBSCRIPTION:
            {
                Action.CREATE: self._create_subscription,
                Action.UPDATE: self._update_subscription,
                Action.DELETE: self._delete_subscription,
            }[change.action](change)
        else:
            raise BrokerError(self.name, self.endpoint, f"{change.address}: unknown kind {kind!r}")

    # queues

    def _queue_url(self, name: str) -> str:
        with self._lock:
            url = self._queue_urls.get(name)
        if url:
            return url
        url = str(self._call(f"cannot find queue {name}", self.clients.sqs.get_queue_url, QueueName=name)["QueueUrl"])
        with self._lock:
            self._queue_urls[name] = url
        return url

    def _create_queue(self, change: Change) -> None:
        name = change.address.name[0]
        after = dict(change.after or {})
        settable = {k: v for k, v in after.items() if v not in (None, "") and k != TAGS}  # "": not set
        if not settable.get("fifo"):
            settable.pop("fifo", None)  # FifoQueue is only ever sent as true
        wire = encode_all(QUEUE_ATTRS, settable, self.account())
        kwargs: dict[str, Any] = {"QueueName": name, "Attributes": wire}
        tags = after.get(TAGS)
        if isinstance(tags, dict) and tags:
            kwargs["tags"] = {str(k): str(v) for k, v in tags.items()}
        deadline = self.clock() + RECREATE_WINDOW_S
        delay = 1.0
        while True:
            try:
                url = str(self.clients.sqs.create_queue(**kwargs)["QueueUrl"])
                break
            except ClientError as exc:
                code = _code(exc)
                if code == "QueueDeletedRecently" and self.clock() < deadline:
                    # A replace: SQS keeps the name for 60 s after DeleteQueue.
                    self.sleep(delay)
                    delay = min(delay * 2, 10.0)
                    continue
                if code == "QueueDeletedRecently":
                    raise BrokerError(
                        self.name,
                        self.endpoint,
                        f"cannot create queue {name}: a queue of that name was deleted less than 60 s ago and"
                        f" SQS still refused it after {RECREATE_WINDOW_S:.0f} s; run apply again",
                    ) from None
                if code in ("QueueAlreadyExists", "QueueNameExists"):
                    raise BrokerError(
                        self.name,
                        self.endpoint,
                        f"cannot create queue {name}: it already exists with different attributes (it was"
                        " probably created since the plan was made); run `topoctl plan` again",
                    ) from None
                self._fail(f"cannot create queue {name}", exc)
            except BotoCoreError as exc:
                self._fail(f"cannot create queue {name}", exc)
        with self._lock:
            self._queue_urls[name] = url
        with self._after_effect():
            self._check_queue_reported(name, url, after)

    def _update_queue(self, change: Change) -> None:
        name = change.address.name[0]
        after = change.after or {}
        fields = {f.field for f in change.fields}
        url = self._queue_url(name)
        changed = {k: after.get(k) for k in fields if k in QUEUE_ATTRS and k != "fifo"}
        if "policy" in changed and "policy" not in after:
            changed["policy"] = without_composed((change.before or {}).get("policy"))
        steps: list[Callable[[], object]] = []
        if changed:
            current_policy = (change.before or {}).get("policy")
            if "policy" not in changed and current_policy is not None:
                # moto clears the Policy on any SetQueueAttributes without one (AWS keeps it);
                # sending the live document back unchanged is harmless on both.
                changed["policy"] = current_policy
            wire = encode_all(QUEUE_ATTRS, changed, self.account())
            sqs = self.clients.sqs
            steps.append(
                partial(
                    self._call, f"cannot update queue {name}", sqs.set_queue_attributes, QueueUrl=url, Attributes=wire
                )
            )
        if TAGS in fields:
            add, remove = _tag_changes(change)
            if add:
                steps.append(
                    partial(self._call, f"cannot tag queue {name}", self.clients.sqs.tag_queue, QueueUrl=url, Tags=add)
                )
            if remove:
                steps.append(
                    partial(
                        self._call,
                        f"cannot untag queue {name}",
                        self.clients.sqs.untag_queue,
                        QueueUrl=url,
                        TagKeys=remove,
                    )
                )
        if "redrive_allow_policy" in changed:
            steps.append(partial(self._check_queue_reported, name, url, after))
        self._steps(*steps)

    def _check_queue_reported(self, name: str, url: str, after: Mapping[str, JSON]) -> None:
        self._check_reported(
            f"queue {name}",
            QUEUE_ATTRS,
            _QUEUE_UNREPORTED,
            after,
            lambda: self._call(
                f"cannot read queue {name}", self.clients.sqs.get_queue_attributes, QueueUrl=url, AttributeNames=["All"]
            )["Attributes"],
        )

    def _check_reported(
        self,
        what: str,
        table: Mapping[str, Attr],
        unreported: Mapping[str, JSON],
        after: Mapping[str, JSON],
        read: Callable[[], Mapping[str, str]],
    ) -> None:
        """Some endpoints (moto) accept attributes they never report back: say so now rather than
        let every later plan show the same change. Only the attributes in `unreported` (key -> what
        reading nothing means) with another value declared cost a read."""
        check = [k for k, default in unreported.items() if after.get(k) is not None and after.get(k) != default]
        if not check:
            return
        wire = read()
        missing = [table[k] for k in check if table[k].wire not in wire]
        if missing:
            raise BrokerError(
                self.name,
                self.endpoint,
                f"{what}: {', '.join(a.wire for a in missing)} was accepted but the endpoint does not report it"
                " back, so every plan would show it as a change; this endpoint does not support "
                + ", ".join(a.key for a in missing),
            )

    def _delete_queue(self, change: Change) -> None:
        name = change.address.name[0]
        with self._lock:
            url = self._queue_urls.get(name)
        # Not read (so looked up): gone already only when SQS says there is no such queue; a
        # lookup refused for any other reason (denied, throttled, unreachable) fails the change.
        url = url or self._existing_queue_url(name)
        if url is not None:
            sqs = self.clients.sqs
            self._unless_gone(f"cannot delete queue {name}", _NO_QUEUE, partial(sqs.delete_queue, QueueUrl=url))
        with self._lock:
            self._queue_urls.pop(name, None)

    # topics

    def _topic_arn(self, name: str) -> str:
        return arns.topic_arn(self.region, name, self.account())

    def _create_topic(self, change: Change) -> None:
        name = change.address.name[0]
        after = dict(change.after or {})
        settable = {k: v for k, v in after.items() if v not in (None, "") and k != TAGS}  # "": not set
        if not settable.get("fifo"):
            settable.pop("fifo", None)
        kwargs: dict[str, Any] = {"Name": name, "Attributes": encode_all(TOPIC_ATTRS, settable, self.account())}
        tags = after.get(TAGS)
        if isinstance(tags, dict) and tags:
            kwargs["Tags"] = [{"Key": str(k), "Value": str(v)} for k, v in tags.items()]
        arn = str(self._call(f"cannot create topic {name}", self.clients.sns.create_topic, **kwargs)["TopicArn"])
        with self._after_effect():
            self._check_topic_reported(name, arn, after)

    def _check_topic_reported(self, name: str, arn: str, after: Mapping[str, JSON]) -> None:
        self._check_reported(
            f"topic {name}",
            TOPIC_ATTRS,
            _TOPIC_UNREPORTED,
            after,
            lambda: self._call(f"cannot read topic {name}", self.clients.sns.get_topic_attributes, TopicArn=arn)[
                "Attributes"
            ],
        )

    def _update_topic(self, change: Change) -> None:
        name = change.address.name[0]
        after = change.after or {}
        arn = self._topic_arn(name)
        fields = sorted(f.field for f in change.fields)
        account = self.account()
        sns = self.clients.sns
        steps: list[Callable[[], object]] = []
        for key in fields:
            if key in TOPIC_ATTRS and key != "fifo":
                attr = TOPIC_ATTRS[key]
                steps.append(  # one attribute per call: that is the API
                    partial(
                        self._call,
                        f"cannot set {key} of topic {name}",
                        sns.set_topic_attributes,
                        TopicArn=arn,
                        AttributeName=attr.wire,
                        AttributeValue=attr.encode(after.get(key), account),
                    )
                )
        if TAGS in fields:
            add, remove = _tag_changes(change)
            if add:
                tags = [{"Key": k, "Value": v} for k, v in add.items()]
                steps.append(
                    partial(self._call, f"cannot tag topic {name}", sns.tag_resource, ResourceArn=arn, Tags=tags)
                )
            if remove:
                steps.append(
                    partial(
                        self._call, f"cannot untag topic {name}", sns.untag_resource, ResourceArn=arn, TagKeys=remove
                    )
                )
        steps.append(partial(self._check_topic_reported, name, arn, {k: after.get(k) for k in fields}))
        self._steps(*steps)

    def _delete_topic(self, change: Change) -> None:
        name = change.address.name[0]
        self._call(f"cannot delete topic {name}", self.clients.sns.delete_topic, TopicArn=self._topic_arn(name))

    # subscriptions

    def _create_subscription(self, change: Change) -> None:
        topic, protocol, endpoint = change.address.name
        account = self.account()
        endpoint = self._wire_endpoint(protocol, endpoint, account)
        after = {k: v for k, v in (change.after or {}).items() if v is not None}
        response = self._call(
            f"cannot subscribe {change.address.display_name}",
            self.clients.sns.subscribe,
            TopicArn=arns.topic_arn(self.region, topic, account),
            Protocol=protocol,
            Endpoint=endpoint,
            Attributes=encode_all(SUBSCRIPTION_ATTRS, after, account),
            ReturnSubscriptionArn=True,
        )
        arn = str(response.get("SubscriptionArn", ""))
        if arn.startswith("arn:"):
            with self._lock:
                self._subscription_arns[change.address] = arn

    def _wire_endpoint(self, protocol: str, endpoint: str, account: str) -> str:
        """A queue of this broker by its ARN; `{account}` in an ARN written as the real id."""
        if protocol == "sqs" and not arns.is_arn(endpoint):
            return arns.queue_arn(self.region, endpoint, account)
        return str(arns.resolve(endpoint, account))

    def _subscription_arn(self, address: Address) -> str | None:
        with self._lock:
            arn = self._subscription_arns.get(address)
        if arn:
            return arn
        topic, protocol, endpoint = address.name
        account = self.account()
        endpoint = self._wire_endpoint(protocol, endpoint, account)
        kwargs: dict[str, Any] = {"TopicArn": arns.topic_arn(self.region, topic, account)}
        while True:
            page = self._call(
                f"cannot list subscriptions of {topic}", self.clients.sns.list_subscriptions_by_topic, **kwargs
            )
            for sub in page.get("Subscriptions") or []:
                if sub.get("Protocol") == protocol and sub.get("Endpoint") == endpoint:
                    found = str(sub.get("SubscriptionArn", ""))
                    return found if found.startswith("arn:") else None
            token = page.get("NextToken")
            if not token:
                return None
            kwargs["NextToken"] = token

    def _update_subscription(self, change: Change) -> None:
        arn = self._subscription_arn(change.address)
        name = change.address.display_name
        if arn is None:
            raise BrokerError(
                self.name, self.endpoint, f"cannot update subscription {name}: not found, or pending confirmation"
            )
        after = change.after or {}
        account = self.account()
        steps: list[Callable[[], object]] = []
        for key in sorted((f.field for f in change.fields), key=lambda k: _subscription_order(k, after)):
            attr: Attr | None = SUBSCRIPTION_ATTRS.get(key)
            if attr is None:
                continue
            value = after.get(key)
            steps.append(
                partial(
                    self._call,
                    f"cannot set {key} of subscription {name}",
                    self.clients.sns.set_subscription_attributes,
                    SubscriptionArn=arn,
                    AttributeName=attr.wire,
                    # An empty filter policy is how SNS removes one.
                    AttributeValue="{}" if key == "filter_policy" and not value else attr.encode(value, account),
                )
            )
        self._steps(*steps)

    def _delete_subscription(self, change: Change) -> None:
        arn = self._subscription_arn(change.address)
        if arn is None:
            # Gone already, or pending confirmation (which AWS cannot delete; it expires on its
            # own, and goes with its topic).
            return
        sns = self.clients.sns
        self._unless_gone(
            f"cannot unsubscribe {change.address.display_name}",
            _NOT_FOUND,
            partial(sns.unsubscribe, SubscriptionArn=arn),
        )
        with self._lock:
            self._subscription_arns.pop(change.address, None)


def _queue_prefix(desired: Sequence[Resource], prune: Sequence[PruneScope]) -> str | None:
    """The name prefix that lists every queue a plan can act on (None: no queue at all).

    Declared queues and queue prune scopes share it; an export (nothing desired) lists everything.
    On SQS a listing is one call per 1000 queues anyway; on moto, which lists 1000 at most, a
    narrow prefix spares the prefix-split listing of everybody else's queues."""
    if not desired:
        return ""
    names = [r.address.name[0] for r in desired if r.kind == SQS_QUEUE]
    names += [s.prefix for s in prune if not s.kinds or SQS_QUEUE in s.kinds]
    return os.path.commonprefix(names) if names else None  # noqa: RUF071 - characters, not paths


def _last(text: str, sep: str) -> str:
    return text.rsplit(sep, 1)[-1]


def _tag_changes(change: Change) -> tuple[dict[str, str], list[str]]:
    """Tags to set (new or changed) and tag keys to remove: the declared set is the whole set."""
    have = (change.before or {}).get(TAGS) or {}
    want = (change.after or {}).get(TAGS) or {}
    add = {str(k): str(v) for k, v in want.items() if have.get(k) != v}
    return add, [str(k) for k in have if k not in want]


def _subscription_order(key: str, after: Mapping[str, JSON]) -> tuple[int, str]:
    """SNS checks a filter policy against the scope the subscription has when it is set, and a
    nested policy is valid for MessageBody only: switching to MessageBody, set the scope first;
    switching back, the (flat) policy first."""
    first = "filter_policy_scope" if after.get("filter_policy_scope") == "MessageBody" else "filter_policy"
    return (0 if key == first else 1, key)


def _int(value: object) -> int:
    try:
        return int(str(value))
    except ValueError:
        return 0


def _user_tags(tags: Mapping[str, str] | None) -> dict[str, JSON]:
    # `aws:` tags belong to AWS services (CloudFormation...) and cannot be changed by users.
    return {str(k): str(v) for k, v in (tags or {}).items() if not str(k).startswith("aws:")}
