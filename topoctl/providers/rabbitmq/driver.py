"""Live I/O with one RabbitMQ over its management HTTP API (urllib3, keep-alive, thread-safe)."""

from __future__ import annotations

import math
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from functools import partial
from typing import Any

from topoctl.errors import BrokerError
from topoctl.model import JSON, Action, Address, Change, Resource
from topoctl.providers import secrets
from topoctl.providers.base import Driver, PruneScope, in_background
from topoctl.providers.rabbitmq import estate, swap, writes
from topoctl.providers.rabbitmq.client import ConnectionSettings, ManagementApi, Refusal, Unreachable, seg
from topoctl.providers.rabbitmq.kinds import (
    BINDING,
    EXCHANGE,
    KINDS,
    POLICY,
    QUEUE,
    VHOST,
    arguments_digest,
)
from topoctl.providers.rabbitmq.observe import (
    BINDING_COLUMNS,
    EXCHANGE_COLUMNS,
    POLICY_COLUMNS,
    PROPERTIES_KEY,
    QUEUE_COLUMNS,
    VHOST_COLUMNS,
    LiveState,
    binding_of,
    exchange_attrs,
    is_system_exchange,
    observe,
    queue_attrs,
    system_object,
    with_counts,
)
from topoctl.providers.rabbitmq.wire import (
    binding_body,
    binding_path,
    definitions_entry,
    describe,
    exchange_body,
    object_path,
    policy_body,
    queue_body,
    vhost_body,
    vhost_of,
)

# Below this many creations in one vhost and wave, single requests beat an import + verification.
BULK_MIN = 16
# An import's time grows with its size (6,000 objects take about 10 s on a small broker), so its
# answer is awaited for IMPORT_TIMEOUT_FACTOR times the time it is expected to take, and never for
# less than the connection's timeout, which is sized for one small call (issue 10). It is expected
# to take its cost units times the slower of IMPORT_UNIT_SECONDS and the last import's time per
# unit: a broker found slower gets longer, one found faster never less than the default.
IMPORT_TIMEOUT_FACTOR = 3.0
# A big import goes in even chunks of at most IMPORT_MAX_COST units (20 s at the default rate, a
# body of about 600 KB: a request's size and wait stay bounded, and so does what is redone one by
# one after a refusal). Chunks are no smaller than that needs: every import costs the broker a
# fixed time besides its objects (3.10 garbage-collects every process of the node after each one: 0.1 s
# with 9,000 queues on the node) and small ones cost more per object (1,000 classic queues,
# measured: one import 3.7 s, four 3.8 s, ten 6.9 s).
IMPORT_MAX_COST = 5_000.0
# Cost units: a binding or a classic queue is one, an exchange IMPORT_EXCHANGE (measured:
# 0.4-0.6), a quorum or stream queue (a replicated log to start) IMPORT_HEAVY_QUEUE (2-3.5 on one
# node, measured; more in a cluster). A unit took 1-1.5 ms on an idle 2-core machine, 2-3 ms on a
# loaded one (measured); IMPORT_UNIT_SECONDS errs on the slow side.
IMPORT_UNIT_SECONDS = 0.004
IMPORT_HEAVY_QUEUE = 5.0
IMPORT_EXCHANGE = 0.5
# Message counts of up to this many queues are asked for queue by queue; beyond it, their vhosts'
# queue listings with totals.
COUNTED_ONE_BY_ONE = 32
COUNTED_QUERY = "disable_stats=true&enable_queue_totals=true&columns=name,vhost,messages"
_IMPORTABLE = frozenset({EXCHANGE, QUEUE, BINDING})
# The columns the check after an import compares (exchange_attrs, queue_attrs, a binding's
# address), no more: the broker builds and encodes fewer fields (a queue listing without
# messages and consumers: 0.2 s instead of 0.3 s for 2,100 queues on the development broker).
_CHECKED_EXCHANGE = "name,type,durable,auto_delete,internal,arguments"
_CHECKED_QUEUE = "name,type,durable,auto_delete,arguments"
_CHECKED_BINDING = "source,destination_type,destination,routing_key,arguments"


class RabbitMQDriver(Driver):
    type = "rabbitmq"

    def __init__(self, name: str, connection: Mapping[str, Any]) -> None:
        super().__init__(name, connection)
        self.settings = ConnectionSettings.from_manifest(connection)
        self._api: ManagementApi | None = None
        self._lock = threading.Lock()
        # Binding address -> its `properties_key` as last read, so a delete needs no lookup.
        self._properties_keys: dict[Address, str] = {}
        # Declared secrets by address, from the manifest seen by `read` (plans never hold them).
        self._secrets: dict[Address, Mapping[str, object]] = {}
        # The vhosts whose bindings' keys were listed by a delete (see _properties_key).
        self._keys_listed: set[str] = set()
        self._keys_lock = threading.Lock()
        # Listings started by read_ahead, for the next live_state only.
        self._ahead: dict[_Listing, Future[Any]] = {}
        # Seconds per cost unit (see import_cost): the slower of the default and the last chunk's.
        self._import_unit = IMPORT_UNIT_SECONDS

    @property
    def endpoint(self) -> str:
        return self.settings.base_url

    @property
    def api(self) -> ManagementApi:
        with self._lock:
            if self._api is None:
                self._api = ManagementApi(self.name, self.settings, retry=self.retry)
            return self._api

    def close(self) -> None:
        with self._lock:
            if self._api is not None:
                self._api.close()
                self._api = None

    # -- reading -------------------------------------------------------------------------------

    def read(self, desired: Sequence[Resource], prune: Sequence[PruneScope]) -> list[Resource]:
        wanted = estate.needs(desired, prune)
        with self._lock:
            self._secrets.update(estate.secrets_by_address(desired))
        live = self.live_state(wanted, estate.exploring(desired, prune), estate.vhosts_read(desired, prune))
        observed = observe(self.name, live)
        counted = estate.needing_counts(observed, desired, prune)
        if counted:
            observed = with_counts(observed, self._message_counts(counted))
        observed = estate.settle(observed, desired)
        if wanted & {"users", "permissions", "topic_permissions"}:
            me = self.api.get_json("/api/whoami", what="asking who topoctl connects as").get("name")
            observed = estate.own_users(self.name, observed, desired, me, self.settings.password)
        keys = {r.address: r.info[PROPERTIES_KEY] for r in observed if PROPERTIES_KEY in r.info}
        with self._lock:
            self._properties_keys = keys
        return observed

    def read_ahead(self, section: Mapping[str, Any]) -> bool:
        """The requests of a read of the vhosts the section names (their definitions, exchanges and
        consumers; the vhosts), as `read` sends them when the plan reads those vhosts alone and
        needs no optional listing (most plans: see estate.vhosts_read)."""
        vhosts = section.get("vhosts")
        if not isinstance(vhosts, Mapping) or not 0 < len(vhosts) <= estate.MAX_VHOSTS_READ_APART:
            return False
        if not all(isinstance(v, str) for v in vhosts):
            return False
        api = self.api
        early = {request: in_background(partial(_fetch, api, request)) for request in _listings((), vhosts).values()}
        with self._lock:
            self._ahead = early
        return True

    def live_state(
        self, optional: Collection[str] = (), tolerant: bool = False, vhosts: Collection[str] | None = None
    ) -> LiveState:
        """The exchanges, queues, bindings, policies and consumers, and the vhosts, plus the
        `optional` listings the manifest needs (estate.LISTINGS), sent concurrently, whatever the
        number of objects: cluster-wide listings, or per vhost for the `vhosts` given
        (estate.vhosts_read) its definitions and consumers (see `_listings`).
        `tolerant` (an export): an optional listing the user may not read is left out rather than
        an error.

        Queues are listed without their statistics (`disable_stats`): the broker works those out
        queue by queue, and they were most of a plan's time on a big vhost (2-6 s for 10,000
        objects against 0.2 s without). Consumer counts come from the consumers listing, which is
        short; message counts only for the queues a plan may delete (see `_message_counts`)."""
        api = self.api
        requests = _listings(optional, vhosts)
        names = {f"/{seg(v)}": v for v in vhosts or ()}  # a vhost's part of a path -> its name
        with self._lock:  # what was read ahead serves this read only (see read_ahead)
            ahead, self._ahead = self._ahead, {}

        def get(key: str, place: str, request: _Listing) -> Any:
            try:
                early = ahead.get(request)
                reply = early.result() if early is not None else _fetch(api, request)
            except Refusal as exc:
                # 401/403: not an administrator; 400: no such vhost (yet), on some versions. Either
                # way, the listings say what there is (see below).
                if key == "definitions" and exc.status in (400, 401, 403):
                    return exc.status
                if tolerant and key in optional:
                    return None
                raise
            except BrokerError as exc:
                if tolerant and key in optional and not isinstance(exc, Unreachable):
                    return None
                raise
            return _defined(reply, names[place], request[1], api) if key == "definitions" else reply

        with ThreadPoolExecutor(max_workers=min(len(requests), 16)) as pool:
            futures = {req: pool.submit(get, *req, request) for req, request in requests.items()}
            replies = {req: future.result() for req, future in futures.items()}
        results: dict[str, Any] = {key: [] for key in _SCOPED}  # no vhost to read: none of them
        for (key, place), reply in replies.items():
            if key == "definitions":
                if reply == 400 and not _lists_vhost(replies[("vhosts", "")], names[place]):
                    reply = _defined(None, names[place], "", api)  # no such vhost: nothing to list
                elif isinstance(reply, int) or not _exported_whole(reply, replies[("exchanges", place)]):
                    reply = _listed(api, place)
                for listing in _FROM_DEFINITIONS:  # the exchanges: from their listing
                    results[listing] += reply[listing]
                continue
            if reply is None and vhosts is not None and key in _SCOPED:
                continue
            if not isinstance(reply, list) and not (reply is None and key in optional):
                raise api.error(f"{requests[(key, place)][1]}: unexpected reply (not a list)")
            results[key] = reply if key not in _SCOPED else results[key] + reply
        consumers = Counter((str(c["queue"]["vhost"]), str(c["queue"]["name"])) for c in results.pop("consumers"))
        for row in results["queues"]:
            row["consumers"] = consumers[(row["vhost"], row["name"])]
        return LiveState(**results)

    def _message_counts(self, queues: Collection[Address]) -> dict[tuple[str, str], int]:
        """The messages of `queues` (estate.needing_counts), by (vhost, name): each queue asked
        for alone when they are few, else the totals of their vhosts' queues, one listing each."""
        api = self.api
        if len(queues) <= COUNTED_ONE_BY_ONE:
            paths = [f"{object_path(q)}?columns=name,vhost,messages" for q in queues]
        else:
            paths = [f"/api/queues/{seg(v)}?{COUNTED_QUERY}" for v in sorted({vhost_of(q) for q in queues})]

        def get(path: str) -> Any:
            return api.get_json(path, what="counting the messages of queues", ok_missing=True)

        with ThreadPoolExecutor(max_workers=min(len(paths), 16)) as pool:
            replies = list(pool.map(get, paths))
        rows = [row for reply in replies for row in ([reply] if isinstance(reply, dict) else reply or [])]
        return {
            (str(row["vhost"]), str(row["name"])): row["messages"]
            for row in rows
            if isinstance(row, Mapping) and isinstance(row.get("messages"), int) and "vhost" in row and "name" in row
        }

    # -- writing -------------------------------------------------------------------------------

    def apply_one(self, change: Change) -> None:
        try:
            self._apply_one(change)
        except BrokerError as exc:  # the broker echoes what it refuses, URIs with passwords included
            with self._lock:
                known = [s for values in self._secrets.values() for s in _secret_texts(values)]
            if known:
                detail = secrets.scrub(str(exc).split("): ", 1)[-1], known)
                raise type(exc)(exc.broker, exc.address, detail) from None
            raise

    def _secret(self, address: Address, key: str) -> JSON:
        with self._lock:
            value = self._secrets.get(address, {}).get(key)
        return value

    def _apply_one(self, change: Change) -> None:
        if change.kind in writes.KINDS:
            writes.apply_change(self.api, change, self._secret)
        elif change.action == Action.DELETE:
            self._delete(change)
        elif change.action == Action.CREATE:
            self._create(change)
        elif change.action == Action.UPDATE:
            self._update(change)
        else:  # the engine splits a replace; a driver asked for one anyway does the same
            self._delete(change)
            self._create(change)

    def _create(self, change: Change) -> None:
        address, attrs = change.address, change.after or {}
        what = f"creating {describe(address)}"
        api = self.api
        if address.kind == BINDING:
            api.request("POST", binding_path(vhost_of(address), attrs), binding_body(attrs), what=what)
        elif address.kind == EXCHANGE:
            api.request("PUT", object_path(address), exchange_body(attrs), what=what)
        elif address.kind == QUEUE:
            api.request("PUT", object_path(address), queue_body(attrs), what=what)
            if attrs.get(swap.ON_REPLACE) == swap.MOVE_MESSAGES:  # a move a failed apply left unfinished
                swap.Move(api, vhost_of(address), address.name[1]).finish(attrs)
        elif address.kind == POLICY:
            api.request("PUT", object_path(address), policy_body(attrs), what=what)
        elif address.kind == VHOST:
            api.request("PUT", object_path(address), vhost_body(attrs), what=what)
            if "limits" in attrs:
                writes.set_limits(api, f"/api/vhost-limits/{seg(vhost_of(address))}", {}, attrs["limits"], what)
        else:
            raise api.error(f"cannot create {address}: unknown kind {address.kind!r}")

    def _update(self, change: Change) -> None:
        address = change.address
        # PUT replaces the whole object: start from what is live so undeclared fields survive.
        attrs = {**(change.before or {}), **(change.after or {})}
        what = f"updating {describe(address)}"
        fields = {f.field for f in change.fields}
        if address.kind == POLICY:
            self.api.request("PUT", object_path(address), policy_body(attrs), what=what)
        elif address.kind == VHOST:
            if not fields or fields - {"limits"}:  # no fields: a change made by hand, write it all
                self.api.request("PUT", object_path(address), vhost_body(attrs), what=what)
            if "limits" in fields:
                before = (change.before or {}).get("limits")
                base = f"/api/vhost-limits/{seg(vhost_of(address))}"
                writes.set_limits(self.api, base, before, attrs.get("limits"), what)
        elif address.kind == QUEUE and (change.after or {}).get(swap.ON_REPLACE) == swap.MOVE_MESSAGES:
            move = swap.Move(self.api, vhost_of(address), address.name[1])
            if fields & set(KINDS[QUEUE].immutable):
                move.replace(change.after or {})
            else:  # only an unfinished move to finish
                move.finish(change.after or {})
        else:
            named = ", ".join(f.field for f in change.fields) or "its properties"
            raise self.api.error(f"{describe(address)} cannot change {named} in place; it must be replaced")

    def _delete(self, change: Change) -> None:
        address = change.address
        what = f"deleting {describe(address)}"
        system = system_object(address)
        if system is not None:
            raise self.api.error(f"{what}: refused, {system} is RabbitMQ's own and topoctl never deletes it")
        if address.kind == BINDING:
            self._delete_binding(change)
            return
        # Already gone (a vhost delete took it, or someone else did) is what we wanted.
        self.api.request("DELETE", object_path(address), what=what, ok_missing=True)

    def _delete_binding(self, change: Change) -> None:
        address = change.address
        vhost, source, dtype, destination, routing_key, digest = address.name
        attrs: dict[str, JSON] = {"source": source, "destination_type": dtype, "destination": destination}
        path = binding_path(vhost, attrs)
        what = f"deleting {describe(address)}"
        if routing_key in (".", "..") and not digest:  # its properties_key is a dot segment of the URL
            raise self.api.error(
                f"{what}: a binding with routing key {routing_key!r} cannot be deleted through the management"
                " HTTP API (the broker resolves the key away in the URL path); remove it with rabbitmqctl or AMQP"
            )
        known = self._properties_key(address)
        if known is not None:  # the broker's own key, listed once for its vhost
            self.api.request("DELETE", f"{path}/{seg(known)}", what=what, ok_missing=True)
            return
        # Not read by this driver (a plan applied by another process): look the key up.
        listed = self.api.request("GET", path, what=what, ok_missing=True)
        if listed is None:
            return
        for row in listed.json():
            if (row.get("routing_key") or "") == routing_key and arguments_digest(row.get("arguments") or {}) == digest:
                # The broker's own key, verbatim: recomputing it is how bindings fail to delete.
                self.api.request("DELETE", f"{path}/{seg(row['properties_key'])}", what=what, ok_missing=True)

    def _properties_key(self, address: Address) -> str | None:
        """The `properties_key` of a live binding: from the plan's read when it listed bindings,
        else from one listing of the binding's vhost, made by the first delete there (a read from
        definitions has no keys; a prune of thousands of bindings must not look each up)."""
        vhost = address.name[0]
        with self._keys_lock:  # one listing per vhost, whatever the deletes in flight
            with self._lock:
                known = self._properties_keys.get(address)
                listed = vhost in self._keys_listed
            if known is not None or listed:
                return known
            rows = self.api.get_json(
                f"/api/bindings/{seg(vhost)}?columns={BINDING_COLUMNS}", what="listing bindings", ok_missing=True
            )
            found = (binding_of(self.name, {"vhost": vhost, **row}) for row in rows or [] if "source" in row)
            keys = {r.address: r.info[PROPERTIES_KEY] for r in found if PROPERTIES_KEY in r.info}
            with self._lock:
                self._keys_listed.add(vhost)
                for key, value in keys.items():
                    self._properties_keys.setdefault(key, value)
                return self._properties_keys.get(address)

    def apply(self, changes: Sequence[Change], parallelism: int, done: Callable[[Change], None]) -> None:
        """Creations of exchanges, queues and bindings go in one definitions import per vhost
        (additive, which is exactly a create); everything else through a thread pool. A wave may
        hold a binding and the exchange or queue it needs (KindSpec.created_together): the import
        orders them, the rest goes in `_in_order`."""
        # A queue that keeps its messages on replace may have a move to finish (see _create): it is
        # created alone, and so are the bindings that need it (after it, see _in_order).
        moving = {
            c.address
            for c in changes
            if c.action == Action.CREATE and (c.after or {}).get(swap.ON_REPLACE) == swap.MOVE_MESSAGES
        }
        groups: dict[str, list[Change]] = defaultdict(list)
        for change in changes:
            if (
                change.action == Action.CREATE
                and change.kind in _IMPORTABLE
                and change.address not in moving
                and not (change.kind == BINDING and moving.intersection(change.depends_on))
            ):
                groups[vhost_of(change.address)].append(change)
        bulk = {vhost: group for vhost, group in groups.items() if len(group) >= BULK_MIN}
        imported = {id(c) for group in bulk.values() for c in group}
        single = [c for c in changes if id(c) not in imported]
        for vhost, group in bulk.items():
            self._import(vhost, group, parallelism, done)
        self._in_order(single, parallelism, done)

    def _in_order(self, changes: Sequence[Change], parallelism: int, done: Callable[[Change], None]) -> None:
        """`changes` through the thread pool, the creates of bindings after everything else (their
        exchanges and queues may be in the same wave). After a failure no binding is started, as
        the engine starts no wave after a failed one: the summary counts them as not attempted."""
        bindings = [c for c in changes if c.action == Action.CREATE and c.kind == BINDING]
        first = [c for c in changes if not (c.action == Action.CREATE and c.kind == BINDING)]
        if not bindings or not first:
            super().apply(changes, parallelism, done)
            return
        super().apply(first, parallelism, done)  # raises on a failure: the bindings wait
        if not self.stopping.is_set():
            super().apply(bindings, parallelism, done)

    def _import(self, vhost: str, group: Sequence[Change], parallelism: int, done: Callable[[Change], None]) -> None:
        """Import `group` in as few chunks as IMPORT_MAX_COST allows, each awaited for as long as
        its size needs, then check once what is live. A refused chunk is redone one object at a
        time from there."""
        order = {EXCHANGE: 0, QUEUE: 1, BINDING: 2}  # what a binding needs comes in an earlier chunk
        pending = sorted(group, key=lambda c: order[c.kind])
        imported: list[Change] = []
        failure: BrokerError | None = None
        while len(imported) < len(pending) and not self.stopping.is_set():
            chunk = pending[len(imported) : import_chunk_end(pending, len(imported))]
            body: dict[str, list[dict[str, JSON]]] = {"exchanges": [], "queues": [], "bindings": []}
            for change in chunk:
                section, entry = definitions_entry(change.address, change.after or {})
                body[section].append(entry)
            cost = sum(import_cost(c) for c in chunk)
            started = time.monotonic()
            try:
                self.api.request(
                    "POST",
                    f"/api/definitions/{seg(vhost)}",
                    body,
                    what=f"importing {len(chunk)} objects into vhost {vhost!r}",
                    read_timeout=import_timeout(cost, self._import_unit, self.settings.timeout),
                )
            except BrokerError as exc:
                failure = exc
                break
            imported.extend(chunk)
            self._import_unit = max((time.monotonic() - started) / cost, IMPORT_UNIT_SECONDS)
        if imported:
            try:
                self._verify_import(vhost, imported, done)
            except Unreachable:
                if failure is None:
                    raise
                for change in imported:  # the broker accepted them: they took effect
                    done(change)
        if failure is None:
            return
        if isinstance(failure, Unreachable):
            raise failure
        # An import stops at the first error without saying which object: redo the rest one by
        # one (redeclaring what the import did create is a no-op) to name the culprit.
        self._in_order(pending[len(imported) :], parallelism, done)

    def _verify_import(self, vhost: str, group: Sequence[Change], done: Callable[[Change], None]) -> None:
        """An import skips objects that already exist, even with other properties, and bindings
        whose source or destination is missing, silently: check that what is live now is what was
        asked for, reading only the kinds imported (the short listings, at once, not the whole
        definitions). Reports what is; raises for the first that is not."""
        api = self.api
        what = f"checking the import into vhost {vhost!r}"
        kinds = {c.kind for c in group}
        paths = {
            kind: path
            for kind, path in (
                (EXCHANGE, f"/api/exchanges/{seg(vhost)}?columns={_CHECKED_EXCHANGE}"),
                (QUEUE, f"/api/queues/{seg(vhost)}?disable_stats=true&columns={_CHECKED_QUEUE}"),
                (BINDING, f"/api/bindings/{seg(vhost)}?columns={_CHECKED_BINDING}"),
            )
            if kind in kinds
        }
        with ThreadPoolExecutor(max_workers=len(paths)) as pool:
            futures = {kind: pool.submit(api.get_json, path, what=what) for kind, path in paths.items()}
            live = {kind: future.result() or [] for kind, future in futures.items()}
        exchanges = {row["name"]: row for row in live.get(EXCHANGE, [])}
        queues = {row["name"]: row for row in live.get(QUEUE, [])}
        bindings = {
            (
                b["source"],
                b["destination_type"],
                b["destination"],
                b.get("routing_key") or "",
                arguments_digest(b.get("arguments") or {}),
            )
            for b in live.get(BINDING, [])
        }
        problems: list[str] = []
        for change in group:
            after = change.after or {}
            name = change.address.name
            if change.kind == BINDING:
                found = tuple(name[1:]) in bindings
                same = found
            elif change.kind == QUEUE:
                row = queues.get(name[1])
                found = row is not None
                same = row is not None and queue_attrs(row) == {k: after.get(k) for k in queue_attrs(row)}
            else:
                row = exchanges.get(name[1])
                found = row is not None
                same = row is not None and exchange_attrs(row) == {k: after.get(k) for k in exchange_attrs(row)}
            if not found:
                problems.append(f"creating {describe(change.address)}: the import did not create it")
            elif not same:
                problems.append(
                    f"creating {describe(change.address)}: it already exists with other properties "
                    "(created by someone else since the plan?); run plan again"
                )
            else:
                done(change)
        if problems:
            raise api.error(problems[0])


def import_cost(change: Change) -> float:
    """The cost units of importing one object: an exchange weighs less, a quorum or stream queue more."""
    if change.kind == EXCHANGE:
        return IMPORT_EXCHANGE
    if change.kind == QUEUE and (change.after or {}).get("type", "classic") != "classic":
        return IMPORT_HEAVY_QUEUE
    return 1.0


def import_timeout(cost: float, unit: float, timeout: float) -> float:
    """How long to wait for the answer to an import of `cost` units, at `unit` seconds a unit."""
    return max(timeout, IMPORT_TIMEOUT_FACTOR * cost * unit)


def import_chunk_end(pending: Sequence[Change], start: int) -> int:
    """Where the import chunk that starts at `pending[start]` ends: the rest is split evenly into
    as few chunks as IMPORT_MAX_COST allows (a small last chunk would cost the broker an import's
    fixed time for a few objects)."""
    costs = [import_cost(c) for c in pending[start:]]
    chunks = max(math.ceil(sum(costs) / IMPORT_MAX_COST), 1)
    target = sum(costs) / chunks + 1e-9  # rounding: an even split must not leave one object over
    taken, total = 0, 0.0
    while taken < len(costs) and (total + costs[taken] <= target or taken == 0):
        total += costs[taken]
        taken += 1
    return start + taken


# The listings read per vhost (or cluster-wide): path with `{}` for the vhost part, and what it is.
_SCOPED = {
    "exchanges": (f"/api/exchanges{{}}?columns={EXCHANGE_COLUMNS}", "listing exchanges"),
    "queues": (f"/api/queues{{}}?disable_stats=true&columns={QUEUE_COLUMNS}", "listing queues"),
    "bindings": (f"/api/bindings{{}}?columns={BINDING_COLUMNS}", "listing bindings"),
    "policies": (f"/api/policies{{}}?columns={POLICY_COLUMNS}", "listing policies"),
    "consumers": ("/api/consumers{}?columns=queue", "listing consumers"),
}
_Listing = tuple[str, str, bool]  # a GET: path, what it is (for errors), whether 404 means nothing there


# What a vhost's definitions hold, in the form of the listings of the same name; a read takes
# the exchanges from their own listing (see `_listings`), the rest from the definitions.
_DEFINED = ("exchanges", "queues", "bindings", "policies")
_FROM_DEFINITIONS = _DEFINED[1:]


def _listings(optional: Collection[str], vhosts: Collection[str] | None) -> dict[tuple[str, str], _Listing]:
    """The GETs of a read, by (listing, vhost path part): for each of `vhosts` its definitions and
    consumers (or every scoped listing cluster-wide), the vhosts, and the `optional` ones. A vhost
    of the manifest that does not exist yet answers 404: nothing in it.

    A vhost's definitions (`GET /api/definitions/{vhost}`: its exchanges, queues, bindings and
    policies in one reply) cost the broker a third of the four listings (10,000 objects: 0.2-0.7 s
    against 0.7-1.6 s of queues and bindings listed); the listings are the way for a user that may
    not export definitions (only administrators may), see `_defined`. The exchanges are listed
    all the same (a short listing): some versions leave internal exchanges out of definitions and
    have no `internal` flag there, and a vhost whose definitions miss a listed exchange is read
    from the listings (see `_exported_whole`)."""
    if vhosts is None:
        requests = {(key, ""): (path.format(""), what, False) for key, (path, what) in _SCOPED.items()}
    else:
        requests = {}
        for vhost in sorted(vhosts):
            place = f"/{seg(vhost)}"
            requests[("definitions", place)] = (f"/api/definitions{place}", f"reading vhost {vhost!r}", True)
            for key in ("exchanges", "consumers"):
                path, what = _SCOPED[key]
                requests[(key, place)] = (path.format(place), what, True)
    requests[("vhosts", "")] = (f"/api/vhosts?columns={VHOST_COLUMNS}", "listing vhosts", False)
    requests.update({(key, ""): (*estate.LISTINGS[key], False) for key in optional})
    return requests


def _defined(reply: Any, vhost: str, what: str, api: ManagementApi) -> dict[str, list[Any]]:
    """A vhost's definitions as its four listings would give them: with their vhost; a binding's
    `properties_key` is not in them (a delete looks it up). Exclusive queues belong to a client's
    connection and are not exported: a binding to a queue that is not there is one of theirs, left
    out as the listings' system queues are."""
    if reply is None:  # no such vhost (yet)
        return {listing: [] for listing in _DEFINED}
    if not isinstance(reply, Mapping) or not all(isinstance(reply.get(k) or [], list) for k in _DEFINED):
        raise api.error(f"{what}: unexpected reply (not definitions)")
    out = {listing: [{**row, "vhost": vhost} for row in reply.get(listing) or []] for listing in _DEFINED}
    queues = {q.get("name") for q in out["queues"]}
    out["bindings"] = [b for b in out["bindings"] if b.get("destination_type") != "queue" or b["destination"] in queues]
    return out


def _exported_whole(defined: Mapping[str, list[Any]], listed: list[Any] | None) -> bool:
    """Whether a vhost's definitions hold every exchange its listing shows (not one of RabbitMQ's
    own): where they leave some out (internal ones, on some versions), their bindings may be
    missing too, and the vhost is read from its listings."""
    exported = {row.get("name") for row in defined["exchanges"]}
    return all(row.get("name") in exported for row in listed or [] if not is_system_exchange(str(row.get("name"))))


def _lists_vhost(listing: Any, vhost: str) -> bool:
    return isinstance(listing, list) and any(isinstance(v, Mapping) and v.get("name") == vhost for v in listing)


def _listed(api: ManagementApi, place: str) -> dict[str, list[Any]]:
    """What a read takes from `_defined` (not the exchanges: it lists those anyway), from the
    listings of the vhost at `place`, sent at once (a 404: none)."""

    def listed(listing: str) -> list[Any]:
        path, what = _SCOPED[listing]
        reply = _fetch(api, (path.format(place), what, True))
        if reply is not None and not isinstance(reply, list):
            raise api.error(f"{what}: unexpected reply (not a list)")
        return reply or []

    with ThreadPoolExecutor(max_workers=len(_FROM_DEFINITIONS)) as pool:
        return dict(zip(_FROM_DEFINITIONS, pool.map(listed, _FROM_DEFINITIONS), strict=True))


def _fetch(api: ManagementApi, request: _Listing) -> Any:
    path, what, ok_missing = request
    return api.get_json(path, what=what, ok_missing=ok_missing)


def _secret_texts(values: Mapping[str, object]) -> Iterable[str]:
    """Every form in which a declared secret may come back in an error message."""
    for value in values.values():
        if isinstance(value, str) and not secrets.has_password(value):
            yield value  # a password
        else:
            yield from secrets.uri_secrets(value)
