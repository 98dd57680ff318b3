"""The reference host's bookings page as HTML: the list, the "new booking" form, cancel and move.

Public API: :func:`bookings_body`, :func:`bookings_url`, :class:`BookingsView`, :data:`BOOKINGS_PATH`.

Times are shown and typed in each booking's object's time zone. Every text (titles, fields and remarks
that may come from calendars) goes through :mod:`.markup`, so it is escaped; no script is needed.
"""

from __future__ import annotations

from collections.abc import Mapping
from collections.abc import Sequence
from dataclasses import dataclass
from dataclasses import field
from datetime import date
from datetime import timedelta
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from hookspecs.types import BookableObject
from hookspecs.types import Booking
from ireserve_devhost.booking_forms import DEFAULT_DURATION
from ireserve_devhost.booking_forms import DEFAULT_STATUS
from ireserve_devhost.booking_forms import MAX_DURATION
from ireserve_devhost.booking_forms import local_parts
from ireserve_devhost.form_data import CSRF_FIELD
from ireserve_devhost.markup import Html
from ireserve_devhost.markup import dom_id
from ireserve_devhost.markup import join
from ireserve_devhost.markup import tag

__all__ = ["BOOKINGS_PATH", "BookingsView", "bookings_body", "bookings_url"]

#: Where the bookings page lives.
BOOKINGS_PATH = "/admin/bookings"

#: The cancel button's status.
CANCELLED = "cancelled"


def bookings_url(object_id: int | None = None, *, suffix: str = "", anchor: str = "") -> str:
    """The bookings page (of one object), or one booking's action with ``suffix`` like ``/5/cancel``."""
    query = f"?{urlencode({'object': object_id})}" if object_id is not None and not suffix else ""
    return f"{BOOKINGS_PATH}{suffix}{query}{'#' + anchor if anchor else ''}"


@dataclass(frozen=True)
class BookingsView:
    """What the bookings page shows.

    ``bookings`` newest first; ``objects`` by id; ``selected`` the object filter (None: all);
    ``new_values`` the "new booking" form's values; ``move_values`` typed values of one booking's move
    form (after a refused move); ``today`` the date the form proposes; ``total`` how many bookings
    there are in all (more than ``bookings`` when the list is cut).
    """

    bookings: Sequence[Booking]
    objects: Mapping[int, BookableObject]
    csrf_token: str
    today: date
    selected: int | None = None
    total: int = 0
    error: str = ""
    new_values: Mapping[str, str] = field(default_factory=dict)
    move_values: tuple[int, Mapping[str, str]] | None = None


def bookings_body(view: BookingsView) -> Html:
    """The bookings page: the filter, an error banner, the "new booking" form, then the list."""
    chosen = view.objects.get(view.selected) if view.selected is not None else None
    heading = f"Bookings of {chosen.name}" if chosen else "Bookings"
    parts: list[Html] = [tag("h1", {}, heading), _filter(view)]
    if view.error:
        parts.append(tag("div", {"class": "banner error", "role": "alert", "id": "banner"}, view.error))
    parts.append(_new_form(view))
    parts.append(_listing(view))
    return join(parts)


def _hidden(name: str, value: object) -> Html:
    return tag("input", {"type": "hidden", "name": name, "value": value})


def _filter(view: BookingsView) -> Html:
    if not view.objects:
        return tag("p", {"class": "meta"}, "No objects yet: add one under ",
                   tag("a", {"href": "/admin/#objects"}, "Objects"), " on the admin page first.")
    options = [tag("option", {"value": "", "selected": view.selected is None}, "all objects")]
    options += [tag("option", {"value": obj.id, "selected": obj.id == view.selected}, f"{obj.name} ({obj.timezone})")
                for obj in view.objects.values()]
    return tag(
        "form",
        {"method": "get", "action": BOOKINGS_PATH, "class": "meta filter"},
        tag("label", {"for": "filter-object"}, "Show "),
        tag("select", {"name": "object", "id": "filter-object"}, join(options)),
        " ",
        tag("button", {"type": "submit", "class": "button small"}, "Show"),
    )


def _new_form(view: BookingsView) -> Html:
    if not view.objects:
        return Html("")
    values = view.new_values
    chosen = values.get("object", str(view.selected if view.selected is not None else next(iter(view.objects))))
    options = join(tag("option", {"value": obj.id, "selected": str(obj.id) == chosen}, obj.name)
                   for obj in view.objects.values())
    today = view.today.isoformat()

    def labelled(name: str, label: str, control: Html) -> Html:
        return tag("div", {}, tag("label", {"for": f"new-{name}"}, label), control)

    def text(name: str, kind: str, default: str, **extra: object) -> Html:
        return tag("input", {"type": kind, "name": name, "id": f"new-{name}", "value": values.get(name, default),
                             **extra})

    inputs = (
        labelled("object", "Object", tag("select", {"name": "object", "id": "new-object"}, options)),
        labelled("date", "Date", text("date", "date", today, required=True)),
        labelled("time", "Start", text("time", "time", "09:00", required=True)),
        labelled("duration", "Minutes", text("duration", "number", str(DEFAULT_DURATION), min="1",
                                             max=str(MAX_DURATION), step="1", required=True)),
        labelled("title", "Title", text("title", "text", "")),
        labelled("status", "Status", text("status", "text", DEFAULT_STATUS, required=True)),
    )
    return tag(
        "section",
        {"class": "card", "id": "new-booking"},
        tag("h2", {}, "New booking"),
        tag(
            "form",
            {"method": "post", "action": BOOKINGS_PATH, "class": "add booking"},
            _hidden(CSRF_FIELD, view.csrf_token),
            _hidden("back", "" if view.selected is None else view.selected),
            join(inputs),
            tag("div", {}, tag("button", {"type": "submit", "class": "button primary", "id": "create-booking"},
                               "Create")),
        ),
        tag("p", {"class": "hint"}, "Date and start are in the object's time zone. The booking is written as "
                                    "the admin (origin user:admin), so calendar plugins sync it out."),
    )


_COLUMNS = ("Id", "Object", "When", "All day", "Status", "Title", "Channel", "Fields", "Remarks", "Actions")


def _listing(view: BookingsView) -> Html:
    if not view.bookings:
        return tag("p", {"class": "meta", "id": "bookings"}, "No bookings.")
    head = tag("tr", {}, join(tag("th", {"scope": "col"}, label) for label in _COLUMNS))
    rows = join(_row(view, booking) for booking in view.bookings)
    shown = len(view.bookings)
    note = (tag("p", {"class": "meta"}, f"Showing the newest {shown} of {view.total} bookings.")
            if view.total > shown else Html(""))
    return join((
        tag("table", {"class": "bookings", "id": "bookings"}, tag("thead", {}, head), tag("tbody", {}, rows)),
        note,
    ))


def _row(view: BookingsView, booking: Booking) -> Html:
    obj = view.objects.get(booking.object_id)
    timezone = obj.timezone if obj else "UTC"
    object_cell = (tag("a", {"href": bookings_url(obj.id)}, obj.name) if obj else f"object {booking.object_id}")
    fields = (tag("ul", {"class": "plain"}, join(
        tag("li", {}, tag("code", {}, name), " ", value) for name, value in sorted(booking.fields.items())))
        if booking.fields else Html(""))
    remarks = (tag("ul", {"class": "plain"}, join(tag("li", {}, text) for text in booking.remarks))
               if booking.remarks else Html(""))
    cells = (
        ("id", str(booking.id)),
        ("object", object_cell),
        ("when", _when(booking, timezone)),
        ("all_day", "yes" if booking.all_day else ""),
        ("status", booking.status),
        ("title", booking.title),
        ("channel", booking.channel),
        ("fields", fields),
        ("remarks", remarks),
        ("actions", _actions(view, booking, timezone)),
    )
    css = "status-cancelled" if booking.status == CANCELLED else None
    return tag("tr", {"id": dom_id("booking", str(booking.id)), "class": css},
               join(tag("td", {"class": dom_id("col", name)}, value) for name, value in cells))


def _when(booking: Booking, timezone: str) -> Html:
    zone = ZoneInfo(timezone)
    start, end = booking.start.astimezone(zone), booking.end.astimezone(zone)
    if booking.all_day:
        last = (end - timedelta(days=1)).date()
        text = start.date().isoformat() if last <= start.date() else f"{start.date()} \u2013 {last}"
    elif start.date() == end.date():
        text = f"{start:%Y-%m-%d %H:%M}\u2013{end:%H:%M}"
    else:
        text = f"{start:%Y-%m-%d %H:%M} \u2013 {end:%Y-%m-%d %H:%M}"
    return join((tag("time", {"datetime": booking.start.isoformat()}, text), tag("span", {"class": "zone"}, timezone)),
                " ")


def _actions(view: BookingsView, booking: Booking, timezone: str) -> Html:
    back = _hidden("back", "" if view.selected is None else view.selected)
    token = _hidden(CSRF_FIELD, view.csrf_token)
    parts: list[Html] = []
    if booking.status != CANCELLED:
        parts.append(tag(
            "form",
            {"method": "post", "action": bookings_url(suffix=f"/{booking.id}/cancel"), "class": "row-action"},
            token, back,
            tag("button", {"type": "submit", "class": "button small", "id": dom_id("cancel", str(booking.id))},
                "Cancel"),
        ))
    day, moment = local_parts(booking.start, timezone)
    typed: Mapping[str, str] = {}
    if view.move_values is not None and view.move_values[0] == booking.id:
        typed = view.move_values[1]
    inputs = [tag("input", {"type": "date", "name": "date", "value": typed.get("date", day), "required": True,
                            "aria-label": f"New date of booking {booking.id}"})]
    if not booking.all_day:
        inputs.append(tag("input", {"type": "time", "name": "time", "value": typed.get("time", moment),
                                    "required": True, "aria-label": f"New start of booking {booking.id}"}))
    parts.append(tag(
        "form",
        {"method": "post", "action": bookings_url(suffix=f"/{booking.id}/move"), "class": "row-action"},
        token, back, join(inputs, " "), " ",
        tag("button", {"type": "submit", "class": "button small", "id": dom_id("move", str(booking.id))}, "Move"),
    ))
    return join(parts)
