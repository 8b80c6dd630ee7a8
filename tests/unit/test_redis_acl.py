"""Redis ACL rules compared by meaning. The expected canonical forms are what redis-server 7.0
stores for the same rules (`ACL SETUSER t reset <rules>` then `ACL LIST`)."""

from __future__ import annotations

import hashlib

import pytest

from topoctl.providers.redis import acl

TABLE = acl.CommandTable.of(
    ["get", "set", "keys", "sort_ro", "xadd", "xack", "xread", "xinfo", "xinfo|stream", "xinfo|groups", "config",
     "config|get", "config|set", "select", "debug", "ping", "acl", "acl|list", "acl|setuser"],
    {
        "read": ["get", "keys", "sort_ro", "xread", "xinfo|stream", "xinfo|groups"],
        "write": ["set", "xadd", "xack"],
        "dangerous": ["keys", "sort_ro", "config|set", "debug", "acl|setuser", "acl|list"],
        "stream": ["xadd", "xack", "xread", "xinfo|stream", "xinfo|groups"],
    },
)  # fmt: skip


@pytest.mark.parametrize(
    ("rules", "stored"),
    [
        (["%R~x", "%W~x"], ["~x"]),
        (["~x", "%R~x"], ["~x"]),
        (["~x", "~x"], ["~x"]),
        (["~a", "~*"], ["~*"]),
        (["~*", "~a"], ["~*"]),
        (["%RW~y"], ["~y"]),
        (["%WR~y"], ["~y"]),
        (["allkeys"], ["~*"]),
        (["~orders:*", "%R~audit:*", "%W~jobs:*"], ["%R~audit:*", "%W~jobs:*", "~orders:*"]),
        (["~a", "resetkeys", "~b"], ["~b"]),
    ],
)
def test_key_patterns_canonical_like_redis(rules: list[str], stored: list[str]) -> None:
    assert acl.canonical_keys(rules) == sorted(stored, key=lambda r: r.split("~", 1)[1])


@pytest.mark.parametrize(
    ("rules", "stored"),
    [
        (["&a", "&*"], ["&*"]),
        (["allchannels"], ["&*"]),
        (["&a", "&a"], ["&a"]),
        (["resetchannels"], []),
        (["&b", "&a"], ["&a", "&b"]),
    ],
)
def test_channel_patterns_canonical_like_redis(rules: list[str], stored: list[str]) -> None:
    assert acl.canonical_channels(rules) == stored


@pytest.mark.parametrize(
    ("declared", "stored"),
    [
        # What redis-server 7.0 made of the declared rules.
        (["+@read", "-@dangerous", "+xadd"], ["-@all", "+@read", "-keys", "+xadd", "-sort_ro"]),
        (["+@all", "-@all", "+get"], ["-@all", "+get"]),
        (["+GET", "+Get"], ["-@all", "+get"]),
        (["+config", "-config|set"], ["-@all", "+config", "-config|set"]),
        (["+select|0"], ["-@all", "+select|0"]),
        (["allcommands", "-debug"], ["+@all", "-debug"]),
        (["+@read", "+@read"], ["-@all", "+@read"]),
        (["nocommands"], ["-@all"]),
    ],
)
def test_command_rules_compare_by_what_they_allow(declared: list[str], stored: list[str]) -> None:
    assert acl.allowed_commands(declared, TABLE) == acl.allowed_commands(stored, TABLE)


def test_different_command_rules_differ() -> None:
    assert acl.allowed_commands(["+@read"], TABLE) != acl.allowed_commands(["+@read", "+xadd"], TABLE)
    # Taking a command away takes its first-argument rules with it.
    assert acl.allowed_commands(["+select|0", "-select"], TABLE) == frozenset()
    # A container command is all its subcommands; one taken away leaves the others.
    assert acl.allowed_commands(["+config", "-config|set"], TABLE) == {"config|get"}
    # An unknown category is only equal to itself (Redis would refuse it at apply).
    assert acl.allowed_commands(["+@nope"], TABLE) == {"@nope"}


def test_acl_list_lines_are_parsed() -> None:
    line = (
        "user billing on sanitize-payload #2bb80d537b1da3e38bd30361aa855686bde0eacd7162fef6a25fe97bf527a25b "
        "~orders:* %R~audit:* resetchannels &events.* -@all +@read -keys +xadd (~other:* +get)"
    )
    user = acl.parse_acl_line(line)
    assert user is not None
    assert user.name == "billing" and user.enabled and not user.nopass
    assert user.hashes == {"2bb80d537b1da3e38bd30361aa855686bde0eacd7162fef6a25fe97bf527a25b"}
    assert user.keys == ("%R~audit:*", "~orders:*")  # canonical: sorted by pattern
    assert user.channels == ("&events.*",)
    assert user.commands == ("-@all", "+@read", "-keys", "+xadd")
    assert user.selectors == ("(~other:* +get)",)
    default = acl.parse_acl_line("user default on nopass allkeys allchannels +@all ~* &*")  # fakeredis' form
    assert default is not None and default.nopass and default.keys == ("~*",) and default.channels == ("&*",)
    off = acl.parse_acl_line("user old off resetchannels -@all")
    assert off is not None and not off.enabled and off.channels == () and off.keys == ()
    assert acl.parse_acl_line("not a user line") is None


def test_setuser_rules_touch_only_the_fields_asked_for() -> None:
    attrs = {"enabled": True, "passwords": acl.SENSITIVE, "keys": ["~a"], "channels": [], "commands": ["+get"]}
    hashes = [acl.password_hash("pw")]
    assert acl.setuser_rules(attrs, hashes) == [
        "on", "resetpass", f"#{hashes[0]}", "resetkeys", "~a", "resetchannels", "nocommands", "+get",
    ]  # fmt: skip
    assert acl.setuser_rules(attrs, hashes, ["commands"]) == ["nocommands", "+get"]
    assert acl.setuser_rules({"enabled": False}, None) == ["off"]
    assert acl.password_hash("secret") == hashlib.sha256(b"secret").hexdigest()


@pytest.mark.parametrize(
    ("check", "rule", "ok"),
    [
        (acl.check_key, "~orders:*", True),
        (acl.check_key, "%R~audit:*", True),
        (acl.check_key, "allkeys", True),
        (acl.check_key, "orders:*", False),
        (acl.check_key, "~", False),
        (acl.check_key, "reset", False),
        (acl.check_channel, "&events.*", True),
        (acl.check_channel, "events.*", False),
        (acl.check_command, "+@read", True),
        (acl.check_command, "-config|set", True),
        (acl.check_command, "allcommands", True),
        (acl.check_command, ">password", False),
        (acl.check_command, "on", False),
        (acl.check_command, "+@", False),
    ],
)
def test_rules_are_checked_per_list(check: object, rule: str, ok: bool) -> None:
    assert callable(check)
    assert (check(rule) is None) is ok
