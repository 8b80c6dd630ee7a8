"""Manifests written to hurt: alias bombs, absurd nesting, bytes that are not text. Each is one clear
line naming the file (and line), exit 1, no traceback, in bounded memory — measured on a real
`topoctl validate` process, since a crash of the C parser would take the test runner with it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from topoctl.manifest.loader import load_manifest

PEAK_MB = 200


# Runs topoctl in a grandchild and prints its peak RSS. A child forked from the test process starts
# with that process's resident size as its high-water mark (Linux keeps it across exec), so the
# measuring parent must be a small fresh interpreter, not pytest.
_MEASURED = """
import os, sys
pid = os.fork()
if pid == 0:
    os.dup2(os.open(os.devnull, os.O_WRONLY), 1)
    os.execv(sys.executable, [sys.executable, "-m", "topoctl", *sys.argv[1:]])
_, status, usage = os.wait4(pid, 0)
print(usage.ru_maxrss)
sys.exit(os.waitstatus_to_exitcode(status))
"""


def validate(*paths: Path) -> tuple[int, str]:
    """Exit code and stderr of `topoctl validate` in a child process, whose peak RSS must stay
    bounded."""
    proc = subprocess.run(
        [sys.executable, "-c", _MEASURED, "validate", *(a for p in paths for a in ("-f", str(p)))],
        capture_output=True,
        text=True,
        timeout=60,  # a hang guard, not a timing assertion
    )
    peak_kb = int(proc.stdout.strip())
    assert peak_kb < PEAK_MB * 1024, f"peak RSS {peak_kb // 1024} MB"
    assert "Traceback" not in proc.stderr, proc.stderr
    return proc.returncode, proc.stderr.strip()


def billion_laughs(levels: int = 9) -> str:
    text = 'version: 1\nl0: &l0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]\n'
    for i in range(1, levels + 1):
        text += f"l{i}: &l{i} [" + ", ".join([f"*l{i - 1}"] * 9) + "]\n"
    return text


def test_an_alias_bomb_is_refused_at_its_line(tmp_path: Path) -> None:
    path = tmp_path / "bomb.yaml"
    path.write_text(billion_laughs(), encoding="utf-8")
    code, err = validate(path)
    assert code == 1
    assert err.startswith(f"Error: {path}:") and "alias bomb" in err and len(err.splitlines()) == 1


@pytest.mark.parametrize(
    "body",
    [
        "brokers: " + "[" * 200_000 + "]" * 200_000,  # flow: would overflow the C composer's stack
        "brokers:\n" + "".join(" " * (i + 1) + f"k{i}:\n" for i in range(3000)) + " " * 3001 + "x: 1",  # block
    ],
    ids=["flow", "block"],
)
def test_absurd_nesting_is_refused_not_a_crash(tmp_path: Path, body: str) -> None:
    path = tmp_path / "deep.yaml"
    path.write_text("version: 1\n" + body + "\n", encoding="utf-8")
    code, err = validate(path)
    assert code == 1
    assert f"{path}:" in err and "nested deeper than 64 levels" in err


def test_ordinary_anchors_and_merge_keys_still_work(tmp_path: Path) -> None:
    """A defaults anchor merged into many queues expands far beyond its text, legitimately."""
    queues = "          q0: &defaults {type: quorum, arguments: {x-max-length: 10}}\n"
    queues += "".join(f"          q{i}: {{<<: *defaults, durable: true}}\n" for i in range(1, 3000))
    path = tmp_path / "m.yaml"
    path.write_text(
        "version: 1\nbrokers:\n  r:\n"
        "    type: rabbitmq\n    connection: {url: http://127.0.0.1:15672}\n    vhosts:\n      v:\n        queues:\n"
        + queues,
        encoding="utf-8",
    )
    manifest = load_manifest([str(path)], env={})
    queue = next(r for r in manifest.resources if str(r.address) == "r/queue/v/q2999")
    assert queue.attrs["type"] == "quorum"


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"version: 1\nbrokers: {}\n\xff\xfe", "not UTF-8 text"),
        (b"- just\n- a list\n", "a manifest must be a mapping"),
        (b"just a string\n", "a manifest must be a mapping"),
    ],
)
def test_files_that_are_not_manifests_are_one_line(tmp_path: Path, content: bytes, expected: str) -> None:
    path = tmp_path / "m.yaml"
    path.write_bytes(content)
    code, err = validate(path)
    assert code == 1 and expected in err and str(path) in err and len(err.splitlines()) == 1


def test_a_directory_without_manifests_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("hello", encoding="utf-8")
    code, err = validate(tmp_path)
    assert code == 1 and "holds no *.yaml or *.yml file" in err and len(err.splitlines()) == 1
