"""Manifests written to hurt: alias bombs, absurd nesting, bytes that are not text. Each is one clear
line naming the file (and line), exit 1, no traceback, in bounded memory — measured on a real
`topoctl validate` process, since a crash of the C parser would take the test runner with it."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from topoctl.manifest.loader import load_manifest

PEAK_MB = 200


def validate(*paths: Path) -> tuple[int, str]:
    """Exit code and stderr of `topoctl validate` in a child process, whose own peak RSS (from
    wait4: this child only, not any other the test run has reaped) must stay bounded."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "topoctl", "validate", *(a for p in paths for a in ("-f", str(p)))],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    hang_guard = threading.Timer(60, proc.kill)  # a hang guard, not a timing assertion
    hang_guard.start()
    try:
        assert proc.stderr is not None
        stderr = proc.stderr.read()
        _, status, usage = os.wait4(proc.pid, 0)
    finally:
        hang_guard.cancel()
    proc.returncode = os.waitstatus_to_exitcode(status)
    assert usage.ru_maxrss < PEAK_MB * 1024, f"peak RSS {usage.ru_maxrss // 1024} MB"
    assert "Traceback" not in stderr, stderr
    return proc.returncode, stderr.strip()


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
