"""Queues the manifest points at by ARN, and whether they will exist when the plan needs them.

A dead-letter target (a queue's `dead_letter`, a subscription's `dead_letter`) or an SQS
subscription endpoint written as an ARN is not a declared object: SQS refuses a RedrivePolicy to a
queue that does not exist, so without a check the plan shows a clean create and the apply fails
halfway. When the ARN is a queue of the broker's own account and region, what read() listed
already says whether it exists, so a target that exists neither live nor in the manifest (or that
the same plan deletes) is a plan error, without one more round trip. ARNs of other accounts or
regions are left alone: the credentials cannot see them.

Pure: the driver hands in what it listed and read.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass

from topoctl.model import Address, Resource
from topoctl.providers.aws import arns
from topoctl.providers.aws.kinds import PENDING, SNS_SUBSCRIPTION, SQS_QUEUE
from topoctl.providers.base import PruneScope

DEAD_LETTER = "dead_letter"
ENDPOINT = "endpoint"


@dataclass(frozen=True)
class Reference:
    """`source` (a declared resource) points at the queue `queue` through `field`, as `arn`."""

    source: Resource
    field: str  # DEAD_LETTER or ENDPOINT
    arn: str
    account: str  # of the ARN: 12 digits or the `{account}` placeholder
    queue: str


def references(desired: Sequence[Resource], broker: str, region: str) -> list[Reference]:
    """Every queue ARN in `region` that the declared objects of `broker` point at."""
    out: list[Reference] = []
    for r in desired:
        if r.broker != broker or r.absent:
            continue
        found: list[tuple[str, object]] = []
        if r.kind in (SQS_QUEUE, SNS_SUBSCRIPTION):
            redrive = r.attrs.get("redrive_policy")
            if isinstance(redrive, dict):
                found.append((DEAD_LETTER, redrive.get("deadLetterTargetArn")))
        if r.kind == SNS_SUBSCRIPTION and r.address.name[1] == "sqs":
            found.append((ENDPOINT, r.address.name[2]))
        for field, arn in found:
            parsed = arns.parse_queue_arn(arn) if isinstance(arn, str) else None
            if parsed is not None and parsed[0] == region:
                out.append(Reference(r, field, str(arn), parsed[1], parsed[2]))
    return out


def needs_account(refs: Sequence[Reference]) -> bool:
    """Whether telling own ARNs from others' needs the account id (some name one literally)."""
    return any(ref.account != arns.ACCOUNT for ref in refs)


def dangling(
    refs: Sequence[Reference],
    account: str,
    live_queues: Collection[str],
    desired: Sequence[Resource],
    observed: Mapping[Address, Resource],
    prune: Sequence[PruneScope],
) -> tuple[list[str], dict[Address, list[str]]]:
    """(problems, notes): a problem for each reference this plan would write to a queue of this
    account that will not exist; a note on the live object for one that is already live as it is
    (the plan does not write it, so it cannot fail on it, but the DLQ is gone all the same)."""
    declared = {r.address: r for r in desired if r.kind == SQS_QUEUE}
    problems: list[str] = []
    notes: dict[Address, list[str]] = {}
    for ref in refs:
        if ref.account not in (account, arns.ACCOUNT):
            continue  # another account: not ours to see
        address = Address(ref.source.broker, SQS_QUEUE, (ref.queue,))
        why = _missing(address, ref.queue, declared, live_queues, prune)
        if why is None:
            continue
        what = f"{'dead_letter queue' if ref.field == DEAD_LETTER else 'endpoint'} {ref.arn}"
        have = observed.get(ref.source.address)
        if have is not None and not _writes(ref, have, account):
            notes.setdefault(have.address, []).append(f"{what} {why}: nothing receives what goes there")
            continue
        kind = "queue" if ref.source.kind == SQS_QUEUE else "subscription"
        where = f" (declared at {ref.source.source})" if ref.source.source else ""
        problems.append(
            f"{kind} {ref.source.address.display_name}{where}: {what} {why};"
            f" declare queue {ref.queue} under sqs.queues, or point {ref.field} at a queue that exists"
        )
    return problems, notes


def _missing(
    address: Address,
    name: str,
    declared: Mapping[Address, Resource],
    live_queues: Collection[str],
    prune: Sequence[PruneScope],
) -> str | None:
    """Why the queue will not exist after the plan, or None when it will."""
    wanted = declared.get(address)
    if wanted is not None:
        return "is declared with state: absent, so this plan deletes it" if wanted.absent else None
    if name not in live_queues:
        return "exists neither live nor in the manifest"
    if any(scope.covers(address) for scope in prune):
        return "is not declared and prune deletes it in this plan"
    return None


def _writes(ref: Reference, have: Resource, account: str) -> bool:
    """Whether the plan sends this reference to AWS (else it is live already, as declared)."""
    if have.info.get(PENDING):
        return False  # AWS lets nothing of it be changed: the plan changes nothing
    if ref.field == ENDPOINT:
        return False  # the endpoint is the subscription's identity: it is live, so it is set
    redrive = have.attrs.get("redrive_policy")
    live = redrive.get("deadLetterTargetArn") if isinstance(redrive, dict) else None
    return bool(live != arns.symbolise(ref.arn, account))
