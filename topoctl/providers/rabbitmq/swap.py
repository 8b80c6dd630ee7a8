"""`on_replace: move_messages`: replacing a queue without losing its messages.

RabbitMQ cannot change a queue's type or arguments in place; the Terraform provider and the
topology operator delete and recreate it, and its messages go with it. A queue that declares
`on_replace: move_messages` is instead replaced like this (one change of the plan, an update: it
destroys nothing, so it needs no --allow-destructive):

1. declare the parking queue `topoctl.move.<queue>` (the queue's type, no arguments) and give it
   the queue's bindings, then remove them from the queue: from here on, what publishers send
   lands in the parking queue;
2. move the queue's messages there with a dynamic shovel (`src-delete-after: queue-length`,
   `ack-mode: on-confirm`: a message leaves the queue only once the parking queue has it), until
   the queue is empty, and delete it (a classic queue with `if-empty`, so nothing that arrived
   meanwhile goes with it; quorum queues do not support that, so one message is fetched and put
   back first to ask the queue itself: the statistics lag by seconds);
3. declare the queue with its new settings and its bindings; remove the parking queue's bindings;
4. move the messages back the same way, and delete the parking queue.

Messages published during the swap are not lost (they land in the parking queue, or, between
steps 3 and the end of 4, in the queue itself); their order may change, and a message published
while both queues are bound is delivered to both, so delivery is at least once. What is never
covered: a message published to the queue by name through the default exchange while the queue
does not exist (between the end of 2 and 3) is unroutable, and a message a consumer holds
unacknowledged when the queue is deleted is not redelivered (the consumer is disconnected).

Every step can run again: if anything fails, the messages are in the queue or in the parking queue
(the error says which), and the next plan shows the queue with the unfinished move, which the next
apply finishes. Parking queues are topoctl's own: never reported as manageable, pruned or exported.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any
from urllib.parse import quote

from topoctl.errors import BrokerError, PartlyApplied
from topoctl.manifest.source import Context
from topoctl.model import JSON
from topoctl.providers.rabbitmq.client import ManagementApi, seg

ON_REPLACE = "on_replace"
MOVE_MESSAGES = "move_messages"
ON_REPLACE_VALUES = ("delete", MOVE_MESSAGES)
PARKING_PREFIX = "topoctl.move."
SHOVEL_PREFIX = "topoctl-move-"  # the dynamic shovels of a move, which delete themselves
PARKED = "parked"  # in an observed queue's `info`: {"queue": <parking queue>, "messages": n}
UNFINISHED = "move_messages (unfinished: messages are parked in {queue})"
MAX_ROUNDS = 6  # shovel runs per queue before giving up on a queue that keeps filling
STALL_SECONDS = 60.0  # a shovel that moves nothing for this long has failed
POLL = 0.05


def parking_queue(queue: str) -> str:
    return PARKING_PREFIX + queue


def is_parking_queue(name: str) -> bool:
    return name.startswith(PARKING_PREFIX)


def moves_messages(spec: Mapping[str, Any], name: str, queue_type: str, ctx: Context) -> bool:
    """Whether the manifest's queue asks for `on_replace: move_messages` (checked)."""
    if is_parking_queue(name):
        raise ctx.error(f"queue names starting with {PARKING_PREFIX!r} are reserved for topoctl's parking queues")
    value = spec.get(ON_REPLACE, "delete")
    if value not in ON_REPLACE_VALUES:
        raise ctx.at(ON_REPLACE).error(f"on_replace must be one of {', '.join(ON_REPLACE_VALUES)}")
    if value != MOVE_MESSAGES:
        return False
    if queue_type == "stream":
        raise ctx.at(ON_REPLACE).error(
            "a stream keeps its messages in a log that a shovel cannot move: move_messages is for classic and"
            " quorum queues"
        )
    if len(parking_queue(name).encode()) > 255:
        raise ctx.at(ON_REPLACE).error(
            f"move_messages parks messages in {PARKING_PREFIX}<queue>, which is longer than 255 bytes for this queue"
        )
    return True


def plan_note(queue: str, messages: int, consumers: int) -> str:
    """What the plan says of a replace that keeps its messages."""
    # The count is the management statistics' (refreshed every few seconds): 0 may be stale.
    what = f"its {messages:,} message{'s' if messages != 1 else ''}" if messages else "its messages"
    note = (
        f"replaced keeping {what}: parking queue {parking_queue(queue)!r} gets the queue's bindings, a dynamic"
        " shovel moves the messages there, the queue is deleted and declared again with its bindings, the messages"
        f" move back and {parking_queue(queue)!r} is deleted. Messages published meanwhile are kept (in the parking"
        " queue); their order may change and some may be delivered twice (at least once). Publishing to the queue"
        " by name (default exchange) while it is being declared again is not covered"
    )
    if consumers:
        note += f"; {consumers} consumer{'s' if consumers != 1 else ''} will be disconnected"
    return note


class Move:
    """Moves the messages of queue `name` of `vhost` out and back around its re-declaration."""

    def __init__(self, api: ManagementApi, vhost: str, name: str, stopping: threading.Event | None = None) -> None:
        self.api = api
        self.vhost = vhost
        self.name = name
        self.parking = parking_queue(name)
        self.uri = "amqp:///" + quote(vhost, safe="")
        self.shovel = f"{SHOVEL_PREFIX}{hashlib.sha256(name.encode()).hexdigest()[:12]}"
        self.recreated = False  # the queue has its new settings: a failure from here is partly applied
        self.stopping = stopping
        self.moved = 0

    # -- the two entry points ----------------------------------------------------------------

    def replace(self, after: Mapping[str, JSON]) -> None:
        """The whole swap, from a live queue with its old settings (or one a failed run left)."""
        self._check_plugin()
        old = self._queue(self.name)
        if old is None:  # a previous run got as far as deleting it
            self.finish(after)
            return
        queue_type = _type(old)
        bindings = _unique(self._bindings(self.name) + self._bindings(self.parking))
        self._step("declaring the parking queue", lambda: self._declare_parking(queue_type))
        self._step("binding the parking queue", lambda: self._bind(self.parking, bindings))
        self._step("unbinding the queue", lambda: self._unbind(self.name))
        self._step("moving the messages to the parking queue", lambda: self._drain(self.name, self.parking, queue_type))
        self._step("declaring the queue again", lambda: self._declare(after))
        self._step("binding the queue again", lambda: self._bind(self.name, bindings))
        self._finish()

    def finish(self, after: Mapping[str, JSON]) -> None:
        """Finish a move a failed run left: the queue exists (with its new settings) or not."""
        if self._queue(self.parking) is None:
            return
        self._check_plugin()
        if self._queue(self.name) is None:
            self._step("declaring the queue again", lambda: self._declare(after))
        self.recreated = True
        self._step("binding the queue again", lambda: self._bind(self.name, self._bindings(self.parking)))
        self._finish()

    def _finish(self) -> None:
        self.recreated = True
        self._step("unbinding the parking queue", lambda: self._unbind(self.parking))
        parking = self._queue(self.parking)
        queue_type = _type(parking or {})
        self._step("moving the messages back", lambda: self._drain(self.parking, self.name, queue_type))

    # -- steps ---------------------------------------------------------------------------------

    def _step(self, what: str, action: Callable[[], None]) -> None:
        try:
            action()
        except BrokerError as exc:
            detail = str(exc).split("): ", 1)[-1]  # the broker's name and URL come back in the new error
            raise self._failed(what, detail) from None

    def _failed(self, what: str, detail: str) -> BrokerError:
        where = self._whereabouts()
        message = (
            f"moving the messages of queue {self.name!r} in vhost {self.vhost!r}: {what} failed: {detail}. {where}"
            " Nothing is lost; `topoctl apply` again finishes the move"
        )
        cls = PartlyApplied if self.recreated else BrokerError
        return cls(self.api.broker, self.api.endpoint, message)

    def _whereabouts(self) -> str:
        """Where the messages are now, as well as the broker can say."""
        try:
            found = [(q, self._queue(q)) for q in (self.name, self.parking)]
        except BrokerError:
            return f"The messages are in queue {self.name!r} or in the parking queue {self.parking!r}."
        parts = []
        for q, row in found:
            if row is not None:
                count = row.get("messages")
                parts.append(f"{q!r} ({count} messages)" if isinstance(count, int) else repr(q))
        if not parts:
            return "Neither the queue nor the parking queue exists."
        return "The messages are in " + " and ".join(parts) + "."

    def _check_plugin(self) -> None:
        nodes = self.api.get_json("/api/nodes?columns=name,running,applications", what="checking the shovel plugin")
        running = [n for n in nodes if n.get("running", True)] if isinstance(nodes, list) else []
        if running and all(
            any(a.get("name") == "rabbitmq_shovel" for a in n.get("applications") or []) for n in running
        ):
            return
        raise self.api.error(
            f"queue {self.name!r} in vhost {self.vhost!r} keeps its messages on replace (on_replace: move_messages),"
            " which needs the rabbitmq_shovel plugin on every node: `rabbitmq-plugins enable rabbitmq_shovel`."
            " Nothing was changed"
        )

    def _queue(self, name: str) -> dict[str, Any] | None:
        response = self.api.request(
            "GET",
            f"/api/queues/{seg(self.vhost)}/{seg(name)}?columns=name,type,arguments,messages,consumers",
            what=f"reading queue {name!r}",
            ok_missing=True,
        )
        if response is None:
            return None
        row = response.json()
        if isinstance(row, dict) and "type" in row:
            return dict(row)
        # The columns filter answers [] when none of them is there yet: ask for the whole object.
        full = self.api.get_json(f"/api/queues/{seg(self.vhost)}/{seg(name)}", what=f"reading queue {name!r}")
        return dict(full) if isinstance(full, dict) else {"name": name}

    def _declare_parking(self, queue_type: str) -> None:
        if self._queue(self.parking) is not None:
            return  # a previous run's: reuse it as it is
        body = {"durable": True, "auto_delete": False, "arguments": {"x-queue-type": queue_type}}
        self.api.request("PUT", self._path(self.parking), body, what=f"declaring queue {self.parking!r}")

    def _declare(self, after: Mapping[str, JSON]) -> None:
        from topoctl.providers.rabbitmq.wire import queue_body  # wire needs kinds, which needs this module

        self.api.request("PUT", self._path(self.name), queue_body(after), what=f"declaring queue {self.name!r}")
        self.recreated = True

    def _path(self, queue: str) -> str:
        return f"/api/queues/{seg(self.vhost)}/{seg(queue)}"

    def _bindings(self, queue: str) -> list[dict[str, Any]]:
        response = self.api.request(
            "GET", f"{self._path(queue)}/bindings", what=f"reading the bindings of queue {queue!r}", ok_missing=True
        )
        rows = [] if response is None else response.json()
        return [dict(b) for b in rows if b.get("source")]  # the default exchange's is implicit

    def _bind(self, queue: str, bindings: Sequence[Mapping[str, Any]]) -> None:
        for b in bindings:
            body = {"routing_key": b.get("routing_key") or "", "arguments": b.get("arguments") or {}}
            path = f"/api/bindings/{seg(self.vhost)}/e/{seg(str(b['source']))}/q/{seg(queue)}"
            self.api.request("POST", path, body, what=f"binding queue {queue!r} to exchange {b['source']!r}")

    def _unbind(self, queue: str) -> None:
        for b in self._bindings(queue):
            path = (
                f"/api/bindings/{seg(self.vhost)}/e/{seg(str(b['source']))}/q/{seg(queue)}/{seg(b['properties_key'])}"
            )
            self.api.request("DELETE", path, what=f"unbinding queue {queue!r} from {b['source']!r}", ok_missing=True)

    def _drain(self, source: str, target: str, queue_type: str) -> None:
        """Shovel `source` into `target` until `source` is empty, then delete `source`."""
        for _ in range(MAX_ROUNDS):
            self._shovel(source, target)
            if queue_type == "classic":
                if self._deleted_if_empty(source):  # atomic: refused if anything arrived meanwhile
                    return
            elif self._looks_empty(source):
                self.api.request("DELETE", self._path(source), what=f"deleting queue {source!r}", ok_missing=True)
                return
        raise self.api.error(
            f"queue {source!r} does not stay empty after {MAX_ROUNDS} moves: something keeps publishing to it by name"
        )

    def _deleted_if_empty(self, source: str) -> bool:
        """`DELETE ?if-empty=true`: False when the broker says the queue is not empty."""
        try:
            self.api.request(
                "DELETE", f"{self._path(source)}?if-empty=true", what=f"deleting queue {source!r}", ok_missing=True
            )
        except BrokerError as exc:
            if "not empty" in str(exc):
                return False
            raise
        return True

    def _looks_empty(self, queue: str) -> bool:
        """Whether a quorum queue is empty, asked of the queue itself (the statistics lag by
        seconds): fetch one message and put it back. One that arrived by name meanwhile counts a
        delivery attempt (x-delivery-count), and is moved by the next round."""
        body = {"count": 1, "ackmode": "reject_requeue_true", "encoding": "auto", "truncate": 1}
        response = self.api.request(
            "POST", f"{self._path(queue)}/get", body, what=f"checking that queue {queue!r} is empty", ok_missing=True
        )
        return response is None or response.json() == []

    def _shovel(self, source: str, target: str) -> None:
        """One run of a queue-length shovel from `source` to `target`, waited for."""
        value = {
            "src-uri": self.uri,
            "src-queue": source,
            "dest-uri": self.uri,
            "dest-queue": target,
            "src-delete-after": "queue-length",
            "ack-mode": "on-confirm",
        }
        path = f"/api/parameters/shovel/{seg(self.vhost)}/{seg(self.shovel)}"
        self.api.request("PUT", path, {"value": value}, what=f"starting shovel {self.shovel!r}")
        last: object = None
        progress = time.monotonic()
        next_check = progress + 2.0
        while self.api.request("GET", path, what=f"waiting for shovel {self.shovel!r}", ok_missing=True) is not None:
            now = time.monotonic()
            if now >= next_check:
                next_check = now + 2.0
                row = self._queue(source)
                count = None if row is None else row.get("messages")
                if count != last:
                    last, progress = count, now
                elif now - progress > STALL_SECONDS:
                    reason = self._shovel_state()
                    self.api.request("DELETE", path, what=f"stopping shovel {self.shovel!r}", ok_missing=True)
                    raise self.api.error(f"shovel {self.shovel!r} moved nothing for {STALL_SECONDS:.0f} s{reason}")
            time.sleep(POLL)

    def _shovel_state(self) -> str:
        try:
            rows = self.api.get_json(f"/api/shovels/{seg(self.vhost)}", what="reading shovel status")
        except BrokerError:
            return ""
        for row in rows if isinstance(rows, list) else []:
            if row.get("name") == self.shovel:
                return (
                    f" (state {row.get('state')}: {row.get('reason') or row.get('message') or ''})".rstrip(": )") + ")"
                )
        return ""


def _type(row: Mapping[str, Any]) -> str:
    arguments = row.get("arguments")
    declared = arguments.get("x-queue-type") if isinstance(arguments, Mapping) else None
    return str(row.get("type") or declared or "classic")


def _unique(bindings: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    seen: set[tuple[str, str, str]] = set()
    out = []
    for b in bindings:
        key = (str(b.get("source")), str(b.get("routing_key") or ""), repr(sorted((b.get("arguments") or {}).items())))
        if key not in seen:
            seen.add(key)
            out.append(dict(b))
    return out
