"""Connection settings -> librdkafka properties, and secrets kept out of every message."""

from __future__ import annotations

import pytest

from topoctl.errors import BrokerError
from topoctl.providers.kafka.connection import (
    ConnectionProblem,
    endpoint,
    librdkafka_config,
    scrub,
    secret_values,
)
from topoctl.providers.kafka.driver import KafkaDriver

SECRET = "hunter2-very-secret"


def test_plaintext_by_default_and_client_properties_pass_through() -> None:
    config = librdkafka_config(
        {
            "bootstrap_servers": ["a:9092", "b:9092"],
            "client": {"client.id": "x", "enable.ssl.certificate.verification": False},
        }
    )
    assert config == {
        "bootstrap.servers": "a:9092,b:9092",
        "security.protocol": "PLAINTEXT",
        "client.id": "x",
        "enable.ssl.certificate.verification": "false",
    }


@pytest.mark.parametrize("mechanism", ["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"])
def test_sasl_over_tls(mechanism: str) -> None:
    config = librdkafka_config(
        {
            "bootstrap_servers": "k:9093",
            "sasl": {"mechanism": mechanism, "username": "svc", "password": SECRET},
            "tls": {"ca_file": "/ca.pem", "cert_file": "/c.pem", "key_file": "/k.pem", "key_password": "kp"},
        }
    )
    assert config["security.protocol"] == "SASL_SSL"
    assert config["sasl.mechanism"] == mechanism
    assert (config["sasl.username"], config["sasl.password"]) == ("svc", SECRET)
    assert config["ssl.ca.location"] == "/ca.pem" and config["ssl.key.location"] == "/k.pem"
    assert set(secret_values(config)) == {SECRET, "kp"}


def test_sasl_without_tls_is_sasl_plaintext_and_a_contradiction_is_refused() -> None:
    base = {"bootstrap_servers": "k:9092", "sasl": {"username": "u", "password": "p"}}
    assert librdkafka_config(base)["security.protocol"] == "SASL_PLAINTEXT"
    with pytest.raises(ConnectionProblem) as info:
        librdkafka_config({**base, "security_protocol": "SSL"})
    assert info.value.path == ("security_protocol",)


def test_secret_client_properties_are_known_as_secrets() -> None:
    config = librdkafka_config(
        {
            "bootstrap_servers": "k:9092",
            "client": {"sasl.oauthbearer.client.secret": "s3", "ssl.keystore.password": "ks", "client.id": "visible"},
        }
    )
    assert set(secret_values(config)) == {"s3", "ks"}


def test_endpoint_is_servers_only() -> None:
    assert endpoint({"bootstrap_servers": "user:pw@k1:9092,k2:9092"}) == "k1:9092,k2:9092"
    assert scrub(f"failed: password={SECRET}", [SECRET]) == "failed: password=***"


def test_an_error_from_the_client_never_shows_the_password() -> None:
    driver = KafkaDriver("k", {"bootstrap_servers": "k:9092", "sasl": {"username": "u", "password": SECRET}})
    error = driver._error(f"cannot connect: JAAS config {SECRET} rejected")
    assert SECRET not in str(error) and "***" in str(error)
    assert str(error).startswith("broker 'k' (k:9092): cannot connect")


def test_a_bad_librdkafka_property_is_a_broker_error_without_secrets() -> None:
    driver = KafkaDriver(
        "k", {"bootstrap_servers": "127.0.0.1:1", "client": {"sasl.password": SECRET, "no.such.property": "x"}}
    )
    with pytest.raises(BrokerError) as info:
        driver.read([], [])
    assert "no.such.property" in str(info.value)
    assert SECRET not in str(info.value)


def test_an_unreachable_broker_is_a_connection_error_without_secrets() -> None:
    driver = KafkaDriver(
        "k",
        {
            "bootstrap_servers": "127.0.0.1:1",
            "timeout": "1s",
            "sasl": {"mechanism": "PLAIN", "username": "u", "password": SECRET},
        },
    )
    with pytest.raises(BrokerError) as info:
        driver.read([], [])
    assert str(info.value).startswith("broker 'k' (127.0.0.1:1): cannot connect")
    assert SECRET not in str(info.value)
