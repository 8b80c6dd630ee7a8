"""The doc-test harness itself: that what is wrong in a document is reported, not passed."""

from __future__ import annotations

from pathlib import Path

from tests.docs.blocks import Block, Session, _compare, _same_as, _session, check_commands, env_for


def test_output_must_match_line_for_line() -> None:
    assert _compare("Plan: 1 to add.\n", "Plan: 1 to add.") is None
    failure = _compare("Plan: 2 to add.\n", "Plan: 1 to add.", label="$ topoctl plan")
    assert failure is not None and "-Plan: 1 to add." in failure and "+Plan: 2 to add." in failure
    assert _compare("a\nb\n", "a") is not None  # a line the doc leaves out is a difference


def test_ellipsis_stands_for_lines_or_text() -> None:
    assert _compare("head\nx\ny\ntail", "head\n...\ntail") is None
    assert _compare("head\ntail", "head\n...\ntail") is None
    assert _compare("took 0.31s here", "took ...s here") is None
    assert _compare("head\nx", "head\n...") is None
    assert _compare("other\ntail", "head\n...\ntail") is not None


def test_console_blocks_split_into_commands_and_outputs() -> None:
    steps = _session("$ topoctl plan \\\n  -f a.yaml\nNo changes.\n$ echo $?\n0\n")
    assert steps == [("topoctl plan \n  -f a.yaml", "No changes."), ("echo $?", "0")]


def test_shell_commands_are_parsed_by_the_real_cli() -> None:
    assert check_commands("topoctl plan -f topology/ -o plan.json > out.txt   # saved\n") is None
    assert check_commands("{ echo x; topoctl graph -f t/ --format dot; } | dot -Tsvg") is None
    assert "No such option: --bogus" in (check_commands("topoctl plan --bogus") or "")
    assert "--allow-destructive" in (check_commands("topoctl apply p.json [--allow-destructive]") or "")
    assert "frobnicate" in (check_commands("topoctl frobnicate -f x") or "")
    assert check_commands("make demo test   # comment") is None
    assert "no make target tests" in (check_commands("make tests") or "")
    assert check_commands("python bench/bench_kafka.py   # 1,000 topics") is None
    assert "no file bench/nope.py" in (check_commands("python bench/nope.py") or "")
    assert check_commands("gh pr comment 1") is not None  # nothing to check: must be marked illustrative


def test_quoted_files_must_be_identical() -> None:
    golden = Path(__file__).resolve().parents[1] / "unit" / "golden" / "plan.md"
    text = golden.read_text(encoding="utf-8")
    assert _same_as(Block("markdown", None, text, "same-as", "tests/unit/golden/plan.md")) is None
    changed = text.replace("Reasons and notes", "Reasons")
    assert _same_as(Block("markdown", None, changed, "same-as", "tests/unit/golden/plan.md")) is not None


def test_unique_names_go_in_and_come_back_out(tmp_path: Path) -> None:
    session = Session(tmp_path, "dt0000", env_for(tmp_path))
    session.unique("shop")
    text = "vhosts:\n  shop: {}\n# shop-rabbit/queue/shop/billing in shop.yaml"
    there = session.forward(text)
    assert there == "vhosts:\n  shop-dt0000: {}\n# shop-rabbit/queue/shop-dt0000/billing in shop.yaml"
    assert session.backward(there) == text
    status, output = session.run("echo shop/x; exit 3")
    assert (status, output) == (3, "shop/x\n")
    assert session.run("echo $?") == (0, "3\n")  # `$?` is the previous command's, as in a shell
