"""Answers for the test seam of topoctl/providers/jsonhttp.py (`transport=`): what an in-memory
broker returns, written as tests write it."""

from __future__ import annotations

import json as jsonlib
from collections.abc import Callable
from typing import Any

from topoctl.providers.jsonhttp import Request, Response

Handler = Callable[[Request], Response]


def reply(status: int, json: Any = None, *, text: str | None = None) -> Response:
    """An answer with `json` (encoded compactly, as a JSON API sends it) or `text`, or no body."""
    if text is not None:
        return Response(status, text.encode(), {"content-type": "text/plain; charset=utf-8"})
    if json is None:
        return Response(status)
    body = jsonlib.dumps(json, ensure_ascii=False, separators=(",", ":")).encode()
    return Response(status, body, {"content-type": "application/json"})
