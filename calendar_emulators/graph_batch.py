"""JSON batching (``POST /v1.0/$batch``) for the Graph emulator.

Public API: :func:`run_batch`.

At most 20 requests with case-insensitively unique ids; ``url`` is relative to ``/v1.0``; a request
with a ``body`` needs ``headers`` with ``Content-Type``. A malformed batch is answered 400 as a whole;
otherwise the answer is 200 with one entry per request (status, headers, body) in no particular order.
Requests run one after the other in ``dependsOn`` order; one whose dependency failed gets 424. Each
inner request is authenticated and throttled on its own, with the outer request's ``Authorization``.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from typing import Any

from werkzeug.test import EnvironBuilder
from werkzeug.wrappers import Request
from werkzeug.wrappers import Response

from .graph_common import GraphError
from .graph_common import graph_json

__all__ = ["run_batch"]

MAX_REQUESTS = 20
Execute = Callable[[dict[str, Any]], Response]


def _bad(message: str) -> GraphError:
    return GraphError(400, "BadRequest", message)


def _validate(payload: Any) -> list[dict[str, Any]]:
    items = payload.get("requests") if isinstance(payload, dict) else None
    if not isinstance(items, list) or not items:
        raise _bad("Invalid batch payload format.")
    if len(items) > MAX_REQUESTS:
        raise _bad(f"Number of requests in the batch exceeds the limit of {MAX_REQUESTS}.")
    seen: set[str] = set()
    for item in items:
        if not isinstance(item, dict) or not all(isinstance(item.get(k), str) for k in ("id", "method", "url")):
            raise _bad("Each request in a batch needs an id, a method and a url.")
        if item["id"].lower() in seen:
            raise _bad(f"Request id '{item['id']}' is not unique in the batch.")
        seen.add(item["id"].lower())
        if "://" in item["url"]:
            raise _bad("The url of a request in a batch must be relative to the version root.")
        headers = {k.lower() for k in (item.get("headers") or {})}
        if item.get("body") is not None and "content-type" not in headers:
            raise _bad("The Content-Type header is required for a request with a body.")
    ids = {i["id"].lower() for i in items}
    for item in items:
        for dep in item.get("dependsOn") or []:
            if str(dep).lower() not in ids:
                raise _bad(f"The dependsOn id '{dep}' is not in the batch.")
    return items


def _order(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    done: set[str] = set()
    ordered: list[dict[str, Any]] = []
    pending = list(items)
    while pending:
        ready = [i for i in pending if all(str(d).lower() in done for d in i.get("dependsOn") or [])]
        if not ready:
            raise _bad("The dependsOn chain of the batch has a cycle.")
        for item in ready:
            ordered.append(item)
            done.add(item["id"].lower())
            pending.remove(item)
    return ordered


def _environ(outer: Request, item: dict[str, Any]) -> dict[str, Any]:
    headers = dict(item.get("headers") or {})
    if outer.headers.get("Authorization"):
        headers.setdefault("Authorization", outer.headers["Authorization"])
    body = item.get("body")
    data = None if body is None else (body if isinstance(body, str) else json.dumps(body))
    path, _, query = ("/v1.0/" + item["url"].lstrip("/")).partition("?")
    builder = EnvironBuilder(
        path=path,
        query_string=query,
        method=item["method"].upper(),
        headers=headers,
        data=data,
        base_url=outer.host_url,
    )
    try:
        return builder.get_environ()
    finally:
        builder.close()


def _entry(item_id: str, response: Response) -> dict[str, Any]:
    headers = {k: v for k, v in response.headers.items() if k.lower() in ("content-type", "retry-after", "location")}
    raw = response.get_data()
    body = json.loads(raw) if raw and "json" in response.headers.get("Content-Type", "") else None
    return {"id": item_id, "status": response.status_code, "headers": headers, "body": body}


def run_batch(request: Request, execute: Execute, rng: random.Random) -> Response:
    """Answer a ``$batch`` request; ``execute(environ)`` runs one inner request."""
    try:
        payload = json.loads(request.get_data() or b"null")
    except ValueError:
        payload = None
    ordered = _order(_validate(payload))
    status: dict[str, int] = {}
    responses = []
    for item in ordered:
        failed = [d for d in item.get("dependsOn") or [] if status.get(str(d).lower(), 0) >= 400]
        if failed:
            body = {"error": {"code": "FailedDependency", "message": "Request failed as the dependent request failed."}}
            entry = {"id": item["id"], "status": 424, "headers": {"Content-Type": "application/json"}, "body": body}
        else:
            entry = _entry(item["id"], execute(_environ(request, item)))
        status[item["id"].lower()] = entry["status"]
        responses.append(entry)
    rng.shuffle(responses)
    return graph_json({"responses": responses})
