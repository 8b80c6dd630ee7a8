"""The command line. Thin: parse options, call the core, print, map errors to exit codes.

Documents (plans, JSON, Markdown, exported YAML) go to stdout; prompts, progress and diagnostics to
stderr, so `topoctl plan --format json > plan.json` just works.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import re
import sys
import threading
import traceback
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from typer.core import TyperGroup

try:  # typer vendors click from 0.2x on; before, it used click itself
    from typer._click.exceptions import UsageError
except ImportError:  # pragma: no cover
    from click.exceptions import UsageError  # type: ignore[assignment,unused-ignore]

from topoctl import __version__, completion
from topoctl.errors import TopoctlError


class _Commands(TyperGroup):
    """Usage errors (unknown option, missing value) exit 1: click's 2 means "changes pending" here."""

    def make_context(self, *args: Any, **kwargs: Any) -> Any:
        try:
            return super().make_context(*args, **kwargs)
        except UsageError as exc:
            exc.exit_code = 1
            raise

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except UsageError as exc:
            exc.exit_code = 1
            raise


app = typer.Typer(
    cls=_Commands,
    name="topoctl",
    help="Topology as code for message brokers: plan and apply NATS JetStream, RabbitMQ, Kafka and SQS/SNS.",
    add_completion=True,  # --install-completion / --show-completion for bash, zsh and fish
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,  # plain help: rendering it with rich costs 0.1-0.3 s of start-up
    context_settings={"help_option_names": ["-h", "--help"]},
)

_state = {"debug": False}

Files = Annotated[
    list[str] | None,
    typer.Option(
        "-f",
        "--file",
        metavar="FILE_OR_DIR",
        help="Manifest file or directory (repeatable; later files override earlier ones).",
    ),
]
Targets = Annotated[
    list[str] | None,
    typer.Option(
        "--target",
        metavar="ADDR",
        help="Limit to this address or address prefix (repeatable).",
        autocompletion=completion.addresses,
    ),
]
Format = Annotated[
    str,
    typer.Option(
        "--format", metavar="FORMAT", help="Output format: text, json or markdown.", autocompletion=completion.formats
    ),
]
CommentKey = Annotated[
    str | None,
    typer.Option(
        "--comment-key",
        envvar="TOPOCTL_COMMENT_KEY",
        help="With --format markdown: a key in the hidden marker, so several plans in one PR get separate comments.",
    ),
]

F = TypeVar("F", bound=Callable[..., Any])


def _set_debug(ctx: typer.Context, value: bool) -> None:
    # The top-level option is parsed first on every run (in-process runs too): it sets the state;
    # the subcommand's may only turn it on.
    if ctx.parent is None or value:
        _state["debug"] = value


# `--debug` works before the subcommand (`topoctl --debug plan`) and after it (`topoctl plan --debug`).
Debug = Annotated[
    bool,
    typer.Option("--debug", help="Show tracebacks on errors.", callback=_set_debug, expose_value=False, is_eager=True),
]


def _err(message: str) -> None:
    sys.stderr.write(message if message.endswith("\n") else message + "\n")
    sys.stderr.flush()


def handle_errors(func: F) -> F:
    """One clear message and an exit code; a traceback only with --debug."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except typer.Exit:
            raise
        except TopoctlError as exc:
            if _state["debug"]:
                traceback.print_exc()
            _err(f"Error: {exc}")
            raise typer.Exit(exc.exit_code) from None
        except KeyboardInterrupt:
            _err("Interrupted.")
            raise typer.Exit(130) from None
        except Exception as exc:  # a bug: still no traceback unless asked for
            if _state["debug"]:
                traceback.print_exc()
            _err(f"Error: unexpected {type(exc).__name__}: {exc} (run with --debug for a traceback)")
            raise typer.Exit(1) from None

    return wrapper  # type: ignore[return-value]


def _version(value: bool) -> None:
    if value:
        print(f"topoctl {__version__}")
        raise typer.Exit()


@app.callback()
def main_options(
    debug: Debug = False,
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Show the version and exit.")
    ] = False,
) -> None:
    """Options before the subcommand; their callbacks do the work."""


def _check_format(fmt: str, formats: tuple[str, ...] | None = None) -> str:
    from topoctl.manifest.schema import suggest
    from topoctl.render import FORMATS

    formats = formats or FORMATS
    if fmt not in formats:
        near = suggest(fmt, formats)
        raise TopoctlError(
            f"--format {fmt}: use one of {', '.join(formats)}" + (f" (did you mean {near}?)" if near else "")
        )
    return fmt


def _colour() -> bool:
    """Colours only on a terminal, never in CI or with NO_COLOR, unless FORCE_COLOR asks."""
    if os.environ.get("FORCE_COLOR"):
        return True
    if os.environ.get("NO_COLOR") or _in_ci():
        return False
    return sys.stdout.isatty()


def _in_ci() -> bool:
    """CI=true: no colours and no prompts, even when the job has a terminal (a prompt would hang it)."""
    return os.environ.get("CI", "").lower() in ("true", "1")


def _write_document(text: str, fmt: str) -> None:
    if fmt == "text" and _colour():
        from topoctl.render.colour import colourise

        text = colourise(text)
    sys.stdout.write(text)
    sys.stdout.flush()


def _load(files: list[str] | None, ahead: Any = None) -> Any:
    """The manifest of `files`; `ahead` (an `engine.ahead.ReadAhead`) is shown it as it loads."""
    from topoctl.manifest.loader import load_manifest

    if ahead is None:
        manifest = load_manifest(files or [])
    else:
        manifest = load_manifest(files or [], parsed=ahead, compiled=ahead.compiled)
    for warning in manifest.warnings:
        _err(f"Warning: {warning}")
    return manifest


@app.command()
@handle_errors
def validate(
    paths: Annotated[
        list[str] | None,
        typer.Argument(
            metavar="FILES", help="More manifest files, after those of -f (what pre-commit passes).", show_default=False
        ),
    ] = None,
    files: Files = None,
    debug: Debug = False,
) -> None:
    """Check manifests offline: schema and semantic checks; no broker is contacted."""
    manifest = _load([*(files or []), *(paths or [])])
    count = len(manifest.resources)
    _err(f"The manifest is valid: {len(manifest.brokers)} broker(s), {count} resource(s).")


@app.command()
@handle_errors
def plan(
    files: Files = None,
    target: Targets = None,
    fmt: Format = "text",
    out: Annotated[Path | None, typer.Option("-o", "--out", help="Save the plan to this file for `apply`.")] = None,
    detailed_exitcode: Annotated[
        bool, typer.Option("--detailed-exitcode", help="Exit 2 when there are changes (0: none, 1: error).")
    ] = False,
    comment_key: CommentKey = None,
    debug: Debug = False,
) -> None:
    """Show what apply would change on the brokers."""
    from topoctl.engine.ahead import ReadAhead
    from topoctl.engine.planner import Session
    from topoctl.render import render

    _check_format(fmt)
    if out is not None and not out.parent.is_dir():  # say so before the brokers are read, not after
        raise TopoctlError(f"cannot write the plan to {out}: no directory {out.parent}")
    # A plan never applies, so each broker may be read in a process of its own; not with --debug,
    # whose tracebacks must come from the process that failed. A single broker is read in this
    # process, and starts while the manifest is being compiled.
    with ReadAhead(most_brokers=1) as ahead:
        manifest = _load(files, ahead)
        with Session(manifest, read_apart=not _state["debug"], ahead=ahead) as session:
            the_plan = session.plan(target or [])
    _check_targets(manifest, the_plan, target)
    if out is not None:
        _save_plan(the_plan, out)
    _write_document(render(the_plan, fmt, comment_key), fmt)
    if out is not None:
        _err(f"Saved the plan to {out}. Apply it with: topoctl apply {out}")
    if detailed_exitcode and not the_plan.empty:
        raise typer.Exit(2)


def _save_plan(the_plan: Any, path: Path) -> None:
    """Written beside the target and renamed over it: a plan file is whole or absent, never half
    written (Ctrl-C, a full disk), so `apply PLANFILE` never runs part of a plan."""
    text = json.dumps(the_plan.to_json(), indent=2, default=str) + "\n"
    partial = path.with_name(f".{path.name}.{os.getpid()}.partial")
    try:
        partial.write_text(text, encoding="utf-8")
        os.replace(partial, path)
    except OSError as exc:
        raise TopoctlError(f"cannot write the plan to {path}: {exc.strerror or exc}") from None
    finally:
        partial.unlink(missing_ok=True)


def _read_plan(path: Path, command: str) -> Any:
    from topoctl.model import Plan

    make_one = "make one with `topoctl plan -o FILE`"
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise TopoctlError(f"{path}: no such plan file ({make_one})") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise TopoctlError(f"cannot read the plan {path}: {getattr(exc, 'strerror', None) or exc}") from None
    try:
        data = json.loads(text)
    except ValueError:
        if path.suffix in (".yaml", ".yml") or re.search(r"^(version|brokers)\s*:", text, re.MULTILINE):
            raise TopoctlError(f"{path} is a manifest, not a saved plan: use `topoctl {command} -f {path}`") from None
        raise TopoctlError(f"{path} is not a topoctl plan file: not JSON ({make_one})") from None
    if not isinstance(data, dict) or "format_version" not in data or "changes" not in data:
        raise TopoctlError(f"{path} is not a topoctl plan file ({make_one})")
    try:
        return Plan.from_json(data)
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise TopoctlError(f"{path} is not a valid topoctl plan file: {exc}") from None


def _plan_manifests(the_plan: Any, planfile: Path) -> list[str]:
    """The manifests a saved plan was made from. Their paths are as given to `plan`, relative to the
    directory it ran in: found from there, or beside the plan file, or the user is told what to do."""
    found = []
    for raw in the_plan.manifests:
        path = Path(raw)
        if path.is_absolute() or path.exists():
            found.append(raw)
        elif (planfile.parent / path).exists():
            found.append(str(planfile.parent / path))
        else:
            raise TopoctlError(
                f"{planfile} was made from the manifest {raw}, which is neither here nor beside the plan: "
                "run apply in the directory the plan was made in, or give the manifests with -f"
            )
    return found


def _check_targets(manifest: Any, the_plan: Any, targets: list[str] | None) -> None:
    """A --target that matches nothing is most likely a typo: said as a warning, and as an error
    when no target matches anything (the plan would silently be empty)."""
    from topoctl.manifest.schema import suggest

    if not targets:
        return
    known = [r.address for r in manifest.resources] + [c.address for c in (*the_plan.changes, *the_plan.notes)]
    unmatched = []
    for target in targets:
        if not any(address.matches(target) for address in known):
            near = suggest(target, sorted({str(a) for a in known}))
            unmatched.append(
                f"--target {target} matches nothing in the manifest or on the brokers"
                + (f"; did you mean {near}?" if near else "")
            )
    if len(unmatched) == len(targets):
        raise TopoctlError("\n".join(unmatched))
    for message in unmatched:
        _err(f"Warning: {message}")


@app.command()
@handle_errors
def apply(
    planfile: Annotated[
        Path | None, typer.Argument(metavar="PLANFILE", help="A plan saved with `plan -o`; applied exactly.")
    ] = None,
    files: Files = None,
    target: Targets = None,
    auto_approve: Annotated[bool, typer.Option("--auto-approve", help="Do not ask for confirmation.")] = False,
    allow_destructive: Annotated[
        bool, typer.Option("--allow-destructive", help="Allow replace and delete actions.")
    ] = False,
    parallelism: Annotated[
        int, typer.Option("--parallelism", min=1, max=256, help="Changes in flight per broker.")
    ] = 8,
    debug: Debug = False,
) -> None:
    """Make the brokers match the manifest (or carry out a saved plan)."""
    from topoctl.engine.ahead import ReadAhead
    from topoctl.engine.applier import execute, refuse_destructive
    from topoctl.engine.planner import Session
    from topoctl.render.text import render_text

    if planfile is not None:
        if target:
            raise TopoctlError("--target cannot be combined with a saved plan (it was targeted when made)")
        the_plan = _read_plan(planfile, "apply")
        manifest = _load(files or _plan_manifests(the_plan, planfile))
        session = Session(manifest)
        try:
            if the_plan.empty:
                _err("No changes. The brokers match the manifest.")
                _err("Apply complete! Resources: 0 added, 0 changed, 0 destroyed.")
                return
            refuse_destructive(the_plan, allow_destructive)
            session.check_fresh(the_plan)
            _run(session, the_plan, parallelism, execute)
        finally:
            session.close()
        return

    with ReadAhead() as ahead:  # an apply reads in threads: every broker may start while compiling
        manifest = _load(files, ahead)
        with Session(manifest, ahead=ahead) as session:
            the_plan = session.plan(target or [])
            _check_targets(manifest, the_plan, target)

            def show() -> None:
                _write_document(render_text(the_plan), "text")

            if auto_approve and not the_plan.empty and (allow_destructive or not the_plan.destructive):
                # Nothing to ask: the writes start while the plan is written (their lines after it).
                _run(session, the_plan, parallelism, execute, preface=show)
                return
            show()
            if the_plan.empty:
                _err("Apply complete! Resources: 0 added, 0 changed, 0 destroyed.")
                return
            refuse_destructive(the_plan, allow_destructive)
            if not auto_approve:
                _confirm()
            _run(session, the_plan, parallelism, execute)


def _confirm() -> None:
    if _in_ci():
        raise TopoctlError(
            "refusing to apply without confirmation: CI is set, so there is no prompt (use --auto-approve)"
        )
    if not sys.stdin.isatty():
        raise TopoctlError("refusing to apply without confirmation: stdin is not a terminal (use --auto-approve)")
    _err("\nDo you want to perform these actions? Only 'yes' will be accepted.")
    sys.stderr.write("  Enter a value: ")
    sys.stderr.flush()
    if sys.stdin.readline().strip() != "yes":
        raise TopoctlError("apply cancelled; nothing was changed")


def _run(
    session: Any, the_plan: Any, parallelism: int, execute: Any, preface: Callable[[], None] | None = None
) -> None:
    # A live display per broker on a terminal; the plain `<address>: created` lines elsewhere.
    from topoctl.render.progress import apply_display

    with (
        apply_display(the_plan, failures=lambda broker: session.driver(broker).failed, preface=preface) as display,
        _stop_on_signals(session),
    ):
        result = execute(session, the_plan, parallelism, display.step)
    _err(f"\nApply complete! {result.line}")


@contextlib.contextmanager
def _stop_on_signals(session: Any) -> Iterator[None]:
    """Ctrl-C or SIGTERM during apply: the changes in flight finish, none starts after them, and
    the apply ends with its summary (exit 130 or 143). A second signal stops waiting at once."""
    import signal

    if threading.current_thread() is not threading.main_thread():
        yield
        return
    meaning = {signal.SIGINT: ("Interrupted (Ctrl-C)", 130), signal.SIGTERM: ("Terminated (SIGTERM)", 143)}

    def handler(signum: int, frame: Any) -> None:
        if session.stopping.is_set():
            raise KeyboardInterrupt
        reason, code = meaning[signal.Signals(signum)]
        _err(f"\n{reason}: finishing the changes in flight, starting no new one (again to abort now)")
        session.stop(reason, code)

    previous = {sig: signal.signal(sig, handler) for sig in meaning}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


@app.command()
@handle_errors
def show(
    planfile: Annotated[Path, typer.Argument(metavar="PLANFILE", help="A plan saved with `plan -o`.")],
    fmt: Format = "text",
    comment_key: CommentKey = None,
    debug: Debug = False,
) -> None:
    """Render a saved plan."""
    from topoctl.render import render

    _check_format(fmt)
    _write_document(render(_read_plan(planfile, "plan"), fmt, comment_key), fmt)


@app.command("export")
@handle_errors
def export_(
    broker: Annotated[
        str,
        typer.Option(
            "--broker", help="The broker to export, as named in the manifest.", autocompletion=completion.brokers
        ),
    ],
    files: Files = None,
    debug: Debug = False,
) -> None:
    """Print the live topology of a broker as manifest YAML (import / bootstrap).

    The manifest given with -f needs only the broker's type and connection.
    """
    from topoctl.export import export_broker

    result = export_broker(files or [], broker)
    for warning in result.warnings:
        _err(f"Warning: {warning}")
    _write_document(result.yaml(), "yaml")


@app.command()
@handle_errors
def graph(
    files: Files = None,
    fmt: Annotated[
        str,
        typer.Option(
            "--format",
            help="mermaid (renders in GitHub Markdown) or dot (Graphviz).",
            autocompletion=completion.formats,
        ),
    ] = "mermaid",
    debug: Debug = False,
) -> None:
    """Draw the message flow of the manifest: exchanges, queues, topics, streams, dead letters. Offline."""
    from topoctl.graph import graph_of
    from topoctl.render.graph import GRAPH_FORMATS, render_graph

    _check_format(fmt, tuple(GRAPH_FORMATS))
    found = graph_of(_load(files))
    for broker in found.unsupported:
        _err(f"Warning: no message-flow support for broker {broker} yet; it is left out of the graph")
    _write_document(render_graph(found.nodes, found.flows, found.brokers, fmt), fmt)


@app.command()
@handle_errors
def route(
    source: Annotated[
        str | None,
        typer.Option(
            "--from",
            metavar="ADDR",
            help="Where the message is published: <broker>/exchange/<vhost>/<name>, <broker>/sns_topic/<name>,"
            " or a NATS broker's name.",
            autocompletion=completion.sources,
        ),
    ] = None,
    routing_key: Annotated[
        str | None, typer.Option("--routing-key", metavar="KEY", help="RabbitMQ routing key.")
    ] = None,
    header: Annotated[
        list[str] | None,
        typer.Option("--header", metavar="NAME=VALUE", help="RabbitMQ header (NAME:=JSON for a number, boolean, ...)."),
    ] = None,
    dead_letter_of: Annotated[
        str | None,
        typer.Option(
            "--dead-letter-of",
            metavar="ADDR",
            help="Follow the dead letters of this RabbitMQ queue.",
            autocompletion=completion.queues,
        ),
    ] = None,
    reason: Annotated[
        str | None,
        typer.Option(
            "--reason",
            metavar="REASON",
            help="With --dead-letter-of: rejected (default), expired, maxlen, delivery_limit.",
        ),
    ] = None,
    attribute: Annotated[
        list[str] | None,
        typer.Option(
            "--attribute",
            metavar="NAME=VALUE",
            help="SNS message attribute (NAME:=5 a Number, NAME:=[..] a String.Array).",
        ),
    ] = None,
    body: Annotated[
        str | None, typer.Option("--body", metavar="TEXT", help="SNS message body (JSON for MessageBody filters).")
    ] = None,
    subject: Annotated[str | None, typer.Option("--subject", metavar="SUBJECT", help="NATS subject.")] = None,
    live: Annotated[bool, typer.Option("--live", help="Route on the live topology, read through the drivers.")] = False,
    files: Files = None,
    fmt: Annotated[str, typer.Option("--format", metavar="FORMAT", help="Output format: text or json.")] = "text",
    debug: Debug = False,
) -> None:
    """Show where a message goes: the queues, subscriptions, streams and consumers that receive it.

    Offline on the manifest, or on the live brokers with --live. Exit 3 when nothing receives it.
    """
    from topoctl.errors import UNROUTABLE
    from topoctl.render.route import render_route
    from topoctl.routing.model import Request
    from topoctl.routing.query import route as route_message

    _check_format(fmt, ("text", "json"))
    request = Request(
        source=source,
        routing_key=routing_key,
        headers=tuple(header or ()),
        attributes=tuple(attribute or ()),
        body=body,
        subject=subject,
        dead_letter_of=dead_letter_of,
        reason=reason,
    )
    result = route_message(_load(files), request, live=live)
    _write_document(render_route(result, fmt), fmt)
    if result.unroutable:
        raise typer.Exit(UNROUTABLE)


@app.command()
@handle_errors
def lint(
    paths: Annotated[
        list[str] | None,
        typer.Argument(metavar="FILES", help="More manifest files, after those of -f.", show_default=False),
    ] = None,
    files: Files = None,
    fmt: Annotated[
        str, typer.Option("--format", metavar="FORMAT", help="text, json or sarif.", autocompletion=completion.formats)
    ] = "text",
    config: Annotated[
        str | None,
        typer.Option("--config", metavar="FILE", help="Lint config (default: ./.topoctl-lint.yaml if there is one)."),
    ] = None,
    debug: Debug = False,
) -> None:
    """Check the manifests against the team's rules, offline. Exit 1 on any error-level finding."""
    from topoctl.lint import run
    from topoctl.lint.output import LINT_FORMATS, render, summary

    _check_format(fmt, LINT_FORMATS)
    report = run([*(files or []), *(paths or [])], config)
    _write_document(render(report, fmt), fmt)
    if fmt != "text":
        _err(summary(report))
    if report.failed:
        raise typer.Exit(1)


@app.command()
@handle_errors
def asyncapi(
    files: Files = None,
    fmt: Annotated[
        str, typer.Option("--format", metavar="FORMAT", help="yaml or json.", autocompletion=completion.formats)
    ] = "yaml",
    title: Annotated[str | None, typer.Option("--title", help="info.title (default: the brokers' names).")] = None,
    api_version: Annotated[str, typer.Option("--api-version", metavar="VERSION", help="info.version.")] = "1.0.0",
    debug: Debug = False,
) -> None:
    """Write the topology as an AsyncAPI 3.0.0 document: servers, channels, operations. Offline."""
    from topoctl.asyncapi import build, render

    _check_format(fmt, ("yaml", "json"))
    document = build(_load(files), title, api_version)
    for broker in document.skipped:
        _err(f"Warning: no AsyncAPI support for broker {broker} yet; it is left out")
    _write_document(render(document, fmt), fmt)


def main() -> None:
    from topoctl import collector

    collector.freeze_after = True  # a process of its own: see collector.freeze_after
    try:
        # One name however it is started (`python -m topoctl` too): completion scripts and the
        # variable they set (_TOPOCTL_COMPLETE) are keyed by it.
        app(prog_name="topoctl")
    except KeyboardInterrupt:
        _err("Interrupted.")
        _exit(130)
    except SystemExit as done:
        _exit(done.code)
    _exit(0)


def _exit(code: object) -> None:
    """End the process once its output is out, without tearing the interpreter down: that frees,
    one by one, every object of the manifest and the brokers' state (50-100 ms of a big plan) for
    a process that is about to vanish. The command is over by then: its changes are done, its
    connections closed, its files written whole; threads still running only read ahead."""
    if isinstance(code, str):  # sys.exit("message"): Python prints it and exits 1
        _err(code)
        code = 1
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):  # a closed pipe or stream: nothing more to say
            stream.flush()
    os._exit(code if isinstance(code, int) else 0)
