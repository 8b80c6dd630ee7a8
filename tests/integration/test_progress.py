"""What `apply` shows while it runs, under a real pseudo-terminal against the real brokers: the live
display (a row per broker with done/total, failures and elapsed time, the wave in progress) and the
coloured plan on a terminal; exactly the plain lines in CI and with NO_COLOR, even on a terminal."""

from __future__ import annotations

import os
import pty
import re
import select
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.cli import write_manifest
from tests.integration.rabbitmq_support import AUTH, URL
from tests.integration.test_nats_provider import NATS_URL, ns, server

__all__ = ["ns", "server"]  # fixtures used below
pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]
QUEUES = 12
STREAMS = 5
ESCAPE = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def run_in_pty(args: list[str], env: dict[str, str], cwd: Path, timeout: float = 120) -> tuple[int, str]:
    """Run `topoctl ARGS` with stdin, stdout and stderr on a pseudo-terminal; (exit code, screen bytes)."""
    controller, terminal = pty.openpty()
    os.set_blocking(controller, False)
    proc = subprocess.Popen(
        [sys.executable, "-m", "topoctl", *args],
        stdin=terminal,
        stdout=terminal,
        stderr=terminal,
        cwd=cwd,
        env=env,
        close_fds=True,
    )
    os.close(terminal)
    chunks: list[bytes] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select([controller], [], [], 0.2)
        if ready:
            try:
                data = os.read(controller, 65536)
            except OSError:  # EIO: every process holding the terminal has exited
                break
            if not data:
                break
            chunks.append(data)
        elif proc.poll() is not None:
            break
    os.close(controller)
    return proc.wait(timeout=max(1.0, deadline - time.monotonic())), b"".join(chunks).decode("utf-8", "replace")


def terminal_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("CI", "NO_COLOR", "FORCE_COLOR", "GITHUB_ACTIONS")}
    env.update(TERM="xterm-256color", COLUMNS="120", LINES="50", PYTHONPATH=str(ROOT), **extra)
    return env


def two_brokers(tmp_path: Path, vhost: str, ns: str, streams: int = STREAMS, bad_policy: bool = False) -> Path:
    document: dict[str, Any] = {
        "version": 1,
        "brokers": {
            "shop-rabbit": {
                "type": "rabbitmq",
                "connection": {"url": URL, "username": AUTH[0], "password": AUTH[1]},
                "vhosts": {
                    vhost: {
                        "exchanges": {"orders": {"type": "topic"}},
                        "queues": {f"q{i:02d}": {} for i in range(QUEUES)},
                        "bindings": [{"source": "orders", "destination": f"q{i:02d}"} for i in range(QUEUES)],
                        # RabbitMQ refuses a policy key it does not know, at apply time only.
                        **(
                            {"policies": {"p": {"pattern": "^x", "definition": {"no-such-key": 1}}}}
                            if bad_policy
                            else {}
                        ),
                    }
                },
            },
            "edge": {
                "type": "nats",
                "connection": {"servers": [NATS_URL]},
                "streams": {f"{ns}_{i}": {"subjects": [f"{ns}.{i}.>"]} for i in range(streams)},
            },
        },
    }
    return write_manifest(tmp_path / "shop.yaml", document)


@pytest.fixture
def vhost() -> Any:
    import uuid

    name = f"it-progress-{uuid.uuid4().hex[:8]}"
    yield name
    httpx.delete(f"{URL}/api/vhosts/{name}", auth=AUTH, timeout=30)


def test_live_progress_on_a_terminal(tmp_path: Path, vhost: str, ns: str) -> None:
    path = two_brokers(tmp_path, vhost, ns)
    code, screen = run_in_pty(["apply", "-f", path.name, "--auto-approve"], terminal_env(), tmp_path)
    assert code == 0, screen
    total_rabbit = 1 + 1 + QUEUES + QUEUES  # vhost, exchange, queues, bindings
    # rich's live display: the cursor hidden while it runs, and its last frame left on screen.
    assert "\x1b[?25l" in screen and "\x1b[?25h" in screen
    text = ESCAPE.sub("", screen)
    final = text[text.rindex("Applying:") :]
    assert "Applying: all 2 waves done" in final  # vhost and streams, then exchange, queues and their bindings
    assert re.search(rf"shop-rabbit .* {total_rabbit}/{total_rabbit} .*\d:\d\d:\d\d", final), final
    assert re.search(rf"edge .* {STREAMS}/{STREAMS} .*\d:\d\d:\d\d", final), final
    assert "failed" not in final
    # Every change printed once, above the display, in its action's colour; the plan is coloured too.
    assert text.count(f"edge/stream/{ns}_0: created") == 1
    assert re.search(rf"\x1b\[32m[^\n]*edge/stream/{ns}_0: created", screen), screen
    assert "\x1b[32m  + queue" in screen or re.search(r"\x1b\[32m\s+\+ queue", screen), screen
    assert f"Apply complete! Resources: {total_rabbit + STREAMS} added, 0 changed, 0 destroyed." in text


def test_a_failure_shows_in_the_live_display(tmp_path: Path, vhost: str, ns: str) -> None:
    """A change the broker refuses (a policy setting RabbitMQ does not know) is counted on its
    broker's row; the wave it failed in is named, and the summary says the same."""
    path = two_brokers(tmp_path, vhost, ns, streams=2, bad_policy=True)
    code, screen = run_in_pty(["apply", "-f", path.name, "--auto-approve"], terminal_env(), tmp_path)
    text = ESCAPE.sub("", screen)
    assert code == 1, text
    assert "Applying:" in text, text
    final = text[text.rindex("Applying:") :]
    assert "Applying: wave 2 of 2, failed" in final
    # The policy failed; the rest of its wave (the exchange, queues and bindings, one import) is done.
    assert re.search(rf"shop-rabbit .* {2 + 2 * QUEUES}/{3 + 2 * QUEUES} .*1 failed", final), final
    assert re.search(r"edge .* 2/2 ", final) and not re.search(r"edge .*failed", final), final
    assert "not recognised policy settings" in text
    assert f"{2 + 2 * QUEUES + 2} of {3 + 2 * QUEUES + 2} changes applied; 1 failed; 0 not attempted." in text


@pytest.mark.parametrize("env", [{"CI": "true"}, {"NO_COLOR": "1"}])
def test_plain_lines_in_ci_and_with_no_color_even_on_a_terminal(
    tmp_path: Path, vhost: str, ns: str, env: dict[str, str]
) -> None:
    path = two_brokers(tmp_path, vhost, ns)
    code, screen = run_in_pty(["apply", "-f", path.name, "--auto-approve"], terminal_env(**env), tmp_path)
    assert code == 0, screen
    assert "\x1b" not in screen  # no colour, no cursor movement
    lines = screen.replace("\r\n", "\n").split("\n")
    done = [line for line in lines if line.endswith((": created", ": updated", ": destroyed"))]
    assert len(done) == 1 + 1 + QUEUES + QUEUES + STREAMS
    assert f"shop-rabbit/vhost/{vhost}: created" in done
    assert f"edge/stream/{ns}_0: created" in done
    assert not any("Applying:" in line for line in lines)
    assert lines[-2:] == ["Apply complete! Resources: 31 added, 0 changed, 0 destroyed.", ""]
