"""Live I/O against Redis (one server or a Redis Cluster): read streams, groups and users; apply.

Round trips, whatever the number of objects:
- streams: the declared keys, plus `SCAN ... TYPE stream` (with `MATCH <prefix>*` for a prefix
  scope) only when a prune scope or an export needs undeclared ones; then ONE pipeline of
  `XINFO STREAM` + `XINFO GROUPS` for every key (redis-py splits it by node on a cluster);
- users: one `ACL LIST` per node (ACLs are per node, also in a cluster), plus, when a user declares
  command rules, one `COMMAND LIST` + `ACL CAT` and one pipeline of `ACL CAT <category>`, to
  compare rules by what they allow;
- apply: one pipeline per wave of the plan (chunked), one per node for users.

redis-py is imported here, lazily: `validate`, `graph` and `--help` never load it.
"""

from __future__ import annotations

import contextlib
import threading
import uuid
from collections.abc import Callable, Mapping, Sequence
from typing import Any, ClassVar

from topoctl.errors import BrokerError, PlanError
from topoctl.model import JSON, Action, Address, Change, Resource
from topoctl.providers.base import Driver, PruneScope
from topoctl.providers.redis import acl
from topoctl.providers.redis.connection import Settings, safe_endpoint, settings
from topoctl.providers.redis.kinds import GROUP, STREAM, USER

CHUNK = 1000  # commands per pipeline: bounded memory, still few round trips
SCAN_COUNT = 1000
# The user topoctl connects as must keep these, or it could not read or repair its own ACL.
NEEDED_COMMANDS = ("acl|list", "acl|setuser")


def _glob_escape(text: str) -> str:
    """A literal prefix for SCAN MATCH: the glob characters escaped."""
    return "".join("\\" + ch if ch in "*?[]\\" else ch for ch in text)


def _scan_patterns(desired: Sequence[Resource], prune: Sequence[PruneScope]) -> list[str] | None:
    """What to SCAN for: None (nothing: the declared keys are enough), or MATCH patterns."""
    patterns: list[str] = []
    for scope in prune:
        if scope.parent or (scope.kinds and STREAM not in scope.kinds):
            continue
        if not scope.prefix:
            return ["*"]
        patterns.append(_glob_escape(scope.prefix) + "*")
    if not desired and not prune:
        return ["*"]  # an export (or an empty section): everything there is
    return patterns or None


def _wants_users(desired: Sequence[Resource], prune: Sequence[PruneScope]) -> bool:
    if not desired and not prune:
        return True
    return any(r.kind == USER for r in desired) or any(not s.kinds or USER in s.kinds for s in prune)


class RedisDriver(Driver):
    type: ClassVar[str] = "redis"

    def __init__(self, name: str, connection: Mapping[str, Any]) -> None:
        super().__init__(name, connection)
        self._endpoint = safe_endpoint(connection)
        self._settings: Settings | None = None
        self._client: Any = None
        self._lock = threading.Lock()
        # Declared password hashes by user, from the manifest seen by `read` (plans never hold them).
        self._hashes: dict[str, list[str]] = {}
        self._mkstream_group = f"topoctl-mkstream-{uuid.uuid4().hex[:8]}"

    @property
    def endpoint(self) -> str:
        return self._endpoint

    # -- plumbing ---------------------------------------------------------------------------

    def _error(self, message: str) -> BrokerError:
        text = self._settings.scrub(message) if self._settings else message
        if "MOVED" in text and not (self._settings and self._settings.cluster):
            text += " (the server is a Redis Cluster node: set connection.cluster: true)"
        return BrokerError(self.name, self.endpoint, text)

    def _connect(self) -> Any:
        with self._lock:
            if self._client is not None:
                return self._client
            try:
                cfg = self._settings = settings(self.connection)
            except ValueError as exc:
                raise self._error(f"bad connection settings: {exc}") from None
            import redis
            from redis.backoff import NoBackoff
            from redis.retry import Retry

            # No retries: a retried pipeline would send its commands twice (a second XGROUP
            # CREATE fails), and a down server must fail within one timeout, not four.
            options = {**cfg.options, "retry": Retry(NoBackoff(), 0)}
            try:
                if cfg.cluster:
                    from redis.cluster import RedisCluster

                    # Reads the slot map, so it has connected.
                    client: Any = RedisCluster(**options)
                else:
                    client = redis.Redis(**options)
                    client.ping()
            except (redis.RedisError, OSError) as exc:
                raise self._error(f"cannot connect: {_describe(exc)}") from None
            self._client = client
            return client

    def _nodes(self) -> list[Any]:
        """A client per server: ACL users live on each node of a cluster separately."""
        client = self._connect()
        if not (self._settings and self._settings.cluster):
            return [client]
        return [client.get_redis_connection(node) for node in client.get_nodes()]

    def _pipeline(self, client: Any, commands: Sequence[tuple[Any, ...]]) -> list[Any]:
        """Results (or exceptions) of `commands`, sent in chunks of CHUNK per round trip."""
        import redis

        out: list[Any] = []
        try:
            for start in range(0, len(commands), CHUNK):
                pipe = client.pipeline(transaction=False)
                for command in commands[start : start + CHUNK]:
                    pipe.execute_command(*command)
                out += pipe.execute(raise_on_error=False)
        except (redis.RedisError, OSError) as exc:
            raise self._error(_describe(exc)) from None
        return out

    def close(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            with contextlib.suppress(Exception):  # closing is best effort
                client.close()

    # -- read -------------------------------------------------------------------------------

    def read(self, desired: Sequence[Resource], prune: Sequence[PruneScope]) -> list[Resource]:
        client = self._connect()
        keys = dict.fromkeys(r.address.name[0] for r in desired if r.kind == STREAM)
        patterns = _scan_patterns(desired, prune)
        for pattern in patterns or ():
            keys.update(dict.fromkeys(self._scan(client, pattern)))
        out = self._read_streams(client, list(keys), desired)
        if _wants_users(desired, prune):
            out += self._read_users(desired, exploring=not desired and not prune)
        return out

    def _scan(self, client: Any, pattern: str) -> list[str]:
        import redis

        try:
            return [str(k) for k in client.scan_iter(match=pattern, count=SCAN_COUNT, _type="stream")]
        except (redis.RedisError, OSError) as exc:
            raise self._error(f"cannot list streams (SCAN): {_describe(exc)}") from None

    def _read_streams(self, client: Any, keys: list[str], desired: Sequence[Resource]) -> list[Resource]:
        commands = [c for key in keys for c in (("XINFO STREAM", key), ("XINFO GROUPS", key))]
        results = self._pipeline(client, commands)
        out: list[Resource] = []
        wrong: list[str] = []
        for i, key in enumerate(keys):
            info, groups = results[2 * i], results[2 * i + 1]
            problem = info if isinstance(info, Exception) else groups if isinstance(groups, Exception) else None
            if problem is not None:
                text = str(problem)
                if "no such key" in text.lower():
                    continue  # not there (or deleted since the SCAN)
                if text.startswith("WRONGTYPE"):
                    wrong.append(key)
                    continue
                raise self._error(f"cannot read stream {key}: {_describe(problem)}")
            out += self._observed_stream(key, info, groups)
        if wrong:
            self._refuse_other_types(client, wrong, desired)
        return out

    def _refuse_other_types(self, client: Any, keys: list[str], desired: Sequence[Resource]) -> None:
        """A declared stream whose key holds another type: never overwritten, a plan error."""
        wanted = {r.address.name[0]: r for r in desired if r.kind == STREAM and not r.absent}
        clashes = [k for k in keys if k in wanted]
        if not clashes:
            return
        types = self._pipeline(client, [("TYPE", k) for k in clashes])
        lines = []
        for key, kind in zip(clashes, types, strict=True):
            where = wanted[key].source
            shown = kind if isinstance(kind, str) else "another type"
            lines.append(f"{where + ': ' if where else ''}key {key!r} holds a {shown}, not a stream")
        raise PlanError(
            f"broker {self.name!r}: " + "; ".join(lines) + " (topoctl never overwrites it: rename or delete the key)"
        )

    def _observed_stream(
        self, key: str, info: Mapping[str, Any], groups: Sequence[Mapping[str, Any]]
    ) -> list[Resource]:
        length = int(info.get("length") or 0)
        stream = Address(self.name, STREAM, (key,))
        pending_total = 0
        out: list[Resource] = []
        for group in groups:
            name = str(group.get("name"))
            if name.startswith("topoctl-mkstream-"):
                continue  # another topoctl creating this stream right now
            pending = int(group.get("pending") or 0)
            pending_total += pending
            lag = group.get("lag")
            extra: dict[str, JSON] = {
                "pending": pending,
                "consumers": int(group.get("consumers") or 0),
                "lag": int(lag) if isinstance(lag, int) else None,
                "entries_read": group.get("entries-read"),
                "last_delivered_id": str(group.get("last-delivered-id") or ""),
            }
            out.append(
                Resource(
                    Address(self.name, GROUP, (key, name)),
                    {},
                    depends_on=(stream,),
                    info=extra,
                )
            )
        stream_info = {"entries": length, "groups": len(out), "pending": pending_total}
        return [Resource(stream, {}, info=stream_info), *out]

    # -- users ------------------------------------------------------------------------------

    def _read_users(self, desired: Sequence[Resource], exploring: bool) -> list[Resource]:
        import redis

        nodes = self._nodes()
        declared = {r.address.name[0]: r for r in desired if r.kind == USER}
        for name, r in declared.items():
            hashes = r.info.get("password_hashes")
            if isinstance(hashes, list):
                self._hashes[name] = [str(h) for h in hashes]
        views: list[dict[str, acl.LiveUser]] = []
        me = ""
        for i, node in enumerate(nodes):
            commands: list[tuple[Any, ...]] = [("ACL LIST",)] + ([("ACL WHOAMI",)] if i == 0 else [])
            results = self._pipeline(node, commands)
            failed = next((r for r in results if isinstance(r, Exception)), None)
            if failed is not None:
                if exploring and isinstance(failed, redis.ResponseError) and "NOPERM" in str(failed):
                    return []  # an export by a user without ACL rights: streams only
                raise self._error(f"cannot read ACL users: {_describe(failed)}")
            if i == 0:
                me = str(results[1])
            users = (acl.parse_acl_line(str(line)) for line in results[0])
            views.append({u.name: u for u in users if u is not None})
        table = self._command_table(nodes[0]) if any("commands" in r.attrs for r in declared.values()) else None
        self._check_own_access(me, declared.get(me), table)

        names = sorted({n for view in views for n in view})
        out = []
        for name in names:
            want = declared.get(name)
            if want is None and name in ("default", me):
                continue  # only touched when declared: never pruned, never exported
            attrs = self._merged_attrs([view.get(name) for view in views], want, table)
            out.append(Resource(Address(self.name, USER, (name,)), attrs))
        return out

    def _merged_attrs(
        self, per_node: list[acl.LiveUser | None], want: Resource | None, table: acl.CommandTable | None
    ) -> dict[str, JSON]:
        """One user's attrs over all nodes; a field that differs between nodes (or a node that
        lacks the user) reads as such, so the plan updates it everywhere."""
        views = [self._user_attrs(u, want, table) for u in per_node if u is not None]
        merged = dict(views[0])
        everywhere = len(views) == len(per_node)
        for key in merged:
            if not everywhere or any(v.get(key) != merged[key] for v in views):
                merged[key] = DIFFERS
        return merged

    def _user_attrs(self, live: acl.LiveUser, want: Resource | None, table: acl.CommandTable | None) -> dict[str, JSON]:
        desired = want.attrs if want is not None else {}
        attrs: dict[str, JSON] = {"enabled": live.enabled}
        declared_hashes = self._hashes.get(live.name) if "passwords" in desired else None
        if declared_hashes is not None:
            same = not live.nopass and set(declared_hashes) == set(live.hashes)
            different = acl.NOPASS if live.nopass else acl.SENSITIVE_DIFFERENT
            attrs["passwords"] = desired["passwords"] if same else different
        else:
            attrs["passwords"] = acl.NOPASS if live.nopass else acl.SENSITIVE if live.hashes else acl.NO_PASSWORD
        attrs["keys"] = list(live.keys)
        attrs["channels"] = list(live.channels)
        commands: list[str] = list(live.commands)
        wanted = desired.get("commands")
        if isinstance(wanted, list) and table is not None:
            rules = [str(r) for r in wanted]
            if acl.allowed_commands(rules, table) == acl.allowed_commands(commands, table):
                commands = rules  # the same permissions: written as the manifest writes them
        attrs["commands"] = commands
        return attrs

    def _command_table(self, node: Any) -> acl.CommandTable:
        first = self._pipeline(node, [("COMMAND LIST",), ("ACL CAT",)])
        failed = next((r for r in first if isinstance(r, Exception)), None)
        if failed is not None:
            raise self._error(f"cannot read the command table (COMMAND LIST, ACL CAT): {_describe(failed)}")
        names, categories = [str(c) for c in first[0]], [str(c) for c in first[1]]
        members = self._pipeline(node, [("ACL CAT", c) for c in categories])
        failed = next((r for r in members if isinstance(r, Exception)), None)
        if failed is not None:
            raise self._error(f"cannot read the command categories (ACL CAT): {_describe(failed)}")
        return acl.CommandTable.of(names, {c: [str(m) for m in ms] for c, ms in zip(categories, members, strict=True)})

    def _check_own_access(self, me: str, want: Resource | None, table: acl.CommandTable | None) -> None:
        """A plan that would lock out the user topoctl connects as is an error: nothing could
        undo it but an operator with another account."""
        if want is None:
            return
        where = f"{want.source}: " if want.source else ""
        prefix = f"broker {self.name!r}: {where}user {me!r} is the user topoctl connects as"
        if want.absent:
            raise PlanError(f"{prefix}; deleting it would lock topoctl out")
        if want.attrs.get("enabled") is False:
            raise PlanError(f"{prefix}; disabling it would lock topoctl out")
        hashes = self._hashes.get(me)
        if "passwords" in want.attrs and hashes is not None:
            password = self._settings.password if self._settings else None
            if password is None or acl.password_hash(password) not in hashes:
                raise PlanError(f"{prefix}; its declared passwords do not include the one topoctl connects with")
        rules = want.attrs.get("commands")
        if isinstance(rules, list) and table is not None:
            allowed = acl.allowed_commands([str(r) for r in rules], table)
            missing = [c for c in NEEDED_COMMANDS if c not in allowed]
            if missing:
                raise PlanError(
                    f"{prefix}; its declared commands would take away {', '.join(missing)}, which topoctl needs"
                )

    # -- apply ------------------------------------------------------------------------------

    def apply_one(self, change: Change) -> None:
        self.apply([change], 1, lambda _: None)

    def apply(self, changes: Sequence[Change], parallelism: int, done: Callable[[Change], None]) -> None:
        """A wave in one pipeline for streams and groups, and one per node for users."""
        data = [c for c in changes if c.kind in (STREAM, GROUP)]
        users = [c for c in changes if c.kind == USER]
        errors: list[str] = []
        if data:
            self._apply_data(data, done, errors)
        if users:
            self._apply_users(users, done, errors)
        if errors:
            shown = "; ".join(errors[:5]) + (f" and {len(errors) - 5} more" if len(errors) > 5 else "")
            raise self._error(shown)

    def _data_commands(self, change: Change) -> list[tuple[Any, ...]]:
        kind, name, after = change.kind, change.address.name, change.after or {}
        if kind == STREAM:
            if change.action is Action.DELETE:
                return [("UNLINK", name[0])]
            # An empty stream: Redis makes one only with a first entry or a first group.
            tmp = self._mkstream_group
            return [("XGROUP CREATE", name[0], tmp, "$", "MKSTREAM"), ("XGROUP DESTROY", name[0], tmp)]
        if change.action is Action.DELETE:
            return [("XGROUP DESTROY", name[0], name[1])]
        command: tuple[Any, ...] = ("XGROUP CREATE", name[0], name[1], str(after.get("start", "$")), "MKSTREAM")
        if isinstance(after.get("entries_read"), int):
            command += ("ENTRIESREAD", after["entries_read"])
        return [command]

    def _apply_data(self, changes: Sequence[Change], done: Callable[[Change], None], errors: list[str]) -> None:
        client = self._connect()
        plans = [(c, self._data_commands(c)) for c in changes]
        results = iter(self._pipeline(client, [cmd for _, cmds in plans for cmd in cmds]))
        for change, cmds in plans:
            replies = [next(results) for _ in cmds]
            failed = next((r for r in replies if isinstance(r, Exception)), None)
            if failed is None:
                done(change)
            else:
                errors.append(f"cannot {_verb(change)} {_what(change)}: {_describe(failed)}")

    def _apply_users(self, changes: Sequence[Change], done: Callable[[Change], None], errors: list[str]) -> None:
        steps: list[tuple[Change, tuple[Any, ...]]] = []
        for change in changes:
            name = change.address.name[0]
            if change.action is Action.DELETE:
                steps.append((change, ("ACL DELUSER", name)))
                continue
            after = change.after or {}
            fields = [f.field for f in change.fields] if change.action is Action.UPDATE and change.fields else None
            hashes = self._hashes.get(name)
            if "passwords" in (set(after) if fields is None else set(fields)) and hashes is None:
                errors.append(f"cannot set the passwords of user {name}: the manifest does not declare them")
                continue
            steps.append((change, ("ACL SETUSER", name, *acl.setuser_rules(after, hashes, fields))))
        failures: dict[int, str] = {}
        for node in self._nodes():
            for i, reply in enumerate(self._pipeline(node, [command for _, command in steps])):
                if isinstance(reply, Exception):
                    failures.setdefault(i, _describe(reply))
            self._save_acl(node)
        for i, (change, _) in enumerate(steps):
            if i in failures:
                errors.append(f"cannot {_verb(change)} {_what(change)}: {failures[i]}")
            else:
                done(change)

    def _save_acl(self, node: Any) -> None:
        """Persist ACL changes where the server keeps them in an ACL file; servers whose users are
        in redis.conf say they have none, and that is fine (see docs/redis.md)."""
        reply = self._pipeline(node, [("ACL SAVE",)])[0]
        if isinstance(reply, Exception) and "not configured to use an acl file" not in str(reply).lower():
            raise self._error(f"ACL SAVE failed: {_describe(reply)}")


DIFFERS = "(differs between cluster nodes)"


def _verb(change: Change) -> str:
    return {Action.CREATE: "create", Action.UPDATE: "update", Action.DELETE: "delete"}.get(change.action, "change")


def _what(change: Change) -> str:
    name = change.address.name
    if change.kind == GROUP:
        return f"group {name[1]} of stream {name[0]}"
    return f"{change.kind} {name[0]}"


def _describe(exc: BaseException) -> str:
    text = str(exc).strip()
    name = type(exc).__name__
    if name in ("MovedError", "AskError"):  # redis-py keeps only "<slot> <host:port>" of the reply
        return f"MOVED {text}"
    if "Timeout" in name:
        return f"timed out ({text})" if text else "timed out"
    if not text or text == name:
        return name
    return text
