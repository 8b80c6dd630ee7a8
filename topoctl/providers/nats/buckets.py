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

KV_PREFIX = "KV_"
OBJ_PREFIX = "OBJ_"
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


def apply_bucket_attrs(config: dict[str, Any], table: Mapping[str, F.Field], attrs: Mapping[str, JSON]) -> None:
    """Overlay declared bucket settings on a stream config; the bucket's fixed flags stay."""
    overlay(config, F.to_api(table, attrs))
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
