"""Secret values inside resources (user passwords, URIs with a password): one mechanism for every
provider, so no plan, plan file, export or error ever holds one.

How a secret travels (Redis ACL passwords follow the same scheme; its constants are these):

* **compile**: the field's value in `attrs` is a stand-in (`SENSITIVE`, or the URI with its
  password masked: `amqp://shovel:***@remote/%2F`); the secret itself goes into the resource's
  `info` under `SECRETS` (`{field: value}`). `info` is never diffed, rendered or saved in a plan.
* **read**: the driver knows the declared secret (from `desired`) and compares it with what the
  broker keeps (the value itself, or a salted hash): `settle` gives the observed resource the
  desired stand-in when they agree and `SENSITIVE_DIFFERENT` when they do not, so the engine's
  plain `==` sees a change without ever seeing a secret, and a saved plan's fingerprint covers it.
* **plan**: `masked_changes` shows a changed secret as `(sensitive value changed)`.
* **apply**: the driver takes the secret from what `read` saw (a plan file never holds it), and
  `scrub` removes any secret from the broker's error messages (they echo URIs).
* **export**: a secret the broker cannot give back becomes a `Placeholder` (`${NAME}`), which
  `topoctl export` writes as is and lists on stderr.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import replace
from urllib.parse import unquote

from topoctl.model import JSON, FieldChange, Resource

SENSITIVE = "(sensitive value)"
SENSITIVE_DIFFERENT = "(sensitive value, different)"
SENSITIVE_CHANGED = "(sensitive value changed)"
NO_PASSWORD = "(none)"
MASK = "***"
SECRETS = "secrets"  # key in Resource.info: {field: the plain secret}, declared or live


# -- URIs ------------------------------------------------------------------------------------------


def _password_span(text: str) -> tuple[int, int] | None:
    """Where the password of `scheme://user:password@host...` is, taking the LAST `@` as its end:
    a password with an unescaped `@`, `/` or `#` then still counts as one (a URL parser would split
    it elsewhere and show part of it as the host). Over-masking beats leaking."""
    scheme_end = text.find("://")
    if scheme_end < 0:
        return None
    start = scheme_end + 3
    at = text.rfind("@")
    if at < start:
        return None
    colon = text.find(":", start, at)
    if colon < 0:
        return None  # a user name alone
    return colon + 1, at


def has_password(text: str) -> bool:
    return _password_span(text) is not None


def uri_password(text: str) -> str | None:
    """The password as written in the URI (percent-encoded), or None."""
    span = _password_span(text)
    return None if span is None else text[span[0] : span[1]]


def mask_uri(text: str, mask: str = MASK) -> str:
    """`amqp://user:pass@host/vh` -> `amqp://user:***@host/vh`; a URI without a password as is."""
    span = _password_span(text)
    return text if span is None else text[: span[0]] + mask + text[span[1] :]


def mask_uris(value: JSON) -> JSON:
    """A URI or a list of URIs, masked."""
    if isinstance(value, str):
        return mask_uri(value)
    if isinstance(value, list):
        return [mask_uri(v) if isinstance(v, str) else v for v in value]
    return value


def uri_secrets(value: JSON) -> list[str]:
    """The URIs with a password in a URI or list of URIs, and their passwords (as written and
    decoded), for `scrub`."""
    items = value if isinstance(value, list) else [value]
    out: list[str] = []
    for item in items:
        password = uri_password(item) if isinstance(item, str) else None
        if isinstance(item, str) and password:
            out += [item, password, unquote(password)]
    return [s for s in out if s]


# -- read: the observed stand-in ---------------------------------------------------------------------


def declared(resource: Resource | None) -> Mapping[str, JSON]:
    """The secrets a desired resource carries (empty for observed ones and for None)."""
    if resource is None:
        return {}
    found = resource.info.get(SECRETS)
    return found if isinstance(found, Mapping) else {}


Same = Callable[[str, JSON, Resource], bool]


def same_value(field: str, secret: JSON, observed: Resource) -> bool:
    """The default comparison: the broker gives the secret back as it was written (URIs)."""
    return bool(secret == declared(observed).get(field))


def settle(observed: Resource, desired: Resource | None, same: Same = same_value) -> Resource:
    """`observed` with each secret field the manifest declares set to the desired stand-in when
    the broker's secret agrees with the declared one, else to `SENSITIVE_DIFFERENT`."""
    secrets = declared(desired)
    if desired is None or not secrets:
        return observed
    attrs = dict(observed.attrs)
    for field, secret in secrets.items():
        attrs[field] = desired.attrs.get(field) if same(field, secret, observed) else SENSITIVE_DIFFERENT
    return replace(observed, attrs=attrs)


# -- plan --------------------------------------------------------------------------------------------


def masked_changes(changes: Sequence[FieldChange], fields: Iterable[str]) -> list[FieldChange]:
    """A secret that changes behind an unchanged stand-in reads `(sensitive value changed)`; a
    masked URI whose visible part changes shows both masked forms (no secret is in them)."""
    secret = set(fields)
    out = []
    for c in changes:
        if c.field in secret and c.before == SENSITIVE_DIFFERENT:
            c = FieldChange(c.field, SENSITIVE, SENSITIVE_CHANGED, c.forces_replacement, c.unmanaged)
        out.append(c)
    return out


# -- errors ------------------------------------------------------------------------------------------


def scrub(text: str, secrets: Iterable[str]) -> str:
    """`text` with every secret replaced by `***`, longest first (a URI before its password)."""
    for secret in sorted({s for s in secrets if s}, key=len, reverse=True):
        text = text.replace(secret, MASK)
    return text


# -- export ------------------------------------------------------------------------------------------


class Placeholder(str):
    """A string holding `${NAME}` in place of a secret an export cannot read back (only its hash
    exists, or it is the password of a URI): `${NAME}` itself or `amqp://u:${NAME}@h`.
    `topoctl export` writes it unescaped and tells on stderr which variable to set."""

    name: str
    where: str

    def __new__(cls, text: str, name: str, where: str) -> Placeholder:
        made = super().__new__(cls, text)
        made.name = name
        made.where = where
        return made


def placeholder(name: str, where: str) -> Placeholder:
    return Placeholder("${" + name + "}", name, where)


def placeholder_name(*words: str) -> str:
    """An environment variable name from words: `shop-rabbit`, `user`, `billing` ->
    `SHOP_RABBIT_USER_BILLING`."""
    return re.sub(r"[^A-Z0-9]+", "_", "_".join(words).upper()).strip("_")


def uri_with_placeholder(uri: str, name: str, where: str) -> str:
    """`amqp://u:pw@h/v` -> `amqp://u:${NAME}@h/v` (a Placeholder); a URI without password as is."""
    if not has_password(uri):
        return uri
    return Placeholder(mask_uri(uri, "${" + name + "}"), name, where)
