"""The WebDAV/CalDAV wire: request bodies, multistatus parsing and the one error mapping.

Public API: :class:`DavClient`, :class:`Resource`, :class:`SyncResult`, :func:`raise_for_status`,
:data:`PROVIDER`.

Everything goes through the shared :class:`~ireserve_calendar_plugin.providers.http.ApiClient`
(timeouts, retries with backoff, ``Retry-After``, no redirects, host pinning to the configured
server), with HTTP Basic credentials added per request. Only the standard library parses XML
(ElementTree: no external entities are fetched, and expat refuses entity expansion bombs).
"""

from __future__ import annotations

import base64
import xml.etree.ElementTree as ET
from collections.abc import Iterable
from dataclasses import dataclass
from dataclasses import field
from datetime import UTC
from datetime import datetime
from urllib.parse import quote
from urllib.parse import unquote
from urllib.parse import urlsplit

import requests

from ireserve_calendar_plugin.errors import AuthExpiredError
from ireserve_calendar_plugin.errors import PermanentError
from ireserve_calendar_plugin.errors import PreconditionFailedError
from ireserve_calendar_plugin.errors import SyncTokenInvalidError
from ireserve_calendar_plugin.errors import TransientError
from ireserve_calendar_plugin.providers.http import ApiClient
from ireserve_calendar_plugin.providers.http import error_from

__all__ = ["PROVIDER", "DavClient", "Resource", "SyncResult", "raise_for_status"]

PROVIDER = "caldav"
DAV = "DAV:"
CALDAV = "urn:ietf:params:xml:ns:caldav"
CS = "http://calendarserver.org/ns/"
_NS = f'xmlns:D="{DAV}" xmlns:C="{CALDAV}" xmlns:CS="{CS}"'
XML_HEADERS = {"Content-Type": "application/xml; charset=utf-8"}
#: The most hrefs one calendar-multiget asks for.
MULTIGET_BATCH = 200


def _q(namespace: str, name: str) -> str:
    return f"{{{namespace}}}{name}"


def _excerpt(response: requests.Response) -> str:
    return " ".join(response.text[:300].split()) if response.content else ""


def raise_for_status(response: requests.Response) -> None:
    """Map a CalDAV server's answer to our error types (the one place that does)."""
    status = response.status_code
    if status < 300:
        return
    body = response.text[:4000] if response.content else ""
    if 300 <= status < 400:
        raise PermanentError(
            f"caldav: the server redirected (HTTP {status}) instead of answering; put the final address in the "
            "integration's server URL (credentials are never sent after a redirect)",
            provider=PROVIDER,
            status=status,
            reason="redirect",
        )
    if status == 401:
        raise AuthExpiredError(
            "caldav: the server refused the username or app password (HTTP 401). Enter the correct username "
            "and a valid app password on the integration's settings page.",
            provider=PROVIDER,
            status=status,
            reason="password",
        )
    if status in (403, 409) and "valid-sync-token" in body:
        raise SyncTokenInvalidError(
            "caldav: the sync token is no longer valid", provider=PROVIDER, status=status, reason="valid-sync-token"
        )
    if status == 412:
        raise PreconditionFailedError(
            "caldav: the resource changed since it was read (HTTP 412)",
            provider=PROVIDER,
            status=status,
            reason="precondition",
        )
    if status == 429 or status == 503:
        raise error_from(PROVIDER, response, f"caldav: server busy (HTTP {status})", "busy", retryable=TransientError)
    if status >= 500 and status not in (501, 505):
        raise error_from(
            PROVIDER, response, f"caldav: server error (HTTP {status})", "server", retryable=TransientError
        )
    raise PermanentError(
        f"caldav: HTTP {status} {_excerpt(response)}"[:300],
        provider=PROVIDER,
        status=status,
        reason="forbidden" if status == 403 else "",
    )


@dataclass(frozen=True)
class Resource:
    """One member of a calendar collection: its name (last path segment), etag and data (may be empty)."""

    name: str
    etag: str = ""
    data: str = ""
    gone: bool = False


@dataclass
class SyncResult:
    """One sync-collection answer: the members it reports, the new token, and whether it was truncated."""

    resources: list[Resource] = field(default_factory=list)
    token: str = ""
    truncated: bool = False


def normal_etag(value: str | None) -> str:
    """ETags compared as the server sent them, minus a weak prefix (PUT headers and getetag agree then)."""
    text = (value or "").strip()
    return text[2:] if text.startswith("W/") else text


class DavClient:
    """Requests to one CalDAV server (its origin), authenticated with HTTP Basic."""

    def __init__(self, api: ApiClient, origin: str, username: str, password: str) -> None:
        self.api = api
        self.origin = origin.rstrip("/")
        raw = f"{username}:{password}".encode()
        self._auth = {"Authorization": "Basic " + base64.b64encode(raw).decode("ascii")}

    def url(self, path: str) -> str:
        return self.origin + path

    def request(
        self, method: str, path_or_url: str, *, body: bytes | None = None, headers: dict[str, str] | None = None
    ) -> requests.Response:
        url = path_or_url if "://" in path_or_url else self.url(path_or_url)
        return self.api.request(method, url, data=body, headers={**self._auth, **(headers or {})}, auth=False)

    # -- collections --------------------------------------------------------------------------------
    def propfind(self, path: str, props: str, depth: str = "0") -> list[tuple[str, dict[str, ET.Element]]]:
        """``(href, {qualified prop name: element})`` per response, for the props found (200)."""
        body = f'<?xml version="1.0" encoding="utf-8"?><D:propfind {_NS}><D:prop>{props}</D:prop></D:propfind>'
        response = self.request("PROPFIND", path, body=body.encode(), headers={**XML_HEADERS, "Depth": depth})
        return [(href, found) for href, _status, found in _responses(response.content)]

    def ctag(self, calendar_path: str) -> str:
        """The collection's change tag (``CS:getctag``, else its ``sync-token``): one request."""
        for _href, found in self.propfind(calendar_path, "<CS:getctag/><D:sync-token/>"):
            for name in (_q(CS, "getctag"), _q(DAV, "sync-token")):
                if found.get(name) is not None and (found[name].text or "").strip():
                    return (found[name].text or "").strip()
        return ""

    def sync_collection(self, calendar_path: str, token: str) -> SyncResult:
        """RFC 6578 ``sync-collection`` with etags and calendar data: one request for all changes."""
        body = (
            f'<?xml version="1.0" encoding="utf-8"?><D:sync-collection {_NS}>'
            f"<D:sync-token>{_xml_text(token)}</D:sync-token><D:sync-level>1</D:sync-level>"
            "<D:prop><D:getetag/><C:calendar-data/></D:prop></D:sync-collection>"
        )
        response = self.request("REPORT", calendar_path, body=body.encode(), headers={**XML_HEADERS, "Depth": "1"})
        root = _parse(response.content)
        result = SyncResult(token=(root.findtext(_q(DAV, "sync-token")) or "").strip())
        for href, status, found in _responses(response.content, root):
            if _same_collection(href, calendar_path):
                result.truncated = result.truncated or status == 507
                continue
            name = member_name(href, calendar_path)
            if name is None:
                continue
            if status == 404:
                result.resources.append(Resource(name, gone=True))
            else:
                result.resources.append(_resource(name, found))
        return result

    def calendar_query(self, calendar_path: str, start: datetime, end: datetime, *, data: bool) -> list[Resource]:
        """The events overlapping ``[start, end)`` (server-side time-range, recurrences included)."""
        wanted = "<D:getetag/>" + ("<C:calendar-data/>" if data else "")
        body = (
            f'<?xml version="1.0" encoding="utf-8"?><C:calendar-query {_NS}><D:prop>{wanted}</D:prop>'
            '<C:filter><C:comp-filter name="VCALENDAR"><C:comp-filter name="VEVENT">'
            f'<C:time-range start="{_utc(start)}" end="{_utc(end)}"/>'
            "</C:comp-filter></C:comp-filter></C:filter></C:calendar-query>"
        )
        response = self.request("REPORT", calendar_path, body=body.encode(), headers={**XML_HEADERS, "Depth": "1"})
        return self._members(response, calendar_path)

    def multiget(self, calendar_path: str, names: Iterable[str]) -> list[Resource]:
        """The named members with etag and data, in batches of :data:`MULTIGET_BATCH`."""
        names = list(names)
        out: list[Resource] = []
        for at in range(0, len(names), MULTIGET_BATCH):
            hrefs = "".join(
                f"<D:href>{_xml_text(calendar_path + quote(n))}</D:href>" for n in names[at : at + MULTIGET_BATCH]
            )
            body = (
                f'<?xml version="1.0" encoding="utf-8"?><C:calendar-multiget {_NS}>'
                f"<D:prop><D:getetag/><C:calendar-data/></D:prop>{hrefs}</C:calendar-multiget>"
            )
            response = self.request("REPORT", calendar_path, body=body.encode(), headers={**XML_HEADERS, "Depth": "1"})
            out.extend(self._members(response, calendar_path))
        return out

    def _members(self, response: requests.Response, calendar_path: str) -> list[Resource]:
        out = []
        for href, status, found in _responses(response.content):
            name = member_name(href, calendar_path)
            if name is None or _same_collection(href, calendar_path):
                continue
            out.append(Resource(name, gone=True) if status == 404 else _resource(name, found))
        return out

    # -- members -----------------------------------------------------------------------------------
    def get(self, calendar_path: str, name: str) -> Resource | None:
        """One member, or None when it does not exist."""
        try:
            response = self.request("GET", calendar_path + quote(name), headers={"Accept": "text/calendar"})
        except PermanentError as exc:
            if exc.status in (404, 410):
                return None
            raise
        return Resource(name, normal_etag(response.headers.get("ETag")), response.text)

    def put(self, calendar_path: str, name: str, ics: bytes, *, if_match: str = "", create: bool = False) -> str:
        """Write a member (``create``: only if absent, ``If-None-Match: *``; else ``If-Match`` when given).
        Returns the new etag, or "" when the server did not send one."""
        headers = {"Content-Type": "text/calendar; charset=utf-8"}
        if create:
            headers["If-None-Match"] = "*"
        elif if_match:
            headers["If-Match"] = if_match
        response = self.request("PUT", calendar_path + quote(name), body=ics, headers=headers)
        return normal_etag(response.headers.get("ETag"))

    def delete(self, calendar_path: str, name: str, *, if_match: str = "") -> None:
        headers = {"If-Match": if_match} if if_match else {}
        self.request("DELETE", calendar_path + quote(name), headers=headers)


# --------------------------------------------------------------------------- XML helpers


def _xml_text(value: str) -> str:
    return value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _utc(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def _parse(content: bytes) -> ET.Element:
    if b"<!DOCTYPE" in content[:2000] or b"<!ENTITY" in content[:4000]:
        raise PermanentError("caldav: the server's XML declares entities; refused", provider=PROVIDER, reason="xml")
    try:
        return ET.fromstring(content)
    except ET.ParseError:
        raise TransientError("caldav: the server sent malformed XML", provider=PROVIDER, reason="xml") from None


def _status_code(text: str | None) -> int:
    parts = (text or "").split()
    return int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else 0


def _responses(content: bytes, root: ET.Element | None = None) -> list[tuple[str, int, dict[str, ET.Element]]]:
    """``(href, status, props found with 200)`` for every ``response`` of a multistatus."""
    root = _parse(content) if root is None else root
    out = []
    for response in root.findall(_q(DAV, "response")):
        href = unquote((response.findtext(_q(DAV, "href")) or "").strip())
        status = _status_code(response.findtext(_q(DAV, "status")))
        found: dict[str, ET.Element] = {}
        for propstat in response.findall(_q(DAV, "propstat")):
            code = _status_code(propstat.findtext(_q(DAV, "status")))
            if code and code != 200:
                continue
            prop = propstat.find(_q(DAV, "prop"))
            for element in prop if prop is not None else ():
                found[element.tag] = element
            status = status or code
        out.append((href, status or 200, found))
    return out


def _resource(name: str, found: dict[str, ET.Element]) -> Resource:
    etag = found.get(_q(DAV, "getetag"))
    data = found.get(_q(CALDAV, "calendar-data"))
    return Resource(
        name, normal_etag(etag.text if etag is not None else ""), (data.text or "") if data is not None else ""
    )


def _path_of(href: str) -> str:
    return urlsplit(href).path if "://" in href else href


def _same_collection(href: str, calendar_path: str) -> bool:
    return _path_of(href).rstrip("/") == unquote(calendar_path).rstrip("/")


def member_name(href: str, calendar_path: str) -> str | None:
    """The member's name when ``href`` is a direct member of the collection, else None."""
    path = _path_of(href)
    base = unquote(calendar_path)
    if not path.startswith(base):
        return None
    rest = path[len(base) :]
    if not rest or "/" in rest.rstrip("/") or rest.endswith("/"):
        return None
    return rest
