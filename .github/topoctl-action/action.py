"""What the composite GitHub Action (action.yml at the repository root) runs: `plan` on a pull
request, `apply` on merge. Standard library only, so the action needs nothing but topoctl.

    python action.py plan    validate, plan (Markdown + saved plan), upsert the PR comment, gate
                             destructive changes, optionally lint to SARIF
    python action.py apply   apply exactly the merged pull request's saved plan (its artifact), or
                             (INPUT_PLAN=fresh) a plan made now from this commit

Inputs come as INPUT_* variables (set by action.yml from the action's inputs), GitHub's context as
the usual GITHUB_* variables; outputs go to $GITHUB_OUTPUT, the rendered plan to
$GITHUB_STEP_SUMMARY. The token is sent only to the GitHub API, never on a redirect (artifact
downloads redirect to storage that must not see it), and never printed.
"""

from __future__ import annotations

import io
import json
import os
import shlex
import subprocess
import sys
import urllib.error
import urllib.parse
import urllib.request
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

PER_PAGE = 100


class Failure(Exception):
    """Ends the step with `::error::` and exit 1."""


def env(name: str, default: str = "") -> str:
    return os.environ.get(name, default).strip()


def flag(name: str, default: str = "false") -> bool:
    return env(name, default).lower() in ("true", "1", "yes")


def files() -> list[str]:
    args: list[str] = []
    for name in env("INPUT_FILES", "topology/").split():
        args += ["-f", name]
    return args


def topoctl() -> list[str]:
    return shlex.split(env("TOPOCTL", "topoctl"))


def output(**values: str) -> None:
    path = env("GITHUB_OUTPUT")
    lines = "".join(f"{key}={value}\n" for key, value in values.items())
    if path:
        with open(path, "a", encoding="utf-8") as out:
            out.write(lines)
    else:
        sys.stdout.write(lines)


def summary(text: str) -> None:
    path = env("GITHUB_STEP_SUMMARY")
    if path:
        with open(path, "a", encoding="utf-8") as out:
            out.write(text if text.endswith("\n") else text + "\n")


def event() -> dict[str, Any]:
    path = env("GITHUB_EVENT_PATH")
    if not path:
        return {}
    return dict(json.loads(Path(path).read_text(encoding="utf-8")))


def run(args: list[str], stdout: Any = None) -> int:
    print(f"$ {shlex.join(args)}", flush=True)
    return subprocess.run(args, stdout=stdout, check=False).returncode


# -- the GitHub REST API ----------------------------------------------------------------------------


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None  # handled by the caller, without the token


class GitHub:
    def __init__(self) -> None:
        self.api = env("GITHUB_API_URL", "https://api.github.com").rstrip("/")
        self.repo = env("GITHUB_REPOSITORY")
        self.token = env("GITHUB_TOKEN")
        if not self.repo:
            raise Failure("GITHUB_REPOSITORY is not set: run this as a GitHub Action")
        self._opener = urllib.request.build_opener(_NoRedirect)

    def request(self, method: str, path: str, body: Any = None) -> tuple[int, Mapping[str, str], bytes]:
        url = path if path.startswith("http") else f"{self.api}/repos/{self.repo}{path}"
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(url, data=data, method=method)
        req.add_header("Accept", "application/vnd.github+json")
        req.add_header("X-GitHub-Api-Version", "2022-11-28")
        if data is not None:
            req.add_header("Content-Type", "application/json")
        if self.token and url.startswith(self.api):
            req.add_unredirected_header("Authorization", f"Bearer {self.token}")
        try:
            with self._opener.open(req, timeout=60) as resp:
                return resp.status, dict(resp.headers), resp.read()
        except urllib.error.HTTPError as exc:
            if exc.code in (301, 302, 303, 307, 308):
                return exc.code, dict(exc.headers), b""
            detail = exc.read().decode("utf-8", "replace")[:300]
            raise Failure(f"GitHub API {method} {urllib.parse.urlsplit(url).path}: HTTP {exc.code} {detail}") from None
        except urllib.error.URLError as exc:
            raise Failure(f"GitHub API {method} {urllib.parse.urlsplit(url).path}: {exc.reason}") from None

    def json(self, method: str, path: str, body: Any = None) -> Any:
        _, _, data = self.request(method, path, body)
        return json.loads(data) if data else None

    def pages(self, path: str) -> list[Any]:
        items: list[Any] = []
        sep = "&" if "?" in path else "?"
        for page in range(1, 1000):
            batch = self.json("GET", f"{path}{sep}per_page={PER_PAGE}&page={page}")
            batch = batch.get("artifacts", []) if isinstance(batch, dict) else batch
            items += batch
            if len(batch) < PER_PAGE:
                break
        return items

    def download(self, path: str) -> bytes:
        """An API URL that redirects to storage: followed without the token."""
        status, headers, data = self.request("GET", path)
        location = headers.get("Location") or headers.get("location")
        if status in (301, 302, 303, 307, 308) and location:
            with urllib.request.urlopen(location, timeout=120) as resp:
                return bytes(resp.read())
        return data


def upsert_comment(github: GitHub, number: int, body: str) -> dict[str, Any]:
    """One comment per pull request (and comment key), updated in place: found by the hidden marker
    that is the first line of topoctl's Markdown."""
    marker = body.split("\n", 1)[0]
    if not marker.startswith("<!-- topoctl-plan"):
        raise Failure("the plan Markdown does not start with topoctl's marker line")
    for comment in github.pages(f"/issues/{number}/comments"):
        if str(comment.get("body", "")).split("\n", 1)[0] == marker:
            return dict(github.json("PATCH", f"/issues/comments/{comment['id']}", {"body": body}))
    return dict(github.json("POST", f"/issues/{number}/comments", {"body": body}))


def destructive_allowed(labels: list[str]) -> bool:
    setting = env("INPUT_ALLOW_DESTRUCTIVE", "label").lower()
    if setting in ("true", "1", "yes"):
        return True
    if setting == "label":
        return env("INPUT_DESTRUCTIVE_LABEL", "allow-destructive") in labels
    return False


def _labels(pull: Mapping[str, Any]) -> list[str]:
    return [str(label.get("name")) for label in pull.get("labels") or []]


def artifact_name(number: int | None) -> str:
    prefix = env("INPUT_ARTIFACT_NAME", "topoctl-plan")
    key = env("INPUT_COMMENT_KEY")
    base = f"{prefix}-pr{number}" if number is not None else f"{prefix}-{env('GITHUB_SHA', 'local')[:12]}"
    return f"{base}-{key}" if key else base


# -- plan -------------------------------------------------------------------------------------------


def plan(workdir: Path) -> int:
    payload = event()
    pull = payload.get("pull_request") or {}
    number = pull.get("number")
    workdir.mkdir(parents=True, exist_ok=True)
    plan_file, markdown = workdir / "plan.json", workdir / "plan.md"
    if run([*topoctl(), "validate", *files()]) != 0:
        raise Failure("the manifests do not validate (see above)")
    key = ["--comment-key", env("INPUT_COMMENT_KEY")] if env("INPUT_COMMENT_KEY") else []
    with markdown.open("w", encoding="utf-8") as out:
        code = run(
            [*topoctl(), "plan", *files(), "--format", "markdown", "-o", str(plan_file), "--detailed-exitcode", *key],
            stdout=out,
        )
    if code not in (0, 2):
        raise Failure("topoctl plan failed (see above)")
    document = json.loads(plan_file.read_text(encoding="utf-8"))
    destructive = sum(1 for change in document["changes"] if change.get("destructive"))
    body = markdown.read_text(encoding="utf-8")
    summary(body)
    output(
        changes="true" if code == 2 else "false",
        destructive=str(destructive),
        **{"plan-file": str(plan_file), "plan-markdown": str(markdown), "artifact": artifact_name(number)},
    )
    if number is not None and flag("INPUT_COMMENT", "true"):
        comment = upsert_comment(GitHub(), int(number), body)
        output(**{"comment-url": str(comment.get("html_url", "")), "comment-id": str(comment.get("id", ""))})
    reasons = []
    if destructive and not destructive_allowed(_labels(pull)):
        label = env("INPUT_DESTRUCTIVE_LABEL", "allow-destructive")
        reasons.append(
            f"The plan replaces or deletes {destructive} object(s) (see the plan). "
            + (
                f"Add the '{label}' label once that is intended."
                if env("INPUT_ALLOW_DESTRUCTIVE", "label") == "label"
                else ""
            )
        )
    if flag("INPUT_LINT"):
        sarif = workdir / "topoctl-lint.sarif"
        with sarif.open("w", encoding="utf-8") as out:
            lint_code = run([*topoctl(), "lint", *files(), "--format", "sarif"], stdout=out)
        output(**{"sarif-file": str(sarif)})
        if lint_code != 0:
            reasons.append("topoctl lint found errors (see the code scanning alerts or the log).")
    if reasons:
        output(refused=" ".join(r.strip() for r in reasons))
    return 0


# -- apply ------------------------------------------------------------------------------------------


def merged_pull(github: GitHub, sha: str) -> dict[str, Any] | None:
    pulls = github.json("GET", f"/commits/{sha}/pulls") or []
    merged = [p for p in pulls if p.get("merged_at")]
    return dict(merged[0]) if merged else None


def reviewed_plan(github: GitHub, pull: Mapping[str, Any], workdir: Path) -> Path:
    """The saved plan of the pull request's last push: its plan job's artifact, as reviewed."""
    number, head = pull["number"], pull["head"]["sha"]
    name = artifact_name(int(number))
    candidates = [
        a
        for a in github.pages(f"/actions/artifacts?name={urllib.parse.quote(name)}")
        if a.get("name") == name and not a.get("expired") and (a.get("workflow_run") or {}).get("head_sha") == head
    ]
    if not candidates:
        raise Failure(
            f"no saved plan {name!r} for the last push of pull request #{number} ({head[:12]}): "
            "did its plan job run and finish? (or use `plan: fresh`)"
        )
    newest = max(candidates, key=lambda a: str(a.get("created_at", "")))
    data = github.download(f"/actions/artifacts/{newest['id']}/zip")
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        inside = [n for n in archive.namelist() if n.rsplit("/", 1)[-1] == "plan.json"]
        if not inside:
            raise Failure(f"artifact {name!r} holds no plan.json")
        workdir.mkdir(parents=True, exist_ok=True)
        target = workdir / "plan.json"
        target.write_bytes(archive.read(inside[0]))
    print(f"Applying the plan reviewed on pull request #{number} (artifact {name}, head {head[:12]}).", flush=True)
    return target


def apply(workdir: Path) -> int:
    github = GitHub()
    sha = env("GITHUB_SHA")
    pull = merged_pull(github, sha) if sha else None
    labels = _labels(pull) if pull else []
    if env("INPUT_PLAN", "reviewed") == "fresh":
        workdir.mkdir(parents=True, exist_ok=True)
        plan_file = workdir / "plan.json"
        if run([*topoctl(), "plan", *files(), "-o", str(plan_file)]) != 0:
            raise Failure("topoctl plan failed (see above)")
    else:
        if pull is None:
            raise Failure(f"commit {sha[:12] or '?'} is not the merge of a pull request: nothing reviewed to apply")
        plan_file = reviewed_plan(github, pull, workdir)
    shown = subprocess.run([*topoctl(), "show", str(plan_file), "--format", "markdown"], capture_output=True, text=True)
    if shown.returncode == 0:
        summary(shown.stdout)
    extra = ["--allow-destructive"] if destructive_allowed(labels) else []
    code = run([*topoctl(), "apply", str(plan_file), "--auto-approve", *extra])
    output(**{"plan-file": str(plan_file), "applied": "true" if code == 0 else "false"})
    if code != 0:
        raise Failure("topoctl apply failed or refused (see above); nothing it refused was changed")
    return 0


def main(argv: list[str]) -> int:
    command = argv[1] if len(argv) > 1 else env("INPUT_COMMAND", "plan")
    workdir = Path(env("TOPOCTL_ACTION_DIR") or Path(env("RUNNER_TEMP", ".")) / "topoctl")
    try:
        if command == "plan":
            return plan(workdir)
        if command == "apply":
            return apply(workdir)
        raise Failure(f"command must be plan or apply, not {command!r}")
    except Failure as exc:
        print(f"::error::{exc}", flush=True)
        return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
