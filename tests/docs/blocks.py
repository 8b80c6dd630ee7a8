"""What each block of README.md and docs/*.md means as a test, for Sybil.

Sybil lexes the Markdown (its fenced-code-block and HTML-comment lexers); this module says what a
block of each language is checked for. Every fenced block is one of:

- ```` ```console ````: each `$ command` is run with bash in a scratch directory, against the
  local brokers; what it prints (stdout and stderr, as a terminal shows them) must be the lines
  that follow it, up to the next `$ `;
- ```` ```yaml ```` with `version:` and `brokers:`: a manifest, `topoctl validate` must accept it.
  With `title="shop.yaml"` in the info string it is also saved under that name, for the commands
  after it;
- ```` ```json ```` with `format_version`: a plan, it must follow schemas/plan.schema.json;
- ```` ```sh ````: every `topoctl` command in it must parse (subcommand and options exist, values
  fit); nothing is run;
- any block right after `<!-- output-of: COMMAND -->`: COMMAND is run as in a console block and
  must print the block;
- any block right after `<!-- same-as: PATH -->`: the block is the file PATH of this repository,
  byte for byte (this is how golden files are quoted, so the two cannot drift);
- any block right after `<!-- skip: next -->` (Sybil's own directive): illustrative only.

A block that is none of these fails, so a new example cannot go untested by accident: give it one
of the forms above or mark it illustrative. Hidden set-up (state a session starts from, such as a
setting changed behind topoctl's back) goes in Sybil's `<!-- invisible-code-block: python -->`
blocks, which run in the document's namespace (see conftest.py for what it holds).

Expected output may use `...`: alone on a line it stands for any number of lines, inside a line for
any text. Names made unique for a run (see `unique()` in conftest.py) are put back before comparing.
"""

from __future__ import annotations

import difflib
import json
import os
import re
import shlex
import subprocess
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jsonschema
import yaml
from sybil import Document, Example, Region
from sybil.parsers.markdown.lexers import DirectiveInHTMLCommentLexer, RawFencedCodeBlockLexer

from tests.cli import topoctl

ROOT = Path(__file__).resolve().parents[2]
PLAN_SCHEMA = ROOT / "schemas" / "plan.schema.json"
COMMAND_TIMEOUT = 120

# The info string: a language, then optional attributes (`title="shop.yaml"`).
_INFO = re.compile(r"(?P<language>[^\s`]*)(?P<attributes>[^\n]*)$\n", re.MULTILINE)
_TITLE = re.compile(r'\btitle="(?P<title>[^"]+)"')


@dataclass(frozen=True)
class Block:
    language: str
    title: str | None
    text: str
    directive: str | None = None  # "output-of" or "same-as"
    argument: str | None = None


def _blocks(document: Document) -> Iterable[Region]:
    """Every top-level fenced block. Fences quoted inside a longer fence are part of it."""
    lexer = RawFencedCodeBlockLexer(info_pattern=_INFO)
    end = -1
    for region in sorted(lexer(document), key=lambda r: r.start):
        if region.start < end:
            continue  # a ``` block quoted inside a ```` block
        end = region.end
        yield region


class BlockParser:
    """Turns every fenced block (and the directive before it, if any) into one Sybil region."""

    directives = DirectiveInHTMLCommentLexer(directive=r"output-of|same-as", arguments=r".+?")

    def __call__(self, document: Document) -> Iterable[Region]:
        directives = sorted(self.directives(document), key=lambda r: r.start)
        for region in _blocks(document):
            language = str(region.lexemes["language"])
            if language == "python":
                continue  # Sybil's own Python parser runs those
            title = _TITLE.search(str(region.lexemes["attributes"]))
            start = region.start
            directive = argument = None
            before = [d for d in directives if d.end <= region.start]
            if before and not document.text[_comment_end(document, before[-1]) : region.start].strip():
                start = before[-1].start
                directive = str(before[-1].lexemes["directive"])
                argument = str(before[-1].lexemes["arguments"]).strip()
            block = Block(language, title and title["title"], str(region.lexemes["source"]), directive, argument)
            yield Region(start, region.end, block, evaluate)


def _comment_end(document: Document, region: Region) -> int:
    return document.text.index("-->", region.end) + 3


# -- evaluation ---------------------------------------------------------------------------------


def evaluate(example: Example) -> str | None:
    block: Block = example.parsed
    session: Session = example.namespace["session"]
    if block.directive == "same-as":
        return _same_as(block)
    if block.directive == "output-of":
        return session.check_output(block.argument or "", block.text)
    if block.language == "console":
        return session.run_console(block.text)
    if block.language in ("yaml", "yml"):
        return session.manifest(block)
    if block.language == "json":
        return _json(block)
    if block.language in ("sh", "bash", "shell"):
        return check_commands(block.text)
    return (
        f"a ```{block.language or '(no language)'} block that nothing checks: run it (console, output-of), "
        "quote a file (same-as) or mark it illustrative with <!-- skip: next --> (see tests/docs/blocks.py)"
    )


def _same_as(block: Block) -> str | None:
    path = ROOT / (block.argument or "")
    if not path.is_file():
        return f"same-as: no file {block.argument}"
    return _compare(path.read_text(encoding="utf-8"), block.text, exact=True)


def _json(block: Block) -> str | None:
    document = json.loads(block.text)
    if not (isinstance(document, dict) and "format_version" in document):
        return "a ```json block that is not a plan: mark it illustrative with <!-- skip: next -->"
    schema = json.loads(PLAN_SCHEMA.read_text(encoding="utf-8"))
    errors = sorted(jsonschema.Draft202012Validator(schema).iter_errors(document), key=str)
    return "\n".join(f"not a valid plan: {e.message} at {list(e.absolute_path)}" for e in errors) or None


class Session:
    """One document's scratch directory, environment and unique names; commands run there."""

    def __init__(self, workdir: Path, token: str, env: Mapping[str, str]) -> None:
        self.workdir = workdir
        self.token = token
        self.env = dict(env)
        self.renames: dict[str, str] = {}
        self.last_status = 0
        self.done: set[int] = set()  # the blocks (by their place in the document) already run

    # Names: the docs say `shop`; a run uses `shop-dt1a2b3c`, so runs do not collide.
    def unique(self, *names: str) -> None:
        for name in names:
            self.renames[name] = f"{name}-{self.token}"

    def forward(self, text: str) -> str:
        for name, unique in self.renames.items():
            text = re.sub(rf"(?<![\w.-]){re.escape(name)}(?![\w.-])", unique, text)
        return text

    def backward(self, text: str) -> str:
        for name, unique in self.renames.items():
            text = text.replace(unique, name)
        return text

    # Manifests.
    def manifest(self, block: Block) -> str | None:
        document = yaml.safe_load(block.text)
        is_manifest = isinstance(document, dict) and {"version", "brokers"} <= document.keys()
        if block.title:
            (self.workdir / block.title).write_text(self.forward(block.text), encoding="utf-8")
        if not is_manifest:
            if block.title:
                return None  # a file the commands after it read (not a whole manifest)
            return "a ```yaml block that is not a manifest: mark it illustrative with <!-- skip: next -->"
        path = self.workdir / (block.title or ".block.yaml")
        if not block.title:
            path.write_text(self.forward(block.text), encoding="utf-8")
        result = topoctl("validate", "-f", path, env=self.env)
        return None if result.code == 0 else f"the manifest does not validate:\n{self.backward(str(result))}"

    # Commands.
    def run(self, command: str) -> tuple[int, str]:
        """Run one shell command as a user would; (exit status, what it printed, stderr included)."""
        done = subprocess.run(
            ["bash", "-c", f"(exit {self.last_status}); {self.forward(command)}"],
            cwd=self.workdir,
            env=self.env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            timeout=COMMAND_TIMEOUT,
        )
        self.last_status = done.returncode
        return done.returncode, self.backward(done.stdout)

    def check_output(self, command: str, expected: str) -> str | None:
        _, output = self.run(command)
        return _compare(output, expected, label=command)

    def run_console(self, text: str) -> str | None:
        for command, expected in _session(text):
            _, output = self.run(command)
            failure = _compare(output, expected, label=f"$ {command}")
            if failure:
                return failure
        return None


def _session(text: str) -> list[tuple[str, str]]:
    """`$ command` lines (a trailing `\\` continues one) and the output lines after each."""
    steps: list[tuple[str, list[str]]] = []
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.startswith("$ "):
            command = line[2:]
            while command.endswith("\\") and i + 1 < len(lines):
                i += 1
                command = command[:-1] + "\n" + lines[i]
            steps.append((command, []))
        elif steps:
            steps[-1][1].append(line)
        elif line.strip():
            raise ValueError(f"console block: output before the first `$ command`: {line!r}")
        i += 1
    return [(command, "\n".join(out)) for command, out in steps]


def _compare(actual: str, expected: str, label: str = "", exact: bool = False) -> str | None:
    if exact:
        ok = actual == expected
    else:
        actual, expected = _tidy(actual), _tidy(expected)
        ok = re.fullmatch(_pattern(expected), actual) is not None
    if ok:
        return None
    diff = difflib.unified_diff(expected.splitlines(), actual.splitlines(), "documented", "actual", lineterm="", n=2)
    return f"{label}: the output differs from the documentation\n" + "\n".join(diff)


def _tidy(text: str) -> str:
    return "\n".join(line.rstrip() for line in text.rstrip().splitlines())


def _pattern(expected: str) -> str:
    """`...` alone on a line: any lines (none too); inside a line: any text."""
    parts = []
    for line in expected.split("\n"):
        if line.strip() == "...":
            parts.append(r"(?:[^\n]*\n)*?")
        else:
            parts.append(".*?".join(re.escape(piece) for piece in line.split("...")) + r"\n")
    return "".join(parts)[: -len(r"\n")] if not parts[-1].startswith("(?:") else "".join(parts) + r"[^\n]*"


# -- `sh` blocks: the topoctl commands must parse ------------------------------------------------


def check_commands(text: str) -> str | None:
    """Check a shell snippet without running it: every `topoctl` command parses with the real CLI,
    every `make TARGET` names a target of the Makefile, every `python FILE` an existing file."""
    commands = [c for c in shell_commands(text) if c[0] in ("topoctl", "make", "python", "python3")]
    if not commands:
        return "a ```sh block with nothing to check: mark it illustrative with <!-- skip: next -->"
    problems = [f"`{' '.join(args)}`: {problem}" for args in commands if (problem := command_problem(args))]
    return "\n".join(problems) or None


def command_problem(args: list[str]) -> str | None:
    if args[0] == "topoctl":
        return parse_problem(args[1:])
    if args[0] == "make":
        targets = set(re.findall(r"^([\w-]+):", (ROOT / "Makefile").read_text(encoding="utf-8"), re.M))
        missing = [t for t in args[1:] if not t.startswith("-") and "=" not in t and t not in targets]
        return f"no make target {', '.join(missing)}" if missing else None
    script = next((a for a in args[1:] if not a.startswith("-")), None)
    return None if script is None or (ROOT / script).is_file() else f"no file {script}"


_SEPARATORS = frozenset({";", "|", "||", "&&", "&", "|&", "(", ")", "{", "}"})
_REDIRECTS = frozenset({">", ">>", "<", "<<", ">&", "&>", ">|"})


def shell_commands(text: str) -> Iterable[list[str]]:
    """The argument lists of the simple commands in a shell snippet: line by line (a trailing
    `\\` continues one), split by shlex; pipes, `;`, `&&` and braces end a command, comments
    and redirections (with their target) are not arguments."""
    for line in text.replace("\\\n", " ").splitlines():
        lexer = shlex.shlex(line, posix=True, punctuation_chars=True)
        lexer.wordchars += "$:,@%+^![]"
        words: list[str] = []
        redirected = False
        for token in [*lexer, ";"]:
            if token in _SEPARATORS:
                if words:
                    yield words
                words = []
            elif token in _REDIRECTS:
                redirected = True
            elif redirected:
                redirected = False
            else:
                words.append(token)


def parse_problem(args: list[str]) -> str | None:
    """What the real CLI says about these arguments (None: they parse), without running anything."""
    import typer

    from topoctl import cli

    try:  # typer vendors click from 0.2x on, as cli.py knows
        from typer._click.exceptions import UsageError
    except ImportError:  # pragma: no cover
        from click.exceptions import UsageError  # type: ignore[assignment,unused-ignore]

    group = typer.main.get_command(cli.app)
    debug = dict(cli._state)  # `--debug`'s callback sets it: leave it as it was
    try:
        with group.make_context("topoctl", list(args)) as ctx:
            protected = getattr(ctx, "_protected_args", None) or getattr(ctx, "protected_args", [])
            name, sub, rest = group.resolve_command(ctx, [*protected, *ctx.args])  # type: ignore[attr-defined]
            if sub is None:
                return f"no command {name}"
            sub.make_context(name or "", rest, parent=ctx).close()
    except typer.Exit:
        return None  # --help, --version
    except UsageError as exc:
        return str(exc.format_message())
    finally:
        cli._state.update(debug)
    return None


def env_for(workdir: Path) -> dict[str, str]:
    """The environment commands run in: this repository's topoctl first on PATH, no colours,
    no prompts, a fixed width; the brokers' connection variables as the user has them."""
    bin_dir = workdir / ".bin"
    bin_dir.mkdir(exist_ok=True)
    shim = bin_dir / "topoctl"
    shim.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m topoctl "$@"\n', encoding="utf-8")
    shim.chmod(0o755)
    env: dict[str, Any] = dict(os.environ)
    env.update(
        PATH=f"{bin_dir}:{os.environ.get('PATH', '')}",
        PYTHONPATH=str(ROOT),
        PYTHONUNBUFFERED="1",
        CI="true",
        NO_COLOR="1",
        COLUMNS="120",
        TERM="dumb",
    )
    env.pop("FORCE_COLOR", None)
    # The docs' manifests read secrets from the environment, as a user's would: the local brokers'.
    env.setdefault("RABBITMQ_PASSWORD", "guest")
    env.setdefault("BILLING_PASSWORD", "billing-docs-only")  # docs/redis.md's ACL user
    return env
