"""Calendar discovery: the principal's calendar home set, as the admin form offers it.

Public API: :func:`discover`.

Called from the plugin's choices job (``calendar.choices``), which caches the answer for the form:
the form itself never waits on the server.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from ireserve_calendar_plugin.errors import PermanentError
from ireserve_calendar_plugin.providers.caldav.dav import CALDAV
from ireserve_calendar_plugin.providers.caldav.dav import DAV
from ireserve_calendar_plugin.providers.caldav.dav import PROVIDER
from ireserve_calendar_plugin.providers.caldav.dav import DavClient

__all__ = ["discover"]


def _href(found: dict[str, Any], namespace: str, name: str) -> str:
    element = found.get(f"{{{namespace}}}{name}")
    if element is None:
        return ""
    href = element.find(f"{{{DAV}}}href")
    text = (href.text or "").strip() if href is not None else ""
    return urlsplit(text).path if "://" in text else text


def discover(dav: DavClient, server_path: str) -> list[dict[str, Any]]:
    """The account's event calendars: ``{"path", "name", "writable"}`` each (three PROPFINDs)."""
    principal = ""
    for _, found in dav.propfind(server_path, "<D:current-user-principal/>"):
        principal = principal or _href(found, DAV, "current-user-principal")
    if not principal:
        raise PermanentError(
            "caldav: the server names no principal for this account; check the server URL",
            provider=PROVIDER,
            reason="no-principal",
        )
    home = ""
    for _, found in dav.propfind(principal, "<C:calendar-home-set/>"):
        home = home or _href(found, CALDAV, "calendar-home-set")
    if not home:
        raise PermanentError("caldav: the account has no calendar home", provider=PROVIDER, reason="no-home")
    props = "<D:resourcetype/><D:displayname/><C:supported-calendar-component-set/><D:current-user-privilege-set/>"
    calendars = []
    for href, found in dav.propfind(home, props, depth="1"):
        kinds = found.get(f"{{{DAV}}}resourcetype")
        if kinds is None or kinds.find(f"{{{CALDAV}}}calendar") is None:
            continue
        components = found.get(f"{{{CALDAV}}}supported-calendar-component-set")
        if components is not None and len(components) and not any(c.get("name") == "VEVENT" for c in components):
            continue
        privileges = found.get(f"{{{DAV}}}current-user-privilege-set")
        text = "" if privileges is None else "".join(e.tag for e in privileges.iter())
        writable = privileges is None or any(w in text for w in ("}write", "}all", "}write-content"))
        path = urlsplit(href).path if "://" in href else href
        name = found.get(f"{{{DAV}}}displayname")
        calendars.append(
            {
                "path": path if path.endswith("/") else path + "/",
                "name": (name.text or "").strip() if name is not None else "",
                "writable": writable,
            }
        )
    return calendars
