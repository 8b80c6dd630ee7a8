"""The `type: redis` section -> desired resources, offline: validation with file:line, dead letters,
password hashing, prune scopes, graph flows and export."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.cli import topoctl
from topoctl.manifest.loader import load_manifest
from topoctl.model import Address, Resource
from topoctl.providers.base import PruneScope
from topoctl.providers.redis import acl
from topoctl.providers.redis.export import export_broker
from topoctl.providers.redis.flows import flows

ROOT = Path(__file__).resolve().parents[2]


def load(tmp_path: Path, body: dict[str, Any], env: dict[str, str] | None = None) -> Any:
    doc = {"version": 1, "brokers": {"r": {"type": "redis", **body}}}
    path = tmp_path / "m.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    return load_manifest([str(path)], env=env or {})


def error(tmp_path: Path, body: dict[str, Any]) -> str:
    doc = {"version": 1, "brokers": {"r": {"type": "redis", **body}}}
    path = tmp_path / "m.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    result = topoctl("validate", "-f", path)
    assert result.code == 1, str(result)
    assert "Traceback" not in result.stderr
    return result.stderr.strip().removeprefix("Error: ")


def by_address(manifest: Any) -> dict[str, Resource]:
    return {str(r.address): r for r in manifest.resources}


def test_streams_groups_and_their_dead_letter_stream(tmp_path: Path) -> None:
    m = load(
        tmp_path,
        {
            "streams": {
                "orders": {
                    "maxlen": 1000,
                    "groups": {
                        "billing": {"start": 0, "entries_read": 0, "dead_letter": {"max_deliveries": 5}},
                        "shipping": {"dead_letter": {"max_deliveries": 2, "stream": "dead"}},
                        "old": {"state": "absent"},
                    },
                },
                "orders:dlq": {"minid": "7d"},  # declared by hand to document its retention
            }
        },
    )
    r = by_address(m)
    assert r["r/stream/orders"].attrs == {"maxlen": 1000, "approximate": True}
    assert r["r/stream/orders:dlq"].attrs == {"minid": "7d", "approximate": True}
    assert r["r/stream/dead"].attrs == {}
    billing = r["r/group/orders/billing"]
    assert billing.attrs == {
        "start": "0",
        "entries_read": 0,
        "dead_letter": {"stream": "orders:dlq", "max_deliveries": 5},
    }
    assert billing.depends_on == (Address("r", "stream", ("orders",)), Address("r", "stream", ("orders:dlq",)))
    assert r["r/group/orders/shipping"].attrs["start"] == "$"
    assert r["r/group/orders/old"].absent


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            {"streams": {"s": {"groups": {"g": {"dead_letter": {}}}}}},
            "m.yaml:9: brokers.r.streams.s.groups.g.dead_letter: missing field 'max_deliveries'",
        ),
        (
            {"streams": {"s": {"groups": {"g": {"start": "latest"}}}}},
            "m.yaml:9: start must be $ (new entries only), 0 (the whole stream) or an entry ID",
        ),
        ({"streams": {"s": {"maxlen": 5, "minid": "1-0"}}}, "m.yaml:8: give maxlen or minid, not both"),
        ({"streams": {"s": {"minid": "yesterday"}}}, "m.yaml:7: minid: not a duration"),
        ({"streams": {"s": {"approximate": False}}}, "m.yaml:7: approximate goes with maxlen or minid"),
        (
            {"streams": {"s": {"state": "absent", "groups": {"g": {}}}}},
            "m.yaml:9: stream 's' is declared absent: its groups can only be absent too",
        ),
        (
            {"streams": {"s": {"groups": {"g": {"dead_letter": {"max_deliveries": 2, "stream": "s"}}}}}},
            "the dead letter stream cannot be the stream itself",
        ),
        (
            {"streams": {"s": {"groups": {"g": {"dead_letter": {"max_deliveries": 2}}}}, "s:dlq": {"state": "absent"}}},
            "dead letter stream 's:dlq' is declared absent",
        ),
        ({"users": {"u": {"keys": ["orders:*"]}}}, "m.yaml:8: 'orders:*': a key pattern is written ~pattern"),
        ({"users": {"u": {"channels": ["events"]}}}, "'events': a channel pattern is written &pattern"),
        ({"users": {"u": {"commands": ["on"]}}}, "'on': a command rule is written +command"),
        ({"users": {"u": {"keys": ["~*", "~a"]}}}, "~* already covers every key: declare it alone"),
        ({"users": {"u": {"channels": ["allchannels", "&a"]}}}, "&* already covers every channel"),
        ({"users": {"u": {"passwords": [""]}}}, "a password cannot be empty (is its variable set?)"),
        ({"users": {"u": {"colour": "red"}}}, "unknown field 'colour'"),
        ({"connection": {"url": "http://127.0.0.1:6379"}}, "url must start with redis:// or rediss://"),
        ({"connection": {"url": "redis://h/x"}}, "the path of url is the database number"),
        ({"connection": {"url": "redis://h/2", "cluster": True}}, "Redis Cluster has database 0 only"),
        ({"connection": {"tls": {"ca_file": "ca.pem"}}}, "tls options need a rediss:// url"),
        ({"prune": {"prefx": "a"}}, "unknown field 'prefx'; did you mean 'prefix'?"),
    ],
)
def test_bad_input_is_one_located_error(tmp_path: Path, body: dict[str, Any], message: str) -> None:
    assert message in error(tmp_path, body)


def test_passwords_are_hashed_and_never_in_attrs(tmp_path: Path) -> None:
    m = load(
        tmp_path,
        {"users": {"svc": {"passwords": ["${PW}", "other-pw"], "commands": ["+@read"]}, "none": {"passwords": []}}},
        env={"PW": "from-env-pw"},
    )
    svc = by_address(m)["r/user/svc"]
    assert svc.attrs == {"enabled": True, "passwords": acl.SENSITIVE, "commands": ["+@read"]}
    assert svc.info["password_hashes"] == sorted([acl.password_hash("from-env-pw"), acl.password_hash("other-pw")])
    assert "from-env-pw" not in repr(svc.attrs)
    assert by_address(m)["r/user/none"].attrs["passwords"] == acl.NO_PASSWORD


def test_prune_scopes(tmp_path: Path) -> None:
    streams = {"app:a": {}, "app:b": {"state": "absent"}, "other": {}}
    everything = load(tmp_path, {"streams": streams, "prune": True}).brokers["r"].compiled.prune
    assert everything == [PruneScope(frozenset({"stream", "group"})), PruneScope(frozenset({"user"}))]
    prefixed = load(tmp_path, {"streams": streams, "prune": {"prefix": "app:"}}).brokers["r"].compiled.prune
    assert prefixed == [
        PruneScope(frozenset({"stream"}), prefix="app:"),
        PruneScope(frozenset({"group"}), parent=("app:a",)),
    ]
    users = load(tmp_path, {"prune": {"prefix": "app-", "streams": False, "users": True}}).brokers["r"].compiled.prune
    assert users == [PruneScope(frozenset({"user"}), prefix="app-")]


def test_graph_flows_stream_group_dead_letters(tmp_path: Path) -> None:
    m = load(
        tmp_path,
        {
            "streams": {
                "orders": {"maxlen": 100, "groups": {"billing": {"dead_letter": {"max_deliveries": 5}}}},
                "audit": {"minid": "7d", "approximate": False, "groups": {"a": {}}},
            }
        },
    )
    edges = {(str(f.source), str(f.target), f.label, f.dead_letter) for f in flows(m.resources)}
    assert edges == {
        ("r/stream/orders", "r/group/orders/billing", "MAXLEN ~ 100", False),
        ("r/group/orders/billing", "r/stream/orders:dlq", "dead letters after 5 deliveries", True),
        ("r/stream/audit", "r/group/audit/a", "MINID = 7d", False),
    }


def test_export_writes_streams_groups_and_users_without_secrets() -> None:
    stream = Address("r", "stream", ("orders",))
    observed = [
        Resource(Address("x", "stream", ("not-mine",)), {}),
        Resource(Address("r", "group", ("orders", "billing")), {}, (stream,), info={"pending": 1}),
        Resource(stream, {}, info={"entries": 2}),
        Resource(
            Address("r", "user", ("svc",)),
            {"enabled": True, "passwords": acl.SENSITIVE, "keys": ["~a"], "channels": [], "commands": ["-@all"]},
        ),
        Resource(Address("r", "user", ("odd",)), {"enabled": "(differs between cluster nodes)", "keys": []}),
    ]
    assert export_broker("r", observed) == {
        "streams": {"orders": {"groups": {"billing": {}}}},
        "users": {"svc": {"enabled": True, "keys": ["~a"], "channels": [], "commands": ["-@all"]}, "odd": {"keys": []}},
    }


def test_validate_and_graph_never_import_redis() -> None:
    code = (
        "import sys\n"
        "from tests.cli import topoctl\n"
        f"assert topoctl('validate', '-f', {str(ROOT / 'examples' / 'redis.yaml')!r}).code == 0\n"
        f"assert topoctl('graph', '-f', {str(ROOT / 'examples' / 'redis.yaml')!r}).code == 0\n"
        "print('redis' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False", out.stdout + out.stderr
