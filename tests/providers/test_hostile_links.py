"""Paging and delta links cannot move a token-carrying request to another path (issue 12).

Graph's ``@odata.nextLink`` / ``@odata.deltaLink`` are URLs the plugin follows with the access token.
Each hostile link below points at the configured Graph host (a real loopback server that records what
reaches it) but at another path, disguised: wanted, :class:`UnsafeUrlError` and nothing sent. The
benign links (what Graph really sends) still go through.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from ireserve_calendar_plugin.errors import UnsafeUrlError
from ireserve_calendar_plugin.providers.google.client import GoogleClient
from ireserve_calendar_plugin.providers.google.client import api_paths as google_paths
from ireserve_calendar_plugin.providers.google.client import raise_for_status as google_status
from ireserve_calendar_plugin.providers.http import ApiClient
from ireserve_calendar_plugin.providers.http import RetryPolicy
from ireserve_calendar_plugin.providers.outlook.client import OutlookClient
from ireserve_calendar_plugin.providers.outlook.client import api_paths as graph_paths
from ireserve_calendar_plugin.providers.outlook.client import raise_for_status as graph_status
from tests.providers.loopback import serving

TOKEN = "access-token-canary"

#: ``{B}`` is the configured Graph host (the recorder).
HOSTILE_GRAPH_LINKS = [
    "{B}/v1.0/me/calendarView/delta/../../events",
    "{B}/v1.0/me/calendarView/delta/%2e%2e/%2e%2e/events",
    "{B}/v1.0/me/%2E%2E/users/victim@contoso.com/calendarView/delta",
    "{B}/v1.0/me/calendarView/%252e%252e/%252e%252e/events",
    "{B}/v1.0/me/calendarView/delta%2f..%2f..%2fevents",
    "{B}/v1.0/me/calendarView%2Fdelta",
    "{B}/v1.0/me/calendarView/delta%5c..%5c..%5cevents",
    "{B}/v1.0/users/victim%2F..%2Fme/calendarView/delta",
    "{B}/v1.0//me/calendarView/delta",
    "{B}//v1.0/me/calendarView/delta",
    "{B}/v1.0/me/calendarView/./delta",
    "{B}/v1.0/me/calendarView/delta\\..\\..\\events",
    "{B}/v1.0/me/calendarView/delta%00",
    "{B}/v1.0/me/events",
    "{B}/v1.0/me/events/AAMk%2F..%2F..%2Fmessages",
    "{B}/v1.0/me/mailFolders/inbox/messages/delta",
    "{B}/v1.0/users/not-a-mailbox/calendarView/delta",
    "{B}/beta/me/calendarView/delta",
    "{B}/v1.0/subscriptions",
    "http://user:pw@{H}/v1.0/me/calendarView/delta",
    "http://{H}@evil.example/v1.0/me/calendarView/delta",
    "https://{H}/v1.0/me/calendarView/delta",
    "http://evil.example/v1.0/me/calendarView/delta",
    "http://localhost:{P}/v1.0/me/calendarView/delta",
]

BENIGN_GRAPH_LINKS = [
    "{B}/v1.0/me/calendarView/delta?$skiptoken=R0usmcCM996atia_s",
    "{B}/v1.0/me/calendarView/delta?$deltatoken=a%2Fb..c",
    "{B}/v1.0/users/room-1@contoso.onmicrosoft.com/calendarView/delta?$deltatoken=x",
    "{B}/v1.0/users/4562bcc8-1234-4a5b-9c8d-0123456789ab/calendarView/delta?$skiptoken=y",
]

#: Google's page tokens are opaque, but its client holds the same line for every URL it builds.
HOSTILE_GOOGLE_URLS = [
    "{B}/calendar/v3/calendars/room/events/../../../users/me/settings",
    "{B}/calendar/v3/calendars/room/events/%2e%2e/%2e%2e/%2e%2e/users/me/settings",
    "{B}/calendar/v3/calendars/..%2F..%2Fusers%2Fme/events",
    "{B}/calendar/v3/users/me/settings",
    "{B}/calendar/v3/calendars/room/acl",
    "{B}/token",
]


@pytest.fixture(scope="module")
def graph() -> Iterator[Any]:
    with serving(200) as recorder:
        yield recorder


def _api(base: str, provider: str) -> ApiClient:
    google = provider == "google"
    return ApiClient(
        provider=provider,
        allowed_bases=[base + ("/calendar/v3" if google else "/v1.0")],
        allowed_paths=google_paths if google else graph_paths,
        token=lambda: TOKEN,
        invalidate_token=lambda _t: None,
        raise_for_status=google_status if google else graph_status,
        retry=RetryPolicy(attempts=1),
        timeout=5,
    )


def _fill(template: str, server: Any) -> str:
    host = server.url.split("//", 1)[1]
    return template.format(B=server.url, H=host, P=host.rsplit(":", 1)[1])


@pytest.mark.parametrize("template", HOSTILE_GRAPH_LINKS)
def test_a_hostile_paging_link_is_refused_unsent(graph: Any, template: str) -> None:
    graph.received.clear()
    client = OutlookClient(_api(graph.url, "outlook"), graph.url)
    with pytest.raises(UnsafeUrlError):
        client.delta("me", link=_fill(template, graph))
    assert graph.received == []


@pytest.mark.parametrize("template", BENIGN_GRAPH_LINKS)
def test_the_links_graph_sends_are_followed(graph: Any, template: str) -> None:
    graph.received.clear()
    client = OutlookClient(_api(graph.url, "outlook"), graph.url)
    client.delta("me", link=_fill(template, graph))
    (got,) = graph.received
    assert got.headers.get("Authorization") == f"Bearer {TOKEN}"


@pytest.mark.parametrize("template", HOSTILE_GOOGLE_URLS)
def test_a_google_url_off_the_api_paths_is_refused_unsent(graph: Any, template: str) -> None:
    graph.received.clear()
    api = _api(graph.url, "google")
    with pytest.raises(UnsafeUrlError):
        api.request("GET", _fill(template, graph))
    assert graph.received == []
    GoogleClient(api, graph.url + "/calendar/v3").list_events("room@example.com")  # its own URLs pass
    assert len(graph.received) == 1
