"""Live I/O against a NATS server: read streams, consumers and buckets; perform one change.

nats-py is asyncio; the Driver contract is synchronous and called from worker threads. The driver
owns one event loop in a background thread and ONE connection on it: every public method submits
a coroutine to that loop (`run_coroutine_threadsafe`), so many requests share the connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import queue
import threading
from collections.abc import Callable, Coroutine, Mapping, Sequence
from concurrent.futures import Future
from typing import Any, ClassVar, TypeVar

from topoctl.collector import collector_paused
from topoctl.errors import BrokerError, PlanError
from topoctl.model import JSON, Action, Address, Change, Resource
from topoctl.providers.base import Driver, PruneScope
from topoctl.providers.nats import buckets as B
from topoctl.providers.nats import fields as F
from topoctl.providers.nats.conflicts import Review, describe, label, review, stream_name
from topoctl.providers.nats.connection import ConnectionSettings, safe_endpoint, settings
from topoctl.providers.nats.jsapi import ApiError, JetStreamApi, NoJetStream, encoded
from topoctl.providers.nats.kinds import CONSUMER, FILTER_PAIRS, KV_BUCKET, OBJECT_STORE, STREAM
from topoctl.retry import note

T = TypeVar("T")

# Consumers topoctl creates without a declared ack_policy ack explicitly, as the nats CLI and the
# clients default to (the server's own default, none, would silently drop redeliveries).
DEFAULT_ACK_POLICY = "explicit"
# Answers to a create of a name that exists: the config passed validation and nothing changed.
# 10027 (too many streams) is checked before the name; a replace does not add a stream.
STREAM_EXISTS_CODES = frozenset({10058, 10027})
CONSUMER_EXISTS_CODES = frozenset({10148, 10013, 10105})


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
        # What the last read found the plan replaces, and which of those apply checked again.
        self._review: Review | None = None
        # The listing started by read_ahead, for the next read only.
        self._ahead: asyncio.Task[_Listed] | None = None
        self._guarded: set[str] = set()

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

        lost = asyncio.Event()

        async def on_lost() -> None:
            lost.set()

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
                    disconnected_cb=on_lost,
                    closed_cb=on_lost,
                    name=cfg.options.pop("name", "topoctl"),
                    **cfg.options,
                ),
                timeout=cfg.connect_total,
            )
        except Exception as exc:
            cause = errors[-1] if errors and isinstance(exc, nats.errors.NoServersError) else exc
            raise _ConnectFailed(
                self.name, self.endpoint, cfg.secrets.scrub(f"cannot connect: {_describe(cause)}")
            ) from None
        return JetStreamApi(self._nc, cfg.api_prefix, cfg.request_timeout, lost)

    async def _request(
        self, subject: str, body: Mapping[str, Any] | None = None, failed: BaseException | None = None
    ) -> dict[str, Any]:
        """One JetStream API request, tried again (on a new connection if the old one is gone)
        after a transient failure. Every request the driver sends is safe to repeat: a create of
        a stream or consumer that exists with the same config succeeds, a delete of one already
        gone is done (`_delete`), an update sends the same config again. `failed`: how a first
        try, made elsewhere (`_create_all`), failed; the policy counts it as this call's first."""

        async def once() -> dict[str, Any]:
            nonlocal failed
            if failed is not None:
                first, failed = failed, None
                raise first
            api = await self._connection()
            return await api.request(subject, body)

        try:
            return await self.retry.acall(once, _transient)
        except _ConnectFailed as exc:
            raise self._noted(exc) from None

    def _noted(self, exc: BrokerError) -> BrokerError:
        """`exc` with how many tries it took, if it was retried."""
        prefix = f"broker {exc.broker!r} ({exc.address}): "
        return self._error(str(exc).removeprefix(prefix) + note(exc)) if note(exc) else exc

    async def _call(
        self, what: str, subject: str, body: Mapping[str, Any] | None = None, failed: BaseException | None = None
    ) -> dict[str, Any]:
        try:
            return await self._request(subject, body, failed)
        except ApiError as exc:
            raise self._error(f"{what}: {exc}") from None
        except NoJetStream as exc:
            raise self._error(str(exc)) from None
        except BrokerError:
            raise
        except Exception as exc:
            raise self._error(f"{what}: {_describe(exc)}{note(exc)}") from None

    def close(self) -> None:
        loop, thread = self._loop, self._thread
        if loop is None:
            return
        if self._ahead is not None:  # a read ahead nobody took (the manifest was refused)
            ahead, self._ahead = self._ahead, None
            with contextlib.suppress(BaseException):
                self._submit(_dropped(ahead)).result(timeout=5)
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
        # A read builds a Resource and the JSON behind it for each of thousands of objects, and no
        # reference cycle that outlives it: paused as for loading, the cyclic collector does not
        # scan the growing heap again and again (a tenth of a plan's CPU at 5,000 objects). Brokers
        # read side by side may each pause it: the first to find it on turns it back on.
        with collector_paused():
            ahead, self._ahead = self._ahead, None
            return self._run(self._read(desired, prune, ahead))

    def read_ahead(self, section: Mapping[str, Any]) -> bool:
        """Every stream and consumer of the server: what `read` lists whatever the manifest says,
        listed while the manifest is compiled (see `engine.ahead`)."""

        async def start() -> asyncio.Task[_Listed]:
            return asyncio.ensure_future(self._list_all())

        self._ahead = self._run(start())
        return True

    async def _read(
        self, desired: Sequence[Resource], prune: Sequence[PruneScope], ahead: asyncio.Task[_Listed] | None = None
    ) -> list[Resource]:
        # What was read ahead, or its failure, is this read's.
        out, live_subjects = await (ahead if ahead is not None else self._list_all())
        found = review(self.name, desired, prune, out, live_subjects)
        problems = found.problems + await self._dry_run_replaces(found)
        if problems:
            raise PlanError(
                f"NATS broker {self.name!r} ({self.endpoint}) would refuse this plan:\n  " + "\n  ".join(problems)
            )
        self._review = found
        self._guarded = set()
        return out

    async def _list_all(self) -> _Listed:
        """Every stream (bucket streams as their buckets) and durable consumer as a Resource, and
        every live stream's subjects, the server's own `$` streams included."""

        async def listing() -> _Listed:
            api = await self._connection()
            listed = await api.paged("STREAM.LIST", "streams")
            with_consumers = [
                info["config"]["name"]
                for info in listed
                if not str(info["config"]["name"]).startswith((B.SERVER_PREFIX, B.KV_PREFIX, B.OBJ_PREFIX))
                and (info.get("state") or {}).get("consumer_count", 1) > 0
            ]
            subjects = [f"CONSUMER.LIST.{name}" for name in with_consumers]
            # Each consumer is made a Resource as its page comes in, while the server answers the others.
            consumers = asyncio.ensure_future(api.paged_many(subjects, "consumers", self._observed_consumer))
            try:
                for _ in range(2):  # the listing sends its first requests, the connection's flusher writes them
                    await asyncio.sleep(0)
                # and the streams are read while the server answers.
                version = str(getattr(self._nc, "connected_server_version", "") or "")
                out = [
                    self._observed_stream(info, version)
                    for info in listed
                    if not str(info["config"]["name"]).startswith(B.SERVER_PREFIX)
                ]
                # Every live stream's subjects, the server's own `$` streams included: they all take
                # part in the server's overlap check.
                live_subjects = {str(i["config"]["name"]): list(i["config"].get("subjects") or []) for i in listed}
                lists = await consumers
            finally:
                consumers.cancel()
            for found in lists:
                if isinstance(found, ApiError):
                    if not found.not_found:
                        raise found
                    continue  # a stream deleted since the stream list was read has no consumers now
                out.extend(r for r in found if r is not None)
            return out, live_subjects

        try:  # a read is safe to repeat whole: a connection lost halfway costs one more listing
            return await self.retry.acall(listing, _transient)
        except _ConnectFailed as exc:
            raise self._noted(exc) from None
        except (ApiError, NoJetStream) as exc:
            raise self._error(f"cannot list streams and consumers: {exc}") from None
        except BrokerError:
            raise
        except Exception as exc:
            raise self._error(f"cannot list streams and consumers: {_describe(exc)}{note(exc)}") from None

    # -- what a replace needs before its delete may run -------------------------------------

    async def _dry_run_replaces(self, found: Review) -> list[str]:
        """Ask the server whether it would create each replaced stream, bucket and consumer again.

        JetStream has no validate-only create, but a create of a name that exists validates the
        whole config first (names, limits, durations, replicas) and only then answers "name in
        use" (10058 for a stream, 10148 for a consumer) without changing anything: that answer
        means the config itself is accepted. Subject overlaps are checked after the name, so
        `conflicts.review` checks those from what was read.
        """
        checks = [self._dry_run_stream(name, want) for name, want in found.replacing.items()]
        checks += [self._dry_run_consumer(want) for want in found.consumer_replaces]
        results = await asyncio.gather(*checks)
        return [problem for problem in results if problem]

    async def _dry_run_stream(self, name: str, want: Resource) -> str | None:
        config, _ = _create_config(want)
        try:
            answer = await self._call_raw(f"STREAM.CREATE.{name}", config)
        except ApiError as exc:
            if exc.err_code in STREAM_EXISTS_CODES:
                return None
            return f"{label(want)}: cannot replace it: the server would refuse to create it again ({exc})"
        if answer.get("did_create"):
            return (
                f"{label(want)}: the stream was deleted while the plan was made, and the check created it "
                "again with the manifest's config; plan again"
            )
        return None

    async def _dry_run_consumer(self, want: Resource) -> str | None:
        stream, name = want.address.name
        try:
            await self._call_raw(f"CONSUMER.CREATE.{stream}.{name}", _consumer_create_body(stream, name, want.attrs))
        except ApiError as exc:
            if exc.err_code in CONSUMER_EXISTS_CODES:
                return None
            where = f" (declared at {want.source})" if want.source else ""
            return f"consumer {stream}/{name}{where}: cannot replace it: the server would refuse to create it ({exc})"
        # Accepted, so it was gone: the config of a replace differs from the live one.
        return (
            f"consumer {stream}/{name} was deleted while the plan was made, and the check created it again; plan again"
        )

    async def _call_raw(self, subject: str, body: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """A request whose ApiError the caller interprets; anything else is a BrokerError."""
        try:
            return await self._request(subject, body)
        except (ApiError, BrokerError):
            raise
        except NoJetStream as exc:
            raise self._error(str(exc)) from None
        except Exception as exc:
            raise self._error(f"{subject}: {_describe(exc)}{note(exc)}") from None

    async def _guard(self, changes: Sequence[Change]) -> None:
        """Before the first step of a replace deletes anything (its consumers go first), check
        again, on the server, that the stream can be created again: a stream that captures one of
        its subjects may have appeared since the plan was read."""
        found = self._review
        if found is None:
            return
        touched = []
        for change in changes:
            if change.action is not Action.DELETE:
                continue
            kind, name = change.address.kind, change.address.name
            stream = name[0] if kind == CONSUMER else stream_name(change.address)
            if stream in found.replacing and stream not in self._guarded:
                touched.append(stream)
        problems: list[str] = []
        for stream in dict.fromkeys(touched):
            found_now = await self._still_creatable(stream, found.replacing[stream], found.replacing_subjects[stream])
            if not found_now:
                self._guarded.add(stream)
            problems += found_now
        if problems:
            raise self._error("refusing to replace, nothing of it was deleted:\n  " + "\n  ".join(problems))

    async def _still_creatable(self, stream: str, want: Resource, subjects: Sequence[str]) -> list[str]:
        answers = await asyncio.gather(
            *(self._call(f"cannot check subject {s}", "STREAM.NAMES", {"subject": s}) for s in subjects)
        )
        problems = []
        for subject, answer in zip(subjects, answers, strict=True):
            others = sorted(n for n in answer.get("streams") or [] if n != stream)
            if others:
                problems.append(
                    f"{label(want)}: subject {subject!r} is now captured by live "
                    + ", ".join(describe(o) for o in others)
                    + "; the server would refuse (10065) to create it again once it is deleted"
                )
        problem = await self._dry_run_stream(stream, want)
        return problems + ([problem] if problem else [])

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
        """All changes of a wave go onto the one connection at once (bounded by `parallelism`),
        except that updates that take subjects away from a stream run first: another stream of
        the same wave may be about to capture them."""
        self._run(self._guard(changes))
        first = [c for c in changes if _releases_subjects(c)]
        rest = [c for c in changes if not _releases_subjects(c)]
        for group in (first, rest):
            if parallelism <= 1 or len(group) <= 1:
                super().apply(group, parallelism, done)  # one at a time, stopping at the first failure
            else:
                self._apply_all(group, parallelism, done)

    def _apply_all(self, changes: Sequence[Change], parallelism: int, done: Callable[[Change], None]) -> None:
        """Every change a task on the connection's event loop, at most `parallelism` at a time, each
        reported in the caller's thread as it completes (as the base class does with a thread per
        change: at thousands of changes, handing each over between threads cost more CPU than the
        change itself). Creates that are one request each go first, all on one reply subscription
        (`_create_all`). No change starts once a stop is asked (Ctrl-C, SIGTERM) or the broker
        stopped answering; the failures are raised at the end, all of them, in plan order."""
        completed: queue.SimpleQueue[tuple[int, BaseException | None] | None] = queue.SimpleQueue()
        abandoned = threading.Event()  # a second Ctrl-C: start nothing more, now

        quick = {i: r for i, c in enumerate(changes) if (r := _one_request_create(c)) is not None}

        def may_start() -> bool:
            return not (self.stopping.is_set() or self.retry.gave_up is not None or abandoned.is_set())

        async def one(index: int, change: Change, slots: asyncio.Semaphore, failed: BaseException | None) -> None:
            error: BaseException | None = None
            try:
                if failed is None:
                    await self._apply(change)
                else:  # a create whose first try, in `_create_all`, failed in a way worth another
                    subject, body, what = quick[index]
                    await self._call(what, subject, body, failed)
            except Exception as exc:
                error = exc
            finally:
                slots.release()
            completed.put((index, error))

        async def run_all() -> None:
            slots = asyncio.Semaphore(parallelism)
            running: set[asyncio.Future[None]] = set()
            try:
                again = await self._create_all(quick, parallelism, completed.put, may_start)
                rest = [(i, None) for i in range(len(changes)) if i not in quick]
                for index, failed in sorted(rest + again, key=lambda item: item[0]):
                    await slots.acquire()
                    if not may_start():
                        break  # this change and the rest: not attempted
                    task = asyncio.ensure_future(one(index, changes[index], slots, failed))
                    running.add(task)
                    task.add_done_callback(running.discard)
                if running:
                    await asyncio.wait(set(running))
            finally:
                completed.put(None)

        everything = self._submit(run_all())
        errors: dict[int, BaseException] = {}
        try:
            while (item := completed.get()) is not None:
                index, error = item
                self.finished(changes[index], error, done)
                if error is not None:
                    errors[index] = error
        except BaseException:
            abandoned.set()
            raise
        everything.result()
        self.raise_failures(errors)

    async def _create_all(
        self,
        quick: Mapping[int, tuple[str, dict[str, Any], str]],
        parallelism: int,
        report: Callable[[tuple[int, BaseException | None]], None],
        may_start: Callable[[], bool],
    ) -> list[tuple[int, BaseException | None]]:
        """The creates of `quick` (by index of their change: subject, body, what), sent on one reply
        subscription, at most `parallelism` waiting for their answer, each `report`ed as it is
        answered: thousands of creates cost the client little more than their bytes (a request
        each cost a task, a future, a timer and two more tasks, most of an apply's CPU).

        Returns those to try once more as any change is tried, with the failure of their first
        try (a transient one: the retry policy counts it), or None for those never sent because
        the batch as a whole failed (no connection, lost, no answer in time)."""
        if not quick:
            return []
        indexes = list(quick)
        try:
            api = await self._connection()
        except Exception:  # each change connects, retries and words the failure as it does alone
            return [(i, None) for i in indexes]
        answered = [False] * len(indexes)
        again: list[tuple[int, BaseException | None]] = []
        sent = 0

        def proceed() -> bool:
            nonlocal sent
            if not may_start():
                return False
            sent += 1
            return True

        def each(k: int, refused: ApiError | None) -> None:
            answered[k] = True
            index = indexes[k]
            if refused is None:
                report((index, None))
            elif _transient(refused):
                again.append((index, refused))
            else:
                report((index, self._error(f"{quick[index][2]}: {refused}")))

        requests = [(subject, encoded(body)) for subject, body, _ in quick.values()]
        try:
            await api.send_all(requests, each, parallelism, proceed)
        except Exception as exc:
            again += [(indexes[k], exc) for k in range(sent) if not answered[k]]
            if may_start():
                again += [(indexes[k], None) for k in range(sent, len(indexes))]
        return again

    async def _apply(self, change: Change) -> None:
        kind, name = change.address.kind, change.address.name
        after = change.after or {}
        if kind in (STREAM, CONSUMER) and _system(name[0]):
            # Bucket streams change only as buckets, `$` streams never (a hand-edited plan file).
            raise self._error(f"refusing to touch {describe(name[0])} as a {kind}: it is not a plain stream")
        request = _one_request_create(change)
        if request is not None:
            subject, body, what = request
            await self._call(what, subject, body)
        elif kind == STREAM:
            await self._apply_stream(change.action, name[0], after)
        elif kind == CONSUMER:
            await self._apply_consumer(change.action, name[0], name[1], after)
        elif kind in (KV_BUCKET, OBJECT_STORE):
            await self._apply_bucket(change.action, kind, name[0], after)
        else:  # pragma: no cover - the engine only hands over our kinds
            raise self._error(f"unknown kind {kind!r}")

    async def _delete(self, what: str, subject: str) -> None:
        try:
            await self._request(subject)
        except ApiError as exc:
            if not exc.not_found:  # already gone (also: by our own try whose answer was lost)
                raise self._error(f"cannot delete {what}: {exc}") from None
        except NoJetStream as exc:
            raise self._error(str(exc)) from None
        except BrokerError:
            raise
        except Exception as exc:
            raise self._error(f"cannot delete {what}: {_describe(exc)}{note(exc)}") from None

    async def _apply_stream(self, action: Action, name: str, after: Mapping[str, JSON]) -> None:
        what = f"stream {name}"
        if action == Action.DELETE:
            await self._delete(what, f"STREAM.DELETE.{name}")
            return
        if action == Action.CREATE:  # a sealed stream: created, then sealed (the others: `_one_request_create`)
            config, _ = _stream_create_config(name, after)
            await self._call(f"cannot create {what}", f"STREAM.CREATE.{name}", config)
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
        info = await self._call(f"cannot read {what}", f"STREAM.INFO.{stream}")
        config = dict(info["config"])
        B.apply_bucket_attrs(config, F.KV_FIELDS if is_kv else F.OBJECT_STORE_FIELDS, after)
        await self._call(f"cannot update {what}", f"STREAM.UPDATE.{stream}", config)


# What a read lists: the observed resources, and every live stream's subjects.
_Listed = tuple[list[Resource], dict[str, list[str]]]


class _ConnectFailed(BrokerError):
    """No server of the list could be reached: worth another try (a server restarting)."""


# JetStream answers worth another try: temporarily unavailable, no quorum yet after a restart.
_RETRY_API_CODES = frozenset({503, 504})


def _transient(exc: BaseException) -> bool:
    """A lost or refused connection, a timeout, JetStream not ready (yet): worth another try."""
    import nats.errors

    if isinstance(exc, ApiError):
        return exc.code in _RETRY_API_CODES
    return isinstance(
        exc,
        (
            _ConnectFailed,
            NoJetStream,  # no responders: also JetStream starting up after a restart
            nats.errors.TimeoutError,
            nats.errors.ConnectionClosedError,
            nats.errors.ConnectionReconnectingError,
            nats.errors.StaleConnectionError,
            nats.errors.NoServersError,
            nats.errors.UnexpectedEOF,
            asyncio.TimeoutError,
            ConnectionError,
        ),
    )


async def _dropped(task: asyncio.Task[Any]) -> None:
    """`task` cancelled and over (its outcome retrieved: asyncio would log it otherwise)."""
    task.cancel()
    with contextlib.suppress(BaseException):
        await task


def _system(stream: str) -> bool:
    """Streams never changed as streams: the server's `$` ones, and those behind buckets (read and
    changed as their buckets only)."""
    return stream.startswith((B.SERVER_PREFIX, B.KV_PREFIX, B.OBJ_PREFIX))


def _stream_create_config(name: str, after: Mapping[str, JSON]) -> tuple[dict[str, Any], bool]:
    """The STREAM.CREATE body of a declared stream, and whether to seal it afterwards (the server
    refuses to create a sealed stream)."""
    config: dict[str, Any] = {"name": name, **F.to_api(F.STREAM_FIELDS, after)}
    config = {k: v for k, v in config.items() if v is not None}
    sealed = bool(config.pop("sealed", False))
    return config, sealed


def _create_config(want: Resource) -> tuple[dict[str, Any], bool]:
    """The create body of the stream behind a declared stream, KV bucket or object store."""
    name = want.address.name[0]
    if want.kind == KV_BUCKET:
        return B.kv_create_config(name, want.attrs), False
    if want.kind == OBJECT_STORE:
        return B.obj_create_config(name, want.attrs), False
    return _stream_create_config(name, want.attrs)


def _one_request_create(change: Change) -> tuple[str, dict[str, Any], str] | None:
    """(subject, body, what) of a create that is one request and nothing else: what `_apply` and
    `_create_all` send, and the start of their error message. None for any other change (a sealed
    stream is sealed after its create; a `$`, KV_ or OBJ_ stream is refused as a stream)."""
    if change.action is not Action.CREATE:
        return None
    kind, name = change.address.kind, change.address.name
    after = change.after or {}
    if kind == STREAM and not _system(name[0]):
        config, sealed = _stream_create_config(name[0], after)
        return None if sealed else (f"STREAM.CREATE.{name[0]}", config, f"cannot create stream {name[0]}")
    if kind == CONSUMER and not _system(name[0]):
        stream, consumer = name
        what = f"cannot create consumer {consumer} of stream {stream}"
        return f"CONSUMER.CREATE.{stream}.{consumer}", _consumer_create_body(stream, consumer, after), what
    if kind == KV_BUCKET:
        bucket = name[0]
        body = B.kv_create_config(bucket, after)
        return f"STREAM.CREATE.{B.kv_stream(bucket)}", body, f"cannot create KV bucket {bucket}"
    if kind == OBJECT_STORE:
        bucket = name[0]
        body = B.obj_create_config(bucket, after)
        return f"STREAM.CREATE.{B.obj_stream(bucket)}", body, f"cannot create object store {bucket}"
    return None


def _consumer_create_body(stream: str, name: str, after: Mapping[str, JSON]) -> dict[str, Any]:
    declared = {k: v for k, v in F.to_api(F.CONSUMER_FIELDS, after).items() if v is not None}
    config: dict[str, Any] = {"durable_name": name, "ack_policy": DEFAULT_ACK_POLICY, **declared}
    return {"stream_name": stream, "config": config, "action": "create"}


def _releases_subjects(change: Change) -> bool:
    """An update that takes subjects away from a stream."""
    if change.action is not Action.UPDATE or change.kind != STREAM:
        return False
    before, after = (change.before or {}).get("subjects"), (change.after or {}).get("subjects")
    return isinstance(before, list) and isinstance(after, list) and bool(set(before) - set(after))


def _describe(exc: BaseException) -> str:
    text = str(exc).strip()
    name = type(exc).__name__
    if isinstance(exc, (asyncio.TimeoutError, TimeoutError)) or "Timeout" in name:
        return "timed out"
    if not text or text == name:
        return name
    return text
