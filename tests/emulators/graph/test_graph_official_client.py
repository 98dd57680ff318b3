"""The emulator driven by Microsoft's own client: msgraph-sdk pointed at the emulator's base URL, with an
authentication provider that hands it the token the emulator issued.

The SDK builds its requests from Graph's OpenAPI description (``calendarView/delta()``, OData query
names, its own headers) and parses every answer into its models; the ``graph`` fixture checks each
body against those models afterwards (``models.py``). The first answer it reads costs a few seconds
of CPU once per process: the SDK's ``Entity`` imports all of Graph's ~1,200 models for its discriminator.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from datetime import UTC
from datetime import datetime
from datetime import timedelta
from typing import Any
from typing import TypeVar
from urllib.parse import urlsplit

import pytest
from kiota_abstractions.api_error import APIError
from kiota_abstractions.authentication import AccessTokenProvider
from kiota_abstractions.authentication import AllowedHostsValidator
from kiota_abstractions.authentication import BaseBearerTokenAuthenticationProvider
from kiota_abstractions.base_request_configuration import RequestConfiguration
from msgraph import GraphServiceClient
from msgraph.generated.models.body_type import BodyType
from msgraph.generated.models.date_time_time_zone import DateTimeTimeZone
from msgraph.generated.models.event import Event
from msgraph.generated.models.free_busy_status import FreeBusyStatus
from msgraph.generated.models.item_body import ItemBody
from msgraph.generated.models.o_data_errors.o_data_error import ODataError
from msgraph.generated.models.subscription import Subscription
from msgraph.generated.users.item.calendar_view.delta.delta_request_builder import DeltaRequestBuilder
from msgraph.graph_request_adapter import GraphRequestAdapter

from calendar_emulators.graph import GraphEmulator
from tests.emulators.graph.graph_helpers import ROOM
from tests.emulators.graph.graph_helpers import Receiver
from tests.emulators.graph.graph_helpers import client_credentials
from tests.emulators.graph.graph_helpers import user_tokens

T = TypeVar("T")

# the SDK's generated request builders warn about their own deprecated configuration classes
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


class EmulatorToken(AccessTokenProvider):
    """Hands the SDK a token the emulator issued, and only for the emulator's host."""

    def __init__(self, token: str, host: str) -> None:
        self.token = token
        self.validator = AllowedHostsValidator([host])

    async def get_authorization_token(self, uri: str, additional_authentication_context: dict[str, Any] = {}) -> str:  # noqa: B006  # the SDK's signature
        return self.token if self.validator.is_url_host_valid(uri) else ""

    def get_allowed_hosts_validator(self) -> AllowedHostsValidator:
        return self.validator


def sdk(base: str, token: str) -> GraphServiceClient:
    tokens = EmulatorToken(token, urlsplit(base).hostname or "")
    adapter = GraphRequestAdapter(BaseBearerTokenAuthenticationProvider(tokens))
    adapter.base_url = f"{base}/v1.0"
    return GraphServiceClient(request_adapter=adapter)


def run(call: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(call)


@pytest.fixture
def me(base: str) -> GraphServiceClient:
    """The SDK signed in as alex (delegated, Calendars.ReadWrite)."""
    return sdk(base, user_tokens(base)["access_token"])


@pytest.fixture
def app(base: str) -> GraphServiceClient:
    """The SDK with the demo app's own token (client credentials)."""
    return sdk(base, client_credentials(base).json()["access_token"])


def new_event(subject: str, hour: int) -> Event:
    return Event(
        subject=subject,
        body=ItemBody(content_type=BodyType.Text, content="from the SDK"),
        start=DateTimeTimeZone(date_time=f"2030-05-01T{hour:02d}:00:00", time_zone="W. Europe Standard Time"),
        end=DateTimeTimeZone(date_time=f"2030-05-01T{hour:02d}:30:00", time_zone="W. Europe Standard Time"),
        show_as=FreeBusyStatus.Busy,
        transaction_id=f"sdk-{subject}",
    )


def test_create_get_patch_delete(me: GraphServiceClient) -> None:
    made = run(me.me.events.post(new_event("Standup", 9)))
    assert made is not None and made.id and made.subject == "Standup" and made.show_as == FreeBusyStatus.Busy
    assert made.start is not None and (made.start.date_time, made.start.time_zone) == (
        "2030-05-01T07:00:00.0000000",
        "UTC",
    )  # Graph answers in UTC unless asked otherwise
    got = run(me.me.events.by_event_id(made.id).get())
    assert got is not None and got.change_key == made.change_key
    patched = run(me.me.events.by_event_id(made.id).patch(Event(subject="Renamed")))
    assert patched is not None and patched.subject == "Renamed" and patched.change_key != made.change_key
    again = run(me.me.events.post(new_event("Standup", 9)))  # the same transactionId: the same event
    assert again is not None and again.id == made.id
    run(me.me.events.by_event_id(made.id).delete())
    with pytest.raises(ODataError) as info:
        run(me.me.events.by_event_id(made.id).get())
    assert info.value.response_status_code == 404
    assert info.value.error is not None and info.value.error.code == "ErrorItemNotFound"


def test_an_event_without_a_time_zone_is_refused_as_graph_does(me: GraphServiceClient) -> None:
    event = new_event("No zone", 9)
    assert event.start is not None
    event.start.time_zone = None
    with pytest.raises(ODataError) as info:
        run(me.me.events.post(event))
    assert info.value.response_status_code == 400
    assert info.value.error is not None and info.value.error.code == "TimeZoneNotSupportedException"


def test_calendar_view_delta_rounds_through_the_sdk(app: GraphServiceClient, graph: GraphEmulator) -> None:
    for i in range(3):
        start = f"2030-05-02T{9 + i:02d}:00:00"
        graph.person_create_event(ROOM, f"Meeting {i}", start, start.replace(":00:00", ":30:00"))
    room = app.users.by_user_id(ROOM).calendar_view.delta
    query = DeltaRequestBuilder.DeltaRequestBuilderGetQueryParameters(
        start_date_time="2030-05-01T00:00:00Z", end_date_time="2030-06-01T00:00:00Z"
    )
    config = RequestConfiguration(query_parameters=query)
    config.headers.add("Prefer", "odata.maxpagesize=2")
    page = run(room.get(request_configuration=config))  # GET .../calendarView/delta()?startDateTime=...
    seen = []
    while page is not None:
        seen += [e.subject for e in page.value or []]
        if page.odata_delta_link:
            break
        assert page.odata_next_link
        page = run(room.with_url(page.odata_next_link).get(request_configuration=config))
    assert page is not None and sorted(seen) == ["Meeting 0", "Meeting 1", "Meeting 2"]
    graph.person_create_event(ROOM, "Late", "2030-05-03T09:00:00", "2030-05-03T10:00:00")
    changes = run(room.with_url(page.odata_delta_link).get())
    assert changes is not None and [e.subject for e in changes.value or []] == ["Late"]
    graph.invalidate_delta_tokens(ROOM)
    with pytest.raises(APIError) as info:
        run(room.with_url(page.odata_delta_link).get())
    assert info.value.response_status_code == 410


def test_subscribe_renew_delete(
    app: GraphServiceClient, graph: GraphEmulator, receiver: Receiver, hook_url: str
) -> None:
    expires = graph.clock.now() + timedelta(days=2)
    made = run(
        app.subscriptions.post(
            Subscription(
                change_type="created,updated,deleted",
                notification_url=f"{hook_url}/notify",
                lifecycle_notification_url=f"{hook_url}/lifecycle",
                resource=f"users/{ROOM}/events",
                expiration_date_time=expires,
                client_state="sdk-state",
            )
        )
    )
    assert made is not None and made.id and made.client_state == "sdk-state"
    assert [v["path"] for v in receiver.validations] == ["/notify", "/lifecycle"]
    later = datetime.now(UTC) + timedelta(days=2, hours=12)
    renewed = run(app.subscriptions.by_subscription_id(made.id).patch(Subscription(expiration_date_time=later)))
    assert renewed is not None and renewed.expiration_date_time is not None
    assert renewed.expiration_date_time > expires
    listed = run(app.subscriptions.get())
    assert listed is not None and [s.id for s in listed.value or []] == [made.id]
    run(app.subscriptions.by_subscription_id(made.id).delete())
    assert graph.list_subscriptions() == []
