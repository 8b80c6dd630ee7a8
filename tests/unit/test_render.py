from __future__ import annotations

import json
import os
from dataclasses import replace
from pathlib import Path

import pytest

from topoctl.engine.diff import diff
from topoctl.model import Address, Plan, Resource
from topoctl.render import render
from topoctl.render.markdown import MARKER, render_markdown
from topoctl.render.text import NO_CHANGES

from .fakes import KINDS, binding, ex, q

GOLDEN = Path(__file__).parent / "golden"


def sample_plan() -> Plan:
    desired = [
        ex("orders", type="topic", durable=True),
        q("billing", type="quorum", arguments={"x-max-length": 1000, "x-overflow": "reject-publish"}),
        q("audit", type="classic", arguments={"x-max-length": 20}),
        binding("orders", "billing", "order.*"),
        replace(q("legacy"), absent=True),
    ]
    observed = [
        q("billing", type="classic", arguments={"x-max-length": 1000}),
        q("audit", type="classic", arguments={"x-max-length": 10}),
        binding("orders", "billing", "order.*"),
        Resource(Address("b", "queue", ("v", "legacy")), {"type": "classic"}, info={"messages": 42}),
    ]
    return diff(desired, observed, lambda a: KINDS[a.kind])


def check_golden(name: str, text: str) -> None:
    path = GOLDEN / name
    if os.environ.get("UPDATE_GOLDEN"):
        path.write_text(text, encoding="utf-8")
    assert text == path.read_text(encoding="utf-8")


def test_text_plan_matches_golden() -> None:
    check_golden("plan.txt", render(sample_plan(), "text"))


def test_empty_plan_says_no_changes() -> None:
    empty = Plan(changes=())
    assert render(empty, "text") == NO_CHANGES + "\n"
    assert json.loads(render(empty, "json"))["changes"] == []
    assert NO_CHANGES in render(empty, "markdown")


def test_json_plan_has_the_contract_fields() -> None:
    doc = json.loads(render(sample_plan(), "json"))
    assert doc["format_version"] == "1"
    assert doc["summary"] == {"create": 1, "update": 1, "replace": 2, "delete": 1}
    change = next(c for c in doc["changes"] if c["address"] == "b/queue/v/legacy")
    assert change["action"] == "delete" and change["destructive"] is True
    assert change["reasons"] == ["42 messages will be lost"]
    for c in doc["changes"]:
        assert {"address", "broker", "kind", "name", "action", "before", "after", "destructive", "reasons"} <= set(c)


@pytest.mark.parametrize("limit", [2_000, 60_000])
def test_markdown_stays_under_its_limit(limit: int) -> None:
    many = [q(f"queue-{i:05d}", type="classic", arguments={"x-max-length": i}) for i in range(3000)]
    plan = diff(many, [], lambda a: KINDS[a.kind])
    text = render_markdown(plan, limit=limit)
    assert len(text) <= limit
    assert text.startswith(MARKER)
    assert "Plan: 3000 to add, 0 to change, 0 to destroy." in text
    assert "left out to fit" in text


def test_addresses_percent_encode_slash_and_percent() -> None:
    address = Address("r", "queue", ("/", "a/b%c d#~"))
    assert str(address) == "r/queue/%2F/a%2Fb%25c d#~"
    assert Address.parse(str(address)) == address


def test_names_with_quotes_are_quoted_unambiguously() -> None:
    plan = diff([q('say "hi"')], [], lambda a: KINDS[a.kind])
    assert '  + queue "v/say \\"hi\\""' in render(plan, "text").splitlines()


@pytest.mark.parametrize(
    "v",
    ["a", "é", 'a"b', "a\\b", "tab\there", "nl\n", "\u2028", "", 0, -5, True, None, 1.5, [1, "a"], {"b": 1, "a": 2}],
)
def test_values_render_as_json(v: object) -> None:
    from topoctl.render.text import value

    assert value(v) == json.dumps(v, ensure_ascii=False, sort_keys=True)


def test_addresses_keep_non_ascii_and_punctuation_readable() -> None:
    address = Address("r", "queue", ("vh", "Bestellungen-ü #1 ~ *", "50%/off"))
    assert str(address) == "r/queue/vh/Bestellungen-ü #1 ~ */50%25%2Foff"
    assert Address.parse(str(address)) == address
    assert address.matches("r/queue/vh/Bestellungen-ü #1 ~ *")


def test_durations_and_sizes_render_readably_with_their_units() -> None:
    from topoctl.model import Action, Change, FieldChange

    stream = Address("n", "stream", ("ORDERS",))
    units = {"max_age": "ns", "max_bytes": "bytes", "consumer_limits.inactive_threshold": "ns"}
    created = Change(stream, Action.CREATE, None, {"max_age": 2_592_000_000_000_000, "max_bytes": 1 << 30}, units=units)
    updated = Change(
        stream,
        Action.UPDATE,
        {},
        {},
        fields=(
            FieldChange("max_age", 86_400_000_000_000, 172_800_000_000_000),
            FieldChange("consumer_limits", {"inactive_threshold": 60_000_000_000}, {"inactive_threshold": 0}),
        ),
        units=units,
    )
    text = render(Plan(changes=(created,)), "text") + render(Plan(changes=(updated,)), "text")
    assert '+ max_age   = "30d"' in text and '+ max_bytes = "1GiB"' in text
    assert 'max_age                            = "1d" -> "2d"' in text
    assert 'consumer_limits.inactive_threshold = "1m" -> 0' in text
    as_json = json.loads(render(Plan(changes=(created,)), "json"))
    assert as_json["changes"][0]["after"]["max_age"] == 2_592_000_000_000_000  # JSON keeps the broker's unit
