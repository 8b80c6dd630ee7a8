"""Shell completion: commands, options, each command's formats, broker names and addresses from the
manifests given with -f, through the protocol the bash, zsh and fish scripts speak; and end to end
in a real bash, with the script `--install-completion` installs."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
MANIFEST = """\
version: 1
brokers:
  shop-rabbit:
    type: rabbitmq
    connection: {url: "http://127.0.0.1:15672", username: guest, password: guest}
    vhosts:
      shop:
        exchanges: {orders: {type: topic}}
        queues: {billing: {}}
  events:
    type: kafka
    connection: {bootstrap_servers: "127.0.0.1:9092"}
    topics:
      orders.v1: {partitions: 1}
"""


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("_TOPOCTL", "_TYPER", "COMP_"))}
    env.update(PYTHONPATH=str(ROOT), HOME=str(tmp_path), **extra)
    return env


def complete(tmp_path: Path, shell: str, line: str) -> list[str]:
    """What `topoctl` answers the completion script of `shell` for the command line `line` (the
    cursor at its end)."""
    words = line.split(" ")
    env = _env(tmp_path, _TOPOCTL_COMPLETE=f"complete_{shell}")
    if shell == "bash":
        env.update(COMP_WORDS=line, COMP_CWORD=str(len(words) - 1))
    else:
        env.update(_TYPER_COMPLETE_ARGS=line)
        if shell == "fish":
            env.update(_TYPER_COMPLETE_FISH_ACTION="get-args")
    done = subprocess.run(
        [sys.executable, "-m", "topoctl"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0 and done.stderr == "", done.stderr
    out = done.stdout
    if shell == "zsh":  # _arguments '*: :(("value":"help" "value2"))'
        import re

        return sorted(set(re.findall(r'(?:^|\(\(|\n)"((?:[^"\\]|\\.)*)"', out)))
    return sorted({line.split("\t")[0] for line in out.splitlines() if line.strip()})


@pytest.fixture
def manifest(tmp_path: Path) -> Path:
    path = tmp_path / "shop.yaml"
    path.write_text(MANIFEST, encoding="utf-8")
    return path


@pytest.mark.parametrize("shell", ["bash", "zsh", "fish"])
def test_commands_options_and_formats(tmp_path: Path, shell: str) -> None:
    assert "plan" in complete(tmp_path, shell, "topoctl pl")
    assert complete(tmp_path, shell, "topoctl as") == ["asyncapi"]
    assert "--format" in complete(tmp_path, shell, "topoctl plan --for")
    assert complete(tmp_path, shell, "topoctl plan --format ") == ["json", "markdown", "text"]
    assert complete(tmp_path, shell, "topoctl lint --format ") == ["json", "sarif", "text"]
    assert complete(tmp_path, shell, "topoctl graph --format ") == ["dot", "mermaid"]
    assert complete(tmp_path, shell, "topoctl asyncapi --format ") == ["json", "yaml"]


@pytest.mark.parametrize("shell", ["bash", "zsh", "fish"])
def test_brokers_and_addresses_from_the_manifests(tmp_path: Path, manifest: Path, shell: str) -> None:
    assert complete(tmp_path, shell, "topoctl export -f shop.yaml --broker ") == ["events", "shop-rabbit"]
    assert complete(tmp_path, shell, "topoctl plan -f shop.yaml --target shop-rabbit/queue/") == [
        "shop-rabbit/queue/",
        "shop-rabbit/queue/shop/",
        "shop-rabbit/queue/shop/billing",
    ]
    assert complete(tmp_path, shell, "topoctl apply -f shop.yaml --target ev") == [
        "events/",
        "events/topic/",
        "events/topic/orders.v1",
    ]


def test_route_sources_and_dead_lettering_queues(tmp_path: Path, manifest: Path) -> None:
    assert complete(tmp_path, "bash", "topoctl route -f shop.yaml --from ") == ["shop-rabbit/exchange/shop/orders"]
    assert complete(tmp_path, "bash", "topoctl route -f shop.yaml --dead-letter-of ") == [
        "shop-rabbit/queue/shop/billing"
    ]


def test_a_manifest_that_does_not_load_completes_nothing_quietly(tmp_path: Path) -> None:
    (tmp_path / "bad.yaml").write_text("version: 1\nbrokers: {x: {type: nope}}\n", encoding="utf-8")
    assert complete(tmp_path, "bash", "topoctl plan -f bad.yaml --target ") == []
    assert complete(tmp_path, "bash", "topoctl plan --target ") == []  # no -f: nothing to read


def test_installed_bash_completion_works_in_a_real_bash(tmp_path: Path, manifest: Path) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    shim = bin_dir / "topoctl"
    shim.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m topoctl "$@"\n', encoding="utf-8")
    shim.chmod(0o755)
    env = _env(tmp_path, PATH=f"{bin_dir}:{os.environ['PATH']}")
    # Run from bash, as a user would: the shell is detected from the parent process.
    installed = subprocess.run(
        ["bash", "-c", "topoctl --install-completion"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert installed.returncode == 0, installed.stderr
    assert "bash completion installed in" in installed.stdout
    script = tmp_path / ".bash_completions" / "topoctl.sh"
    assert "_TOPOCTL_COMPLETE=complete_bash" in script.read_text(encoding="utf-8")
    assert str(script) in (tmp_path / ".bashrc").read_text(encoding="utf-8")
    shown = subprocess.run(
        ["bash", "-c", "topoctl --show-completion"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60
    )
    assert shown.stdout.strip() == script.read_text(encoding="utf-8").strip()

    def tab(*words: str) -> list[str]:
        quoted = " ".join(f"'{w}'" for w in words)
        program = (
            f"source {script}; COMP_WORDS=({quoted}); COMP_CWORD={len(words) - 1}; "
            '_topoctl_completion topoctl; printf "%s\\n" "${COMPREPLY[@]}"'
        )
        done = subprocess.run(
            ["bash", "-c", program], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60
        )
        assert done.returncode == 0, done.stderr
        return sorted(line for line in done.stdout.splitlines() if line)

    assert tab("topoctl", "sh") == ["show"]
    assert tab("topoctl", "show", "--format", "m") == ["markdown"]
    assert tab("topoctl", "export", "-f", "shop.yaml", "--broker", "s") == ["shop-rabbit"]
    assert "shop-rabbit/exchange/shop/orders" in tab("topoctl", "plan", "-f", "shop.yaml", "--target", "shop-rabbit/e")
