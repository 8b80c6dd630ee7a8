"""topoctl.providers.secrets: the one way secrets travel through resources, plans and exports."""

from __future__ import annotations

from topoctl.export import dump, escape_dollars
from topoctl.model import Address, FieldChange, Resource
from topoctl.providers import secrets


def test_a_uri_password_is_masked_even_when_it_is_not_percent_encoded() -> None:
    assert secrets.mask_uri("amqp://u:pw@host:5672/%2F") == "amqp://u:***@host:5672/%2F"
    assert secrets.mask_uri("amqp://host/vh") == "amqp://host/vh"
    assert secrets.mask_uri("amqp://user@host") == "amqp://user@host"  # a user name alone is no secret
    # A URL parser would take `s3cr` for the host here and show the rest: everything up to the
    # last @ is the password.
    raw = "amqp://u:s3cr/et@x@host/vh"
    assert secrets.mask_uri(raw) == "amqp://u:***@host/vh"
    assert "s3cr" not in secrets.mask_uri(raw)
    assert secrets.mask_uris(["amqp://a:b@h1", "amqp://h2"]) == ["amqp://a:***@h1", "amqp://h2"]


def test_uri_secrets_lists_the_uri_and_its_password_as_written_and_decoded() -> None:
    found = secrets.uri_secrets(["amqp://u:p%40ss@h", "amqp://h2"])
    assert set(found) == {"amqp://u:p%40ss@h", "p%40ss", "p@ss"}
    assert secrets.scrub("refused amqp://u:p%40ss@h (p@ss)", found) == "refused *** (***)"


def _user(attrs: dict[str, object], info: dict[str, object] | None = None) -> Resource:
    return Resource(Address("b", "user", ("alice",)), attrs, info=info or {})


def test_settle_gives_the_observed_resource_the_desired_stand_in_only_when_the_secrets_agree() -> None:
    desired = _user({"password": secrets.SENSITIVE}, {secrets.SECRETS: {"password": "pw"}})
    same = _user({"password": secrets.SENSITIVE}, {secrets.SECRETS: {"password": "pw"}})
    other = _user({"password": secrets.SENSITIVE}, {secrets.SECRETS: {"password": "old"}})
    assert secrets.settle(same, desired).attrs["password"] == secrets.SENSITIVE
    assert secrets.settle(other, desired).attrs["password"] == secrets.SENSITIVE_DIFFERENT
    assert secrets.settle(other, None) is other  # nothing declared: nothing to compare


def test_a_changed_secret_reads_sensitive_value_changed() -> None:
    changes = [FieldChange("password", secrets.SENSITIVE_DIFFERENT, secrets.SENSITIVE), FieldChange("tags", [], ["a"])]
    shown = secrets.masked_changes(changes, {"password"})
    assert shown[0] == FieldChange("password", secrets.SENSITIVE, secrets.SENSITIVE_CHANGED)
    assert shown[1] == changes[1]


def test_placeholders_survive_the_export_escaping_and_dump_as_variables() -> None:
    p = secrets.placeholder("B_USER_ALICE_PASSWORD", "users.alice.password")
    uri = secrets.uri_with_placeholder("amqp://u:pw@h/v", "B_URI_PASSWORD", "x")
    section = escape_dollars({"users": {"alice": {"password": p}}, "name": "${literal}", "uri": uri})
    text = dump(section)
    assert "${B_USER_ALICE_PASSWORD}" in text
    assert "amqp://u:${B_URI_PASSWORD}@h/v" in text
    assert "$${literal}" in text  # a live value that looks like a reference stays literal
    assert "pw@" not in text
    assert secrets.placeholder_name("shop-rabbit", "user", "billing.svc", "password") == (
        "SHOP_RABBIT_USER_BILLING_SVC_PASSWORD"
    )
