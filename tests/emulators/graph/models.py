"""msgraph-sdk's models as the oracle of the Graph emulator's wire format.

Public API: :func:`model_for`, :func:`problems`, :func:`wire_problems`.

msgraph-sdk is generated from Graph's own OpenAPI description; kiota's JSON parse node reads an answer
into its model (``Event``, ``Subscription``, their collection and delta responses, ``ODataError`` for
errors) exactly as an SDK user's code would. :func:`problems` reports

- unknown properties: keys that land in a model's ``additional_data`` (OData instance annotations such
  as ``@odata.etag`` or ``@removed`` are not properties and are allowed);
- values of the wrong type or outside an enum: kiota drops them silently (``None``), so the model is
  written back with kiota's JSON serialization writer and every value of the answer must survive the
  round trip (date-times compared as instants);
- ``Edm.DateTimeOffset`` values without an offset (Graph sends one everywhere but in an error's
  ``innerError.date``, which its documentation shows offset-less).
"""

from __future__ import annotations

import dataclasses
import json
import re
from datetime import datetime
from typing import Any

import freezegun
from kiota_abstractions.serialization import Parsable
from kiota_serialization_json.json_parse_node import JsonParseNode
from kiota_serialization_json.json_serialization_writer import JsonSerializationWriter
from msgraph.generated.models.calendar import Calendar
from msgraph.generated.models.calendar_collection_response import CalendarCollectionResponse
from msgraph.generated.models.event import Event
from msgraph.generated.models.event_collection_response import EventCollectionResponse
from msgraph.generated.models.o_data_errors.inner_error import InnerError
from msgraph.generated.models.o_data_errors.o_data_error import ODataError
from msgraph.generated.models.subscription import Subscription
from msgraph.generated.models.subscription_collection_response import SubscriptionCollectionResponse
from msgraph.generated.models.user import User
from msgraph.generated.users.item.calendar_view.delta.delta_get_response import DeltaGetResponse

from tests.emulators.capture import Served

__all__ = ["model_for", "problems", "wire_problems"]

# freezegun patches every loaded module when a test freezes time; the SDK brings hundreds, which made
# the first freeze take over a second (and a tick=True test lose that second). They need real time only.
freezegun.configure(
    extend_ignore_list=[
        "msgraph",
        "kiota_",
        "azure",
        "msal",
        "opentelemetry",
        "httpx",
        "httpcore",
        "aiohttp",
        "anyio",
        "h2",
        "hpack",
        "hyperframe",
        "yarl",
        "multidict",
    ]
)

_ID = r"[^/]+"
#: (method, path under /v1.0 after the mailbox, model); the mailbox is ``me`` or ``users/{id}``
_MAILBOX_ROUTES: tuple[tuple[str, str, type[Parsable]], ...] = (
    ("GET", r"(calendars/[^/]+/)?calendarview/delta(\(\))?", DeltaGetResponse),
    ("GET", r"(calendars/[^/]+/)?(events|calendarview)", EventCollectionResponse),
    ("GET", rf"(calendars/[^/]+/)?events/{_ID}/instances", EventCollectionResponse),
    ("POST", r"(calendars/[^/]+/)?events", Event),
    ("GET|PATCH", rf"(calendars/[^/]+/)?events/{_ID}", Event),
    ("GET", r"calendar|calendars/[^/]+", Calendar),
    ("GET", r"calendars", CalendarCollectionResponse),
    ("GET", r"", User),
)
_ROUTES: tuple[tuple[str, str, type[Parsable]], ...] = (
    ("GET", r"subscriptions", SubscriptionCollectionResponse),
    ("POST", r"subscriptions", Subscription),
    ("GET|PATCH", rf"subscriptions/{_ID}", Subscription),
)


def model_for(method: str, path: str, status: int) -> type[Parsable] | None:
    """The msgraph-sdk model of the answer to ``method path`` with ``status`` (None: not a Graph body)."""
    if not path.lower().startswith("/v1.0/") or path.lower() == "/v1.0/$batch":
        return None
    if status >= 400:
        return ODataError
    rest = path[len("/v1.0/") :].strip("/")
    for methods, pattern, model in _ROUTES:
        if re.fullmatch(methods, method) and re.fullmatch(pattern, rest, re.I):
            return model
    mailbox = re.match(r"(me|users/[^/]+)(/|$)", rest, re.I)
    if mailbox is None:
        return None
    inner = rest[mailbox.end() :]
    for methods, pattern, model in _MAILBOX_ROUTES:
        if re.fullmatch(methods, method) and re.fullmatch(pattern, inner, re.I):
            return model
    return None


def _unknown(model: Any, where: str) -> list[str]:
    """Keys in ``additional_data`` anywhere in the parsed tree, and offset-less date-times."""
    if isinstance(model, list):
        return [p for i, item in enumerate(model) for p in _unknown(item, f"{where}[{i}]")]
    if not dataclasses.is_dataclass(model):
        return []
    found = []
    for key in getattr(model, "additional_data", None) or {}:
        if not key.startswith("@") and "@odata." not in key:
            found.append(f"{where}.{key}: no such property on {type(model).__name__}")
    for item in dataclasses.fields(model):
        value = getattr(model, item.name)
        if isinstance(value, datetime) and value.tzinfo is None and not isinstance(model, InnerError):
            found.append(f"{where}.{item.name}: {value.isoformat()} has no UTC offset")
        found += _unknown(value, f"{where}.{item.name}")
    return found


def _instant(value: Any) -> datetime | None:
    if not isinstance(value, str) or not re.match(r"^\d{4}-\d{2}-\d{2}T", value):
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


def _lost(original: Any, written: Any, where: str) -> list[str]:
    """Where ``original`` (the answer) has a value the model did not keep."""
    if isinstance(original, dict):
        if not isinstance(written, dict):
            return [f"{where}: {original!r} was not read as an object"]
        found = []
        for key, value in original.items():
            if value is None:
                continue  # Graph sends nulls; the model keeps them as unset
            if key not in written:
                found.append(f"{where}.{key}: {value!r} is not of the declared type (or enum)")
            else:
                found += _lost(value, written[key], f"{where}.{key}")
        return found
    if isinstance(original, list):
        if not isinstance(written, list) or len(written) != len(original):
            return [f"{where}: {original!r} was not read as a list of the declared type"]
        return [p for i, (a, b) in enumerate(zip(original, written, strict=True)) for p in _lost(a, b, f"{where}[{i}]")]
    if original == written and type(original) is type(written):
        return []
    if isinstance(original, int | float) and isinstance(written, int | float) and original == written:
        return []
    if _instant(original) is not None and _instant(original) == _instant(written):
        return []
    return [f"{where}: {original!r} came back as {written!r}"]


def problems(body: Any, model: type[Parsable], where: str = "") -> list[str]:
    """Every way ``body`` (parsed JSON) departs from ``model``, as readable lines."""
    where = where or model.__name__
    try:
        parsed = JsonParseNode(body).get_object_value(model)
    except Exception as exc:  # kiota raises on some shapes (a string where a list is declared)
        return [f"{where}: kiota could not read it ({type(exc).__name__}: {exc})"]
    writer = JsonSerializationWriter()
    writer.write_object_value(None, parsed)
    written = json.loads(writer.get_serialized_content())
    return _unknown(parsed, where) + _lost(body, written, where)


def wire_problems(served: list[Served]) -> list[str]:
    """What msgraph-sdk's models find wrong in the Graph answers among ``served``."""
    found = []
    for response in served:
        model = model_for(response.method, response.path, response.status)
        body = response.json()
        if model is None or body is None:
            continue
        found += [f"{response}: {p}" for p in problems(body, model)]
    return found
