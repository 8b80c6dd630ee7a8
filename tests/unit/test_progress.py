"""The apply display's choice of mode, its plain and coloured lines, its per-broker tally, and that
rich stays unimported where it is not used (the terminal itself: tests/integration/test_progress.py)."""

from __future__ import annotations

import io
import subprocess
import sys
import threading
import time

import pytest

from topoctl.model import Action, Address, Change, Plan
from topoctl.render.progress import Plain, Tally, apply_display, mode


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.mark.parametrize(
    ("env", "tty", "expected"),
    [
        ({}, True, "live"),
        ({}, False, "plain"),
        ({"CI": "true"}, True, "plain"),
        ({"NO_COLOR": "1"}, True, "plain"),
        ({"TERM": "dumb"}, True, "plain"),
        ({"FORCE_COLOR": "1"}, False, "colour"),  # colour in a log, but no cursor movement there
        ({"FORCE_COLOR": "1", "CI": "true"}, True, "colour"),
        ({"FORCE_COLOR": "1", "NO_COLOR": "1"}, True, "live"),
    ],
)
def test_mode(env: dict[str, str], tty: bool, expected: str) -> None:
    assert mode(_Tty() if tty else io.StringIO(), env) == expected


def change(broker: str, name: str, action: Action, depends: tuple[Address, ...] = ()) -> Change:
    return Change(Address(broker, "queue", (name,)), action, None, {}, depends_on=depends)


def test_plain_lines_are_todays_and_colour_only_when_forced() -> None:
    out = io.StringIO()
    Plain(out).step(change("r", "a", Action.CREATE))
    Plain(out).step(change("r", "b", Action.DELETE))
    assert out.getvalue() == "r/queue/a: created\nr/queue/b: destroyed\n"
    coloured = io.StringIO()
    Plain(coloured, colour=True).step(change("r", "a", Action.UPDATE))
    assert coloured.getvalue() == "\033[33mr/queue/a: updated\033[0m\n"


def test_tally_counts_per_broker_and_follows_the_waves() -> None:
    first = change("r", "a", Action.CREATE)
    second = change("r", "b", Action.CREATE, depends=(first.address,))
    other = change("n", "s", Action.CREATE)
    replaced = change("n", "t", Action.REPLACE)
    tally = Tally(Plan((first, second, other, replaced)))
    assert tally.total == {"r": 2, "n": 3}  # a replace is a delete and a create
    assert tally.wave_text == "wave 1 of 3"
    tally.record(Change(replaced.address, Action.DELETE, None, None))
    assert tally.wave_text == "wave 2 of 3"
    tally.record(first)
    tally.record(first)  # reported twice: counted once
    assert tally.wave_text == "wave 2 of 3" and tally.done == {"r": 1, "n": 1}
    tally.fail_wave()  # no driver named its failures: what is not done in wave 2 failed
    assert tally.failed == {"r": 0, "n": 2}
    assert tally.wave_text == "wave 2 of 3, failed"


def test_failures_are_those_the_driver_names_as_the_summary_counts_them() -> None:
    s = change("n", "s", Action.CREATE)
    t = change("n", "t", Action.CREATE)
    tally = Tally(Plan((s, t)))
    # The driver says `t` raised; `s` was never started (one at a time, stopped at the failure).
    tally.fail_wave(lambda broker: {(t.address, Action.CREATE)} if broker == "n" else set())
    assert tally.failed == {"n": 1}


def test_version_and_validate_do_not_import_rich(tmp_path: object) -> None:
    code = (
        "import sys\n"
        "from topoctl.cli import app\n"
        "for args in (['--version'], ['validate', '-f', 'examples/']):\n"
        "    try:\n"
        "        app(args)\n"
        "    except SystemExit:\n"
        "        pass\n"
        "print(sorted(m for m in sys.modules if m == 'rich' or m.startswith('rich.')))\n"
    )
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    done = subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "[]"


def test_lines_wait_for_the_preface_written_while_the_apply_runs() -> None:
    out = io.StringIO()  # stdout and stderr on one stream, as in a CI log
    may_write = threading.Event()

    def preface() -> None:
        may_write.wait(5)
        out.write("the plan\n")

    with apply_display(Plan(()), stream=out, preface=preface) as display:
        display.step(change("r", "a", Action.CREATE))  # the apply goes on while the plan is made
        assert out.getvalue() == ""
        may_write.set()
        for _ in range(500):  # the preface's thread writes the held line once the plan is out
            if out.getvalue().count("\n") == 2:
                break
            time.sleep(0.01)
        display.step(change("r", "b", Action.CREATE))
    assert out.getvalue() == "the plan\nr/queue/a: created\nr/queue/b: created\n"


def test_a_preface_that_fails_fails_the_display_after_the_apply_but_never_hides_its_error() -> None:
    def broken() -> None:
        raise BrokenPipeError("stdout closed")

    out = io.StringIO()
    with pytest.raises(BrokenPipeError), apply_display(Plan(()), stream=out, preface=broken) as display:
        display.step(change("r", "a", Action.CREATE))
    assert out.getvalue() == "r/queue/a: created\n"  # released all the same
    with pytest.raises(KeyError), apply_display(Plan(()), stream=io.StringIO(), preface=broken):
        raise KeyError("the apply's own error")
