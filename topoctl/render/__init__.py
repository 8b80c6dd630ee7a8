"""Plan renderers: pure functions of a Plan."""

from __future__ import annotations

import json

from topoctl.model import Plan
from topoctl.render.text import render_text

FORMATS = ("text", "json", "markdown")


def render_json(plan: Plan) -> str:
    return json.dumps(plan.to_json(), indent=2, sort_keys=False, default=str) + "\n"


def render(plan: Plan, fmt: str, key: str | None = None) -> str:
    """`key` tells apart the Markdown comments of several plans in one pull request."""
    if fmt == "json":
        return render_json(plan)
    if fmt == "markdown":
        from topoctl.render.markdown import render_markdown

        return render_markdown(plan, key=key)
    return render_text(plan)
