"""The reference host's admin pages as HTML: the page chrome, the index (integrations and the objects
card) and one integration. The bookings page is :mod:`.bookings_html`.

Public API: :func:`page`, :func:`index_body`, :func:`integration_body`, :func:`integration_url`,
:class:`IndexRow`, :data:`CONTENT_SECURITY_POLICY`.

The pages need no script at all; the only inline style sheet is allowed by its hash in
:data:`CONTENT_SECURITY_POLICY`. Every text comes through :mod:`.markup`, so titles, names, status
lines and log messages (which may come from calendars) are escaped.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Mapping
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import quote

from hookspecs.forms import ConfigForm
from hookspecs.types import BookableObject
from hookspecs.types import Integration
from ireserve_devhost.booking_forms import DEFAULT_TIMEZONE
from ireserve_devhost.bookings_html import BOOKINGS_PATH
from ireserve_devhost.bookings_html import bookings_url
from ireserve_devhost.directory import LogEntry
from ireserve_devhost.form_data import CSRF_FIELD
from ireserve_devhost.form_html import render_banner
from ireserve_devhost.form_html import render_form
from ireserve_devhost.form_html import render_health
from ireserve_devhost.form_html import render_links
from ireserve_devhost.markup import Html
from ireserve_devhost.markup import dom_id
from ireserve_devhost.markup import join
from ireserve_devhost.markup import tag

__all__ = [
    "ADMIN_ROOT",
    "CONTENT_SECURITY_POLICY",
    "IndexRow",
    "index_body",
    "integration_body",
    "integration_url",
    "page",
]

#: Where the admin pages live.
ADMIN_ROOT = "/admin/"

_CSS = """
:root { --fg:#1f2328; --muted:#59636e; --line:#d1d9e0; --bg:#f6f8fa; --accent:#0969da; --bad:#cf222e;
  --ok:#1a7f37; }
* { box-sizing: border-box; }
body { font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--fg);
  margin: 0; background: var(--bg); }
header { background: #24292f; color: #fff; padding: .6rem 1.5rem; }
header a { color: #fff; text-decoration: none; }
header nav span.sep { opacity: .6; margin: 0 .4rem; }
main { max-width: 1240px; margin: 1.2rem auto 3rem; padding: 0 1.5rem; }
h1 { font-size: 1.5rem; margin: .3rem 0 .6rem; }
h2 { font-size: 1.15rem; margin: 1.6rem 0 .5rem; }
section.card > h2:first-child { margin-top: .2rem; }
section.card, fieldset.section { background: #fff; border: 1px solid var(--line); border-radius: 8px;
  padding: .8rem 1.1rem 1rem; margin: 0 0 1rem; }
legend { font-weight: 600; padding: 0 .4rem; }
table { border-collapse: collapse; width: 100%; background: #fff; }
th, td { text-align: left; padding: .35rem .55rem; border-bottom: 1px solid var(--line); vertical-align: top; }
th { font-weight: 600; color: var(--muted); font-size: .85rem; }
table.integrations, table.log, table.objects, table.bookings { border: 1px solid var(--line);
  margin-bottom: 1.2rem; }
table.bookings { font-size: .88rem; }
table.bookings input { width: 8.5rem; padding: .1rem .3rem; margin: 0 .2rem .2rem 0; }
table.bookings td.col-actions { width: 10.5rem; }
table.bookings td.col-fields { overflow-wrap: anywhere; }
table.bookings tr:target td { background: #fff8c5; }
table.bookings td.col-when time { color: inherit; font-size: inherit; }
tr.status-cancelled td { color: var(--muted); }
form.row-action { margin: 0 0 .35rem; }
ul.plain { list-style: none; margin: 0; padding: 0; }
span.zone { display: block; color: var(--muted); font-size: .8rem; }
form.filter select { width: auto; }
.meta { color: var(--muted); margin: 0 0 1rem; }
.field { margin: .7rem 0; }
.field > label, .field > .label { display: block; font-weight: 600; margin-bottom: .2rem; }
.check { display: flex; gap: .5rem; align-items: center; }
.check label { font-weight: 600; }
input[type=text], input[type=url], input[type=number], input[type=password], input[type=date],
input[type=time], select {
  font: inherit; padding: .3rem .45rem; border: 1px solid var(--line); border-radius: 6px; width: 100%;
  max-width: 32rem; background: #fff; }
table.rows input, table.rows select { max-width: none; }
.has-error input, .has-error select, .has-error table.rows { border-color: var(--bad); }
p.error { color: var(--bad); margin: .2rem 0; font-weight: 600; }
p.help, p.hint { color: var(--muted); margin: .2rem 0; font-size: .88rem; }
.required { color: var(--bad); }
td.remove, th.remove { width: 5rem; text-align: center; }
tr.new-row td { background: #f6fbff; }
.new-row-hint { color: var(--muted); font-size: .8rem; }
.button { display: inline-block; font: inherit; font-weight: 600; padding: .35rem .9rem; border-radius: 6px;
  border: 1px solid var(--line); background: #fff; color: var(--fg); text-decoration: none; cursor: pointer; }
.button.primary { background: #1f883d; border-color: #1a7f37; color: #fff; }
.button.small { padding: .1rem .6rem; font-size: .85rem; font-weight: 500; }
.button.disabled { opacity: .5; cursor: not-allowed; }
.links { margin: .6rem 0; }
.actions { margin-top: .5rem; }
form.inline { display: inline; margin-left: .5rem; }
.banner { border-radius: 8px; padding: .6rem 1rem; margin: 0 0 1rem; border: 1px solid; }
.banner.ok { background: #dafbe1; border-color: #4ac26b; color: #116329; }
.banner.error { background: #ffebe9; border-color: #ff8182; color: #82071e; }
.banner p, .banner ul { margin: .2rem 0; }
.status-line { font-weight: 600; font-size: 1.05rem; margin: .2rem 0 .6rem; }
.badge { display: inline-block; border-radius: 1em; padding: 0 .6rem; font-size: .8rem; font-weight: 600; }
.badge.on { background: #dafbe1; color: var(--ok); }
.badge.off { background: #eaeef2; color: var(--muted); }
tr.lvl-error td { color: var(--bad); }
tr.lvl-warning td { color: #9a6700; }
td.col-last_error { color: var(--bad); }
td time { white-space: nowrap; color: var(--muted); font-size: .85rem; }
form.add { display: grid; grid-template-columns: repeat(3, minmax(0, 1fr)) auto; gap: .6rem; align-items: end; }
form.add.object { grid-template-columns: repeat(2, minmax(0, 1fr)) auto; }
form.add.booking { grid-template-columns: 1.3fr 1.2fr .9fr .8fr 1.5fr 1fr auto; }
form.add label { font-weight: 600; font-size: .9rem; }
code { background: #eaeef2; padding: 0 .3rem; border-radius: 4px; }
"""

_CSS_HASH = base64.b64encode(hashlib.sha256(_CSS.encode()).digest()).decode()

#: No scripts, no foreign resources, forms only to this host, never framed.
CONTENT_SECURITY_POLICY = (
    f"default-src 'none'; style-src 'sha256-{_CSS_HASH}'; form-action 'self'; frame-ancestors 'none'; "
    "base-uri 'none'"
)


def integration_url(integration_id: str, suffix: str = "") -> str:
    """The admin URL of one integration (``suffix`` like ``/enabled``)."""
    return f"{ADMIN_ROOT}integrations/{quote(integration_id, safe='')}{suffix}"


def page(title: str, body: Html, *, crumbs: Sequence[tuple[str, str | None]] = ()) -> Html:
    """A whole document: the header with breadcrumbs, then ``body`` in ``<main>``."""
    trail: list[Html] = [tag("a", {"href": ADMIN_ROOT}, "Reference booking host")]
    for label, href in crumbs:
        trail.append(tag("span", {"class": "sep"}, "/"))
        trail.append(tag("a", {"href": href}, label) if href else tag("span", {}, label))
    head = join((
        tag("meta", {"charset": "utf-8"}),
        tag("meta", {"name": "viewport", "content": "width=device-width, initial-scale=1"}),
        tag("title", {}, f"{title} - reference host"),
        tag("style", {}, Html(_CSS)),
    ))
    document = tag(
        "html",
        {"lang": "en"},
        tag("head", {}, head),
        tag("body", {}, tag("header", {}, tag("nav", {}, join(trail, ""))), tag("main", {}, body)),
    )
    return Html("<!doctype html>\n" + document)


def _toggle(integration: Integration, csrf_token: str, back: str) -> Html:
    return tag(
        "form",
        {"method": "post", "action": integration_url(integration.id, "/enabled"), "class": "inline"},
        tag("input", {"type": "hidden", "name": CSRF_FIELD, "value": csrf_token}),
        tag("input", {"type": "hidden", "name": "enabled", "value": "false" if integration.enabled else "true"}),
        tag("input", {"type": "hidden", "name": "back", "value": back}),
        tag("button", {"type": "submit", "class": "button small", "id": dom_id("toggle", integration.id)},
            "Disable" if integration.enabled else "Enable"),
    )


def _state(integration: Integration) -> Html:
    return (
        tag("span", {"class": "badge on"}, "enabled")
        if integration.enabled
        else tag("span", {"class": "badge off"}, "disabled")
    )


# --------------------------------------------------------------------------- the list


@dataclass(frozen=True)
class IndexRow:
    """One integration on the index page with the status line its form reported."""

    integration: Integration
    status: str


def index_body(
    rows: Sequence[IndexRow],
    *,
    csrf_token: str,
    plugins: Sequence[str],
    plugin_root: str,
    add_error: str = "",
    add_values: dict[str, str] | None = None,
    objects: Sequence[BookableObject] = (),
    object_error: str = "",
    object_values: Mapping[str, str] | None = None,
    timezones: Sequence[str] = (),
) -> Html:
    """The integration list, the "add integration" form, the objects card and the loaded plugins."""
    if rows:
        labels = ("Id", "Name", "Provider", "State", "Status")
        head = tag("tr", {}, join(tag("th", {"scope": "col"}, label) for label in labels))
        body = join(
            tag(
                "tr",
                {"id": dom_id("integration", row.integration.id)},
                tag("td", {}, tag("a", {"href": integration_url(row.integration.id)}, row.integration.id)),
                tag("td", {}, row.integration.name),
                tag("td", {}, row.integration.provider),
                tag("td", {}, _state(row.integration), _toggle(row.integration, csrf_token, "index")),
                tag("td", {"class": "status"}, row.status),
            )
            for row in rows
        )
        listing = tag("table", {"class": "integrations"}, tag("thead", {}, head), tag("tbody", {}, body))
    else:
        listing = tag("p", {}, "No integrations configured.")
    values = add_values or {}
    inputs = [
        tag("div", {}, tag("label", {"for": f"add-{name}"}, label),
            tag("input", {"type": "text", "name": name, "id": f"add-{name}", "value": values.get(name, ""),
                          "placeholder": hint, "required": name != "name"}))
        for name, label, hint in (
            ("id", "Id", "letters, digits, . _ -"),
            ("provider", "Provider", "e.g. google"),
            ("name", "Name", "shown to admins"),
        )
    ]
    add = tag(
        "section",
        {"class": "card"},
        tag("h2", {}, "Add integration"),
        tag("div", {"class": "banner error", "role": "alert"}, add_error) if add_error else Html(""),
        tag(
            "form",
            {"method": "post", "action": f"{ADMIN_ROOT}integrations", "class": "add"},
            tag("input", {"type": "hidden", "name": CSRF_FIELD, "value": csrf_token}),
            join(inputs),
            tag("div", {}, tag("button", {"type": "submit", "class": "button primary"}, "Add")),
        ),
    )
    loaded = ", ".join(plugins) or "none"
    plugin_info = tag(
        "p",
        {"class": "meta"},
        f"Plugins loaded: {loaded}. Plugin routes live under ",
        tag("code", {}, plugin_root),
        ".",
    )
    bookings = tag("p", {"class": "meta"}, "See, create, cancel and move bookings on the ",
                   tag("a", {"href": BOOKINGS_PATH, "id": "bookings-link"}, "Bookings"), " page.")
    cards = (listing, add, _objects_card(objects, csrf_token, object_error, object_values or {}, timezones))
    return join((tag("h1", {}, "Integrations"), *cards, bookings, plugin_info))


def _objects_card(objects: Sequence[BookableObject], csrf_token: str, error: str, values: Mapping[str, str],
                  timezones: Sequence[str]) -> Html:
    """The bookable objects (what an integration maps to a calendar) and the "add object" form."""
    if objects:
        head = tag("tr", {}, join(tag("th", {"scope": "col"}, label) for label in ("Id", "Name", "Time zone", "")))
        body = join(
            tag("tr", {"id": dom_id("object", str(obj.id))},
                tag("td", {}, str(obj.id)), tag("td", {}, obj.name), tag("td", {}, obj.timezone),
                tag("td", {}, tag("a", {"href": bookings_url(obj.id)}, "bookings")))
            for obj in objects
        )
        listing = tag("table", {"class": "objects", "id": "objects-table"}, tag("thead", {}, head),
                      tag("tbody", {}, body))
    else:
        listing = tag("p", {}, "No objects yet. Add the rooms (or desks, cars...) that integrations map to calendars.")
    zones = tag("datalist", {"id": "timezones"}, join(tag("option", {"value": name}) for name in timezones))
    inputs = (
        tag("div", {}, tag("label", {"for": "object-name"}, "Name"),
            tag("input", {"type": "text", "name": "name", "id": "object-name", "value": values.get("name", ""),
                          "placeholder": "e.g. Room A", "required": True})),
        tag("div", {}, tag("label", {"for": "object-timezone"}, "Time zone"),
            tag("input", {"type": "text", "name": "timezone", "id": "object-timezone", "list": "timezones",
                          "value": values.get("timezone", DEFAULT_TIMEZONE), "required": True,
                          "placeholder": "IANA name, e.g. Europe/Amsterdam"})),
    )
    return tag(
        "section",
        {"class": "card", "id": "objects"},
        tag("h2", {}, "Objects"),
        tag("div", {"class": "banner error", "role": "alert", "id": "objects-error"}, error) if error else Html(""),
        listing,
        tag(
            "form",
            {"method": "post", "action": f"{ADMIN_ROOT}objects", "class": "add object"},
            tag("input", {"type": "hidden", "name": CSRF_FIELD, "value": csrf_token}),
            join(inputs),
            tag("div", {}, tag("button", {"type": "submit", "class": "button primary", "id": "add-object"},
                               "Add object")),
        ),
        zones,
    )


# --------------------------------------------------------------------------- one integration


def integration_body(
    integration: Integration,
    form: ConfigForm | None,
    log: Sequence[LogEntry],
    *,
    csrf_token: str,
    submitted: bool = False,
    problem: str = "",
) -> Html:
    """One integration: its state and toggle, the plugin's banner, status, links, form, and the log."""
    title = form.title if form is not None else integration.name or integration.id
    meta = tag(
        "div",
        {"class": "meta"},
        f"Integration {integration.id} \u00b7 provider {integration.provider} \u00b7 ",
        _state(integration),
        _toggle(integration, csrf_token, "integration"),
    )
    parts: list[Html] = [tag("h1", {}, title), meta]
    if problem:
        parts.append(tag("div", {"class": "banner error", "role": "alert", "id": "banner"}, problem))
    if form is not None:
        parts.append(render_banner(form, submitted=submitted))
        parts.append(tag("section", {"class": "card", "id": "health-card"}, tag("h2", {}, "Status"),
                         render_health(form.status, form.health), render_links(form.links)))
        parts.append(tag("h2", {}, "Settings"))
        parts.append(render_form(form, action=integration_url(integration.id), csrf_token=csrf_token))
    parts.append(tag("h2", {}, "Log"))
    parts.append(_log(log))
    return join(parts)


def _log(entries: Sequence[LogEntry]) -> Html:
    if not entries:
        return tag("p", {"class": "meta", "id": "log"}, "No log entries.")
    rows = join(
        tag(
            "tr",
            {"class": f"lvl-{dom_id(entry.level)}"},
            tag("td", {}, tag("time", {"datetime": entry.at.isoformat()}, entry.at.isoformat(timespec="seconds"))),
            tag("td", {}, entry.level),
            tag("td", {"class": "message"}, entry.message),
        )
        for entry in entries
    )
    head = tag("tr", {}, join(tag("th", {"scope": "col"}, h) for h in ("Time", "Level", "Message")))
    return tag("table", {"class": "log", "id": "log"}, tag("thead", {}, head), tag("tbody", {}, rows))
