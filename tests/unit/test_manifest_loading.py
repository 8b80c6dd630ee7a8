from __future__ import annotations

from pathlib import Path

import pytest

from topoctl.errors import ManifestError
from topoctl.manifest.loader import read_documents
from topoctl.manifest.schema import validate_document


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_files_merge_deeply_in_order_later_wins(tmp_path: Path) -> None:
    base = write(
        tmp_path / "a.yaml",
        "version: 1\nbrokers:\n  r:\n    type: rabbitmq\n    connection: {url: http://a, username: u}\n"
        "    vhosts: {shop: {queues: {q: {type: quorum}}}}\n",
    )
    prod = write(tmp_path / "b.yaml", "brokers:\n  r:\n    connection: {url: http://b}\n")
    doc, sources = read_documents([str(base), str(prod)], env={})
    assert doc["brokers"]["r"]["connection"] == {"url": "http://b", "username": "u"}
    assert doc["brokers"]["r"]["vhosts"]["shop"]["queues"]["q"] == {"type": "quorum"}
    assert sources.where(("brokers", "r", "connection", "url")) == f"{prod}:3"
    assert sources.where(("brokers", "r", "connection", "username")) == f"{base}:5"


def test_lists_are_replaced_not_appended(tmp_path: Path) -> None:
    a = write(tmp_path / "a.yaml", "version: 1\nx: [1, 2, 3]\n")
    b = write(tmp_path / "b.yaml", "x: [9]\n")
    doc, sources = read_documents([str(a), str(b)], env={})
    assert doc["x"] == [9]
    assert sources.where(("x", 0)) == f"{b}:1"
    assert ("x", 2) not in sources.locations


def test_directory_means_its_yaml_files_in_name_order(tmp_path: Path) -> None:
    write(tmp_path / "20-prod.yml", "value: prod\n")
    write(tmp_path / "10-base.yaml", "version: 1\nvalue: base\nother: kept\n")
    write(tmp_path / "notes.txt", "value: ignored\n")
    doc, _ = read_documents([str(tmp_path)], env={})
    assert doc == {"version": 1, "value": "prod", "other": "kept"}


def test_interpolation_with_defaults_and_types(tmp_path: Path) -> None:
    path = write(
        tmp_path / "m.yaml",
        'a: ${HOST}\nb: ${PORT:-5672}\nc: "${PORT:-5672}"\nd: ${EMPTY:-fallback}\ne: x$${NOT}y\nf: ${FLAG:-true}\n'
        "g: ${UNSET:-}\n",
    )
    doc, _ = read_documents([str(path)], env={"HOST": "h1", "EMPTY": ""})
    assert doc == {"a": "h1", "b": 5672, "c": "5672", "d": "fallback", "e": "x${NOT}y", "f": True, "g": ""}


def test_unset_variable_names_it_with_file_and_line(tmp_path: Path) -> None:
    path = write(tmp_path / "m.yaml", "version: 1\nbrokers:\n  r:\n    password: ${RABBIT_PASSWORD}\n")
    with pytest.raises(ManifestError) as err:
        read_documents([str(path)], env={})
    assert str(err.value).startswith(f"{path}:4: ")
    assert "RABBIT_PASSWORD" in str(err.value)


def test_duplicate_key_is_an_error_with_its_line(tmp_path: Path) -> None:
    path = write(tmp_path / "m.yaml", "version: 1\nbrokers:\n  r: {type: kafka}\n  r: {type: nats}\n")
    with pytest.raises(ManifestError, match=r"m\.yaml:4: duplicate key 'r'"):
        read_documents([str(path)], env={})


def test_yaml_syntax_error_has_file_and_line(tmp_path: Path) -> None:
    path = write(tmp_path / "m.yaml", "version: 1\nbrokers:\n  r: [unclosed\n")
    with pytest.raises(ManifestError) as err:
        read_documents([str(path)], env={})
    assert str(err.value).startswith(f"{path}:")
    assert "invalid YAML" in str(err.value)


def test_missing_path_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ManifestError, match="no such file or directory"):
        read_documents([str(tmp_path / "nope.yaml")], env={})


def test_schema_errors_point_at_the_offending_key(tmp_path: Path) -> None:
    path = write(tmp_path / "m.yaml", "version: 1\nbrokers:\n  r:\n    type: rabbitmq\n    colour: blue\n")
    doc, sources = read_documents([str(path)], env={})
    with pytest.raises(ManifestError) as err:
        validate_document(doc, sources)
    assert str(err.value).startswith(f"{path}:5: ")
    assert "colour" in str(err.value)


def test_schema_rejects_unknown_broker_type(tmp_path: Path) -> None:
    path = write(tmp_path / "m.yaml", "version: 1\nbrokers:\n  r:\n    type: activemq\n")
    doc, sources = read_documents([str(path)], env={})
    with pytest.raises(ManifestError, match=r":4: .*activemq"):
        validate_document(doc, sources)


def test_schema_requires_version_one(tmp_path: Path) -> None:
    path = write(tmp_path / "m.yaml", "version: 2\nbrokers: {}\n")
    doc, sources = read_documents([str(path)], env={})
    with pytest.raises(ManifestError, match="version"):
        validate_document(doc, sources)


def test_unquoted_timestamps_stay_the_text_written(tmp_path: Path) -> None:
    path = write(tmp_path / "m.yaml", "start: 2024-01-01T00:00:00Z\nday: 2024-01-01\n")
    doc, _ = read_documents([str(path)], env={})
    assert doc == {"start": "2024-01-01T00:00:00Z", "day": "2024-01-01"}


def test_a_resource_changed_by_a_later_file_names_both_places(tmp_path: Path) -> None:
    """The plan's "declared at" must lead to the override that changed the resource, not only to the
    base entry; a resource the override adds, or one it leaves alone, keeps its own place."""
    from topoctl.manifest.loader import load_manifest

    base = write(
        tmp_path / "base.yaml",
        "version: 1\nbrokers:\n  r:\n    type: rabbitmq\n    connection: {url: http://a}\n    vhosts:\n"
        "      shop:\n        queues:\n          billing:\n            arguments:\n              x-max-length: 10\n"
        "          other: {}\n",
    )
    prod = write(
        tmp_path / "prod.yaml",
        "brokers:\n  r:\n    vhosts:\n      shop:\n        queues:\n          billing:\n            arguments:\n"
        "              x-max-length: 20\n          added: {}\n",
    )
    sources = {str(r.address): r.source for r in load_manifest([str(base), str(prod)], env={}).resources}
    assert sources["r/queue/shop/billing"] == f"{base}:9, overridden at {prod}:8"
    assert sources["r/queue/shop/other"] == f"{base}:12"
    assert sources["r/queue/shop/added"] == f"{prod}:9"
    assert sources["r/vhost/shop"] == f"{base}:7"
