"""Connection settings: nats-py options, the printable endpoint, secrets kept out of messages."""

from __future__ import annotations

from pathlib import Path

import pytest

from topoctl.providers.nats.connection import MAX_CONNECT_TOTAL_S, safe_endpoint, settings


def test_defaults() -> None:
    cfg = settings({})
    assert cfg.servers == ["nats://127.0.0.1:4222"]
    assert cfg.api_prefix == "$JS.API"
    assert cfg.options == {}


def test_credentials_map_to_nats_py_options_and_never_reach_the_endpoint() -> None:
    cfg = settings(
        {
            "servers": ["nats://bob:pw1@a:4222", "b:4223, tls://c:4224"],
            "user": "alice",
            "password": "pw2",
            "token": "tok",
            "creds_file": "/x/user.creds",
            "nkey_seed": "SUASEED",
            "nkeys_seed": "/x/seed.nk",
            "connect_timeout": "2s",
            "request_timeout": 5,
            "domain": "hub",
        }
    )
    assert cfg.servers == ["nats://bob:pw1@a:4222", "nats://b:4223", "tls://c:4224"]
    assert cfg.endpoint == "nats://a:4222,nats://b:4223,tls://c:4224"
    assert cfg.options["user_credentials"] == "/x/user.creds"
    assert cfg.options["nkeys_seed_str"] == "SUASEED"
    assert cfg.options["nkeys_seed"] == "/x/seed.nk"
    assert (cfg.connect_timeout, cfg.request_timeout) == (2.0, 5.0)
    assert cfg.api_prefix == "$JS.hub.API"
    message = cfg.secrets.scrub("auth failed for nats://bob:pw1@a:4222 with pw2, tok and SUASEED")
    assert message == "auth failed for nats://a:4222 with ***, *** and ***"


def test_token_in_url_is_a_secret() -> None:
    cfg = settings({"servers": "nats://s3cr3t@host:4222"})
    assert cfg.endpoint == "nats://host:4222"
    assert "s3cr3t" not in cfg.secrets.scrub("token s3cr3t rejected")


def test_the_whole_connect_is_bounded() -> None:
    many = settings({"servers": [f"nats://h{i}:4222" for i in range(10)], "connect_timeout": "5s"})
    assert many.connect_total == MAX_CONNECT_TOTAL_S
    assert settings({"connect_timeout": "1s"}).connect_total == 3.0


def test_bad_sections() -> None:
    with pytest.raises(ValueError, match="empty"):
        settings({"servers": []})
    assert safe_endpoint({"servers": []}) == "?"
    assert safe_endpoint({"servers": ["nats://u:p@h:1"]}) == "nats://h:1"


def test_a_malformed_connection_is_a_manifest_error_before_any_broker_is_contacted(tmp_path: Path) -> None:
    from topoctl.errors import ManifestError
    from topoctl.manifest.loader import load_manifest

    path = tmp_path / "m.yaml"
    path.write_text(
        "version: 1\nbrokers:\n  n:\n    type: nats\n    connection:\n"
        "      servers: [nats://u:pw-secret@127.0.0.1:4222]\n      request_timeout: soon\n",
        encoding="utf-8",
    )
    with pytest.raises(ManifestError) as err:
        load_manifest([str(path)], env={})
    assert str(err.value).startswith(f"{path}:7: request_timeout: not a duration: 'soon'")
    assert "pw-secret" not in str(err.value)


def test_a_missing_tls_file_is_named() -> None:
    with pytest.raises(ValueError, match=r"tls\.ca_file /nonexistent/ca\.pem: No such file"):
        settings({"tls": {"ca_file": "/nonexistent/ca.pem"}})
