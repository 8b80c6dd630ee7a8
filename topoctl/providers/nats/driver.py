"""Live I/O against a NATS server: read streams, consumers and buckets; perform one change.

nats-py is asyncio; the Driver contract is synchronous and called from worker threads. The driver
owns one event loop in a background thread and ONE connection on it: every public method submits
a coroutine to that loop (`run_coroutine_threadsafe`), so many requests share the connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Callable, Coroutine, Mapping, Sequence
from concurrent.futures import Future
from typing import Any, ClassVar, TypeVar

from topoctl.errors import BrokerError
from topoctl.model import JSON, Action, Address, Change, Resource
from topoctl.providers.base import Driver, PruneScope
from topoctl.providers.nats import buckets as B
from topoctl.providers.nats import fields as F
from topoctl.providers.nats.connection import ConnectionSettings, safe_endpoint, settings
from topoctl.providers.nats.jsapi import ApiError, JetStreamApi, NoJetStream
from topoctl.providers.nats.kinds import CONSUMER, FILTER_PAIRS, KV_BUCKET, OBJECT_STORE, STREAM

T = TypeVar("T")

# Consumers topoctl creates without a declared ack_policy ack explicitly, as the nats CLI and the
# clients default to (the server's own default, none, would silently drop redeliveries).
DEFAULT_ACK_POLICY = "explicit"


class NatsDriver(Driver):
    type: ClassVar[str] = "nats"

    def __init__(self, name: str, connection: Mapping[str, Any]) -> None:
        super().__init__(name, connection)
        self._endpoint = safe_endpoint(connection)
        self._settings: ConnectionSettings | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._start_lock = threading.Lock()
        self._nc: Any = None
        self._api: JetStreamApi | None = None
        self._connect_lock: asyncio.Lock | None = None

    @property
    def endpoint(self) -> str:
        return self._endpoint

    # -- plumbing ---------------------------------------------------------------------------

    def _error(self, message: str) -> BrokerError:
        secrets = self._settings.secrets if self._settings else None
        return BrokerError(self.name, self.endpoint, secrets.scrub(message) if secrets else message)

    def _ensure_loop(self) -> asyncio.AbstractEventLoop:
        with self._start_lock:
            if self._loop is None:
                loop = asyncio.new_event_loop()
                thread = threading.Thread(target=loop.run_forever, name=f"nats-{self.name}", daemon=True)
                thread.start()
                self._loop, self._thread = loop, thread
            return self._loop

    def _submit(self, coro: Coroutine[Any, Any, T]) -> Future[T]:
        return asyncio.run_coroutine_threadsafe(coro, self._ensure_loop())

    def _run(self, coro: Coroutine[Any, Any, T]) -> T:
        return self._submit(coro).result()

    async def _connection(self) -> JetStreamApi:
        if self._api is not None and self._nc is not None and self._nc.is_connected:
            return self._api
        if self._connect_lock is None:
            self._connect_lock = asyncio.Lock()
        async with self._connect_lock:
            if self._api is not None and self._nc is not None and self._nc.is_connected:
                return self._api
            self._api = await self._connect()
            return self._api

    async def _connect(self) -> JetStreamApi:
        try:
            cfg = self._settings = settings(self.connection)
        except (ValueError, OSError) as exc:
            raise self._error(f"bad connection settings: {exc}") from None
        import nats
        import nats.errors

        errors: list[BaseException] = []

        async def on_error(exc: Exception) -> None:
            # nats-py logs every failed attempt with a traceback by default; keep them quiet.
            errors.append(exc)

        try:
            self._nc = await asyncio.wait_for(
                nats.connect(
                    servers=cfg.servers,
                    connect_timeout=cfg.connect_timeout,
                    # allow_reconnect False still loops forever over the pool with 0 attempts
                    # (nats-py 2.x); 1 means each server is tried twice, then NoServersError.
                    allow_reconnect=False,
                    max_reconnect_attempts=1,
                    reconnect_time_wait=0.2,
                    error_cb=on_error,
                    name=cfg.options.pop("name", "topoctl"),
                    **cfg.options,
                ),
                timeout=cfg.connect_total,
            )
        except Exception as exc:
            cause = errors[-1] if errors and isinstance(exc, nats.errors.NoServersError) else exc
            raise self._error(f"cannot connect: {_describe(cause)}") from None
        return JetStreamApi(self._nc, cfg.api_prefix, cfg.request_timeout)

    async def _call(self, what: str, subject: str, body: Mapping[str, Any] | None = None) -> dict[str, Any]:
        api = await self._connection()
        try:
            return await api.request(subject, body)
        except ApiError as exc:
            raise self._error(f"{what}: {exc}") from None
        except NoJetStream as exc:
            raise self._error(str(exc)) from None
        except Exception as exc:
            raise self._error(f"{what}: {_describe(exc)}") from None

    def close(self) -> None:
        loop, thread = self._loop, self._thread
        if loop is None:
            return
        if self._nc is not None:
            nc, self._nc, self._api = self._nc, None, None
            with contextlib.suppress(Exception):  # closing is best effort
                asyncio.run_coroutine_threadsafe(nc.close(), loop).result(timeout=5)
        loop.call_soon_threadsafe(loop.stop)
        if thread is not None:
            thread.join(timeout=5)
        loop.close()
        self._loop = self._thread = None
        self._connect_lock = None

    # -- read -------------------------------------------------------------------------------

    def read(self, desired: Sequence[Resource], prune: Sequence[PruneScope]) -> list[Resource]:
        return self._run(self._read())

    async def _read(self) -> list[Resource]:
        api = await self._connection()
        version = str(getattr(self._nc, "connected_server_version", "") or "")
        try:
            listed = await api.paged("STREAM.LIST", "streams")
            streams = [info for info in listed if not str(info["config"]["name"]).startswith(B.SERVER_PREFIX)]
            with_consumers = [
                info["config"]["name"]
                for info in streams
                if not info["config"]["name"].startswith((B.KV_PREFIX, B.OBJ_PREFIX))
                and (info.get("state") or {}).get("consumer_count", 1) > 0
            ]
            consumer_lists = await asyncio.gather(*(self._consumers_of(api, name) for name in with_consumers))
        except (ApiError, NoJetStream) as exc:
            raise self._error(f"cannot list streams and consumers: {exc}") from None
        except BrokerError:
            raise
        except Exception as exc:
            raise self._error(f"cannot list streams and consumers: {_describe(exc)}") from None

        out = [self._observed_stream(info, version) for info in streams]
        for consumers in consumer_lists:
            out.extend(r for r in (self._observed_consumer(info) for info in consumers) if r is not None)
        return out

    @staticmethod
    async def _consumers_of(api: JetStreamApi, stream: str) -> list[dict[str, Any]]:
        try:
            return await api.paged(f"CONSUMER.LIST.{stream}", "consumers")
        except ApiError as exc:
            if exc.not_found:  # deleted since the stream list was read: it has no consumers now
                return []
            raise

    def _observed_stream(self, info: Mapping[str, Any], version: str) -> Resource:
        config = info["config"]
        name = str(config["name"])
        state = info.get("state") or {}
        extra: dict[str, JSON] = {"messages": state.get("messages", 0), "bytes": state.get("bytes", 0)}
        extra["server_version"] = version
        if name.startswith(B.KV_PREFIX):
            bucket = name[len(B.KV_PREFIX) :]
            attrs = F.observed_attrs(F.KV_FIELDS, config)
            return Resource(Address(self.name, KV_BUCKET, (bucket,)), attrs, info=extra)
        if name.startswith(B.OBJ_PREFIX):
            bucket = name[len(B.OBJ_PREFIX) :]
            attrs = F.observed_attrs(F.OBJECT_STORE_FIELDS, config)
            return Resource(Address(self.name, OBJECT_STORE, (bucket,)), attrs, info=extra)
        extra["consumers"] = state.get("consumer_count", 0)
        attrs = F.observed_attrs(F.STREAM_FIELDS, config)
        return Resource(Address(self.name, STREAM, (name,)), attrs, info=extra)

    def _observed_consumer(self, info: Mapping[str, Any]) -> Resource | None:
        config = info.get("config") or {}
        if not config.get("durable_name"):
            return None  # ephemeral consumers belong to running clients, not to the topology
        stream = str(info["stream_name"])
        name = str(info.get("name") or config["durable_name"])
        attrs = F.observed_attrs(F.CONSUMER_FIELDS, config)
        extra = {"num_pending": info.get("num_pending", 0), "num_ack_pending": info.get("num_ack_pending", 0)}
        return Resource(
            Address(self.name, CONSUMER, (stream, name)),
            attrs,
            depends_on=(Address(self.name, STREAM, (stream,)),),
            info=extra,
        )

    # -- apply ------------------------------------------------------------------------------

    def apply_one(self, change: Change) -> None:
        self._run(self._apply(change))

    def apply(self, changes: Sequence[Change], parallelism: int, done: Callable[[Change], None]) -> None:
        """All changes of a wave go onto the one connection at once (bounded by `parallelism`)."""
        if len(changes) <= 1 or parallelism <= 1:
            for change in changes:
                self.apply_one(change)
                done(change)
            return
        futures = [(c, self._submit(self._bounded(c, parallelism))) for c in changes]
        first_error: BaseException | None = None
        for change, future in futures:
            try:
                future.result()
            except BaseException as exc:
                first_error = first_error or exc
                continue
            done(change)
        if first_error is not None:
            raise first_error

    _slots: asyncio.Semaphore | None = None

    async def _bounded(self, change: Change, parallelism: int) -> None:
        if self._slots is None:
            self._slots = asyncio.Semaphore(parallelism)
        async with self._slots:
            await self._apply(change)

    async def _apply(self, change: Change) -> None:
        kind, name = change.address.kind, change.address.name
        after = change.after or {}
        if kind == STREAM:
            await self._apply_stream(change.action, name[0], after)
        elif kind == CONSUMER:
            await self._apply_consumer(change.action, name[0], name[1], after)
        elif kind in (KV_BUCKET, OBJECT_STORE):
            await self._apply_bucket(change.action, kind, name[0], after)
        else:  # pragma: no cover - the engine only hands over our kinds
            raise self._error(f"unknown kind {kind!r}")

    async def _delete(self, what: str, subject: str) -> None:
        api = await self._connection()
        try:
            await api.request(subject)
        except ApiError as exc:
            if not exc.not_found:  # already gone is what we wanted
                raise self._error(f"cannot delete {what}: {exc}") from None
        except NoJetStream as exc:
            raise self._error(str(exc)) from None

    async def _apply_stream(self, action: Action, name: str, after: Mapping[str, JSON]) -> None:
        what = f"stream {name}"
        if action == Action.DELETE:
            await self._delete(what, f"STREAM.DELETE.{name}")
            return
        if action == Action.CREATE:
            config: dict[str, Any] = {"name": name, **F.to_api(F.STREAM_FIELDS, after)}
            config = {k: v for k, v in config.items() if v is not None}
            # The server refuses to create a sealed stream: create, then seal.
            sealed = config.pop("sealed", False)
            await self._call(f"cannot create {what}", f"STREAM.CREATE.{name}", config)
            if not sealed:
                return
        info = await self._call(f"cannot read {what}", f"STREAM.INFO.{name}")
        config = dict(info["config"])
        B.overlay(config, F.to_api(F.STREAM_FIELDS, after))
        if "max_age" in after and "duplicate_window" not in after:
            B.fit_duplicate_window(config)
        await self._call(f"cannot update {what}", f"STREAM.UPDATE.{name}", config)

    async def _apply_consumer(self, action: Action, stream: str, name: str, after: Mapping[str, JSON]) -> None:
        what = f"consumer {name} of stream {stream}"
        subject = f"CONSUMER.CREATE.{stream}.{name}"
        if action == Action.DELETE:
            await self._delete(what, f"CONSUMER.DELETE.{stream}.{name}")
            return
        declared = {k: v for k, v in F.to_api(F.CONSUMER_FIELDS, after).items() if v is not None}
        if action == Action.CREATE:
            config: dict[str, Any] = {"durable_name": name, "ack_policy": DEFAULT_ACK_POLICY, **declared}
            body = {"stream_name": stream, "config": config, "action": "create"}
            await self._call(f"cannot create {what}", subject, body)
            return
        info = await self._call(f"cannot read {what}", f"CONSUMER.INFO.{stream}.{name}")
        config = dict(info["config"])
        B.overlay(config, F.to_api(F.CONSUMER_FIELDS, after))
        for form, (other, _) in FILTER_PAIRS.items():
            if after.get(form) and other not in after:
                config.pop(other, None)  # the server refuses a filter_subject and filter_subjects
        body = {"stream_name": stream, "config": config, "action": "update"}
        await self._call(f"cannot update {what}", subject, body)

    async def _apply_bucket(self, action: Action, kind: str, bucket: str, after: Mapping[str, JSON]) -> None:
        is_kv = kind == KV_BUCKET
        stream = B.kv_stream(bucket) if is_kv else B.obj_stream(bucket)
        what = f"{'KV bucket' if is_kv else 'object store'} {bucket}"
        if action == Action.DELETE:
            await self._delete(what, f"STREAM.DELETE.{stream}")
            return
        if action == Action.CREATE:
            config = B.kv_create_config(bucket, after) if is_kv else B.obj_create_config(bucket, after)
            await self._call(f"cannot create {what}", f"STREAM.CREATE.{stream}", config)
            return
        info = await self._call(f"cannot read {what}", f"STREAM.INFO.{stream}")
        config = dict(info["config"])
        B.apply_bucket_attrs(config, F.KV_FIELDS if is_kv else F.OBJECT_STORE_FIELDS, after)
        await self._call(f"cannot update {what}", f"STREAM.UPDATE.{stream}", config)


def _describe(exc: BaseException) -> str:
    text = str(exc).strip()
    name = type(exc).__name__
    if isinstance(exc, (asyncio.TimeoutError, TimeoutError)) or "Timeout" in name:
        return "timed out"
    if not text or text == name:
        return name
    return text
