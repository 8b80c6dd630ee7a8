"""The GitHub Action (action.yml and .github/topoctl-action/action.py) against a fake GitHub API:
the PR comment found by its marker and updated in place, the merged pull request's saved plan found
and downloaded (the token never sent to the storage it redirects to), the destructive gate, and
action.yml wiring every input through. The real plan and apply are in
tests/integration/test_action.py."""

from __future__ import annotations

import importlib.util
import io
import json
import re
import threading
import zipfile
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import ModuleType
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / ".github" / "topoctl-action" / "action.py"
TOKEN = "ghs_faketoken123"


def load_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("topoctl_action", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class FakeGitHub:
    """Just enough of the REST API: issue comments, commits -> pulls, artifacts (their zip behind
    a redirect to "storage" on another path), with every request recorded."""

    def __init__(self) -> None:
        self.comments: dict[int, list[dict[str, Any]]] = {}
        self.pulls_of: dict[str, list[dict[str, Any]]] = {}
        self.artifacts: list[dict[str, Any]] = []
        self.blobs: dict[int, bytes] = {}
        self.requests: list[tuple[str, str, dict[str, str], Any]] = []
        self._next = 1000
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def _reply(self, status: int, body: Any = None, headers: dict[str, str] | None = None) -> None:
                data = body if isinstance(body, bytes) else json.dumps(body).encode() if body is not None else b""
                self.send_response(status)
                for key, value in (headers or {}).items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _handle(self, method: str) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length)) if length else None
                fake.requests.append((method, self.path, dict(self.headers), body))
                status, payload, headers = fake.route(method, self.path, body, f"http://{self.headers['Host']}")
                self._reply(status, payload, headers)

            def do_GET(self) -> None:
                self._handle("GET")

            def do_POST(self) -> None:
                self._handle("POST")

            def do_PATCH(self) -> None:
                self._handle("PATCH")

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def new_id(self) -> int:
        self._next += 1
        return self._next

    def add_artifact(self, name: str, head_sha: str, files: dict[str, bytes], created_at: str) -> int:
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w") as archive:
            for path, data in files.items():
                archive.writestr(path, data)
        artifact_id = self.new_id()
        self.blobs[artifact_id] = buffer.getvalue()
        self.artifacts.append(
            {
                "id": artifact_id,
                "name": name,
                "expired": False,
                "created_at": created_at,
                "workflow_run": {"head_sha": head_sha},
            }
        )
        return artifact_id

    def route(self, method: str, raw: str, body: Any, base: str) -> tuple[int, Any, dict[str, str]]:
        url = urlsplit(raw)
        query = parse_qs(url.query)
        path = url.path
        if path.startswith("/storage/"):
            return 200, self.blobs[int(path.rsplit("/", 1)[1])], {"Content-Type": "application/zip"}
        if m := re.fullmatch(r"/repos/o/r/issues/(\d+)/comments", path):
            number = int(m.group(1))
            if method == "POST":
                comment = {"id": self.new_id(), "body": body["body"], "html_url": f"https://gh/c/{number}"}
                self.comments.setdefault(number, []).append(comment)
                return 201, comment, {}
            page, per_page = int(query["page"][0]), int(query["per_page"][0])
            listed = self.comments.get(number, [])
            return 200, listed[(page - 1) * per_page : page * per_page], {}
        if m := re.fullmatch(r"/repos/o/r/issues/comments/(\d+)", path):
            for comments in self.comments.values():
                for comment in comments:
                    if comment["id"] == int(m.group(1)):
                        comment["body"] = body["body"]
                        return 200, comment, {}
            return 404, {"message": "Not Found"}, {}
        if m := re.fullmatch(r"/repos/o/r/commits/(\w+)/pulls", path):
            return 200, self.pulls_of.get(m.group(1), []), {}
        if path == "/repos/o/r/actions/artifacts":
            named = [a for a in self.artifacts if a["name"] == query["name"][0]]
            page, per_page = int(query["page"][0]), int(query["per_page"][0])
            return 200, {"total_count": len(named), "artifacts": named[(page - 1) * per_page : page * per_page]}, {}
        if m := re.fullmatch(r"/repos/o/r/actions/artifacts/(\d+)/zip", path):
            return 302, None, {"Location": f"{base}/storage/{m.group(1)}"}
        return 404, {"message": f"no route {method} {path}"}, {}


@pytest.fixture
def github(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeGitHub]:
    fake = FakeGitHub()
    monkeypatch.setenv("GITHUB_API_URL", fake.url)
    monkeypatch.setenv("GITHUB_REPOSITORY", "o/r")
    monkeypatch.setenv("GITHUB_TOKEN", TOKEN)
    yield fake
    fake.close()


MARKDOWN = "<!-- topoctl-plan -->\n### topoctl plan\nPlan: 1 to add, 0 to change, 0 to destroy.\n"


def test_the_comment_is_created_once_then_updated_in_place(github: FakeGitHub) -> None:
    action = load_script()
    # Someone else's comments, over two pages, come first.
    github.comments[7] = [{"id": i, "body": f"looks good {i}"} for i in range(150)]
    first = action.upsert_comment(action.GitHub(), 7, MARKDOWN)
    assert [c["body"] for c in github.comments[7]][-1] == MARKDOWN
    second = action.upsert_comment(action.GitHub(), 7, MARKDOWN.replace("1 to add", "2 to add"))
    assert second["id"] == first["id"] and len(github.comments[7]) == 151
    assert github.comments[7][-1]["body"].endswith("Plan: 2 to add, 0 to change, 0 to destroy.\n")
    # A plan with another comment key gets a comment of its own.
    keyed = MARKDOWN.replace("<!-- topoctl-plan -->", "<!-- topoctl-plan:prod -->")
    assert action.upsert_comment(action.GitHub(), 7, keyed)["id"] != first["id"]
    methods = [(m, urlsplit(p).path) for m, p, _, _ in github.requests if m != "GET"]
    assert methods == [
        ("POST", "/repos/o/r/issues/7/comments"),
        ("PATCH", f"/repos/o/r/issues/comments/{first['id']}"),
        ("POST", "/repos/o/r/issues/7/comments"),
    ]
    assert all(h.get("Authorization") == f"Bearer {TOKEN}" for _, _, h, _ in github.requests)


def test_the_reviewed_plan_is_the_artifact_of_the_prs_last_push(github: FakeGitHub, tmp_path: Path) -> None:
    action = load_script()
    pull = {"number": 7, "head": {"sha": "bbb"}, "merged_at": "2026-01-02T00:00:00Z", "labels": []}
    github.add_artifact("topoctl-plan-pr7", "aaa", {"plan.json": b'{"old": true}'}, "2026-01-01T00:00:00Z")
    newest = github.add_artifact(
        "topoctl-plan-pr7", "bbb", {"plan.json": b'{"new": true}', "plan.md": b"x"}, "2026-01-01T10:00:00Z"
    )
    github.add_artifact("topoctl-plan-pr7", "bbb", {"plan.json": b'{"older": true}'}, "2026-01-01T09:00:00Z")
    path = action.reviewed_plan(action.GitHub(), pull, tmp_path)
    assert json.loads(path.read_text()) == {"new": True}
    storage = [h for _, p, h, _ in github.requests if p.startswith("/storage/")]
    assert [p for _, p, _, _ in github.requests if p.startswith("/storage/")] == [f"/storage/{newest}"]
    assert "Authorization" not in storage[0]  # the token stays with the API


def test_no_artifact_for_the_last_push_is_a_clear_error(github: FakeGitHub, tmp_path: Path) -> None:
    action = load_script()
    github.add_artifact("topoctl-plan-pr7", "aaa", {"plan.json": b"{}"}, "2026-01-01T00:00:00Z")
    pull = {"number": 7, "head": {"sha": "bbbbbbbbbbbbbbbb"}, "labels": []}
    with pytest.raises(action.Failure, match=r"no saved plan 'topoctl-plan-pr7' for the last push of pull request #7"):
        action.reviewed_plan(action.GitHub(), pull, tmp_path)


def test_a_failing_api_call_is_one_message_without_the_token(github: FakeGitHub) -> None:
    action = load_script()
    with pytest.raises(action.Failure) as failure:
        action.GitHub().json("GET", "/nothing/here")
    assert "HTTP 404" in str(failure.value) and TOKEN not in str(failure.value)


@pytest.mark.parametrize(
    ("setting", "labels", "allowed"),
    [
        ("label", [], False),
        ("label", ["allow-destructive"], True),
        ("true", [], True),
        ("false", ["allow-destructive"], False),
    ],
)
def test_destructive_gate(monkeypatch: pytest.MonkeyPatch, setting: str, labels: list[str], allowed: bool) -> None:
    action = load_script()
    monkeypatch.setenv("INPUT_ALLOW_DESTRUCTIVE", setting)
    assert action.destructive_allowed(labels) is allowed


def test_action_yml_passes_every_input_to_the_script() -> None:
    spec = yaml.safe_load((ROOT / "action.yml").read_text(encoding="utf-8"))
    assert spec["runs"]["using"] == "composite"
    steps = spec["runs"]["steps"]
    run_step = next(s for s in steps if s.get("id") == "topoctl")
    passed = set(run_step["env"])
    for name in spec["inputs"]:
        if name in ("version", "python-version", "github-token"):
            continue  # used by the install step and as GITHUB_TOKEN
        assert f"INPUT_{name.upper().replace('-', '_')}" in passed, name
    script = SCRIPT.read_text(encoding="utf-8")
    for variable in passed - {"GITHUB_TOKEN"}:
        assert f'"{variable}"' in script, f"{variable} is passed but the script never reads it"
    assert ".github/topoctl-action/action.py" in run_step["run"]
    # Every output the action declares is one the script writes.
    for name, out in spec["outputs"].items():
        assert out["value"] == f"${{{{ steps.topoctl.outputs.{name} }}}}"
        assert re.search(rf"\b{re.escape(name)}\b", script), name
    uploads = [s for s in steps if str(s.get("uses", "")).startswith("actions/upload-artifact@")]
    assert uploads and "steps.topoctl.outputs.artifact" in uploads[0]["with"]["name"]


def test_the_example_workflow_uses_the_action() -> None:
    workflow = yaml.safe_load((ROOT / "examples" / "ci" / "github-actions.yml").read_text(encoding="utf-8"))
    uses = [
        step
        for job in workflow["jobs"].values()
        for step in job["steps"]
        if str(step.get("uses", "")).startswith("topoctl/topoctl@") or step.get("uses") == "./"
    ]
    commands = sorted(step["with"]["command"] for step in uses)
    assert commands == ["apply", "plan"]
