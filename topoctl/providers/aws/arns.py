"""ARNs of the objects a manifest declares, written before the account id is known.

The compiler runs offline, so it cannot know which AWS account the credentials belong to. It
writes ARNs of its own queues and topics with the placeholder `{account}` in the account field,
e.g. `arn:aws:sqs:us-east-1:{account}:billing-dlq`. The driver learns the account id when it
reads (from a queue URL or topic ARN, else STS GetCallerIdentity) and:

* puts the placeholder back into what it reads (`symbolise`), so desired and observed values
  compare with `==` and the plan shows the same text on both sides;
* replaces the placeholder by the real id in everything it sends (`resolve`).

Users may write `{account}` in their own policy documents too.
"""

from __future__ import annotations

import re

from topoctl.model import JSON

ACCOUNT = "{account}"

# The account field of an ARN (empty region for IAM: `arn:aws:iam::123456789012:root`).
_ARN_ACCOUNT = re.compile(r"(arn:aws[a-z-]*:[a-z0-9-]+:[a-z0-9-]*:)(\d{12})(?=:|$)")
_QUEUE_ARN = re.compile(r"arn:aws[a-z-]*:sqs:([a-z0-9-]+):(\d{12}|\{account\}):([A-Za-z0-9_.-]+)")


def partition(region: str) -> str:
    if region.startswith("cn-"):
        return "aws-cn"
    if region.startswith("us-gov-"):
        return "aws-us-gov"
    if region.startswith("us-iso-"):
        return "aws-iso"
    if region.startswith("us-isob-"):
        return "aws-iso-b"
    return "aws"


def queue_arn(region: str, name: str, account: str = ACCOUNT) -> str:
    return f"arn:{partition(region)}:sqs:{region}:{account}:{name}"


def topic_arn(region: str, name: str, account: str = ACCOUNT) -> str:
    return f"arn:{partition(region)}:sns:{region}:{account}:{name}"


def is_arn(text: str) -> bool:
    return text.startswith("arn:")


def parse_queue_arn(arn: str) -> tuple[str, str, str] | None:
    """(region, account, name) of a queue ARN (account: 12 digits or `{account}`), else None."""
    m = _QUEUE_ARN.fullmatch(arn)
    return (m.group(1), m.group(2), m.group(3)) if m else None


def own_queue_name(arn: str, region: str, account: str) -> str | None:
    """The queue name if `arn` is a queue of this account and region, else None."""
    parsed = parse_queue_arn(arn)
    if parsed is not None and parsed[0] == region and parsed[1] in (account, ACCOUNT):
        return parsed[2]
    return None


def symbolise(value: JSON, account: str | None) -> JSON:
    """`value` with `account` written as `{account}` in every ARN inside it."""
    if not account:
        return value
    if isinstance(value, str):
        if account not in value:
            return value
        return _ARN_ACCOUNT.sub(lambda m: m.group(1) + (ACCOUNT if m.group(2) == account else m.group(2)), value)
    if isinstance(value, list):
        return [symbolise(v, account) for v in value]
    if isinstance(value, dict):
        return {k: symbolise(v, account) for k, v in value.items()}
    return value


def resolve(value: JSON, account: str) -> JSON:
    """`value` with every `{account}` replaced by the real account id."""
    if isinstance(value, str):
        return value.replace(ACCOUNT, account) if ACCOUNT in value else value
    if isinstance(value, list):
        return [resolve(v, account) for v in value]
    if isinstance(value, dict):
        return {k: resolve(v, account) for k, v in value.items()}
    return value
