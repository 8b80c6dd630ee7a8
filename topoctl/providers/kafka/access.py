"""Client quotas and SCRAM users on a live cluster: reading them, checking passwords, writing them.

Quotas go through kafka-python (DescribeClientQuotas, AlterClientQuotas: confluent-kafka has
neither), users through confluent-kafka (DescribeUserScramCredentials, AlterUserScramCredentials).
Each is read only when the manifest declares or prunes that kind, or on an export.

Kafka never gives a SCRAM password back, so a declared password is checked by logging in as the
user: over the connection's own listener when it is SASL with a SCRAM mechanism (the listener then
offers SCRAM), with the user's mechanism. A password that is refused reads as different; a login
that cannot tell (no SCRAM listener, the mechanism not enabled there, no answer) leaves the password
uncompared, and the plan says why instead of showing a change that would never go away.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

from confluent_kafka import KafkaError, KafkaException
from confluent_kafka.admin import (  # type: ignore[attr-defined]
    AdminClient,
    ScramCredentialInfo,
    ScramMechanism,
    UserScramCredentialDeletion,
    UserScramCredentialUpsertion,
)

from topoctl.errors import PlanError
from topoctl.model import JSON, Action, Address, Change, Resource
from topoctl.providers import secrets
from topoctl.providers.base import PruneScope
from topoctl.providers.kafka import quotas, users
from topoctl.providers.kafka.kinds import QUOTA, USER
from topoctl.providers.kafka.kpy import AdminProblem

if TYPE_CHECKING:
    from topoctl.providers.kafka.driver import KafkaDriver

_QUIET = logging.getLogger("topoctl.providers.kafka.librdkafka.login")
_QUIET.addHandler(logging.NullHandler())
SETTLE_TIMEOUT_S = 30.0
_POLL_S = 0.1
_LOGIN_SLICE_S = 0.25
_MAX_LOGINS = 8  # password checks at once


def _needed(kind: str, driver: KafkaDriver, desired: Sequence[Resource], prune: Sequence[PruneScope]) -> bool:
    if not desired and not prune:
        return True  # an export reads everything
    return any(r.kind == kind and r.broker == driver.name for r in desired) or any(kind in s.kinds for s in prune)


# -- quotas ------------------------------------------------------------------------------------------


def read_quotas(driver: KafkaDriver, desired: Sequence[Resource], prune: Sequence[PruneScope]) -> list[Resource]:
    if not _needed(QUOTA, driver, desired, prune):
        return []
    try:
        entries = driver.extra.describe_quotas()
    except AdminProblem as exc:
        if not desired and not prune:
            return []  # an export by a principal that may not describe quotas: the rest still exports
        raise driver._error(driver._text(exc)) from None
    out = []
    for entity, values in entries:
        if not _known(entity) or not values:
            continue
        attrs: dict[str, JSON] = {k: _number(v) for k, v in sorted(values.items())}
        out.append(Resource(quotas.address(driver.name, entity), attrs))
    return out


def _known(entity: quotas.Entity) -> bool:
    kinds = tuple(kind for kind, _ in entity)
    return kinds in ((quotas.USER,), (quotas.CLIENT,), (quotas.USER, quotas.CLIENT), (quotas.IP,))


def _number(value: float) -> int | float:
    return int(value) if float(value).is_integer() else float(value)


def apply_quotas(
    driver: KafkaDriver, changes: Sequence[Change], done: Callable[[Change], None], failures: list[str]
) -> None:
    if not changes:
        return
    entries: list[tuple[quotas.Entity, dict[str, float | None]]] = []
    for change in changes:
        before, after = dict(change.before or {}), dict(change.after or {})
        values: dict[str, float | None] = {k: float(v) for k, v in after.items()}
        values.update({k: None for k in before if k not in after})  # a set: undeclared values go
        entries.append((quotas.entity_from_address(change.address), values))
    try:
        refused = driver.extra.alter_quotas(entries)
    except AdminProblem as exc:
        failures.append(driver._text(exc))
        return
    accepted = []
    for change, (entity, _) in zip(changes, entries, strict=True):
        if entity in refused:
            failures.append(f"cannot change the quota of {change.address.display_name}: {refused[entity]}")
        else:
            accepted.append(change)
    _settle_quotas(driver, accepted, failures)
    for change in accepted:
        done(change)


def _settle_quotas(driver: KafkaDriver, changes: Sequence[Change], failures: list[str]) -> None:
    waiting = {c.address: dict(c.after or {}) for c in changes}
    deadline = time.monotonic() + SETTLE_TIMEOUT_S
    while waiting:
        try:
            live = {r.address: dict(r.attrs) for r in read_quotas(driver, [], [QUOTA_SCOPE])}
        except Exception:  # a failed look is retried until the deadline
            live = None
        if live is not None:
            for address in [a for a, want in waiting.items() if live.get(a, {}) == want]:
                del waiting[address]
        if not waiting or time.monotonic() > deadline:
            break
        time.sleep(_POLL_S)
    for address in waiting:
        failures.append(f"the quota of {address.display_name} was changed but the broker does not show it yet")


QUOTA_SCOPE = PruneScope(kinds=frozenset({QUOTA}))


# -- SCRAM users -------------------------------------------------------------------------------------

_MECHANISM = {"SCRAM-SHA-256": ScramMechanism.SCRAM_SHA_256, "SCRAM-SHA-512": ScramMechanism.SCRAM_SHA_512}
_NAME = {v: k for k, v in _MECHANISM.items()}


def read_users(driver: KafkaDriver, desired: Sequence[Resource], prune: Sequence[PruneScope]) -> list[Resource]:
    if not _needed(USER, driver, desired, prune):
        return []
    declared = {r.address.name[0]: r for r in desired if r.kind == USER and r.broker == driver.name}
    for name, r in declared.items():
        password = users.password_of(r)
        if password is not None:
            driver.user_passwords[name] = password
    try:
        described = _all_users(driver)
    except KafkaException as exc:
        if not desired and not prune:
            return []
        raise driver._error(f"cannot read SCRAM users: {driver._text(exc)}") from None
    live: dict[str, dict[str, int]] = {}
    for name, description in described.items():
        credentials = {
            _NAME[info.mechanism]: int(info.iterations)
            for info in description.scram_credential_infos
            if info.mechanism in _NAME
        }
        if credentials:
            live[str(name)] = credentials
    _check_own_login(driver, declared)
    checks = {
        name: r
        for name, r in declared.items()
        if not r.absent and name in live and str(r.attrs.get("mechanism")) in live[name]
    }
    verdicts = _compare_passwords(driver, checks)
    out = []
    for name in sorted(live):
        want = declared.get(name)
        observed = Resource(Address(driver.name, USER, (name,)), users.live_attrs(live[name], want))
        verdict = verdicts.get(name)
        if want is not None and isinstance(verdict, str):
            observed = Resource(observed.address, observed.attrs, info={users.UNCHECKED: verdict})
        elif want is not None and isinstance(verdict, bool):
            observed = secrets.settle(observed, want, _verdict(verdict))
        out.append(observed)
    return out


def _verdict(same: bool) -> secrets.Same:
    def compare(field: str, secret: JSON, observed: Resource) -> bool:
        return same

    return compare


def _all_users(driver: KafkaDriver) -> dict[str, Any]:
    # Without a list of users the call answers with one future for all of them.
    future: Any = driver.admin.describe_user_scram_credentials(request_timeout=driver._timeout_s)
    return dict(future.result())


def can_compare(driver: KafkaDriver) -> str | None:
    """None when the connection can log in with SCRAM, else why it cannot."""
    protocol = str(driver._config.get("security.protocol", "PLAINTEXT")).upper()
    mechanism = str(driver._config.get("sasl.mechanism", "")).upper()
    if not protocol.startswith("SASL_"):
        return (
            f"the connection uses {protocol}, so there is no SCRAM listener to log in on "
            "(connect over SASL with a SCRAM mechanism to compare passwords)"
        )
    if mechanism not in users.MECHANISMS:
        return (
            f"the connection logs in with SASL {mechanism or 'PLAIN'}, not SCRAM, so its listener may not offer SCRAM"
        )
    return None


def _compare_passwords(driver: KafkaDriver, checks: Mapping[str, Resource]) -> dict[str, bool | str]:
    """user -> True (same), False (refused: different) or why it could not be compared."""
    if not checks:
        return {}
    why = can_compare(driver)
    if why is not None:
        return dict.fromkeys(checks, why)

    def check(name: str) -> bool | str:
        password = driver.user_passwords.get(name, "")
        return login(driver, name, password, str(checks[name].attrs["mechanism"]))

    with ThreadPoolExecutor(max_workers=min(_MAX_LOGINS, len(checks)), thread_name_prefix="scram-check") as pool:
        results = dict(zip(checks, pool.map(check, checks), strict=True))
    return results


def login(driver: KafkaDriver, user: str, password: str, mechanism: str) -> bool | str:
    """Whether `user` logs in with `password` over the connection's listener: True, False when the
    broker refuses the credentials, or why it could not tell."""
    errors: list[KafkaError] = []
    config: dict[str, Any] = dict(driver._config)
    config.update(
        {
            "sasl.username": user,
            "sasl.password": password,
            "sasl.mechanism": mechanism,
            "error_cb": errors.append,
            "logger": _QUIET,
            "socket.connection.setup.timeout.ms": str(max(int(driver._timeout_s * 1000), 1000)),
        }
    )
    client = AdminClient(config)
    deadline = time.monotonic() + driver._timeout_s
    while True:
        try:
            client.list_topics(timeout=_LOGIN_SLICE_S)
            return True
        except KafkaException:
            client.poll(0)
        refused = [e for e in errors if e.code() == KafkaError._AUTHENTICATION]
        if refused:
            text = (refused[-1].str() or "").lower()
            if "invalid credentials" in text or "authentication failed" in text:
                return False
            return f"logging in as {user!r} with {mechanism} failed: {secrets.scrub(refused[-1].str(), [password])}"
        if time.monotonic() > deadline:
            return f"logging in as {user!r} got no answer within {driver._timeout_s:.0f}s"


def _check_own_login(driver: KafkaDriver, declared: Mapping[str, Resource]) -> None:
    """A plan that deletes the user topoctl logs in as, or sets another password on it, would lock
    topoctl out: an error, before anything changes."""
    me = driver._config.get("sasl.username")
    mechanism = str(driver._config.get("sasl.mechanism", "")).upper()
    want = declared.get(me) if me else None
    if want is None or mechanism not in users.MECHANISMS:
        return
    where = f"{want.source}: " if want.source else ""
    prefix = f"broker {driver.name!r}: {where}user {me!r} is the user topoctl connects as"
    if want.absent:
        raise PlanError(f"{prefix}; deleting it would lock topoctl out")
    if users.password_of(want) != driver._config.get("sasl.password"):
        raise PlanError(f"{prefix}; its declared password is not the one topoctl connects with")
    if want.attrs.get("mechanism") != mechanism:
        raise PlanError(f"{prefix} with {mechanism}; declaring it {want.attrs.get('mechanism')} would lock topoctl out")


def apply_users(
    driver: KafkaDriver, changes: Sequence[Change], done: Callable[[Change], None], failures: list[str]
) -> None:
    if not changes:
        return
    alterations: list[Any] = []
    by_user: dict[str, Change] = {}
    for change in changes:
        name = change.address.name[0]
        live = [m for m in str((change.before or {}).get("mechanism", "")).split(",") if m in _MECHANISM]
        if change.action is Action.DELETE:
            alterations += [UserScramCredentialDeletion(name, _MECHANISM[m]) for m in live]
            by_user[name] = change
            continue
        password = driver.user_passwords.get(name)
        if password is None:
            failures.append(f"cannot set SCRAM user {name!r}: the manifest does not give its password")
            continue
        after = change.after or {}
        mechanism = str(after.get("mechanism", users.DEFAULT_MECHANISM))
        iterations = int(after.get("iterations", users.DEFAULT_ITERATIONS))
        info = ScramCredentialInfo(_MECHANISM[mechanism], iterations)
        alterations.append(UserScramCredentialUpsertion(name, info, password.encode()))
        alterations += [UserScramCredentialDeletion(name, _MECHANISM[m]) for m in live if m != mechanism]
        by_user[name] = change
    if not alterations:
        return
    # The broker refuses a request that alters one user twice ("A user credential cannot be altered
    # twice in the same request"): the upsert first, other mechanisms' deletions in later rounds.
    rounds: list[list[Any]] = []
    for alteration in alterations:
        slot = next((r for r in rounds if all(a.user != alteration.user for a in r)), None)
        if slot is None:
            rounds.append([alteration])
        else:
            slot.append(alteration)
    refused: dict[str, str] = {}
    for batch in rounds:
        batch = [a for a in batch if a.user not in refused]
        try:
            futures = driver.admin.alter_user_scram_credentials(batch, request_timeout=driver._timeout_s)
        except (KafkaException, ValueError, TypeError) as exc:
            refused.update(dict.fromkeys((a.user for a in batch), driver._text(exc)))
            continue
        for name in {a.user for a in batch}:
            future = futures.get(name)
            try:
                if future is None:
                    raise KafkaException(KafkaError(KafkaError._FAIL, "no answer for this user"))
                future.result()
            except KafkaException as exc:
                refused[name] = driver._text(exc)
    accepted = []
    for name, change in by_user.items():
        if name in refused:
            failures.append(f"cannot change SCRAM user {name!r}: {refused[name]}")
            continue
        accepted.append(change)
    _settle_users(driver, accepted, failures)
    for change in accepted:
        done(change)


def _settle_users(driver: KafkaDriver, changes: Sequence[Change], failures: list[str]) -> None:
    """Wait until the users read as written, and (where a login can tell) the new passwords work on
    the listener: brokers learn credentials from the metadata log a moment after the controller."""
    checking = can_compare(driver) is None
    waiting = {c.address.name[0]: c for c in changes}
    deadline = time.monotonic() + SETTLE_TIMEOUT_S
    while waiting:
        try:
            described = _all_users(driver)
        except KafkaException:
            described = None
        if described is not None:
            for name, change in list(waiting.items()):
                mechanisms = {
                    _NAME.get(i.mechanism): int(i.iterations)
                    for i in (described[name].scram_credential_infos if name in described else ())
                }
                after = change.after
                if after is None:
                    ok = not mechanisms
                else:
                    mechanism = str(after.get("mechanism"))
                    ok = set(mechanisms) == {mechanism} and mechanisms[mechanism] == int(
                        after.get("iterations", mechanisms[mechanism])
                    )
                    if ok and checking:
                        ok = login(driver, name, driver.user_passwords.get(name, ""), mechanism) is True
                if ok:
                    del waiting[name]
        if not waiting or time.monotonic() > deadline:
            break
        time.sleep(_POLL_S)
    for name in waiting:
        failures.append(f"SCRAM user {name!r} was changed but the broker does not show it yet")
