"""Live Kafka through confluent-kafka's AdminClient: batched reads and batched writes.

Reading is a constant number of requests whatever the number of topics: one metadata request,
one DescribeConfigs for every topic, one DescribeAcls with a match-any filter, and (only for
topics a plan may destroy) one ListOffsets per offset spec to count the messages at risk. When
the manifest asks for new topics or other configs, one CreateTopics and one IncrementalAlterConfigs
with `validate_only` let the broker refuse them at plan time rather than halfway through an apply.

Writing is batched per wave of the plan: one CreateTopics, one CreatePartitions, one
IncrementalAlterConfigs, one DeleteTopics, one CreateAcls and one DeleteAcls at most (each split
below KRaft's cap when big, see below). KRaft
applies metadata changes asynchronously, so after each batch the driver waits until the broker
shows the result; otherwise the next step (or the next plan) would see the old state.

The KRaft controller writes the metadata records of one request as one atomic batch and refuses
a batch of more than 10,000 records ("Unable to perform excessively large batch operation"):
a topic is one record, plus one per partition and one per config. So every batched write (and
its dry run) is split into requests of at most MAX_RECORDS_PER_REQUEST records, all sent at once.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import Future
from typing import Any

from confluent_kafka import KafkaError, KafkaException, TopicCollection, TopicPartition

# confluent-kafka re-exports these from private modules without __all__.
from confluent_kafka.admin import (  # type: ignore[attr-defined]
    AclBinding,
    AclBindingFilter,
    AclOperation,
    AclPermissionType,
    AdminClient,
    AlterConfigOpType,
    ConfigEntry,
    ConfigResource,
    ConfigSource,
    NewPartitions,
    NewTopic,
    OffsetSpec,
    ResourcePatternType,
    ResourceType,
)

from topoctl.errors import BrokerError, PlanError
from topoctl.model import JSON, Action, Address, Change, FieldChange, Resource
from topoctl.providers.base import Driver, PruneScope, in_background
from topoctl.providers.kafka import access, acls, registry, replication, subjects
from topoctl.providers.kafka.ahead import Early
from topoctl.providers.kafka.connection import (
    ConnectionProblem,
    endpoint,
    librdkafka_config,
    scrub,
    secret_values,
    timeout_ms,
    tls_file_problem,
    write_timeout_ms,
)
from topoctl.providers.kafka.kinds import ACL, CONFIG_PREFIX, KINDS, QUOTA, SUBJECT, TOPIC, USER
from topoctl.providers.kafka.kpy import ExtraAdmin, kafka_python_config
from topoctl.providers.kafka.names import collision_key, is_internal
from topoctl.providers.kafka.values import canonical_or_raw

# librdkafka logs connection failures itself; they go to this logger (silent unless the CLI
# turns on debug logging) instead of straight to stderr.
_LIBRDKAFKA_LOG = logging.getLogger("topoctl.providers.kafka.librdkafka")
_LIBRDKAFKA_LOG.addHandler(logging.NullHandler())

# Writes can take longer than a read on a busy broker (1,000 topics in one CreateTopics):
# the default of `connection.write_timeout`.
WRITE_TIMEOUT_S = 60.0
# How long to wait for KRaft to show the result of a write before calling it failed.
SETTLE_TIMEOUT_S = 30.0
_POLL_S = 0.05
# Records per write request: half of KRaft's cap of 10,000 per atomic batch, for a cluster that
# configures it lower (controller.max.records.per.batch) and for records we do not count.
MAX_RECORDS_PER_REQUEST = 5_000
# Configs are read this many topics a request, this many requests at a time (see _read_configs).
CONFIG_CHUNK = 500
CONFIG_WINDOW = 2
# A topic that leaves its partition count to the broker's num.partitions is counted as this many.
UNKNOWN_PARTITIONS = 16
_FIRST_METADATA_WAIT_S = 0.5

ProgressCallback = Callable[[Change], None]


class KafkaDriver(Driver):
    type = "kafka"

    def __init__(self, name: str, connection: Mapping[str, Any]) -> None:
        super().__init__(name, connection)
        try:
            self._config = librdkafka_config(connection)
            self._timeout_s = timeout_ms(connection) / 1000
            self._write_timeout_s = write_timeout_ms(connection) / 1000
        except ConnectionProblem as exc:
            raise self._error(f"bad connection settings: {exc}") from None
        problem = tls_file_problem(connection)
        if problem:
            raise self._error(problem)
        self._secrets = secret_values(self._config)
        # How long to wait for KRaft to show a write: at most SETTLE_TIMEOUT_S, and no longer than
        # a write may take, so a broker that hangs after accepting one is given up on as quickly.
        self._settle_s = min(SETTLE_TIMEOUT_S, self._write_timeout_s)
        self._admin: AdminClient | None = None
        # The requests started by read_ahead, for the next read only.
        self._early: Early | None = None
        # Errors librdkafka reports outside any request (connection refused, SASL or TLS failures).
        self._client_errors: deque[KafkaError] = deque(maxlen=20)
        # kafka-python, for reassignments and quotas (see kpy), opened on first use.
        self._extra: ExtraAdmin | None = None
        # Declared SCRAM passwords by user, from the manifest seen by `read` (plans never hold them).
        self.user_passwords: dict[str, str] = {}
        # The schema registry of `connection.schema_registry` (inert without one): subjects.
        try:
            self.registry = registry.SchemaRegistry(name, subjects.registry_settings(connection), self.retry)
        except ConnectionProblem as exc:
            raise self._error(f"bad connection settings: {exc}") from None

    @property
    def endpoint(self) -> str:
        return endpoint(self.connection)

    # -- plumbing ---------------------------------------------------------------------------

    def _error(self, message: str) -> BrokerError:
        return BrokerError(self.name, self.endpoint, scrub(message, getattr(self, "_secrets", ())))

    def _login(self) -> str:
        """Who tried to log in, for an authentication error: the mechanism and user, never the password."""
        mechanism, user = self._config.get("sasl.mechanism"), self._config.get("sasl.username")
        return f" (SASL {mechanism} as {user!r})" if mechanism and user else ""

    def _text(self, exc: BaseException) -> str:
        return scrub(_describe(exc), self._secrets)

    @property
    def admin(self) -> AdminClient:
        if self._admin is None:
            config: dict[str, Any] = dict(self._config)
            config.setdefault("socket.connection.setup.timeout.ms", str(int(self._timeout_s * 1000)))
            config["logger"] = _LIBRDKAFKA_LOG
            config["error_cb"] = self._client_errors.append
            try:
                self._admin = AdminClient(config)
            except (KafkaException, ValueError, TypeError) as exc:
                raise self._error(f"bad connection settings: {self._text(exc)}") from None
        return self._admin

    @property
    def extra(self) -> ExtraAdmin:
        if self._extra is None:
            try:
                self._extra = ExtraAdmin(kafka_python_config(self._config, self._timeout_s))
            except ConnectionProblem as exc:
                raise self._error(f"bad connection settings: {exc}") from None
        return self._extra

    def close(self) -> None:
        if self._early is not None:  # a read ahead nobody took (the manifest was refused)
            self._early.over.set()
            self._early = None
        self.registry.close()
        self._admin = None
        if self._extra is not None:
            self._extra.close()
            self._extra = None

    def _metadata(self, admin: AdminClient | None = None) -> Any:
        """The first metadata request, which is also the connection check. librdkafka reports why
        it cannot connect (refused, bad credentials, TLS) only to `error_cb`, served by `poll`: the
        wait is cut in growing slices so a rejected login or certificate fails at once, and says so.
        `admin`: the client to ask (a read ahead's, which must not make one after `close`)."""
        admin = self.admin if admin is None else admin  # not `or`: an AdminClient with nothing queued is falsy
        deadline = time.monotonic() + self._timeout_s
        wait = _FIRST_METADATA_WAIT_S
        while True:
            wait = min(wait, max(deadline - time.monotonic(), 0.01))
            try:
                return admin.list_topics(timeout=wait)
            except KafkaException as exc:
                admin.poll(0)
                reasons = [e for e in self._client_errors if e.code() != KafkaError._ALL_BROKERS_DOWN]
                auth = [e for e in reasons if e.code() == KafkaError._AUTHENTICATION]
                if auth:
                    raise self._error(
                        f"authentication failed{self._login()}: {self._text(KafkaException(auth[-1]))}"
                    ) from None
                tls = [e for e in reasons if e.code() == KafkaError._SSL]
                if tls:
                    raise self._error(f"TLS handshake failed: {self._text(KafkaException(tls[-1]))}") from None
                if time.monotonic() >= deadline:
                    why = f" ({self._text(KafkaException(reasons[-1]))})" if reasons else ""
                    raise self._unreachable(f"cannot connect: {self._text(exc)}{why}") from None
            wait *= 2

    # -- read -------------------------------------------------------------------------------

    def _unreachable(self, message: str) -> BrokerError:
        return _Unreachable(self.name, self.endpoint, scrub(message, self._secrets))

    def _failed(self, message: str, exc: KafkaException) -> BrokerError:
        """A read that failed: `_Unreachable` (worth reading again) when librdkafka calls it
        retriable or it is a timeout or lost connection."""
        error = exc.args[0] if exc.args else None
        if isinstance(error, KafkaError) and (error.retriable() or error.code() in _TRANSIENT_CODES):
            return self._unreachable(message)
        return self._error(message)

    def read(self, desired: Sequence[Resource], prune: Sequence[PruneScope]) -> list[Resource]:
        """`_read`, again while the retry budget lasts when the broker could not be reached (librdkafka
        already reconnects within `timeout`: this covers a broker restarting for longer)."""
        return self.retry.call(lambda: self._read(desired, prune), lambda exc: isinstance(exc, _Unreachable))

    def read_ahead(self, section: Mapping[str, Any]) -> bool:
        """The metadata request (see kafka/ahead.py)."""
        admin = self.admin  # made here: a background thread never makes one after `close`
        self._early = Early(admin, metadata=in_background(lambda: self._metadata(admin)))
        return True

    def read_ahead_compiled(self, resources: Sequence[Resource]) -> None:
        """The dry run of the topics to create that the metadata read ahead does not show, as `_read`
        would send it, unless the read has started (see kafka/ahead.py)."""
        early = self._early
        if early is not None and not early.over.is_set():
            in_background(lambda: self._dry_run_early(early, resources))

    def _dry_run_early(self, early: Early, resources: Sequence[Resource]) -> None:
        topics = _live_topics(early.metadata.result())
        if early.over.is_set():  # the read came first: it sends the dry run
            return
        new = [_new_topic_of(r.address.name[0], r.attrs) for r in self._to_dry_run(resources, topics)]
        admin = early.admin
        for chunk in record_chunks(new, _topic_records):  # the requests of `_validate_creates`
            try:
                if not early.send(
                    chunk, lambda c: admin.create_topics(c, validate_only=True, request_timeout=self._timeout_s)
                ):
                    return
            except (KafkaException, ValueError, TypeError):
                return  # the read sends the rest itself, and says why it is refused

    def _read(self, desired: Sequence[Resource], prune: Sequence[PruneScope]) -> list[Resource]:
        early, self._early = self._early, None  # what was read ahead serves this read only
        if early is not None:
            early.over.set()  # no more dry runs sent ahead
        metadata = early.metadata.result() if early is not None else self._metadata()
        topics = _live_topics(metadata)
        self._check_collisions(desired, topics)
        mine = self._mine(desired)
        # A create with too many replicas is refused by its dry run below; a replace is not dry-run.
        existing = [r for r in mine if r.address.name[0] in topics]
        problems = _replication_problems(existing, len(getattr(metadata, "brokers", None) or {}))
        # The requests in flight at once; the results are awaited below.
        acl_future = self.admin.describe_acls(_MATCH_ANY_ACL, request_timeout=self._timeout_s)
        creates = self._validate_creates(self._to_dry_run(desired, topics), early)
        wanted = {r.address.name[0] for r in desired if r.kind == TOPIC and r.broker == self.name}
        # Only the topics a plan can act on (declared, or in a prune scope) are described and
        # observed: in a shared cluster the others can be thousands of ~40 config entries each. An
        # export (nothing declared, nothing pruned) reads them all.
        described = [
            name
            for name in topics
            if (not desired and not prune)
            or name in wanted
            or any(scope.covers(Address(self.name, TOPIC, (name,))) for scope in prune)
        ]
        configs = self._read_configs(described, needed=wanted)
        problems += self._refused(creates, "create it")
        problems += self._refused(self._validate_config_changes(mine, configs), "change its configs")
        if problems:
            raise PlanError(
                f"Kafka broker {self.name!r} ({self.endpoint}) would refuse this plan:\n  " + "\n  ".join(problems)
            )
        messages = self._messages(self._at_risk_candidates(desired, prune, topics), topics)

        observed: list[Resource] = []
        for name in sorted(described):
            meta = topics[name]
            partitions = len(meta.partitions)
            replicas = max((len(p.replicas) for p in meta.partitions.values()), default=0)
            info: dict[str, JSON] = {"partitions": partitions}
            if name in messages:
                info["messages"] = messages[name]
            attrs: dict[str, JSON] = {
                "partitions": partitions,
                "replication_factor": replicas,
                "config": configs.get(name, {}),
            }
            observed.append(Resource(Address(self.name, TOPIC, (name,)), attrs, info=info))
        observed = replication.observe(self, metadata, desired, observed)
        acls_needed = any(r.kind == ACL for r in desired) or any(ACL in s.kinds or not s.kinds for s in prune)
        observed.extend(self._acl_resources(acl_future, acls_needed, set(topics)))
        observed.extend(access.read_quotas(self, desired, prune))
        observed.extend(access.read_users(self, desired, prune))
        observed.extend(self.registry.read(desired, prune))
        return observed

    def _mine(self, desired: Sequence[Resource]) -> list[Resource]:
        """The topics of this broker the manifest wants to exist."""
        return [r for r in desired if r.kind == TOPIC and r.broker == self.name and not r.absent]

    def _to_dry_run(self, desired: Sequence[Resource], topics: Mapping[str, Any]) -> list[Resource]:
        """The topics to create that their dry run checks. A new topic that takes the place of a
        live one going in the same plan ('a.b' for a deleted 'a_b') would be refused now, but not
        after the delete: it is not dry-run."""
        going = {
            collision_key(r.address.name[0])
            for r in desired
            if r.kind == TOPIC and r.broker == self.name and r.absent and r.address.name[0] in topics
        }
        return [
            r
            for r in self._mine(desired)
            if r.address.name[0] not in topics and collision_key(r.address.name[0]) not in going
        ]

    # -- server-side dry runs: what apply would be refused, found by the plan -----------------

    def _validate_creates(
        self, topics: Sequence[Resource], early: Early | None = None
    ) -> list[tuple[Resource, Future[Any]]]:
        """CreateTopics with validate_only: bad config names and values, impossible settings.
        A topic whose very request was sent `early` (read_ahead) is not sent again."""
        new = [_new_topic_of(r.address.name[0], r.attrs) for r in topics]
        futures = early.dry_runs(new) if early is not None else {}  # and the background sends no more
        if not topics:
            return []
        rest = [t for t in new if t.topic not in futures]
        try:
            if rest:
                futures.update(
                    self._batched(
                        lambda chunk: self.admin.create_topics(
                            chunk, validate_only=True, request_timeout=self._timeout_s
                        ),
                        rest,
                        _topic_records,
                        lambda t: t.topic,
                    )
                )
        except (KafkaException, ValueError, TypeError) as exc:
            raise self._error(f"cannot check the topics to create: {self._text(exc)}") from None
        return [(r, futures[r.address.name[0]]) for r in topics]

    def _validate_config_changes(
        self, topics: Sequence[Resource], live: Mapping[str, Mapping[str, JSON]]
    ) -> list[tuple[Resource, Future[Any]]]:
        """IncrementalAlterConfigs with validate_only, for the declared keys that differ."""
        changing: list[tuple[Resource, ConfigResource]] = []
        for resource in topics:
            name = resource.address.name[0]
            if name not in live:
                continue
            declared = resource.attrs.get("config")
            entries = [
                _config_entry(key, value)
                for key, value in (declared.items() if isinstance(declared, Mapping) else ())
                if live[name].get(key) != value
            ]
            if entries:
                changing.append((resource, ConfigResource(ResourceType.TOPIC, name, incremental_configs=entries)))
        if not changing:
            return []
        try:
            futures = self._batched(
                lambda chunk: self.admin.incremental_alter_configs(
                    chunk, validate_only=True, request_timeout=self._timeout_s
                ),
                [c for _, c in changing],
                _config_records,
            )
        except (KafkaException, ValueError, TypeError) as exc:
            raise self._error(f"cannot check the config changes: {self._text(exc)}") from None
        by_name = {resource.name: future for resource, future in futures.items()}
        return [(r, by_name[c.name]) for r, c in changing]

    def _refused(self, futures: Sequence[tuple[Resource, Future[Any]]], what: str) -> list[str]:
        out = []
        for resource, future in futures:
            try:
                future.result()
            except KafkaException as exc:
                name = resource.address.name[0]
                where = f" (declared at {resource.source})" if resource.source else ""
                error = exc.args[0] if exc.args else None
                if isinstance(error, KafkaError) and error.code() == KafkaError.TOPIC_ALREADY_EXISTS:
                    reason = "it already exists, but this principal cannot see it (it needs Describe on the topic)"
                else:
                    reason = self._text(exc)
                out.append(f"topic {name!r}{where}: cannot {what}: {reason}")
        return out

    def _describe_configs(self, topics: Iterable[str]) -> dict[Any, Future[Any]]:
        resources = [ConfigResource(ResourceType.TOPIC, name) for name in topics]
        if not resources:
            return {}
        try:
            futures: dict[Any, Future[Any]] = self.admin.describe_configs(resources, request_timeout=self._timeout_s)
        except KafkaException as exc:
            raise self._error(f"cannot read topic configs: {self._text(exc)}") from None
        return futures

    def _read_configs(self, names: Sequence[str], needed: set[str]) -> dict[str, dict[str, JSON]]:
        """Configs by topic, read CONFIG_WINDOW requests of CONFIG_CHUNK topics at a time, each
        reduced to the topic's own configs before the next is sent: confluent-kafka makes a Python
        object of every entry (~40 a topic), and 5,000 topics at once took 200 MB."""
        configs: dict[str, dict[str, JSON]] = {}
        in_flight: deque[Mapping[Any, Future[Any]]] = deque()
        for start in range(0, len(names), CONFIG_CHUNK):
            in_flight.append(self._describe_configs(names[start : start + CONFIG_CHUNK]))
            if len(in_flight) >= CONFIG_WINDOW:
                configs.update(self._config_results(in_flight.popleft(), needed=needed))
        while in_flight:
            configs.update(self._config_results(in_flight.popleft(), needed=needed))
        return configs

    def _config_results(
        self, futures: Mapping[Any, Future[Any]], needed: set[str] | None = None
    ) -> dict[str, dict[str, JSON]]:
        """Configs by topic. A topic whose configs cannot be read (deleted meanwhile, or the
        principal may not DescribeConfigs it) is an error only if it is `needed`."""
        configs: dict[str, dict[str, JSON]] = {}
        for resource, future in futures.items():
            try:
                entries = future.result()
            except KafkaException as exc:
                if _unknown_topic(exc.args[0] if exc.args else None):
                    continue  # deleted since the metadata request
                if needed is not None and resource.name not in needed:
                    continue
                raise self._failed(f"cannot read configs of topic {resource.name!r}: {self._text(exc)}", exc) from None
            configs[resource.name] = topic_configs(entries.values())
        return configs

    def _acl_resources(self, future: Future[Any], needed: bool, live_topics: set[str]) -> list[Resource]:
        """Live ACLs. A broker without an authorizer, or a principal that may not describe ACLs,
        is an error only when the manifest manages ACLs (declares some, or prunes them)."""
        try:
            bindings = future.result()
        except KafkaException as exc:
            if not needed:
                return []
            error = exc.args[0] if exc.args else None
            if isinstance(error, KafkaError) and error.code() == KafkaError.SECURITY_DISABLED:
                raise self._error(
                    "the manifest manages ACLs but the broker has no authorizer: set "
                    "authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer"
                ) from None
            raise self._failed(f"cannot read ACLs: {self._text(exc)}", exc) from None
        out: list[Resource] = []
        for binding in bindings:
            attrs = acl_attrs(binding)
            if attrs is None:
                continue  # an ACL on a kind of resource topoctl does not manage
            depends: tuple[Address, ...] = ()
            if (
                attrs["resource_type"] == "topic"
                and attrs["pattern_type"] == "literal"
                and attrs["resource_name"] in live_topics
            ):
                depends = (Address(self.name, TOPIC, (str(attrs["resource_name"]),)),)
            out.append(Resource(acls.acl_address(self.name, attrs), attrs, depends))
        return out

    def _check_collisions(self, desired: Sequence[Resource], live: Mapping[str, Any]) -> None:
        by_key = {collision_key(name): name for name in live}
        going = {r.address.name[0] for r in desired if r.kind == TOPIC and r.absent}
        for resource in desired:
            if resource.kind != TOPIC or resource.absent or resource.broker != self.name:
                continue
            name = resource.address.name[0]
            other = by_key.get(collision_key(name))
            if name in live or other is None or other in going:
                continue
            where = f" (declared at {resource.source})" if resource.source else ""
            raise PlanError(
                f"topic {name!r}{where} collides with the live topic {other!r} on broker {self.name!r} "
                f"({self.endpoint}): Kafka treats '.' and '_' alike in topic names, so both cannot "
                f"exist; rename {name!r} or delete {other!r} first (state: absent)"
            )

    def _at_risk_candidates(
        self, desired: Sequence[Resource], prune: Sequence[PruneScope], live: Mapping[str, Any]
    ) -> set[str]:
        """Live topics this plan may delete or replace: only their messages are worth counting."""
        wanted = {r.address.name[0]: r for r in desired if r.kind == TOPIC and r.broker == self.name}
        out: set[str] = set()
        for name, meta in live.items():
            resource = wanted.get(name)
            if resource is None:
                address = Address(self.name, TOPIC, (name,))
                if any(scope.covers(address) for scope in prune):
                    out.add(name)
                continue
            partitions = resource.attrs.get("partitions")
            # A replication factor changes by reassignment, which loses nothing: not counted.
            if resource.absent or (isinstance(partitions, int) and partitions < len(meta.partitions)):
                out.add(name)
        return out

    def _messages(self, names: set[str], live: Mapping[str, Any]) -> dict[str, int]:
        """Messages per topic (high minus low watermark, summed over partitions), or nothing for
        a topic whose offsets cannot be listed: the count is a courtesy, never a reason to fail."""
        if not names:
            return {}
        partitions = [TopicPartition(n, p) for n in sorted(names) for p in live[n].partitions]
        earliest_spec: Any = OffsetSpec.earliest()  # type: ignore[no-untyped-call]
        latest_spec: Any = OffsetSpec.latest()  # type: ignore[no-untyped-call]
        try:
            earliest = self.admin.list_offsets(
                {tp: earliest_spec for tp in partitions}, request_timeout=self._timeout_s
            )
            latest = self.admin.list_offsets({tp: latest_spec for tp in partitions}, request_timeout=self._timeout_s)
        except (KafkaException, ValueError):
            return {}
        counts: dict[str, int] = {}
        failed: set[str] = set()
        for tp, low_future in earliest.items():
            try:
                low = low_future.result().offset
                high = latest[tp].result().offset
            except (KafkaException, KeyError):
                failed.add(tp.topic)
                continue
            counts[tp.topic] = counts.get(tp.topic, 0) + max(0, high - low)
        return {name: n for name, n in counts.items() if name not in failed}

    # -- apply ------------------------------------------------------------------------------

    def apply_one(self, change: Change) -> None:
        self.apply([change], 1, lambda _: None)

    def apply(self, changes: Sequence[Change], parallelism: int, done: ProgressCallback) -> None:
        """One wave: every kind of write batched into one request, deletes first.

        `done` is called for every change the broker accepted, also when the apply then fails
        (a write that KRaft is slow to show still happened), so the count of what was applied
        before a failure is true. A change only partly made is not counted; its failure says
        which part was made."""
        failures: list[str] = []
        # System objects are never touched, even by a plan file written by hand.
        internal = [c for c in changes if c.kind == TOPIC and is_internal(_topic(c))]
        for change in internal:
            failures.append(f"topic {_topic(change)!r} is internal to Kafka: topoctl never changes it")
        changes = [c for c in changes if not (c.kind == TOPIC and is_internal(_topic(c)))]

        def pick(kind: str, action: Action) -> list[Change]:
            return [c for c in changes if c.kind == kind and c.action == action]

        self._delete_acls(pick(ACL, Action.DELETE), done, failures)
        self._delete_topics(pick(TOPIC, Action.DELETE), done, failures)
        self._create_topics(pick(TOPIC, Action.CREATE), done, failures)
        # Replicas first: partitions added after a reassignment get the new replication factor.
        updates = replication.apply(self, pick(TOPIC, Action.UPDATE), done, failures)
        self._update_topics(updates, done, failures)
        self._create_acls(pick(ACL, Action.CREATE), done, failures)
        writes = [c for c in changes if c.action != Action.REPLACE]  # neither kind has a replace
        access.apply_quotas(self, [c for c in writes if c.kind == QUOTA], done, failures)
        access.apply_users(self, [c for c in writes if c.kind == USER], done, failures)
        self.registry.apply([c for c in changes if c.kind == SUBJECT], done, failures)
        other = [
            c
            for c in changes
            if c.kind not in (TOPIC, ACL, QUOTA, USER, SUBJECT) or (c.action == Action.REPLACE and c.kind != SUBJECT)
        ]
        for change in other:
            failures.append(f"cannot {change.action.value} {change.address}: not a step this driver performs")
        if failures:
            raise self._error("; ".join(failures))

    def _delete_topics(self, changes: list[Change], done: ProgressCallback, failures: list[str]) -> None:
        if not changes:
            return
        names = [_topic(c) for c in changes]
        futures = self._call(
            "delete topics",
            failures,
            lambda: self._batched(
                lambda chunk: self.admin.delete_topics(
                    chunk, operation_timeout=self._write_timeout_s, request_timeout=self._write_timeout_s
                ),
                names,
            ),
        )
        if futures is None:
            return
        deleted = []
        for change, name in zip(changes, names, strict=True):
            try:
                futures[name].result()
            except KafkaException as exc:
                if not _unknown_topic(exc.args[0] if exc.args else None):
                    failures.append(f"cannot delete topic {name!r}: {self._text(exc)}")
                    continue
            deleted.append(change)
        gone = [_topic(c) for c in deleted]
        missing = self._settle(
            lambda meta: [name for name in gone if name in meta.topics],
            gone,
            failures,
            chunk_ends(names, lambda _: 1, lambda name: name, set(gone)),
            present=False,
        )
        for change in deleted:
            done(change)  # the broker accepted the delete: it happened, shown yet or not
            if _topic(change) in missing:
                failures.append(f"topic {_topic(change)!r} was deleted but still shows in metadata")

    def _create_topics(self, changes: list[Change], done: ProgressCallback, failures: list[str]) -> None:
        if not changes:
            return
        new_topics = [_new_topic(c) for c in changes]
        futures = self._call(
            "create topics",
            failures,
            lambda: self._batched(
                lambda chunk: self.admin.create_topics(
                    chunk, operation_timeout=self._write_timeout_s, request_timeout=self._write_timeout_s
                ),
                new_topics,
                _topic_records,
                lambda t: t.topic,
            ),
        )
        if futures is None:
            return
        created = []
        for change in changes:
            name = _topic(change)
            try:
                futures[name].result()
            except KafkaException as exc:
                failures.append(f"cannot create topic {name!r}: {self._text(exc)}")
                continue
            created.append(change)

        def not_ready(meta: Any) -> list[str]:
            waiting = []
            for change in created:
                name = _topic(change)
                topic = meta.topics.get(name)
                want = (change.after or {}).get("partitions")
                if (
                    topic is None
                    or topic.error is not None
                    or (isinstance(want, int) and len(topic.partitions) < want)
                    or any(p.leader < 0 for p in topic.partitions.values())
                ):
                    waiting.append(name)
            return waiting

        names = [_topic(c) for c in created]
        sentinels = chunk_ends(new_topics, _topic_records, lambda t: t.topic, set(names))
        missing = self._settle(not_ready, names, failures, sentinels)
        for change in created:
            done(change)  # the broker accepted the create: the topic exists, ready or not
            if _topic(change) in missing:
                failures.append(f"topic {_topic(change)!r} was created but did not become ready in time")

    def _update_topics(self, changes: list[Change], done: ProgressCallback, failures: list[str]) -> None:
        if not changes:
            return
        increases: dict[str, tuple[object, int]] = {}
        entries: dict[str, list[ConfigEntry]] = {}
        # What each topic's change could not do, and what of it the broker did (for a partial one).
        errors: dict[str, list[str]] = {}
        made: dict[str, list[str]] = {}
        for change in changes:
            name = _topic(change)
            for field in _applied_fields(change):
                if field.field == "partitions":
                    increases[name] = (field.before, int(field.after))
                elif field.field.startswith(CONFIG_PREFIX):
                    key = field.field[len(CONFIG_PREFIX) :]
                    entries.setdefault(name, []).append(_config_entry(key, field.after))
                # replication_factor and assignment: done by `replication.apply` before this.
        partition_futures: Mapping[str, Future[Any]] = {}
        config_futures: Mapping[Any, Future[Any]] = {}
        if increases:
            new = [NewPartitions(name, count) for name, (_, count) in increases.items()]
            partition_futures, refused = self._request(
                lambda: self._batched(
                    lambda chunk: self.admin.create_partitions(
                        chunk, operation_timeout=self._write_timeout_s, request_timeout=self._write_timeout_s
                    ),
                    new,
                    lambda p: p.new_total_count - _count(increases[p.topic][0]),
                    lambda p: p.topic,
                )
            )
            for name in increases if refused else ():
                errors.setdefault(name, []).append(f"cannot add partitions to topic {name!r}: {refused}")
        if entries:
            resources = [
                ConfigResource(ResourceType.TOPIC, name, incremental_configs=items) for name, items in entries.items()
            ]
            config_futures, refused = self._request(
                lambda: self._batched(
                    lambda chunk: self.admin.incremental_alter_configs(chunk, request_timeout=self._write_timeout_s),
                    resources,
                    _config_records,
                )
            )
            for name in entries if refused else ():
                errors.setdefault(name, []).append(f"cannot change configs of topic {name!r}: {refused}")
        for name, future in (partition_futures or {}).items():
            try:
                future.result()
            except KafkaException as exc:
                errors.setdefault(name, []).append(f"cannot add partitions to topic {name!r}: {self._text(exc)}")
                continue
            before, after = increases[name]
            made.setdefault(name, []).append(f"its partitions were added ({before} -> {after})")
        for resource, future in (config_futures or {}).items():
            try:
                future.result()
            except KafkaException as exc:
                errors.setdefault(resource.name, []).append(
                    f"cannot change configs of topic {resource.name!r}: {self._text(exc)}"
                )
                continue
            made.setdefault(resource.name, []).append("its configs were changed")
        pending = [c for c in changes if _topic(c) not in errors]
        late = self._settle_updates(pending, failures)
        for change in changes:
            name = _topic(change)
            if name in errors:
                failures.extend(errors[name])
                if made.get(name):
                    failures.append(f"topic {name!r} is only partly changed: {' and '.join(made[name])}")
                continue
            done(change)  # the broker accepted every part of it
            if name in late:
                failures.append(f"topic {name!r} was changed but the broker does not show it yet")

    def _settle_updates(self, changes: list[Change], failures: list[str]) -> set[str]:
        """Wait until metadata and configs show what was applied; the topics that never did."""
        partitions = {_topic(c): int(f.after) for c in changes for f in _applied_fields(c) if f.field == "partitions"}
        keys = {
            _topic(c): {
                f.field[len(CONFIG_PREFIX) :]: (f.before, f.after)
                for f in _applied_fields(c)
                if f.field.startswith(CONFIG_PREFIX)
            }
            for c in changes
        }
        keys = {name: wanted for name, wanted in keys.items() if wanted}
        late: set[str] = set()
        if partitions:
            late.update(
                self._settle(
                    lambda meta: [
                        n
                        for n, want in partitions.items()
                        if n not in meta.topics or len(meta.topics[n].partitions) < want
                    ],
                    partitions,
                    failures,
                )
            )
        deadline = time.monotonic() + self._settle_s
        while keys:
            try:
                configs = self._config_results(self._describe_configs(keys))
            except BrokerError:
                configs = {}
            keys = {
                name: wanted
                for name, wanted in keys.items()
                if not all(_shows(configs.get(name, {}).get(k), *ba) for k, ba in wanted.items())
            }
            if not keys or time.monotonic() > deadline:
                break
            time.sleep(_POLL_S)
        return late | set(keys)

    def _delete_acls(self, changes: list[Change], done: ProgressCallback, failures: list[str]) -> None:
        if not changes:
            return
        filters = [_acl_binding(c.before or {}, AclBindingFilter) for c in changes]
        futures = self._call(
            "delete ACLs",
            failures,
            lambda: self._batched(
                lambda chunk: self.admin.delete_acls(chunk, request_timeout=self._write_timeout_s), filters
            ),
        )
        if futures is None:
            return
        ok = []
        for change, acl_filter in zip(changes, filters, strict=True):
            try:
                futures[acl_filter].result()
            except KafkaException as exc:
                failures.append(f"cannot delete ACL {change.address.display_name}: {self._text(exc)}")
                continue
            ok.append(change)
        self._settle_acls(ok, present=False, done=done, failures=failures)

    def _create_acls(self, changes: list[Change], done: ProgressCallback, failures: list[str]) -> None:
        if not changes:
            return
        bindings = [_acl_binding(c.after or {}, AclBinding) for c in changes]
        futures = self._call(
            "create ACLs",
            failures,
            lambda: self._batched(
                lambda chunk: self.admin.create_acls(chunk, request_timeout=self._write_timeout_s), bindings
            ),
        )
        if futures is None:
            return
        ok = []
        for change, binding in zip(changes, bindings, strict=True):
            try:
                futures[binding].result()
            except KafkaException as exc:
                failures.append(f"cannot create ACL {change.address.display_name}: {self._text(exc)}")
                continue
            ok.append(change)
        self._settle_acls(ok, present=True, done=done, failures=failures)

    def _settle_acls(self, changes: list[Change], present: bool, done: ProgressCallback, failures: list[str]) -> None:
        waiting = {c.address: c for c in changes}
        deadline = time.monotonic() + self._settle_s
        while waiting:
            try:
                bindings = self.admin.describe_acls(_MATCH_ANY_ACL, request_timeout=self._timeout_s).result()
            except KafkaException:
                bindings = []
            live = {acls.acl_address(self.name, a) for a in map(acl_attrs, bindings) if a is not None}
            for address in [a for a in waiting if (a in live) == present]:
                done(waiting.pop(address))
            if not waiting or time.monotonic() > deadline:
                break
            time.sleep(_POLL_S)
        for change in waiting.values():
            done(change)  # the broker accepted it: it happened, listed yet or not
            failures.append(f"ACL {change.address.display_name} was changed but the broker does not show it yet")

    def _batched(
        self,
        call: Callable[[list[Any]], Mapping[Any, Future[Any]]],
        items: Sequence[Any],
        records: Callable[[Any], int] = lambda _: 1,
        key: Callable[[Any], Any] = lambda item: item,
    ) -> dict[Any, Future[Any]]:
        """`call` once per chunk of `items` under MAX_RECORDS_PER_REQUEST metadata records, every
        request sent before any is awaited; their futures merged, keyed as `call` keys them. A
        first request refused outright raises (nothing was sent); a later one fails the futures
        of its items and of those not sent, which keeps what the earlier requests did."""
        futures: dict[Any, Future[Any]] = {}
        chunks = record_chunks(items, records)
        for index, chunk in enumerate(chunks):
            try:
                futures.update(call(chunk))
            except (KafkaException, ValueError, TypeError) as exc:
                if index == 0:
                    raise
                failed = KafkaException(self._text(exc))
                for item in (i for rest in chunks[index:] for i in rest):
                    future: Future[Any] = Future()
                    future.set_exception(failed)
                    futures[key(item)] = future
                break
        return futures

    def _call(self, what: str, failures: list[str], call: Callable[[], Any]) -> Any:
        result, refused = self._request(call)
        if refused is not None:
            failures.append(f"cannot {what}: {refused}")
        return result

    def _request(self, call: Callable[[], Any]) -> tuple[Any, str | None]:
        """A batch request's futures, or None and why the whole request was refused."""
        try:
            return call(), None
        except (KafkaException, ValueError, TypeError) as exc:
            return None, self._text(exc)

    def _settle(
        self,
        pending: Callable[[Any], list[str]],
        awaited: Iterable[str],
        failures: list[str],
        sentinels: Sequence[str] = (),
        present: bool = True,
    ) -> set[str]:
        """Poll metadata until `pending(metadata)` is empty; what is still pending at the deadline.
        Losing the connection meanwhile is a failure (said once) and leaves all of `awaited`
        unconfirmed: the writes were accepted, so the caller still reports them done.

        The wait is for the broker to stop making progress, not for a fixed time: 5,000 new topics
        take a busy broker longer than the settle time to show, but fewer are pending at each poll.
        A poll of a big cluster's metadata is not free, so polls are at least as far apart as one takes.

        `sentinels` are the last topic of each request of the write (to show, or to be gone when
        not `present`). A broker often publishes a write seconds late, after the logs of its previous
        one (a delete of 1,000 topics) are removed; KRaft shows a request's records at once and the
        requests of one connection in order, so the write cannot show before its sentinels do. Until
        then they are watched with a DescribeTopics of them alone instead of a metadata poll of the
        whole cluster, which costs the client and the broker tens of milliseconds of CPU each time.
        The full polls still check every topic."""
        deadline = time.monotonic() + self._settle_s
        fresh = True  # whether the first full poll starts the deadline anew (the broker moved since)
        unseen = list(sentinels)
        while unseen:
            still = self._unsettled(unseen, present)
            if still is None:  # cannot tell: the full polls decide, within the same deadline
                fresh = False
                break
            if len(still) < len(unseen):
                deadline = time.monotonic() + self._settle_s
            unseen = still
            if unseen and time.monotonic() > deadline:
                fresh = False  # no progress in time: one full poll says what is still pending
                break
            if unseen:
                time.sleep(_POLL_S)
        fewest: int | None = None
        while True:
            started = time.monotonic()
            try:
                left = set(pending(self.admin.list_topics(timeout=self._timeout_s)))
            except KafkaException as exc:
                if time.monotonic() > deadline:
                    failures.append(
                        f"lost the connection while waiting for the broker to show a change: {self._text(exc)}"
                    )
                    return set(awaited)
                time.sleep(_POLL_S)
                continue
            if not left:
                return left
            # Progress: the broker is still working through them.
            if (fewest is None and fresh) or (fewest is not None and len(left) < fewest):
                deadline = time.monotonic() + self._settle_s
            elif time.monotonic() > deadline:
                return left
            fewest = len(left) if fewest is None else min(fewest, len(left))
            time.sleep(max(_POLL_S, time.monotonic() - started))

    def _unsettled(self, names: Sequence[str], present: bool) -> list[str] | None:
        """The `names` the broker does not show yet (or still shows, when not `present`); None when
        it cannot tell (the request failed otherwise than for an unknown topic)."""
        try:
            futures = self.admin.describe_topics(TopicCollection(list(names)), request_timeout=self._timeout_s)
        except (KafkaException, ValueError, TypeError):
            return None
        out = []
        for name, future in futures.items():
            try:
                future.result()
            except KafkaException as exc:
                if not _unknown_topic(exc.args[0] if exc.args else None):
                    return None
                if present:
                    out.append(name)
                continue
            if not present:
                out.append(name)
        return out


# Everything: None names, principals and hosts are wildcards in a filter (the stubs say str).
_MATCH_ANY_ACL = AclBindingFilter(
    ResourceType.ANY,
    None,  # type: ignore[arg-type]
    ResourcePatternType.ANY,
    None,  # type: ignore[arg-type]
    None,  # type: ignore[arg-type]
    AclOperation.ANY,
    AclPermissionType.ANY,
)


def topic_configs(entries: Iterable[ConfigEntry]) -> dict[str, JSON]:
    """The configs set on the topic itself, canonical. Broker and cluster defaults
    (`DYNAMIC_DEFAULT_BROKER_CONFIG`, `STATIC_BROKER_CONFIG`, `DEFAULT_CONFIG`) are not the
    topic's, whatever `is_default` says; sensitive and read-only entries are not manageable."""
    out: dict[str, JSON] = {}
    for entry in entries:
        # A topic has ~40 entries and a few are its own: this test runs 200,000 times for 5,000
        # topics, so it compares with the enum member (what confluent-kafka gives) before converting.
        source = entry.source
        if source is not _DYNAMIC_TOPIC and (isinstance(source, ConfigSource) or int(source) != _DYNAMIC_TOPIC.value):
            continue
        if entry.is_sensitive or entry.is_read_only or entry.value is None:
            continue
        out[entry.name] = canonical_or_raw(entry.name, entry.value)
    return dict(sorted(out.items()))


_DYNAMIC_TOPIC = ConfigSource.DYNAMIC_TOPIC_CONFIG


def acl_attrs(binding: AclBinding) -> dict[str, JSON] | None:
    words = {
        "resource_type": acls.manifest_word("resource_type", _member(binding.restype)),
        "pattern_type": acls.manifest_word("pattern_type", _member(binding.resource_pattern_type)),
        "operation": acls.manifest_word("operation", _member(binding.operation)),
        "permission": acls.manifest_word("permission", _member(binding.permission_type)),
    }
    if any(w is None for w in words.values()):
        return None
    attrs: dict[str, JSON] = {
        "resource_type": words["resource_type"],
        "pattern_type": words["pattern_type"],
        "resource_name": binding.name,
        "principal": binding.principal,
        "host": binding.host,
        "operation": words["operation"],
        "permission": words["permission"],
    }
    return attrs


def _member(value: object) -> str:
    return str(getattr(value, "name", value))


def _acl_binding(attrs: Mapping[str, JSON], cls: Any) -> Any:
    """An AclBinding, or an AclBindingFilter matching exactly one ACL: every field set, the
    pattern type LITERAL or PREFIXED (never ANY or MATCH), so a delete cannot take more."""
    return cls(
        ResourceType[acls.enum_name("resource_type", str(attrs["resource_type"]))],
        str(attrs["resource_name"]),
        ResourcePatternType[acls.enum_name("pattern_type", str(attrs["pattern_type"]))],
        str(attrs["principal"]),
        str(attrs["host"]),
        AclOperation[acls.enum_name("operation", str(attrs["operation"]))],
        AclPermissionType[acls.enum_name("permission", str(attrs["permission"]))],
    )


def record_chunks(items: Sequence[Any], records: Callable[[Any], int]) -> list[list[Any]]:
    """`items` in order, cut into runs of at most MAX_RECORDS_PER_REQUEST records (an item
    heavier than that goes alone: the broker then says why it refuses it).

    The runs are cut from the end, so that a short one goes first and the last is full. A broker
    shows a request's topics only once it has made the logs of the requests before it (KRaft
    publishes one metadata change at a time, after the previous one's logs exist), so a write shows
    soonest when its last request is the biggest: 2,500 new topics of 5 records show after the 1,500
    logs of requests of 500 and 1,000 topics instead of after 2,000."""
    chunks: list[list[Any]] = []
    used = 0
    for item in reversed(items):
        weight = max(1, records(item))
        if not chunks or used + weight > MAX_RECORDS_PER_REQUEST:
            chunks.append([])
            used = 0
        chunks[-1].append(item)
        used += weight
    return [chunk[::-1] for chunk in reversed(chunks)]


def chunk_ends(
    items: Sequence[Any], records: Callable[[Any], int], key: Callable[[Any], str], kept: set[str]
) -> list[str]:
    """The last of `kept` in each request `_batched` sends for `items` (chunks without one left out)."""
    ends = []
    for chunk in record_chunks(items, records):
        last = next((key(item) for item in reversed(chunk) if key(item) in kept), None)
        if last is not None:
            ends.append(last)
    return ends


def _topic_records(topic: NewTopic) -> int:
    """The metadata records of a new topic: the topic, its partitions and its configs."""
    partitions = topic.num_partitions if topic.num_partitions > 0 else UNKNOWN_PARTITIONS
    return 1 + partitions + len(topic.config or {})


def _config_records(resource: ConfigResource) -> int:
    return len(resource.incremental_configs or ())


def _count(value: object) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _new_topic(change: Change) -> NewTopic:
    return _new_topic_of(_topic(change), change.after or {})


def _new_topic_of(name: str, attrs: Mapping[str, JSON]) -> NewTopic:
    config = attrs.get("config")
    settings = {k: str(v) for k, v in (config.items() if isinstance(config, Mapping) else ()) if v is not None}
    return NewTopic(
        name,
        num_partitions=int(attrs.get("partitions", -1)),
        replication_factor=int(attrs.get("replication_factor", -1)),
        config=settings,
    )


def _config_entry(key: str, value: JSON) -> ConfigEntry:
    if value is None:
        return ConfigEntry(key, None, incremental_operation=AlterConfigOpType.DELETE)
    return ConfigEntry(key, str(value), incremental_operation=AlterConfigOpType.SET)


def _replication_problems(topics: Sequence[Resource], brokers: int) -> list[str]:
    """A replication factor above the number of brokers: the create half of the replace would
    fail after its delete had already removed the topic."""
    out = []
    for resource in topics:
        factor = resource.attrs.get("replication_factor")
        if brokers and isinstance(factor, int) and factor > brokers:
            where = f" (declared at {resource.source})" if resource.source else ""
            out.append(
                f"topic {resource.address.name[0]!r}{where}: replication_factor {factor} is more than "
                f"the {brokers} broker(s) of the cluster, so no reassignment can give it that many replicas"
            )
    return out


def _shows(live: JSON, before: JSON, after: JSON) -> bool:
    """Whether a config key shows the SET or DELETE that changed it from `before` to `after`.
    A set value the broker spells its own way (one canonical_value does not know) still counts:
    waiting for a spelling that never comes would fail a successful apply."""
    if live == after:
        return True
    return after is not None and live is not None and live != before


def _applied_fields(change: Change) -> list[FieldChange]:
    """The field changes an update performs: the plan's, or (for a change built without them)
    recomputed from before/after. Unmanaged ones are only shown, never applied."""
    fields = list(change.fields)
    if not fields and change.before is not None and change.after is not None:
        fields = KINDS[TOPIC].field_changes(
            Resource(change.address, change.after), Resource(change.address, change.before)
        )
    return [f for f in fields if not f.unmanaged]


def _topic(change: Change) -> str:
    return change.address.name[0]


def _live_topics(metadata: Any) -> dict[str, Any]:
    """The topics of a metadata reply that a plan may see, by name (Kafka's internal ones left out)."""
    return {
        name: meta for name, meta in metadata.topics.items() if not is_internal(name) and not _unknown_topic(meta.error)
    }


def _unknown_topic(error: object) -> bool:
    return isinstance(error, KafkaError) and error.code() == KafkaError.UNKNOWN_TOPIC_OR_PART


class _Unreachable(BrokerError):
    """The broker did not answer a read (refused, timed out, all brokers down)."""


_TRANSIENT_CODES = frozenset(
    {KafkaError._TRANSPORT, KafkaError._TIMED_OUT, KafkaError._ALL_BROKERS_DOWN, KafkaError.REQUEST_TIMED_OUT}
)


def _describe(exc: BaseException) -> str:
    error = exc.args[0] if isinstance(exc, KafkaException) and exc.args else None
    if isinstance(error, KafkaError):
        return error.str() or error.name()
    return str(exc)
