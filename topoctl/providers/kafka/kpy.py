"""The admin calls confluent-kafka lacks, through kafka-python 3.x (imported lazily, on first use).

confluent-kafka has no AlterPartitionReassignments, ListPartitionReassignments, DescribeClientQuotas
or AlterClientQuotas; kafka-python has the first two as methods and the protocol messages of the
other two. So a plan that changes replication factors or manages quotas opens a second admin
connection, with the same bootstrap servers, SASL and TLS settings as the librdkafka one; a plan
that needs neither never imports kafka-python.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from topoctl.providers.kafka.connection import ConnectionProblem

# librdkafka property -> kafka-python KafkaAdminClient argument, for what a connection may set.
_PROPERTIES = {
    "security.protocol": "security_protocol",
    "sasl.mechanism": "sasl_mechanism",
    "sasl.username": "sasl_plain_username",
    "sasl.password": "sasl_plain_password",
    "ssl.ca.location": "ssl_cafile",
    "ssl.certificate.location": "ssl_certfile",
    "ssl.key.location": "ssl_keyfile",
    "ssl.key.password": "ssl_password",
    "ssl.crl.location": "ssl_crlfile",
}
# Properties that only tune librdkafka itself: the second client does without them.
_LIBRDKAFKA_ONLY = ("socket.", "reconnect.", "log", "debug", "client.id", "statistics.", "api.version", "topic.")

Entity = tuple[tuple[str, str | None], ...]  # ((entity type, name or None for the default), ...)


class AdminProblem(Exception):
    """A kafka-python request failed; the message is fit for a user (secrets still to be scrubbed)."""


def kafka_python_config(config: Mapping[str, str], timeout_s: float) -> dict[str, Any]:
    """KafkaAdminClient arguments for a librdkafka configuration. Raises ConnectionProblem for a
    security setting kafka-python cannot reproduce (OAUTHBEARER, GSSAPI, keystores...), rather
    than connecting some other way."""
    out: dict[str, Any] = {
        "bootstrap_servers": config["bootstrap.servers"].split(","),
        "client_id": "topoctl",
        "request_timeout_ms": max(int(timeout_s * 1000), 1000),
        "bootstrap_timeout_ms": max(int(timeout_s * 1000), 1000),
    }
    for key, value in config.items():
        if key == "bootstrap.servers" or key.startswith(_LIBRDKAFKA_ONLY):
            continue
        if key == "ssl.endpoint.identification.algorithm":
            out["ssl_check_hostname"] = value.lower() == "https"
        elif key in _PROPERTIES:
            out[_PROPERTIES[key]] = value
        elif key.startswith(("sasl.", "ssl.", "security.")):
            raise ConnectionProblem(
                f"connection.client.{key} is a librdkafka setting that kafka-python (used for partition "
                "reassignments and client quotas) cannot reproduce; connect with sasl:/tls: settings instead",
                "client",
                key,
            )
    return out


@dataclass(frozen=True)
class Reassignment:
    replicas: tuple[int, ...]
    adding: tuple[int, ...]
    removing: tuple[int, ...]


class ExtraAdmin:
    """A kafka-python KafkaAdminClient, connected on first use."""

    def __init__(self, config: Mapping[str, Any]) -> None:
        self._config = dict(config)
        self._client: Any = None

    @property
    def client(self) -> Any:
        if self._client is None:
            try:
                from kafka.admin import KafkaAdminClient
            except ImportError:  # pragma: no cover - a runtime dependency
                raise AdminProblem("kafka-python is not installed (pip install 'kafka-python>=3')") from None
            try:
                self._client = KafkaAdminClient(**self._config)
            except Exception as exc:  # kafka-python raises its own errors and plain OSErrors
                raise AdminProblem(f"cannot connect: {_describe(exc)}") from None
        return self._client

    def close(self) -> None:
        if self._client is not None:
            with contextlib.suppress(Exception):  # closing is best effort
                self._client.close()
            self._client = None

    # -- partition reassignments ---------------------------------------------------------------

    def list_reassignments(self, topics: Mapping[str, Sequence[int]]) -> dict[tuple[str, int], Reassignment]:
        """The reassignments in progress among the given partitions (topic -> partition numbers)."""
        try:
            found = self.client.list_partition_reassignments({t: list(ps) for t, ps in topics.items()})
        except AdminProblem:
            raise
        except Exception as exc:
            raise AdminProblem(f"cannot list partition reassignments: {_describe(exc)}") from None
        return {
            (tp.topic, tp.partition): Reassignment(
                tuple(v["replicas"]), tuple(v["adding_replicas"]), tuple(v["removing_replicas"])
            )
            for tp, v in found.items()
        }

    def alter_reassignments(self, targets: Mapping[tuple[str, int], Sequence[int]]) -> dict[tuple[str, int], str]:
        """Start the reassignments; the refused partitions with the broker's reason."""
        from kafka import TopicPartition

        try:
            results = self.client.alter_partition_reassignments(
                {TopicPartition(t, p): list(replicas) for (t, p), replicas in targets.items()}
            )
        except AdminProblem:
            raise
        except Exception as exc:
            raise AdminProblem(f"cannot reassign partitions: {_describe(exc)}") from None
        refused: dict[tuple[str, int], str] = {}
        for tp, error in results.items():
            if error is not None:
                refused[(tp.topic, tp.partition)] = _error_name(error)
        for key in targets:
            if key not in refused and not any((tp.topic, tp.partition) == key for tp in results):
                refused[key] = "the broker did not answer for this partition"
        return refused

    # -- client quotas -------------------------------------------------------------------------

    def describe_quotas(self) -> list[tuple[Entity, dict[str, float]]]:
        """Every client quota of the cluster (DescribeClientQuotas with no filter)."""
        from kafka.protocol.admin import DescribeClientQuotasRequest

        request = DescribeClientQuotasRequest(components=[], strict=False)
        response = self._send(request, "read client quotas")
        _raise_for(response.error_code, response.error_message, "read client quotas")
        out = []
        for entry in response.entries:
            entity = tuple(sorted(((e.entity_type, e.entity_name) for e in entry.entity), key=_entity_order))
            out.append((entity, {v.key: float(v.value) for v in entry.values}))
        return out

    def alter_quotas(
        self, entries: Sequence[tuple[Entity, Mapping[str, float | None]]], validate_only: bool = False
    ) -> dict[Entity, str]:
        """Set (a number) or remove (None) quota values per entity; the refused entities with why."""
        from kafka.protocol.admin import AlterClientQuotasRequest

        entry_cls = AlterClientQuotasRequest.EntryData
        request = AlterClientQuotasRequest(
            entries=[
                entry_cls(
                    entity=[entry_cls.EntityData(entity_type=t, entity_name=n) for t, n in entity],
                    ops=[
                        entry_cls.OpData(key=k, value=0.0 if v is None else float(v), remove=v is None)
                        for k, v in sorted(values.items())
                    ],
                )
                for entity, values in entries
            ],
            validate_only=validate_only,
        )
        response = self._send(request, "change client quotas")
        refused: dict[Entity, str] = {}
        for entry in response.entries:
            if entry.error_code:
                entity = tuple(sorted(((e.entity_type, e.entity_name) for e in entry.entity), key=_entity_order))
                refused[entity] = entry.error_message or _error_name(_error_class(entry.error_code))
        return refused

    def _send(self, request: Any, what: str) -> Any:
        client = self.client

        async def send() -> Any:
            return await client._manager.send(request)

        try:
            return client._manager.run(send)
        except Exception as exc:
            raise AdminProblem(f"cannot {what}: {_describe(exc)}") from None


ENTITY_ORDER = ("user", "client-id", "ip")


def _entity_order(part: tuple[str, str | None]) -> int:
    return ENTITY_ORDER.index(part[0]) if part[0] in ENTITY_ORDER else len(ENTITY_ORDER)


def _error_class(code: int) -> Any:
    import kafka.errors

    return kafka.errors.for_code(code)


def _raise_for(code: int, message: str | None, what: str) -> None:
    if code:
        raise AdminProblem(f"cannot {what}: {message or _error_name(_error_class(code))}")


def _error_name(error: Any) -> str:
    name = getattr(error, "__name__", None) or type(error).__name__
    description = getattr(error, "description", "") or str(error)
    return f"{name}: {description}" if description and description != name else name


def _describe(exc: BaseException) -> str:
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
