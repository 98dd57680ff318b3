"""Record every response an emulator serves in a test, so its body can be checked against the service's
official description afterwards (``google/discovery.py``, ``graph/models.py``).

Public API: :class:`Served`, :class:`Capture`.
"""

from __future__ import annotations

import gzip
import json
import threading
from collections.abc import Callable
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Served:
    """One response: the request's method and path, the status, the content type and the (unzipped) body."""

    method: str
    path: str
    status: int
    content_type: str
    body: bytes

    def json(self) -> Any:
        """The body as JSON, or None when it is not a JSON body."""
        if not self.body or "json" not in self.content_type:
            return None
        return json.loads(self.body)

    def __str__(self) -> str:
        return f"{self.method} {self.path} -> {self.status}"


class Capture:
    """Wraps a WSGI app; keeps every response it serves in :attr:`served` (thread-safe)."""

    def __init__(self) -> None:
        self.served: list[Served] = []
        self._lock = threading.Lock()

    def clear(self) -> None:
        with self._lock:
            self.served.clear()

    def call(
        self, app: Callable[..., Iterable[bytes]], environ: dict[str, Any], start_response: Callable[..., Any]
    ) -> Iterable[bytes]:
        """Serve ``environ`` through ``app`` and record the response."""
        seen: dict[str, Any] = {}

        def recording_start_response(status: str, headers: list[tuple[str, str]], *exc: Any) -> Any:
            seen["status"], seen["headers"] = status, headers
            return start_response(status, headers, *exc)

        result = app(environ, recording_start_response)
        try:
            chunks = list(result)
        finally:
            close = getattr(result, "close", None)
            if close is not None:
                close()
        headers = {k.lower(): v for k, v in seen.get("headers", [])}
        body = b"".join(chunks)
        if headers.get("content-encoding") == "gzip":
            body = gzip.decompress(body)
        served = Served(
            environ["REQUEST_METHOD"],
            environ.get("PATH_INFO", ""),
            int(seen["status"].split()[0]),
            headers.get("content-type", ""),
            body,
        )
        with self._lock:
            self.served.append(served)
        return chunks
