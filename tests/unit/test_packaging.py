"""Packaging: the runtime dependencies are exactly what the package imports, and `python -m build`
makes a wheel that carries the schemas and, installed in a fresh virtual environment (what `pipx
install` does), runs `topoctl --version` and `topoctl validate`."""

from __future__ import annotations

import ast
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import tomllib

ROOT = Path(__file__).resolve().parents[2]
# Distribution name -> the top-level module(s) it provides.
MODULES = {
    "typer": {"typer"},
    "rich": {"rich"},
    "pyyaml": {"yaml"},
    "jsonschema": {"jsonschema"},
    "jsonschema-rs": {"jsonschema_rs"},
    "urllib3": {"urllib3"},
    "nats-py": {"nats"},
    "pika": {"pika"},
    "confluent-kafka": {"confluent_kafka"},
    "kafka-python": {"kafka"},
    "boto3": {"boto3"},
    "redis": {"redis"},
    "pcre2": {"pcre2"},
    "azure-servicebus": {"azure"},
    "azure-identity": {"azure"},
}
# Modules that come with a declared dependency: botocore with boto3, click with (older) typer.
TRANSITIVE = {"botocore", "click"}


def _declared() -> set[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    return {re.split(r"[\[<>=!~; ]", dep, maxsplit=1)[0].lower() for dep in project["dependencies"]}


def _imports() -> tuple[set[str], set[str]]:
    """(every third-party top-level module topoctl imports, those imported without an ImportError
    fallback)."""
    every: set[str] = set()
    required: set[str] = set()
    for path in (ROOT / "topoctl").rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        optional: set[int] = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.Try) and any(
                isinstance(h.type, ast.Name) and h.type.id in ("ImportError", "ModuleNotFoundError")
                for h in node.handlers
            ):
                optional |= {id(n) for stmt in node.body for n in ast.walk(stmt)}
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            for name in names:
                top = name.split(".")[0]
                if top == "topoctl" or top in sys.stdlib_module_names:
                    continue
                every.add(top)
                if id(node) not in optional:
                    required.add(top)
    return every, required


def test_runtime_dependencies_are_what_the_package_imports() -> None:
    declared = _declared()
    unknown = declared - MODULES.keys()
    assert not unknown, f"add these to MODULES: {unknown}"
    every, required = _imports()
    unused = sorted(d for d in declared if not MODULES[d] & every)
    assert unused == [], f"runtime dependencies that topoctl never imports (move them to dev): {unused}"
    provided = set().union(*(MODULES[d] for d in declared)) | TRANSITIVE
    undeclared = sorted(required - provided)
    assert undeclared == [], f"imported by topoctl but not a runtime dependency: {undeclared}"
    assert "pika" not in declared and "httpx" not in declared  # used by the tests only


def test_the_check_would_see_an_unused_or_missing_dependency() -> None:
    every, required = _imports()
    assert {"typer", "yaml", "rich", "urllib3"} <= required
    assert "pika" not in every and "pytest" not in every and "httpx" not in every


def test_the_wheel_carries_the_schemas_and_runs_from_a_fresh_venv(tmp_path: Path) -> None:
    source = tmp_path / "src"
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    shutil.copytree(ROOT / "topoctl", source / "topoctl", ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    dist = tmp_path / "dist"
    built = subprocess.run(
        [sys.executable, "-m", "build", "--outdir", str(dist), str(source)],
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert built.returncode == 0, built.stdout[-3000:] + built.stderr[-3000:]
    assert "deprecated" not in built.stdout + built.stderr
    (wheel,) = dist.glob("topoctl-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    schemas = {f"topoctl/schemas/{p.name}" for p in (ROOT / "topoctl" / "schemas").glob("*.json")}
    assert "topoctl/schemas/manifest.schema.json" in schemas and "topoctl/schemas/plan.schema.json" in schemas
    assert schemas <= names, sorted(schemas - names)
    assert "topoctl/py.typed" in names
    entry_points = zipfile.ZipFile(wheel).read(next(n for n in names if n.endswith("entry_points.txt"))).decode()
    assert "topoctl = topoctl.cli:main" in entry_points

    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    installed = subprocess.run(
        [str(venv / "bin" / "pip"), "install", "--quiet", "--disable-pip-version-check", str(wheel)],
        capture_output=True,
        text=True,
        timeout=280,
    )
    assert installed.returncode == 0, installed.stderr[-3000:]
    elsewhere = tmp_path / "elsewhere"  # not the repository: only what the wheel installed is there
    elsewhere.mkdir()
    shutil.copytree(ROOT / "examples", elsewhere / "examples")
    topoctl = str(venv / "bin" / "topoctl")
    version = subprocess.run([topoctl, "--version"], cwd=elsewhere, capture_output=True, text=True, timeout=60)
    assert version.returncode == 0 and version.stdout == "topoctl 0.1.0\n", version.stderr
    validated = subprocess.run(
        [topoctl, "validate", "-f", "examples/"], cwd=elsewhere, capture_output=True, text=True, timeout=120
    )
    assert validated.returncode == 0, validated.stderr
    assert validated.stderr.startswith("The manifest is valid:")
    where = subprocess.run(
        [str(venv / "bin" / "python"), "-c", "import topoctl.manifest.schema as s; print(s.SCHEMA_DIR)"],
        cwd=elsewhere,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert where.stdout.startswith(str(venv)), where.stdout
    pip_list = subprocess.run(
        [str(venv / "bin" / "pip"), "list", "--format", "freeze"], capture_output=True, text=True, timeout=60
    ).stdout.lower()
    assert "pika==" not in pip_list and "pytest==" not in pip_list
