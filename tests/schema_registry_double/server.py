"""The HTTP side of the double: the Confluent Schema Registry REST API (v1) routes topoctl uses and a
few around them, the registry's content type and its error body (`{"error_code", "message"}`),
and optional basic or bearer authentication (401 as the registry's REST layer answers it)."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from tests.http_double import DoubleHandler, DoubleServer
from tests.schema_registry_double.model import Registry, RegistryError, subject_not_found

CONTENT_TYPE = "application/vnd.schemaregistry.v1+json"


@dataclass
class Request:
    method: str
    path: str  # decoded segments joined with '/'
    query: dict[str, str]
    body: Any
    status: int = 0


@dataclass
class State:
    registry: Registry = field(default_factory=Registry)
    requests: list[Request] = field(default_factory=list)
    # Authentication the double asks for: ("basic", "user:password"), ("bearer", "token") or None.
    auth: tuple[str, str] | None = None
    # Fault injection: (method, path) -> (status, error_code, message), used once.
    faults: dict[tuple[str, str], tuple[int, int, str]] = field(default_factory=dict)


Server = DoubleServer[State]


class Handler(DoubleHandler):
    server: Server

    def do_POST(self) -> None:
        self._serve("POST")

    def _serve(self, method: str) -> None:
        parts = urlsplit(self.path)
        segments = [unquote(s) for s in parts.path.strip("/").split("/") if s]
        query = {k: v[-1] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
        raw = self._body()
        state = self.server.state
        record = Request(method, "/".join(segments), query, None)
        state.requests.append(record)
        try:
            try:
                record.body = json.loads(raw) if raw else None
            except ValueError:
                raise RegistryError(400, 400, "Unrecognized token: the body is not JSON") from None
            self._authenticate(state)
            fault = state.faults.pop((method, "/" + record.path), None)
            if fault is not None:
                raise RegistryError(*fault)
            with state.registry.lock:
                status, payload = self._route(method, segments, _flags(query), record.body)
        except RegistryError as exc:
            status, payload = exc.status, {"error_code": exc.code, "message": exc.message}
        record.status = status
        self._answer(status, CONTENT_TYPE, json.dumps(payload).encode())

    def _authenticate(self, state: State) -> None:
        if state.auth is None:
            return
        scheme, secret = state.auth
        header = self.headers.get("Authorization") or ""
        basic = "Basic " + base64.b64encode(secret.encode()).decode()
        expected = basic if scheme == "basic" else f"Bearer {secret}"
        if header != expected:
            raise RegistryError(401, 401, "Unauthorized")

    def _route(self, method: str, s: list[str], q: dict[str, Any], body: Any) -> tuple[int, Any]:
        r = self.server.state.registry
        n = len(s)
        routes: list[tuple[bool, Callable[[], Any]]] = [
            (method == "GET" and n == 0, lambda: {}),
            (method == "GET" and s == ["schemas", "types"], lambda: ["JSON", "PROTOBUF", "AVRO"]),
            (method == "GET" and s == ["subjects"], lambda: r.names(q["deleted"])),
            (
                method == "GET" and n == 3 and s[0] == "subjects" and s[2] == "versions",
                lambda: [v.number for v in r.versions(s[1], q["deleted"])],
            ),
            (
                method == "GET" and n == 4 and s[0] == "subjects" and s[2] == "versions",
                lambda: r.subject_version_json(s[1], r.version(s[1], s[3], q["deleted"])),
            ),
            (
                method == "GET" and n == 5 and s[0] == "subjects" and s[4] == "schema",
                lambda: json.loads(r.schemas[r.version(s[1], s[3], q["deleted"]).schema_id].text),
            ),
            (
                method == "POST" and n == 3 and s[0] == "subjects" and s[2] == "versions",
                lambda: {"id": r.register(s[1], body)},
            ),
            (method == "POST" and n == 2 and s[0] == "subjects", lambda: r.lookup(s[1], body, q["deleted"])),
            (method == "DELETE" and n == 2 and s[0] == "subjects", lambda: r.delete_subject(s[1], q["permanent"])),
            (
                method == "DELETE" and n == 4 and s[0] == "subjects" and s[2] == "versions",
                lambda: r.delete_version(s[1], s[3], q["permanent"]),
            ),
            (method == "GET" and n == 3 and s[:2] == ["schemas", "ids"], lambda: _schema_by_id(r, s[2])),
            (
                method == "GET" and n == 4 and s[:2] == ["schemas", "ids"] and s[3] == "versions",
                lambda: _versions_of_id(r, s[2]),
            ),
            (method == "GET" and s == ["config"], lambda: {"compatibilityLevel": r.global_level}),
            (method == "PUT" and s == ["config"], lambda: {"compatibility": r.set_level(None, body)}),
            (method == "GET" and n == 2 and s[0] == "config", lambda: _subject_level(r, s[1], q["defaultToGlobal"])),
            (method == "PUT" and n == 2 and s[0] == "config", lambda: {"compatibility": r.set_level(s[1], body)}),
            (method == "DELETE" and n == 2 and s[0] == "config", lambda: _delete_level(r, s[1])),
            (
                method == "POST" and n == 5 and s[:2] == ["compatibility", "subjects"] and s[3] == "versions",
                lambda: _compatibility(r, s[2], s[4], body, q["verbose"]),
            ),
            (
                method == "POST" and n == 4 and s[:2] == ["compatibility", "subjects"] and s[3] == "versions",
                lambda: _compatibility(r, s[2], None, body, q["verbose"]),
            ),
        ]
        for matches, handler in routes:
            if matches:
                return 200, handler()
        raise RegistryError(404, 404, "HTTP 404 Not Found")


def _flags(query: dict[str, str]) -> dict[str, Any]:
    """The registry's boolean query parameters (`deleted`, `permanent`, `verbose`, ...): absent is false."""

    class Flags(dict[str, Any]):
        def __missing__(self, key: str) -> bool:
            return False

    return Flags({k: v.lower() == "true" for k, v in query.items()})


def _schema_by_id(r: Registry, raw: str) -> Any:
    try:
        schema_id = int(raw)
    except ValueError:
        raise RegistryError(404, 40403, "Schema not found") from None
    if schema_id not in r.schemas:
        raise RegistryError(404, 40403, f"Schema {schema_id} not found")
    return r.schemas[schema_id].json()


def _versions_of_id(r: Registry, raw: str) -> Any:
    _schema_by_id(r, raw)
    schema_id = int(raw)
    return [
        {"subject": subject, "version": v.number}
        for subject, versions in sorted(r.subjects.items())
        for v in versions
        if v.schema_id == schema_id and not v.deleted
    ]


def _subject_level(r: Registry, subject: str, default_to_global: bool) -> Any:
    if subject in r.levels:
        return {"compatibilityLevel": r.levels[subject]}
    if default_to_global:
        return {"compatibilityLevel": r.global_level}
    raise RegistryError(404, 40408, f"Subject '{subject}' does not have subject-level compatibility configured")


def _delete_level(r: Registry, subject: str) -> Any:
    if subject not in r.levels:
        raise subject_not_found(subject)
    return {"compatibilityLevel": r.levels.pop(subject)}


def _compatibility(r: Registry, subject: str, version: str | None, body: Any, verbose: bool) -> Any:
    live = r.live(subject)
    if version is None:
        against = live
    elif version in ("latest", "-1"):
        against = live[-1:]
    else:
        against = [r.version(subject, version)]
    try:
        stored = r.stored(subject, body)
    except RegistryError as exc:
        if not verbose or exc.code != 42201:
            raise
        return {"is_compatible": False, "messages": [exc.message]}
    # Against one version, the level's checker sees that version alone (transitive or not).
    messages = r.problems(subject, stored, against)
    out: dict[str, Any] = {"is_compatible": not messages}
    if verbose:
        out["messages"] = messages
    return out
