"""The reference host's door: which Host names it answers for, and where state-changing requests may come from.

Public API: :class:`DoorGuard` (a WSGI middleware), :class:`DoorRefusal`, :func:`default_host_names`,
:func:`host_names_from_env`, :data:`LOOPBACK_NAMES`, :data:`ALLOWED_HOSTS_ENV`.

DNS rebinding turns an attacker's page into a same-origin client of a server on loopback: the browser
resolves ``attacker.example`` to 127.0.0.1 and sends ``Host: attacker.example``. The guard answers
only for the host names it was configured with (loopback names, the host of the public URL, and any
the operator adds); any other ``Host`` gets 400 and the application never runs.

A request target longer than :data:`MAX_URI` gets 414 first.

Every state-changing request (``POST``, ``PUT``, ``PATCH``, ``DELETE``) that carries an ``Origin``
(or, without one, a ``Referer``) must come from the request's own origin or the public URL's origin;
anything else (another site, ``Origin: null``, a malformed value) gets 403 and the application never
runs. A request with neither header is not a browser's cross-site request (browsers send ``Origin``
on every cross-origin POST), so it passes to the application, whose CSRF token still applies.
Providers' push webhooks carry no ``Origin`` and reach the plugin's routes as long as they address a
configured host name (the public URL's host is one).

The guard is a separate WSGI layer so the application behind it (pages, templates, CSRF tokens) does
not change.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from collections.abc import Iterable
from enum import Enum
from typing import Any
from urllib.parse import urlsplit

__all__ = [
    "ALLOWED_HOSTS_ENV",
    "LOOPBACK_NAMES",
    "DoorGuard",
    "DoorRefusal",
    "default_host_names",
    "host_names_from_env",
]

log = logging.getLogger(__name__)

#: The names a loopback-only host answers for by default.
LOOPBACK_NAMES: frozenset[str] = frozenset({"127.0.0.1", "localhost", "[::1]"})

#: Extra host names, comma-separated, beside ``--allowed-host``.
ALLOWED_HOSTS_ENV = "IRESERVE_DEVHOST_ALLOWED_HOSTS"

#: The longest request target (path and query) served; longer gets 414 before anything else runs.
MAX_URI = 8 << 10

_UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_WILDCARD_BINDS = frozenset({"", "0.0.0.0", "::", "[::]"})


class DoorRefusal(Enum):
    """Why the guard turned a request away (logged, never echoed with the attacker's text)."""

    URI_TOO_LONG = "the request target is too long"
    NO_HOST = "no Host header"
    UNKNOWN_HOST = "Host is not one of the configured host names"
    FOREIGN_ORIGIN = "Origin is not this host's"
    FOREIGN_REFERER = "Referer is not this host's"


def normalise_host(value: str) -> str | None:
    """The host name of a ``Host`` header or URL netloc, lower-cased, without port; None if malformed."""
    value = value.strip().lower()
    if not value or any(c in value for c in "/\\@ \t?#"):
        return None
    if value.startswith("["):
        end = value.find("]")
        rest = value[end + 1 :] if end > 0 else "?"
        if rest and not rest.startswith(":"):
            return None
        name, port = value[: end + 1], rest[1:]
    else:
        name, _, port = value.partition(":")
    if port and not port.isdigit():
        return None
    return name.rstrip(".") or None


def default_host_names(
    public_url: str | None = None, bind: str | None = None, extra: Iterable[str] = ()
) -> frozenset[str]:
    """Loopback names, the public URL's host, a specific bind address, and ``extra`` (normalised)."""
    names = set(LOOPBACK_NAMES)
    if public_url:
        host = normalise_host(urlsplit(public_url).netloc)
        if host:
            names.add(host)
    if bind and bind not in _WILDCARD_BINDS:
        host = normalise_host(f"[{bind}]" if ":" in bind and not bind.startswith("[") else bind)
        if host:
            names.add(host)
    for name in extra:
        host = normalise_host(name)
        if host is None:
            raise ValueError(f"not a host name: {name!r}")
        names.add(host)
    return frozenset(names)


def host_names_from_env(environ: dict[str, str] | None = None) -> list[str]:
    """The extra host names in :data:`ALLOWED_HOSTS_ENV` (empty when unset)."""
    text = (environ if environ is not None else os.environ).get(ALLOWED_HOSTS_ENV, "")
    return [part.strip() for part in text.split(",") if part.strip()]


def _origin_of(url: str) -> str | None:
    """``scheme://host[:port]`` of a URL, lower-cased, or None when it has none."""
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not parts.netloc or "@" in parts.netloc:
        return None
    host = normalise_host(parts.netloc)
    if host is None:
        return None
    try:
        port = parts.port
    except ValueError:
        return None
    default = 80 if parts.scheme == "http" else 443
    return f"{parts.scheme}://{host}" + (f":{port}" if port and port != default else "")


_STATUS = {
    DoorRefusal.URI_TOO_LONG: "414 URI Too Long",
    DoorRefusal.NO_HOST: "400 Bad Request",
    DoorRefusal.UNKNOWN_HOST: "400 Bad Request",
    DoorRefusal.FOREIGN_ORIGIN: "403 Forbidden",
    DoorRefusal.FOREIGN_REFERER: "403 Forbidden",
}


class DoorGuard:
    """WSGI middleware: refuse unknown Host names (400) and cross-origin state changes (403).

    :param app: the application behind the door.
    :param host_names: names always allowed (normalised, see :func:`default_host_names`).
    :param public_url: returns the current public base URL; its host is allowed and its origin trusted.
    """

    def __init__(
        self,
        app: Callable[..., Iterable[bytes]],
        host_names: Iterable[str] = LOOPBACK_NAMES,
        *,
        public_url: Callable[[], str | None] = lambda: None,
    ) -> None:
        self.app = app
        self.host_names = frozenset(host_names)
        self._public_url = public_url

    def allowed_names(self) -> frozenset[str]:
        """The configured names plus the public URL's host (which may change while serving)."""
        return default_host_names(self._public_url(), extra=()) | self.host_names

    def check(self, environ: dict[str, Any]) -> DoorRefusal | None:
        """Why this request may not pass, or None."""
        target = environ.get("RAW_URI") or f"{environ.get('PATH_INFO', '')}?{environ.get('QUERY_STRING', '')}"
        if len(target) > MAX_URI:
            return DoorRefusal.URI_TOO_LONG
        raw_host = environ.get("HTTP_HOST")
        if not raw_host:
            return DoorRefusal.NO_HOST
        name = normalise_host(raw_host)
        if name is None or name not in self.allowed_names():
            return DoorRefusal.UNKNOWN_HOST
        if environ.get("REQUEST_METHOD", "GET").upper() not in _UNSAFE_METHODS:
            return None
        trusted = {_origin_of(f"{environ.get('wsgi.url_scheme', 'http')}://{raw_host}")}
        public = self._public_url()
        if public:
            trusted.add(_origin_of(public))
        trusted.discard(None)
        origin = environ.get("HTTP_ORIGIN")
        if origin is not None:
            return None if _origin_of(origin) in trusted else DoorRefusal.FOREIGN_ORIGIN
        referer = environ.get("HTTP_REFERER")
        if referer is not None:
            return None if _origin_of(referer) in trusted else DoorRefusal.FOREIGN_REFERER
        return None

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        refusal = self.check(environ)
        if refusal is None:
            return self.app(environ, start_response)
        path = str(environ.get("PATH_INFO", ""))
        method = str(environ.get("REQUEST_METHOD", ""))
        log.warning("refused %s %s: %s", method, path, refusal.value)
        status = _STATUS[refusal]
        body = f"{status}: {refusal.value}\n".encode()
        start_response(status, [("Content-Type", "text/plain; charset=utf-8"), ("Content-Length", str(len(body)))])
        return [body]
