"""KV buckets and object stores as the streams behind them.

A bucket is created with the stream config the Go client (`jetstream.CreateKeyValue`,
`CreateObjectStore`) sends, so other clients recognise it; the bucket settings of the manifest are
mapped onto the stream fields through the tables in `fields.py`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from topoctl.model import JSON
from topoctl.providers.nats import fields as F
from topoctl.providers.nats.kinds import KV_BUCKET

KV_PREFIX = "KV_"
OBJ_PREFIX = "OBJ_"
# Streams the server makes for itself (MQTT sessions and messages: `$MQTT_sess`, `$MQTT_msgs`, ...):
# `$` names are the system's, never read, planned, pruned or exported.
SERVER_PREFIX = "$"
DEFAULT_DUPLICATE_WINDOW_NS = 120 * 1_000_000_000


def kv_stream(bucket: str) -> str:
    return KV_PREFIX + bucket


def obj_stream(bucket: str) -> str:
    return OBJ_PREFIX + bucket


def fit_duplicate_window(config: dict[str, Any]) -> None:
    """The server refuses a duplicate window longer than max_age; shrink it as clients do."""
    max_age = config.get("max_age") or 0
    window = config.get("duplicate_window") or 0
    if max_age > 0 and (window == 0 or window > max_age):
        config["duplicate_window"] = max_age


def kv_create_config(bucket: str, attrs: Mapping[str, JSON]) -> dict[str, Any]:
    config: dict[str, Any] = {
        "name": kv_stream(bucket),
        "subjects": [f"$KV.{bucket}.>"],
        "retention": "limits",
        "max_msgs_per_subject": 1,
        "max_msgs": -1,
        "max_bytes": -1,
        "max_age": 0,
        "max_msg_size": -1,
        "max_consumers": -1,
        "storage": "file",
        "num_replicas": 1,
        "discard": "new",
        "duplicate_window": DEFAULT_DUPLICATE_WINDOW_NS,
        "allow_rollup_hdrs": True,
        "deny_delete": True,
        "allow_direct": True,
    }
    apply_bucket_attrs(config, F.KV_FIELDS, attrs)
    return config


def obj_create_config(bucket: str, attrs: Mapping[str, JSON]) -> dict[str, Any]:
    config: dict[str, Any] = {
        "name": obj_stream(bucket),
        "subjects": [f"$O.{bucket}.C.>", f"$O.{bucket}.M.>"],
        "retention": "limits",
        "max_bytes": -1,
        "max_age": 0,
        "storage": "file",
        "num_replicas": 1,
        "discard": "new",
        "allow_rollup_hdrs": True,
        "allow_direct": True,
    }
    apply_bucket_attrs(config, F.OBJECT_STORE_FIELDS, attrs)
    return config


def kv_origins(bucket: str, attrs: dict[str, JSON]) -> None:
    """A KV mirror or source names a bucket; the stream behind it is `KV_<bucket>`, and a source
    without its own transforms maps the origin's keys into this bucket, as the clients do (ADR-8)."""
    mirror = attrs.get("mirror")
    if isinstance(mirror, dict):
        attrs["mirror"] = {**mirror, "name": _kv_name(str(mirror["name"]))}
    sources = attrs.get("sources")
    if not isinstance(sources, list):
        return
    out: list[JSON] = []
    for source in sources:
        if not isinstance(source, dict):
            out.append(source)
            continue
        origin = str(source["name"])
        origin = origin[len(KV_PREFIX) :] if origin.startswith(KV_PREFIX) else origin
        entry = {**source, "name": kv_stream(origin)}
        if not entry.get("subject_transforms") and (not entry.get("external") or origin != bucket):
            entry["subject_transforms"] = [{"src": f"$KV.{origin}.>", "dest": f"$KV.{bucket}.>"}]
        out.append(entry)
    attrs["sources"] = out


def _kv_name(name: str) -> str:
    return name if name.startswith(KV_PREFIX) else kv_stream(name)


def apply_bucket_attrs(config: dict[str, Any], table: Mapping[str, F.Field], attrs: Mapping[str, JSON]) -> None:
    """Overlay declared bucket settings on a stream config; the bucket's fixed flags stay."""
    overlay(config, F.to_api(table, attrs))
    if attrs.get("mirror"):
        # A read replica: no subjects of its own, and it answers direct gets for the origin.
        config.pop("subjects", None)
        config["mirror_direct"] = True
    elif "mirror" in attrs and not config.get("subjects") and str(config.get("name", "")).startswith(KV_PREFIX):
        # Promoted: the bucket takes writes on its own subjects from now on.
        config["subjects"] = [f"$KV.{str(config['name'])[len(KV_PREFIX) :]}.>"]
        config["mirror_direct"] = False
    if attrs.get("limit_marker_ttl"):
        config["allow_msg_ttl"] = True  # delete markers are TTL'd messages
    if "ttl" in attrs and "duplicate_window" not in attrs:
        fit_duplicate_window(config)


def overlay(config: dict[str, Any], api: Mapping[str, JSON]) -> None:
    """Declared API values over a full config. `None` removes a key (a mirror dropped);
    user metadata replaces the user keys and keeps the server's `_nats.*` ones."""
    for key, value in api.items():
        if key == "metadata" and isinstance(value, Mapping):
            own = config.get("metadata") or {}
            system = {k: v for k, v in own.items() if str(k).startswith(F.SYSTEM_METADATA_PREFIX)}
            config["metadata"] = {**system, **value}
        elif value is None:
            config.pop(key, None)
        else:
            config[key] = value


def bucket_subjects(kind: str, bucket: str, attrs: Mapping[str, JSON]) -> list[str]:
    """The subjects the stream of a bucket captures once created (a KV read replica: none)."""
    if kind == KV_BUCKET:
        return [] if attrs.get("mirror") else [f"$KV.{bucket}.>"]
    return [f"$O.{bucket}.C.>", f"$O.{bucket}.M.>"]
