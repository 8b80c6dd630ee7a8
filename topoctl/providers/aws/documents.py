"""JSON attributes (policies, redrive, filter and delivery policies) in a canonical form.

SQS and SNS keep these as strings and hand back what they were given, or a rewrite of it
(`maxReceiveCount` as a number, `"Principal": "*"` as `{"AWS": "*"}`, a one-element list as a
scalar). Comparing text would show perpetual diffs, so the compiler and the driver both pass every
document through the same function here, and `==` then compares meaning.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from typing import Any

from topoctl.model import JSON

# Sid of the statements the compiler composes into queue policies for SNS delivery (one per topic).
SID_PREFIX = "topoctl-sns-"

# Statement keys whose value is one string or a list of strings, in no particular order.
_SET_KEYS = ("Action", "NotAction", "Resource", "NotResource")
_BARE_ACCOUNT = re.compile(r"\d{12}|\{account\}")  # a bare id, or the placeholder of ours (arns.py)


def _dump(value: JSON) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def _as_set(value: JSON) -> JSON:
    """A scalar-or-list value of a policy, as a sorted list without duplicates."""
    items = value if isinstance(value, list) else [value]
    unique = {_dump(v): v for v in items}
    return [unique[k] for k in sorted(unique)]


def _principal(value: JSON) -> JSON:
    if value == "*":
        value = {"AWS": "*"}
    if not isinstance(value, dict):
        return value
    out: dict[str, JSON] = {}
    for kind, ids in value.items():
        listed = ids if isinstance(ids, list) else [ids]
        if kind == "AWS":
            # IAM stores a bare account id as the account's root ARN.
            listed = [
                f"arn:aws:iam::{i}:root" if isinstance(i, str) and _BARE_ACCOUNT.fullmatch(i) else i for i in listed
            ]
        out[kind] = _as_set(listed)
    return out


def _condition_value(value: JSON) -> JSON:
    # IAM compares condition values as strings (`"Bool": {"aws:SecureTransport": false}` is
    # "false"), and services may hand them back as such.
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    return value


def _condition(value: JSON) -> JSON:
    if not isinstance(value, dict):
        return value
    return {
        op: (
            {
                key: _as_set([_condition_value(i) for i in (v if isinstance(v, list) else [v])])
                for key, v in keys.items()
            }
            if isinstance(keys, dict)
            else keys
        )
        for op, keys in value.items()
    }


def _statement(value: JSON) -> JSON:
    if not isinstance(value, dict):
        return value
    out = dict(value)
    for key in _SET_KEYS:
        if key in out:
            out[key] = _as_set(out[key])
    for key in ("Principal", "NotPrincipal"):
        if key in out:
            out[key] = _principal(out[key])
    if "Condition" in out:
        out["Condition"] = _condition(out["Condition"])
    return out


def canonical_policy(doc: JSON) -> JSON:
    """An IAM-style policy document: statement order, list-vs-scalar and `*` principals ignored."""
    if not isinstance(doc, dict):
        return doc
    out = dict(doc)
    statements = out.get("Statement")
    if isinstance(statements, dict):
        statements = [statements]
    if isinstance(statements, list):
        out["Statement"] = sorted((_statement(s) for s in statements), key=_dump)
    return out


def canonical_redrive(doc: JSON) -> JSON:
    """RedrivePolicy: `maxReceiveCount` is a number whether it was sent as "5" or 5."""
    if not isinstance(doc, dict):
        return doc
    out = dict(doc)
    count = out.get("maxReceiveCount")
    if isinstance(count, str) and count.strip().isdigit():
        out["maxReceiveCount"] = int(count)
    return out


def canonical_redrive_allow(doc: JSON) -> JSON:
    if not isinstance(doc, dict):
        return doc
    out = dict(doc)
    if "sourceQueueArns" in out:
        out["sourceQueueArns"] = _as_set(out["sourceQueueArns"])
    return out


def canonical_filter(doc: JSON) -> JSON:
    """A filter policy. The values listed for an attribute are alternatives, so their order is
    moot and they are sorted; operator objects (`{"numeric": [">", 0]}`) keep their order."""
    if not isinstance(doc, dict):
        return doc
    out: dict[str, JSON] = {}
    for key, value in doc.items():
        if isinstance(value, dict):
            out[key] = canonical_filter(value)  # a nested attribute (MessageBody scope)
        elif isinstance(value, list):
            items = [canonical_filter(v) if key == "$or" else v for v in value]
            out[key] = sorted(items, key=_dump)
        else:
            out[key] = value
    return out


def canonical_plain(doc: JSON) -> JSON:
    return doc


Canonical = Callable[[JSON], JSON]


def parse(text: str | None, canonical: Canonical) -> JSON:
    """A JSON attribute as read from the wire (`""` and missing mean not set)."""
    if text is None or not text.strip():
        return None
    try:
        value: Any = json.loads(text)
    except ValueError:
        return text  # not JSON: keep the text, a diff will show it
    return canonical(value)


def encode(value: JSON) -> str:
    return "" if value is None else json.dumps(value, separators=(",", ":"), sort_keys=True)


def as_document(value: object) -> Mapping[str, Any] | None:
    """A manifest value that may be a mapping or the JSON text of one."""
    if isinstance(value, Mapping):
        return value
    if isinstance(value, str):
        try:
            parsed = json.loads(value)
        except ValueError:
            return None
        return parsed if isinstance(parsed, dict) else None
    return None


def without_composed(policy: JSON) -> JSON:
    """`policy` without the statements topoctl composed for SNS delivery (None if nothing is left).

    Used for a queue that no topic delivers to any more and whose policy the manifest does not
    declare: what topoctl put there it takes away, the rest stays untouched."""
    if not isinstance(policy, dict) or not isinstance(policy.get("Statement"), list):
        return policy
    kept = [
        s for s in policy["Statement"] if not (isinstance(s, dict) and str(s.get("Sid", "")).startswith(SID_PREFIX))
    ]
    if not kept:
        return None
    return {**policy, "Statement": kept}
