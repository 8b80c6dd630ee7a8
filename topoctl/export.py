"""`topoctl export`: the live topology of one broker as a manifest (import / bootstrap).

The provider turns what its driver observed into the broker's manifest section
(`<provider>.export.export_broker`); this module adds `type` and `connection` and dumps the
document. The contract: planning the exported manifest against the same broker is empty.

The connection is copied from the input manifest as written (`${VAR}` references kept), never from
the loaded one: interpolation would put the values of environment variables, passwords among them,
into the output. Secret fields written literally become `${...}` placeholders, and secret defaults
(`${PASSWORD:-guest}`) are dropped: an export may be pasted anywhere, so it carries no secret.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import yaml

from topoctl.errors import ManifestError, TopoctlError
from topoctl.manifest.loader import expand_paths, load_manifest
from topoctl.providers.secrets import Placeholder
from topoctl.units import readable

# Connection keys whose values are secrets, across providers (RabbitMQ password, Kafka SASL and
# librdkafka properties, NATS password/token/seed, AWS secret key and session token, a Service Bus
# connection string: it holds its SharedAccessKey).
_SECRET_KEY = re.compile(
    r"password|passwd|secret|token|seed|jaas|credential|private|access_key|oauthbearer|key\.pem|keystore"
    r"|connection_string"
)
_REFERENCE = re.compile(r"^\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}$")
_ANY_REFERENCE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*):-([^}]*)\}")
# Keys first in this order, then the rest alphabetically, then the nested collections of an object
# (a stream's consumers, a topic's subscriptions): `type` first and children last read best.
_KEY_ORDER = (
    *("version", "brokers", "type", "connection", "description", "tags", "limits", "users"),
    *("vhosts", "exchanges", "queues", "bindings", "policies"),  # RabbitMQ, in dependency order
    *("operator_policies", "permissions", "topic_permissions", "federation_upstreams", "shovels"),
    *("topics", "acls", "streams", "key_value", "object_stores", "sqs", "sns"),
    *("source", "destination", "destination_type", "routing_key", "principal", "resource_type", "resource_name"),
)
_KEY_LAST = ("consumers", "subscriptions")
# A broker's own keys, and only those (a NATS stream's `subjects` is one of its fields): what the
# broker is, then its objects, each kind before the kinds that refer to it, as in _KEY_ORDER; a
# Kafka broker's schema-registry subjects next to the topics whose records they describe, its
# quotas after its ACLs.
_SECTION_ORDER = (
    *("type", "connection", "description", "users", "vhosts"),  # RabbitMQ: users before their permissions
    *("queues", "topics", "subjects", "acls", "quotas"),  # Service Bus; Kafka
    *("streams", "key_value", "object_stores", "sqs", "sns"),  # NATS, Redis; AWS
)


@dataclass(frozen=True)
class Export:
    document: dict[str, Any]
    # For stderr: placeholders the user must set before planning the export, and similar.
    warnings: list[str] = field(default_factory=list)

    def yaml(self) -> str:
        return dump(self.document)


def export_broker(paths: Sequence[str], broker: str) -> Export:
    """Read `broker` (declared in the manifests at `paths`) and return its live topology."""
    from topoctl.engine.planner import Session
    from topoctl.providers import exporter

    manifest = load_manifest(paths)
    spec = manifest.brokers.get(broker)
    if spec is None:
        names = ", ".join(manifest.brokers) or "none"
        raise TopoctlError(f"--broker {broker}: no such broker in the manifest (have: {names})")
    export = exporter(spec.type)
    if export is None:
        raise TopoctlError(f"export is not supported for {spec.type} brokers yet")
    with Session(manifest) as session:
        # Nothing desired, nothing pruned: the driver reads everything it can manage.
        observed = session.driver(broker).read([], [])
    section = escape_dollars(export(broker, observed))
    connection, warnings = raw_connection(paths, broker)
    warnings += [
        f"{p.where} holds a secret topoctl cannot read back: written as {p}; set {p.name} before planning the export"
        for p in _placeholders(section)
    ]
    document = {"version": 1, "brokers": {broker: {"type": spec.type, "connection": connection, **section}}}
    return Export(document, warnings)


def escape_dollars(value: Any) -> Any:
    """Live names and values are literal: write `$$` and `$${` where the manifest loader would
    otherwise interpolate, so `${X}` in a queue name exports as `$${X}` and loads back as `${X}`.
    A provider's `Placeholder` (a secret it cannot read back, such as a user's password) is meant
    to be interpolated: it stays as it is."""
    if isinstance(value, Placeholder):
        return value
    if isinstance(value, str):
        return _INTERPOLATED.sub("$$", value)
    if isinstance(value, dict):
        return {escape_dollars(k): escape_dollars(v) for k, v in value.items()}
    if isinstance(value, list):
        return [escape_dollars(v) for v in value]
    return value


_INTERPOLATED = re.compile(r"\$(?=[${])")


def _placeholders(value: Any) -> list[Placeholder]:
    if isinstance(value, Placeholder):
        return [value]
    if isinstance(value, dict):
        return [p for v in value.values() for p in _placeholders(v)]
    if isinstance(value, list):
        return [p for v in value for p in _placeholders(v)]
    return []


# -- the connection, as written -------------------------------------------------------------------


def raw_connection(paths: Sequence[str], broker: str) -> tuple[Any, list[str]]:
    """The broker's `connection:` merged across files without interpolation, secrets replaced."""
    merged: Any = None
    for path in expand_paths(paths):
        try:
            doc = yaml.safe_load(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:  # load_manifest read it already
            raise ManifestError(f"cannot read: {exc}", str(path)) from None
        section = ((doc or {}).get("brokers") or {}).get(broker) if isinstance(doc, dict) else None
        if isinstance(section, dict) and "connection" in section:
            merged = _merge(merged, section["connection"])
    warnings: list[str] = []
    cleaned = _without_secrets(merged if merged is not None else {}, (), broker, warnings)
    return cleaned, warnings


def _merge(base: Any, over: Any) -> Any:
    # The loader's rule: mappings merge key by key, later wins; anything else is replaced whole.
    if isinstance(base, dict) and isinstance(over, dict):
        out = dict(base)
        for key, value in over.items():
            out[key] = _merge(base.get(key), value)
        return out
    return over


def _without_secrets(value: Any, path: tuple[str, ...], broker: str, warnings: list[str]) -> Any:
    if isinstance(value, dict):
        return {k: _without_secrets(v, (*path, str(k)), broker, warnings) for k, v in value.items()}
    if isinstance(value, list):
        return [_without_secrets(v, (*path, str(i)), broker, warnings) for i, v in enumerate(value)]
    where = ".".join(("connection", *path))
    if path and _SECRET_KEY.search(path[-1].lower()) and value not in (None, ""):
        ref = _REFERENCE.match(value) if isinstance(value, str) else None
        if ref is None:
            name = _placeholder(broker, path)
            warnings.append(f"{where} is a secret: written as ${{{name}}}; set {name} before planning the export")
            return f"${{{name}}}"
        if ref.group(2) is not None:
            warnings.append(f"{where}: the default of ${{{ref.group(1)}}} is a secret and was left out")
            return f"${{{ref.group(1)}}}"
        return value
    if isinstance(value, str):
        return _url_without_password(value, where, broker, path, warnings)
    return value


def _url_without_password(text: str, where: str, broker: str, path: tuple[str, ...], warnings: list[str]) -> str:
    """`amqp://user:pass@host` -> `amqp://user:${BROKER_..._PASSWORD}@host`, also inside a default."""

    def default_without_password(m: re.Match[str]) -> str:
        if _has_password(m.group(2)):
            warnings.append(f"{where}: the default of ${{{m.group(1)}}} holds a password and was left out")
            return f"${{{m.group(1)}}}"
        return m.group(0)

    text = _ANY_REFERENCE.sub(default_without_password, text)
    if not _has_password(text):
        return text
    parts = urlsplit(text)
    name = _placeholder(broker, (*path, "password"))
    warnings.append(f"{where} holds a password: written as ${{{name}}}; set {name} before planning the export")
    host = parts.netloc.rsplit("@", 1)[1]
    return urlunsplit(parts._replace(netloc=f"{parts.username}:${{{name}}}@{host}"))


def _has_password(text: str) -> bool:
    if "://" not in text or "@" not in text:
        return False
    try:
        return bool(urlsplit(text).password)
    except ValueError:
        return False


def _placeholder(broker: str, path: tuple[str, ...]) -> str:
    words = [broker, *(p for p in path if not p.isdigit())]
    return re.sub(r"[^A-Z0-9]+", "_", "_".join(words).upper()).strip("_")


# -- readable values --------------------------------------------------------------------------------


def duration_ms(value: Any) -> Any:
    """`604800000` -> `7d`; anything that is not a positive whole number of ms stays as it is
    (Kafka's `-1` means "forever" and must not become a duration)."""
    return readable(value, "ms")


def duration_s(value: Any) -> Any:
    return readable(value, "s")


def duration_ns(value: Any) -> Any:
    return readable(value, "ns")


def size(value: Any) -> Any:
    """`52428800` -> `50MiB`; sizes that are not a whole number of KiB stay plain bytes."""
    return readable(value, "bytes")


# -- YAML out -------------------------------------------------------------------------------------


class _Dumper(yaml.SafeDumper):
    """Block style, except small mappings of scalars (a binding, an exchange) fit on one line."""

    def represent_mapping(self, tag: str, mapping: Any, flow_style: bool | None = None) -> yaml.MappingNode:
        node = super().represent_mapping(tag, mapping, flow_style)
        node.flow_style = _fits_one_line(mapping)
        return node

    def represent_sequence(self, tag: str, sequence: Any, flow_style: bool | None = None) -> yaml.SequenceNode:
        node = super().represent_sequence(tag, sequence, flow_style)
        node.flow_style = all(not isinstance(v, (dict, list)) for v in sequence) and len(str(sequence)) <= 90
        return node

    def ignore_aliases(self, data: Any) -> bool:
        return True  # no &id001 anchors: an export is read by people


_Dumper.add_representer(Placeholder, lambda dumper, value: dumper.represent_str(str(value)))


def _fits_one_line(mapping: Mapping[Any, Any]) -> bool:
    if not mapping:
        return True
    values = list(mapping.values())
    if any(isinstance(v, dict) and v for v in values) or any(isinstance(v, list) and len(v) > 4 for v in values):
        return False
    return sum(len(str(k)) + len(str(v)) + 4 for k, v in mapping.items()) <= 90


def _key_rank(key: Any, order: tuple[str, ...] = _KEY_ORDER) -> tuple[int, int, str]:
    if key in order:
        return (0, order.index(key), "")
    if key in _KEY_LAST:
        return (2, _KEY_LAST.index(key), "")
    return (1, 0, str(key))


def _sorted(value: Any) -> Any:
    if isinstance(value, dict):
        keys = sorted(value, key=_key_rank)
        return {k: _sorted(value[k]) for k in keys}
    if isinstance(value, list):
        return [_sorted(v) for v in value]
    return value


def _with_sections(document: dict[str, Any]) -> dict[str, Any]:
    """The document with each broker's own keys in _SECTION_ORDER."""
    brokers = document.get("brokers")
    if not isinstance(brokers, dict):
        return document
    ordered = {
        name: {k: section[k] for k in sorted(section, key=lambda k: _key_rank(k, _SECTION_ORDER))}
        if isinstance(section, dict)
        else section
        for name, section in brokers.items()
    }
    return {**document, "brokers": ordered}


def dump(document: Mapping[str, Any]) -> str:
    text = yaml.dump(
        _with_sections(_sorted(dict(document))),
        Dumper=_Dumper,
        sort_keys=False,
        allow_unicode=True,
        default_flow_style=False,
        width=120,
    )
    return str(text)
