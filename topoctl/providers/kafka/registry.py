"""Schema-registry subjects on a live Confluent-compatible registry (its REST API, v1), over HTTP:
reading them, the plan-time checks, and writing them. Used by the Kafka driver, which owns one
`SchemaRegistry` per broker; the registry is contacted only when the manifest declares or prunes
subjects, or on an export.

Reading costs one `GET /subjects` and one `GET /config`, then per subject read (declared, pruned or
exported) its latest version, its version list and its own level, several subjects at once.

Before a plan shows a new version, it asks the registry what registering it would do:

* `POST /subjects/<s>` (lookup): a schema the subject already holds as an older version is
  refused at plan time. The registry would answer a registration of it with the old id and
  register nothing, so the plan would never become empty;
* `POST /compatibility/subjects/<s>/versions/latest?verbose=true` (`/versions` for a transitive
  level: the check registration makes): an incompatible schema is refused at plan time, with the
  registry's reasons. When the same plan changes the subject's level (to anything but NONE), the
  check under the old level would mislead: the plan says so and the registry checks at apply.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import quote

from topoctl.errors import BrokerError, PlanError
from topoctl.model import JSON, Action, Address, Change, Resource
from topoctl.providers import jsonhttp
from topoctl.providers.base import PruneScope
from topoctl.providers.kafka import subjects
from topoctl.providers.kafka.schemas import DEFAULT_TYPE, SchemaProblem, normal_form
from topoctl.providers.kafka.subjects import PERMANENT, SOFT_DELETED, RegistrySettings
from topoctl.providers.secrets import scrub
from topoctl.retry import Retrier, note

KIND = subjects.KIND
CONTENT_TYPE = "application/vnd.schemaregistry.v1+json"
ACCEPT = "application/vnd.schemaregistry.v1+json, application/vnd.schemaregistry+json, application/json"
# In an observed subject's info: its live text (for export) and its own level, if any.
LIVE_TEXT = "live_text"
OWN_LEVEL = "own_level"
_CONCURRENCY = 8
_CONNECT_TIMEOUT_S = 5.0
_MAX_REASON = 600
# "No level of its own": 40408 (Confluent 5.5 and later) or 40401 (older ones).
_NO_OWN_LEVEL = frozenset({40408, 40401})


class Unreachable(BrokerError):
    """The registry did not answer (refused, timed out, TLS failure)."""


@dataclass(frozen=True)
class Answer:
    status: int
    data: Any

    @property
    def code(self) -> int | None:
        value = self.data.get("error_code") if isinstance(self.data, Mapping) else None
        return value if isinstance(value, int) else None

    @property
    def message(self) -> str:
        value = self.data.get("message") if isinstance(self.data, Mapping) else None
        return str(value) if value else f"HTTP {self.status}"


class SchemaRegistry:
    """One broker's registry (`connection.schema_registry`); inert when the broker has none."""

    def __init__(self, broker: str, settings: RegistrySettings | None, retry: Retrier) -> None:
        self.broker = broker
        self.settings = settings
        self.retry = retry
        self._http: jsonhttp.JsonHttp | None = None
        # The manifest's text of each declared subject, from the `desired` that `read` saw: what
        # apply registers (a plan holds only the normal form).
        self.texts: dict[str, str] = {}
        # The global level `read` saw: a new subject declared with it is not pinned to it.
        self.global_level: str | None = None

    @property
    def endpoint(self) -> str:
        return self.settings.url if self.settings is not None else "<no schema_registry>"

    def close(self) -> None:
        if self._http is not None:
            self._http.close()
            self._http = None

    def error(self, message: str) -> BrokerError:
        secrets = self.settings.secrets if self.settings is not None else []
        return BrokerError(self.broker, f"schema registry {self.endpoint}", scrub(message, secrets))

    # -- HTTP --------------------------------------------------------------------------------------

    @property
    def http(self) -> jsonhttp.JsonHttp:
        if self._http is None:
            import ssl

            settings = self.settings
            if settings is None:
                raise self.error("the broker has no connection.schema_registry")
            verify: bool | ssl.SSLContext = settings.verify
            for key in ("ca_file", "cert_file", "key_file"):
                path = getattr(settings, key)
                try:
                    with open(path, "rb"):
                        pass
                except TypeError:
                    continue  # not set
                except OSError as exc:
                    raise self.error(f"cannot use schema_registry.tls.{key} {path!r}: {exc.strerror or exc}") from None
            try:
                if settings.ca_file or settings.cert_file:
                    context = ssl.create_default_context(cafile=settings.ca_file if settings.verify else None)
                    if not settings.verify:
                        context.check_hostname = False
                        context.verify_mode = ssl.CERT_NONE
                    if settings.cert_file:
                        context.load_cert_chain(settings.cert_file, settings.key_file)
                    verify = context
            except (OSError, ssl.SSLError) as exc:
                raise self.error(f"cannot use the schema_registry.tls files: {exc}") from None
            auth: tuple[str, str] | None = None
            headers = {"Accept": ACCEPT, "Content-Type": CONTENT_TYPE}
            if settings.username is not None and settings.password is not None:
                auth = (settings.username, settings.password)
            elif settings.token is not None:
                headers["Authorization"] = f"Bearer {settings.token}"
            self._http = jsonhttp.JsonHttp(
                settings.url,
                auth=auth,
                verify=verify,
                headers=headers,
                timeout=settings.timeout_s,
                connect_timeout=min(settings.timeout_s, _CONNECT_TIMEOUT_S),
                pool_size=_CONCURRENCY * 2,
            )
        return self._http

    def call(self, method: str, path: str, body: Any = None, *, what: str) -> Answer:
        """One request (retried while transient); the answer, whatever its status, except that an
        authentication failure or an answer that is not the registry's raises."""

        def once() -> jsonhttp.Response:
            response = self.http.request(method, path, body)
            if response.status_code == 429 or response.status_code >= 500:
                raise _Transient(response)
            return response

        try:
            response = self.retry.call(once, lambda exc: isinstance(exc, (_Transient, jsonhttp.TransportError)))
        except _Transient as exc:
            response = exc.response
            what += note(exc)
        except jsonhttp.TimeoutException as exc:
            raise Unreachable(
                self.broker, f"schema registry {self.endpoint}", f"cannot connect: timed out while {what}{note(exc)}"
            ) from None
        except jsonhttp.TransportError as exc:
            text = scrub(str(exc) or type(exc).__name__, self.settings.secrets if self.settings else [])
            raise Unreachable(
                self.broker, f"schema registry {self.endpoint}", f"cannot connect: {text}{note(exc)}"
            ) from None
        try:
            data = response.json() if response.content else None
        except ValueError:
            data = None
        answer = Answer(response.status_code, data)
        if response.status_code in (401, 403):
            login = "check connection.schema_registry username/password or token"
            raise self.error(f"{what}: HTTP {response.status_code}: {answer.message} ({login})")
        if data is None and response.status_code < 300 and method == "GET":
            raise self.error(f"{what}: the answer is not JSON (is {self.endpoint} a schema registry?)")
        return answer

    def ok(self, answer: Answer, what: str) -> Any:
        if answer.status >= 300:
            raise self.error(f"{what}: {_reason(answer)}")
        return answer.data

    # -- read ------------------------------------------------------------------------------------

    def needed(self, desired: Sequence[Resource], prune: Sequence[PruneScope]) -> bool:
        if self.settings is None:
            return False
        if not desired and not prune:
            return True  # an export reads everything
        return any(r.kind == KIND and r.broker == self.broker for r in desired) or any(KIND in s.kinds for s in prune)

    def read(self, desired: Sequence[Resource], prune: Sequence[PruneScope]) -> list[Resource]:
        if not self.needed(desired, prune):
            return []
        declared = {r.address.name[0]: r for r in desired if r.kind == KIND and r.broker == self.broker}
        for name, resource in declared.items():
            text = subjects.text_of(resource)
            if text is not None:
                self.texts[name] = text
        names = self.ok(self.call("GET", "/subjects", what="list subjects"), "list subjects")
        if not isinstance(names, list):
            raise self.error(
                f"list subjects: unexpected answer {str(names)[:100]!r} (is {self.endpoint} a schema registry?)"
            )
        global_level = self.global_level = self._global_level()
        everything = not desired and not prune
        wanted = [
            str(n)
            for n in names
            if everything or str(n) in declared or any(s.covers(Address(self.broker, KIND, (str(n),))) for s in prune)
        ]
        with ThreadPoolExecutor(
            max_workers=max(1, min(_CONCURRENCY, len(wanted))), thread_name_prefix="sr-read"
        ) as pool:
            found = list(pool.map(lambda n: self._subject(n, declared.get(n), global_level), wanted))
        observed = [r for r in found if r is not None]
        observed += self._soft_deleted(declared, set(map(str, names)))
        by_name = {r.address.name[0]: r for r in observed}
        self._plan_checks(declared, by_name)
        return list(by_name.values())

    def _level(self, name: str) -> str:
        """The level a subject has: its own (a soft-deleted subject keeps it) or the global one."""
        answer = self.call("GET", f"/config/{_seg(name)}", what=f"read the level of {name!r}")
        if answer.status < 300 and isinstance(answer.data, Mapping) and answer.data.get("compatibilityLevel"):
            return str(answer.data["compatibilityLevel"])
        if answer.code not in _NO_OWN_LEVEL:
            self.ok(answer, f"read the compatibility level of {name!r}")
        return self._global()

    def _global(self) -> str:
        if self.global_level is None:
            self.global_level = self._global_level()
        return self.global_level

    def _global_level(self) -> str:
        data = self.ok(self.call("GET", "/config", what="read the global compatibility level"), "read /config")
        level = data.get("compatibilityLevel") if isinstance(data, Mapping) else None
        return str(level) if level else "BACKWARD"

    def _subject(self, name: str, want: Resource | None, global_level: str) -> Resource | None:
        path = f"/subjects/{_seg(name)}"
        answer = self.call("GET", f"{path}/versions/latest", what=f"read subject {name!r}")
        if answer.code == 40401:
            return None  # deleted since it was listed
        latest = self.ok(answer, f"read subject {name!r}")
        versions = self.ok(self.call("GET", f"{path}/versions", what=f"read subject {name!r}"), f"read {name!r}")
        level_answer = self.call("GET", f"/config/{_seg(name)}", what=f"read the level of {name!r}")
        own: str | None = None
        if level_answer.status < 300 and isinstance(level_answer.data, Mapping):
            own = str(level_answer.data.get("compatibilityLevel") or "") or None
        elif level_answer.code not in _NO_OWN_LEVEL:
            self.ok(level_answer, f"read the compatibility level of {name!r}")
        schema_type = str(latest.get("schemaType") or DEFAULT_TYPE)
        text = str(latest.get("schema", ""))
        references: list[JSON] = [
            {"name": str(r.get("name")), "subject": str(r.get("subject")), "version": int(r.get("version", 0))}
            for r in latest.get("references") or []
        ]
        try:
            form = normal_form(schema_type, text, has_references=bool(references))
        except SchemaProblem:
            form = text  # a schema topoctl cannot read: compared as the registry wrote it
        attrs: dict[str, JSON] = {"schema_type": schema_type, "schema": form, "compatibility": own or global_level}
        if references:
            attrs["references"] = references
        if want is not None and want.absent and want.info.get(PERMANENT):
            attrs[PERMANENT] = True
        info: dict[str, JSON] = {
            "versions": len(versions) if isinstance(versions, list) else 0,
            "version": latest.get("version"),
            "id": latest.get("id"),
            LIVE_TEXT: text,
        }
        if own is not None:
            info[OWN_LEVEL] = own
        return Resource(Address(self.broker, KIND, (name,)), attrs, info=info)

    def _soft_deleted(self, declared: Mapping[str, Resource], live: set[str]) -> list[Resource]:
        """Soft-deleted subjects the manifest deletes permanently: still to be deleted."""
        going = [n for n, r in declared.items() if r.absent and r.info.get(PERMANENT) and n not in live]
        if not going:
            return []
        every = self.ok(self.call("GET", "/subjects?deleted=true", what="list deleted subjects"), "list subjects")
        out = []
        for name in going:
            if name not in (every or []):
                continue
            versions = self.ok(
                self.call("GET", f"/subjects/{_seg(name)}/versions?deleted=true", what=f"read subject {name!r}"),
                f"read {name!r}",
            )
            attrs: dict[str, JSON] = {SOFT_DELETED: True, PERMANENT: True}
            info: dict[str, JSON] = {"versions": len(versions) if isinstance(versions, list) else 0}
            out.append(Resource(Address(self.broker, KIND, (name,)), attrs, info=info))
        return out

    # -- plan-time checks --------------------------------------------------------------------------

    def _plan_checks(self, declared: Mapping[str, Resource], live: dict[str, Resource]) -> None:
        """What registering the declared schemas would do, asked before the plan shows it: notes
        on the observed subjects, and a PlanError for what the registry would refuse."""
        changing = [
            (want, live[name])
            for name, want in declared.items()
            if not want.absent
            and name in live
            and not live[name].attrs.get(SOFT_DELETED)
            and live[name].attrs.get("schema_type") == want.attrs.get("schema_type")
            and (
                live[name].attrs.get("schema") != want.attrs.get("schema")
                or live[name].attrs.get("references", []) != want.attrs.get("references", [])
            )
        ]
        if not changing:
            return
        with ThreadPoolExecutor(max_workers=min(_CONCURRENCY, len(changing)), thread_name_prefix="sr-check") as pool:
            verdicts = list(pool.map(lambda pair: self._check(*pair), changing))
        problems = []
        for (want, have), (problem, remark) in zip(changing, verdicts, strict=True):
            if problem is not None:
                where = f" (declared at {want.source})" if want.source else ""
                problems.append(f"subject {want.address.name[0]!r}{where}: {problem}")
            if remark is not None:
                live[have.address.name[0]] = replace(have, info={**have.info, subjects.NOTE: remark})
        if problems:
            raise PlanError(
                f"the schema registry of broker {self.broker!r} ({self.endpoint}) would refuse this plan:\n  "
                + "\n  ".join(problems)
            )

    def _check(self, want: Resource, have: Resource) -> tuple[str | None, str | None]:
        name = want.address.name[0]
        body = self._body(name, want.attrs)
        found = self.call("POST", f"/subjects/{_seg(name)}", body, what=f"look up the schema of {name!r}")
        if found.status < 300 and isinstance(found.data, Mapping):
            older = found.data.get("version")
            return (
                f"the declared schema is version {older} of the subject already, not its latest "
                f"(version {have.info.get('version')}): the registry would answer with its id and register "
                f"nothing. To make it the latest again, delete the later versions "
                f"(DELETE /subjects/{name}/versions/<n>), or change the schema",
                None,
            )
        if found.status >= 300 and found.code not in (40401, 40403):
            self.ok(found, f"look up the schema of {name!r}")
        current = str(have.attrs.get("compatibility"))
        level = str(want.attrs.get("compatibility", current))
        if level == "NONE":
            return None, "registers a new version (compatibility NONE: not checked)"
        if level != current:
            return None, (
                f"registers a new version under the new level {level}: the registry checks it when it registers "
                f"it (it can only check under the current level, {current}, before)"
            )
        transitive = level.endswith("_TRANSITIVE")
        path = f"/compatibility/subjects/{_seg(name)}/versions{'' if transitive else '/latest'}?verbose=true"
        answer = self.call("POST", path, body, what=f"check the compatibility of {name!r}")
        data = self.ok(answer, f"check the compatibility of {name!r}")
        if isinstance(data, Mapping) and data.get("is_compatible") is False:
            reasons = _reasons(data.get("messages"))
            return f"the new schema is not {level}-compatible: {reasons}", None
        against = "every live version" if transitive else f"version {have.info.get('version')}"
        return None, f"registers a new version (the registry finds it {level}-compatible with {against})"

    def _body(self, name: str, attrs: Mapping[str, JSON]) -> dict[str, Any]:
        """What registers `attrs`: the manifest's text when it is what the plan says (a manifest
        edited after a saved plan was made is not), else the normal form the plan holds."""
        schema_type = str(attrs.get("schema_type", DEFAULT_TYPE))
        references = attrs.get("references") or []
        text = self.texts.get(name)
        form = str(attrs.get("schema", ""))
        if text is not None:
            try:
                same = normal_form(schema_type, text, has_references=bool(references)) == form
            except SchemaProblem:
                same = False
            if not same:
                text = None
        body: dict[str, Any] = {"schema": text if text is not None else form, "schemaType": schema_type}
        if references:
            body["references"] = [dict(r) for r in references]
        return body

    # -- apply -----------------------------------------------------------------------------------

    def apply(self, changes: Sequence[Change], done: Callable[[Change], None], failures: list[str]) -> None:
        if not changes:
            return
        deletes = [c for c in changes if c.action is Action.DELETE]
        writes = [c for c in changes if c.action in (Action.CREATE, Action.UPDATE)]
        for change in [c for c in changes if c not in deletes and c not in writes]:
            failures.append(f"cannot {change.action.value} {change.address}: not a step this driver performs")
        for batch, step in ((deletes, self._delete), (writes, self._write)):
            if not batch:
                continue
            with ThreadPoolExecutor(max_workers=min(_CONCURRENCY, len(batch)), thread_name_prefix="sr-apply") as pool:
                results = list(pool.map(_guarded(step), batch))
            for change, problem in zip(batch, results, strict=True):
                if problem is None:
                    done(change)
                else:
                    failures.append(problem)

    def _delete(self, change: Change) -> None:
        name = change.address.name[0]
        path = f"/subjects/{_seg(name)}"
        before = change.before or {}
        if not before.get(SOFT_DELETED):
            answer = self.call("DELETE", path, what=f"delete subject {name!r}")
            # 40401: gone already; 40404: soft-deleted already (by someone else, or a retry).
            if answer.status >= 300 and answer.code not in (40401, 40404):
                raise self.error(f"cannot delete subject {name!r}: {_reason(answer)}")
        if before.get(PERMANENT):
            answer = self.call("DELETE", f"{path}?permanent=true", what=f"delete subject {name!r} permanently")
            if answer.status >= 300 and answer.code != 40401:
                raise self.error(f"cannot delete subject {name!r} permanently: {_reason(answer)}")

    def _write(self, change: Change) -> None:
        name = change.address.name[0]
        after = change.after or {}
        fields = {f.field for f in change.fields} if change.action is Action.UPDATE else set(after)
        if change.action is Action.CREATE and "compatibility" in after and after["compatibility"] == self._level(name):
            fields.discard("compatibility")  # the level it has already: nothing to pin
        if "compatibility" in fields and "compatibility" in after:
            answer = self.call(
                "PUT",
                f"/config/{_seg(name)}",
                {"compatibility": after["compatibility"]},
                what=f"set the level of {name!r}",
            )
            if answer.status >= 300:
                raise self.error(f"cannot set the compatibility level of subject {name!r}: {_reason(answer)}")
        if change.action is Action.UPDATE and not fields & {"schema", "references", "schema_type"}:
            return
        body = self._body(name, after)
        answer = self.call("POST", f"/subjects/{_seg(name)}/versions", body, what=f"register a schema under {name!r}")
        if answer.status >= 300:
            made = (
                " (its compatibility level was set)" if "compatibility" in fields and "compatibility" in after else ""
            )
            raise self.error(f"cannot register the schema of subject {name!r}{made}: {_reason(answer)}")
        latest = self.ok(
            self.call("GET", f"/subjects/{_seg(name)}/versions/latest", what=f"read subject {name!r}"), f"read {name!r}"
        )
        text = str(latest.get("schema", "")) if isinstance(latest, Mapping) else ""
        try:
            shown = normal_form(str(after.get("schema_type", DEFAULT_TYPE)), text, bool(after.get("references")))
        except SchemaProblem:
            shown = text
        if shown != after.get("schema"):
            raise self.error(
                f"subject {name!r}: the registry answered with schema id {answer.data.get('id')} but its latest "
                f"version (version {latest.get('version')}) is another schema: it registered nothing new"
            )


class _Transient(Exception):
    """A 5xx or 429 answer, raised so that the retry helper sees it."""

    def __init__(self, response: jsonhttp.Response) -> None:
        super().__init__(f"HTTP {response.status_code}")
        self.response = response


def _guarded(step: Callable[[Change], None]) -> Callable[[Change], str | None]:
    """`step`, its failure as a line for the driver's error (which names the broker, not the registry)."""

    def run(change: Change) -> str | None:
        try:
            step(change)
        except BrokerError as exc:
            return f"{exc.address}: {str(exc).removeprefix(f'broker {exc.broker!r} ({exc.address}): ')}"
        return None

    return run


def _seg(name: str) -> str:
    return quote(name, safe="")


def _reason(answer: Answer) -> str:
    if answer.code is None and not isinstance(answer.data, Mapping):
        return f"HTTP {answer.status} (not an answer of a schema registry: is the URL right?)"
    code = f" (error code {answer.code})" if answer.code is not None and answer.code != answer.status else ""
    return f"HTTP {answer.status}{code}: {_reasons([_without_old_schema(answer.message)])}"


def _reasons(messages: object) -> str:
    """The registry's messages, without the old schema it quotes (long, and in the plan already)."""
    items = [str(m) for m in messages] if isinstance(messages, list) else [str(messages)]
    # `{oldSchema: '...'}` quotes the old schema (long, and in the plan already); `{validateFields:
    # ..., compatibility: ...}` the level, which the message names.
    kept = [_without_old_schema(m) for m in items if not m.startswith(("{oldSchema:", "{validateFields:"))]
    text = "; ".join(k for k in kept if k)
    return text if len(text) <= _MAX_REASON else text[: _MAX_REASON - 3] + "..."


def _without_old_schema(message: str) -> str:
    start = message.find(", {oldSchema: '")
    if start < 0:
        return message
    end = message.find("'}", start + 15)
    # The old schema is JSON: its own quotes end in "'}" only at its end, after a '}' or '"'.
    while end >= 0 and message[end - 1] not in ("}", '"', "]"):
        end = message.find("'}", end + 2)
    return message if end < 0 else message[:start] + message[end + 2 :]
