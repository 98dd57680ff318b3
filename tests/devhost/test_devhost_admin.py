"""The reference host's admin pages without a browser: a fake plugin's form with one field of each kind.

Pages are fetched through werkzeug's test client against :class:`HostApp`; the HTML is parsed with the
standard library so assertions look at elements and attributes, not at string fragments.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from collections.abc import Iterator
from collections.abc import Mapping
from dataclasses import replace
from datetime import UTC
from datetime import datetime
from datetime import timedelta
from html.parser import HTMLParser
from typing import Any

import pluggy
import pytest
from werkzeug.datastructures import MultiDict
from werkzeug.test import Client
from werkzeug.test import TestResponse

from hookspecs import ConfigForm
from hookspecs import FormColumn
from hookspecs import FormField
from hookspecs import FormLink
from hookspecs import HttpResponse
from hookspecs import Integration
from hookspecs import hookimpl
from ireserve_devhost import HostApp
from ireserve_devhost import ReferenceHost
from ireserve_devhost.form_data import CSRF_FIELD
from ireserve_devhost.form_data import REMOVE_FIELD

STORED_SECRET = "hunter2-stored-secret"
T0 = datetime(2024, 5, 1, 8, 0, tzinfo=UTC)  # the start of the conftest clock
ROOMS = (("1", "Room 1"), ("2", "Room 2"))


def every_kind_form(integration: Integration, **changes: Any) -> ConfigForm:
    """A hand-made form with one field of each kind (and a secret the plugin wrongly sends in clear)."""
    fields = (
        FormField(
            "title", "Title", "text", "Team <calendar>", required=True, help="Shown <b>above</b>", section="General"
        ),
        FormField("token", "API token", "secret", STORED_SECRET, section="General"),
        FormField("minutes", "Reminder minutes", "integer", 15, section="Outbound"),
        FormField("enabled_flag", "Send invites", "boolean", True, section="Outbound"),
        FormField("quiet", "Quiet mode", "boolean", False, section="Outbound"),
        FormField("mode", "Mode", "select", "b", choices=(("a", "Alpha"), ("b", "Beta")), section="Outbound"),
        FormField(
            "statuses",
            "Statuses",
            "multiselect",
            ["confirmed", "tentative"],
            choices=(("confirmed", "Confirmed"), ("tentative", "Tentative"), ("cancelled", "Cancelled")),
            section="Outbound",
        ),
        FormField(
            "rooms",
            "Rooms",
            "table",
            [
                {"object": "1", "calendar": "room-1@example.com", "busy": "true"},
                {"object": "2", "calendar": "room-2@example.com", "busy": "false"},
            ],
            columns=(
                FormColumn("object", "Object", "select", ROOMS),
                FormColumn("calendar", "Calendar"),
                FormColumn("busy", "Busy", "boolean"),
            ),
            section="Calendars",
        ),
        FormField("api_url", "API URL", "url", "https://api.example.com/v1", section="Advanced"),
    )
    form = ConfigForm(
        integration_id=integration.id,
        title="Fake <plugin> form",
        fields=fields,
        links=(
            FormLink("Connect <account>", "https://auth.example.com/start?a=1&b=2"),
            FormLink("Evil", "javascript:alert(1)", kind="secondary"),
        ),
        status="Connected (<alice@example.com>)",
        health=({"calendar": "<room-1>", "state": "idle", "last_sync": "never", "last_error": "boom <b>"},),
    )
    return replace(form, **changes)


class FormPlugin:
    """A throwaway plugin serving provider ``fake``: records what it receives, answers via ``answer``."""

    def __init__(self) -> None:
        self.received: list[Mapping[str, object] | None] = []
        self.answer: Callable[[Integration, Mapping[str, object] | None], ConfigForm | None] = (
            lambda integration, submitted: every_kind_form(integration, saved=submitted is not None)
        )

    @hookimpl
    def on_config_form(self, host: Any, integration: Integration, submitted: Mapping[str, object] | None) -> Any:
        if integration.provider != "fake":
            return None
        self.received.append(submitted)
        return self.answer(integration, submitted)

    @hookimpl
    def on_http_route(self, host: Any, request: Any) -> HttpResponse | None:
        return HttpResponse(200, b"plugin", {"Content-Type": "text/plain"}) if request.path == "/admin/x" else None

    @property
    def submissions(self) -> list[Mapping[str, object]]:
        return [s for s in self.received if s is not None]


@pytest.fixture
def fake(pm: pluggy.PluginManager) -> Iterator[FormPlugin]:
    plugin = FormPlugin()
    pm.register(plugin, name="fake-form")
    yield plugin
    pm.unregister(plugin)


@pytest.fixture
def app(host: ReferenceHost, fake: FormPlugin) -> HostApp:
    host.add_integration("fake1", provider="fake", name="Fake one")
    return HostApp(host)


@pytest.fixture
def client(app: HostApp) -> Client:
    return Client(app)


# --------------------------------------------------------------------------- a tiny DOM


class Element:
    def __init__(self, name: str, attrs: dict[str, str | None], parent: Element | None) -> None:
        self.name, self.attrs, self.parent = name, attrs, parent
        self.children: list[Element] = []
        self.text_parts: list[str] = []

    @property
    def text(self) -> str:
        return "".join(self.text_parts + [c.text for c in self.children]).strip()

    def iter(self) -> Iterator[Element]:
        for child in self.children:
            yield child
            yield from child.iter()

    def find_all(self, tag_name: str, /, **attrs: str) -> list[Element]:
        def matches(e: Element) -> bool:
            wanted = {key.rstrip("_").replace("_", "-"): value for key, value in attrs.items()}
            return e.name == tag_name and all(e.attrs.get(key) == value for key, value in wanted.items())

        return [e for e in self.iter() if matches(e)]

    def find(self, tag_name: str, /, **attrs: str) -> Element:
        found = self.find_all(tag_name, **attrs)
        assert len(found) == 1, f"expected one <{tag_name} {attrs}>, found {len(found)}"
        return found[0]

    def by_id(self, element_id: str) -> Element:
        return next(e for e in self.iter() if e.attrs.get("id") == element_id)


class _Builder(HTMLParser):
    VOID = {"input", "meta", "br", "hr", "img", "link"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.root = Element("#root", {}, None)
        self.current = self.root

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        element = Element(tag, dict(attrs), self.current)
        self.current.children.append(element)
        if tag not in self.VOID:
            self.current = element

    def handle_endtag(self, tag: str) -> None:
        node: Element | None = self.current
        while node is not None and node.name != tag:
            node = node.parent
        if node is not None and node.parent is not None:
            self.current = node.parent

    def handle_data(self, data: str) -> None:
        self.current.text_parts.append(data)


def dom(response: TestResponse) -> Element:
    builder = _Builder()
    builder.feed(response.get_data(as_text=True))
    return builder.root


def token_of(page: Element) -> str:
    return page.find_all("input", name=CSRF_FIELD)[0].attrs["value"] or ""


# --------------------------------------------------------------------------- pages


def test_root_redirects_to_the_admin(client: Client) -> None:
    response = client.get("/")
    assert response.status_code == 302 and response.headers["Location"] == "/admin/"
    assert client.get("/admin").status_code == 308
    assert client.get("/admin/nothing-here").status_code == 404


def test_the_index_lists_integrations_with_their_status_and_an_add_form(host: ReferenceHost, client: Client) -> None:
    host.add_integration("other", provider="nobody", name="Orphan", enabled=False)
    response = client.get("/admin/")
    assert response.status_code == 200 and response.mimetype == "text/html"
    assert "script-src" not in response.headers["Content-Security-Policy"]  # default-src 'none': no scripts
    page = dom(response)
    row = page.by_id("integration-fake1")
    cells = [td.text for td in row.find_all("td")]
    assert cells[:3] == ["fake1", "Fake one", "fake"]
    assert "enabled" in cells[3]
    status = row.find("td", class_="status")
    assert status.find("span", class_="status-text").text == "Connected (<alice@example.com>)"
    # its health row reports an error: the index never shows "Connected" alone over a failure
    assert status.find("span", class_="state state-error").text == "Failing"
    orphan = [td.text for td in page.by_id("integration-other").find_all("td")]
    assert "disabled" in orphan[3] and "No installed plugin serves provider 'nobody'" in orphan[4]
    add = page.find("form", action="/admin/integrations")
    assert {i.attrs["name"] for i in add.find_all("input")} == {CSRF_FIELD, "id", "provider", "name"}


def test_the_integration_page_renders_every_field_kind(client: Client) -> None:
    page = dom(client.get("/admin/integrations/fake1"))
    form = page.find("form", action="/admin/integrations/fake1")
    assert form.attrs["method"] == "post" and "novalidate" in form.attrs
    assert [legend.text for legend in form.find_all("legend")] == ["General", "Outbound", "Calendars", "Advanced"]

    title = form.find("input", name="title")
    assert (title.attrs["type"], title.attrs["value"]) == ("text", "Team <calendar>")
    assert title.attrs["aria-required"] == "true"
    field = page.by_id("field-title")
    assert field.find("label").text == "Title *" and field.find("p", class_="help").text == "Shown <b>above</b>"

    token = form.find("input", name="token")
    assert token.attrs["type"] == "password" and "value" not in token.attrs
    assert "stored" in (token.attrs["placeholder"] or "")

    minutes = form.find("input", name="minutes")
    assert (minutes.attrs["type"], minutes.attrs["value"]) == ("number", "15")

    flag = form.find_all("input", name="enabled_flag")
    assert [(i.attrs["type"], i.attrs["value"]) for i in flag] == [("hidden", "false"), ("checkbox", "true")]
    assert "checked" in flag[1].attrs
    assert "checked" not in form.find_all("input", name="quiet")[1].attrs

    mode = form.find("select", name="mode")
    assert [(o.attrs["value"], o.text, "selected" in o.attrs) for o in mode.find_all("option")] == [
        ("", "\u2014", False),
        ("a", "Alpha", False),
        ("b", "Beta", True),
    ]

    statuses = form.find("select", name="statuses")
    assert "multiple" in statuses.attrs
    chosen = [o.attrs["value"] for o in statuses.find_all("option") if "selected" in o.attrs]
    assert chosen == ["confirmed", "tentative"]

    table = page.by_id("f-rooms")
    assert [th.text for th in table.find_all("th")] == ["Object", "Calendar", "Busy", "Remove"]
    body_rows = table.find_all("tr", class_="row") + table.find_all("tr", class_="new-row")
    assert len(body_rows) == 3  # two rows and the empty "add row"
    selected = [
        o.attrs["value"] for o in form.find("select", name="rooms.1.object").find_all("option") if "selected" in o.attrs
    ]
    assert selected == ["2"]
    assert form.find("input", name="rooms.0.calendar").attrs["value"] == "room-1@example.com"
    assert "checked" in form.find_all("input", name="rooms.0.busy")[1].attrs
    assert "checked" not in form.find_all("input", name="rooms.1.busy")[1].attrs
    assert form.find("input", name="rooms.2.calendar").attrs["value"] == ""
    assert [i.attrs["value"] for i in form.find_all("input", name=REMOVE_FIELD)] == ["rooms.0", "rooms.1"]

    api = form.find("input", name="api_url")
    assert (api.attrs["type"], api.attrs["value"]) == ("url", "https://api.example.com/v1")

    assert page.by_id("status").text == "Connected (<alice@example.com>)"
    health = page.by_id("health")
    assert [th.text for th in health.find_all("th")] == ["Calendar", "State", "Last sync", "Last error"]
    assert [td.text for td in health.find_all("td")] == ["<room-1>", "idle", "never", "boom <b>"]
    links = page.by_id("health-card").find_all("a")
    assert [(a.text, a.attrs["href"]) for a in links] == [
        ("Connect <account>", "https://auth.example.com/start?a=1&b=2")
    ]
    assert "javascript:" not in client.get("/admin/integrations/fake1").get_data(as_text=True)


def test_field_errors_sit_next_to_their_field_and_form_errors_on_top(fake: FormPlugin, client: Client) -> None:
    def answer(integration: Integration, submitted: Mapping[str, object] | None) -> ConfigForm:
        form = every_kind_form(integration, errors=("Someone else saved <first>.",))
        fields = tuple(replace(f, error="Too big <really>.") if f.name == "minutes" else f for f in form.fields)
        return replace(form, fields=fields)

    fake.answer = answer
    page = dom(client.get("/admin/integrations/fake1"))
    field = page.by_id("field-minutes")
    assert "has-error" in (field.attrs["class"] or "")
    assert field.find("p", class_="error").text == "Too big <really>."
    assert field.find("input", name="minutes").attrs["aria-describedby"] == "f-minutes-error"
    assert "Someone else saved <first>." in page.by_id("banner").text
    assert page.by_id("field-title").find_all("p", class_="error") == []


def test_a_secret_never_appears_in_the_html(client: Client) -> None:
    assert STORED_SECRET not in client.get("/admin/integrations/fake1").get_data(as_text=True)
    assert STORED_SECRET not in client.get("/admin/").get_data(as_text=True)


def test_untrusted_text_is_escaped(host: ReferenceHost, client: Client) -> None:
    host.integrations.log("fake1", "error", "<script>alert('from a calendar')</script>")
    html = client.get("/admin/integrations/fake1").get_data(as_text=True)
    assert "&lt;script&gt;alert(&#39;from a calendar&#39;)&lt;/script&gt;" in html
    assert "<script" not in html
    for raw in ("<calendar>", "<plugin>", "<b>", "<account>", "<room-1>", "<alice@example.com>"):
        assert raw not in html
    assert "Fake &lt;plugin&gt; form" in html


def test_the_log_is_shown_newest_first(host: ReferenceHost, client: Client, clock: Any) -> None:
    for number in range(3):
        host.integrations.log("fake1", "info", f"line {number}")
        clock.advance(seconds=1)
    log = dom(client.get("/admin/integrations/fake1")).by_id("log")
    assert [td.text for td in log.find_all("td", class_="message")] == ["line 2", "line 1", "line 0"]


# --------------------------------------------------------------------------- posting the form


def _post_form(client: Client, data: list[tuple[str, str]], *, token: str | None = None) -> TestResponse:
    if token is None:
        token = token_of(dom(client.get("/admin/integrations/fake1")))
    return client.post("/admin/integrations/fake1", data=MultiDict([(CSRF_FIELD, token), *data]))


def test_post_turns_the_html_form_into_the_submitted_mapping(fake: FormPlugin, client: Client) -> None:
    response = _post_form(
        client,
        [
            ("title", "  New title "),
            ("token", ""),  # an untouched secret is left out
            ("minutes", "30"),
            ("enabled_flag", "false"),  # hidden only: unticked
            ("quiet", "false"),
            ("quiet", "true"),  # hidden + ticked box
            ("mode", "a"),
            ("statuses", "confirmed"),
            ("statuses", "cancelled"),
            ("rooms.0.object", "1"),
            ("rooms.0.calendar", "keep@example.com"),
            ("rooms.0.busy", "false"),
            ("rooms.0.busy", "true"),
            ("rooms.1.object", "2"),
            ("rooms.1.calendar", "removed@example.com"),
            ("rooms.1.busy", "false"),
            (REMOVE_FIELD, "rooms.1"),
            ("rooms.10.object", ""),
            ("rooms.10.calendar", "after@example.com"),
            ("rooms.10.busy", "false"),
            ("rooms.2.object", ""),
            ("rooms.2.calendar", " "),
            ("rooms.2.busy", "false"),  # the empty add-row
            ("rooms.3.nonsense", "x"),  # not a column
            ("api_url", "https://other.example.com"),
            ("unrelated", "ignored"),
        ],
    )
    assert response.status_code == 200
    assert fake.submissions == [
        {
            "title": "  New title ",
            "minutes": "30",
            "enabled_flag": "false",
            "quiet": "true",
            "mode": "a",
            "statuses": ["confirmed", "cancelled"],
            "rooms": [
                {"object": "1", "calendar": "keep@example.com", "busy": "true"},
                {"object": "", "calendar": "after@example.com", "busy": "false"},
            ],
            "api_url": "https://other.example.com",
        }
    ]
    assert dom(response).by_id("banner").text == "Settings saved."


def test_post_sends_a_typed_secret_empty_multiselect_and_empty_table(fake: FormPlugin, client: Client) -> None:
    _post_form(
        client, [("token", "new-secret"), ("rooms.0.object", ""), ("rooms.0.calendar", ""), ("rooms.0.busy", "false")]
    )
    [submitted] = fake.submissions
    assert submitted["token"] == "new-secret"
    assert submitted["statuses"] == [] and submitted["rooms"] == []
    assert "title" not in submitted and "enabled_flag" not in submitted  # absent inputs stay absent


def test_a_rejected_post_is_422_and_shows_the_plugin_errors(fake: FormPlugin, client: Client) -> None:
    def answer(integration: Integration, submitted: Mapping[str, object] | None) -> ConfigForm:
        form = every_kind_form(integration)
        if submitted is None:
            return form
        fields = tuple(
            replace(f, error="Must be at most 40320.", value=submitted["minutes"]) if f.name == "minutes" else f
            for f in form.fields
        )
        return replace(form, fields=fields)

    fake.answer = answer
    response = _post_form(client, [("minutes", "99999")])
    assert response.status_code == 422
    page = dom(response)
    assert page.by_id("field-minutes").find("p", class_="error").text == "Must be at most 40320."
    assert page.find("input", name="minutes").attrs["value"] == "99999"
    assert "Nothing was saved." in page.by_id("banner").text


@pytest.mark.parametrize("token", ["", "wrong-token"])
def test_a_post_without_the_csrf_token_is_403_and_calls_no_hook(
    host: ReferenceHost, fake: FormPlugin, client: Client, token: str
) -> None:
    data = {"title": "x"} if not token else {CSRF_FIELD: token, "title": "x"}
    for path in ("/admin/integrations/fake1", "/admin/integrations/fake1/enabled", "/admin/integrations"):
        response = client.post(path, data={**data, "enabled": "false", "id": "new", "provider": "fake"})
        assert response.status_code == 403, path
    assert fake.received == []
    assert [i.id for i in host.integrations.all()] == ["fake1"]
    assert host.integrations.get("fake1").enabled  # type: ignore[union-attr]


def test_the_toggle_disables_and_enables(host: ReferenceHost, client: Client, app: HostApp) -> None:
    token = app.pages.csrf_token
    response = client.post(
        "/admin/integrations/fake1/enabled", data={CSRF_FIELD: token, "enabled": "false", "back": "integration"}
    )
    assert response.status_code == 303 and response.headers["Location"] == "/admin/integrations/fake1"
    assert host.integrations.get("fake1").enabled is False  # type: ignore[union-attr]
    page = dom(client.get("/admin/integrations/fake1"))
    toggle = page.by_id("toggle-fake1")
    assert toggle.text == "Enable"
    response = client.post("/admin/integrations/fake1/enabled", data={CSRF_FIELD: token, "enabled": "true"})
    assert response.headers["Location"] == "/admin/"
    assert host.integrations.get("fake1").enabled is True  # type: ignore[union-attr]
    assert [e.message for e in host.integration_log("fake1")] == [
        "Integration enabled in the admin.",
        "Integration disabled in the admin.",
    ]
    assert client.post("/admin/integrations/ghost/enabled", data={CSRF_FIELD: token}).status_code == 404


def test_adding_an_integration(host: ReferenceHost, client: Client, app: HostApp) -> None:
    token = app.pages.csrf_token
    response = client.post(
        "/admin/integrations", data={CSRF_FIELD: token, "id": "team-2", "provider": "fake", "name": "Second"}
    )
    assert response.status_code == 303 and response.headers["Location"] == "/admin/integrations/team-2"
    assert host.integrations.get("team-2") == Integration("team-2", "fake", True, "Second")
    for bad in (
        {"id": "team-2", "provider": "fake"},
        {"id": "no spaces", "provider": "fake"},
        {"id": "ok", "provider": "Not A Provider"},
    ):
        response = client.post("/admin/integrations", data={CSRF_FIELD: token, "name": "<x>", **bad})
        assert response.status_code == 400
        page = dom(response)
        assert page.find("div", class_="banner error").text
        assert page.find("input", name="id").attrs["value"] == bad["id"]  # what was typed comes back
    assert len(host.integrations.all()) == 2


def test_plugin_failures_and_missing_plugins(host: ReferenceHost, fake: FormPlugin, client: Client) -> None:
    def broken(integration: Integration, submitted: Mapping[str, object] | None) -> ConfigForm:
        raise RuntimeError("secret internals")

    fake.answer = broken
    response = client.get("/admin/integrations/fake1")
    assert response.status_code == 500 and "secret internals" not in response.get_data(as_text=True)
    assert "details are in the host" in dom(response).by_id("banner").text
    assert "secret internals" not in client.get("/admin/").get_data(as_text=True)

    host.add_integration("orphan", provider="nobody")
    page = dom(client.get("/admin/integrations/orphan"))
    assert "No installed plugin serves provider 'nobody'" in page.by_id("banner").text
    assert page.find_all("form", class_="config") == []
    assert client.get("/admin/integrations/ghost").status_code == 404


def test_plugin_routes_under_the_prefix_are_untouched(client: Client, host: ReferenceHost) -> None:
    response = client.get("/ext/admin/x")
    assert (response.status_code, response.get_data()) == (200, b"plugin")
    assert client.get("/ext/").status_code == 404


def test_the_admin_cannot_be_shadowed_by_the_plugin_prefix(pm: pluggy.PluginManager) -> None:
    with ReferenceHost(":memory:", plugin_manager=pm, prefix="/admin") as host, pytest.raises(ValueError):
        HostApp(host)


def test_the_pages_send_protective_headers(client: Client) -> None:
    response = client.get("/admin/integrations/fake1")
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["Cache-Control"] == "no-store"
    csp = response.headers["Content-Security-Policy"]
    assert re.search(r"style-src 'sha256-[A-Za-z0-9+/=]+'", csp) and "form-action 'self'" in csp


# --------------------------------------------------------------------------- objects and bookings


def _post(client: Client, app: HostApp, path: str, **data: str) -> TestResponse:
    return client.post(path, data={CSRF_FIELD: app.pages.csrf_token, **data})


def _new_booking(**changes: str) -> dict[str, str]:
    return {
        "object": "1",
        "date": "2024-05-02",
        "time": "09:00",
        "duration": "60",
        "title": "Stand-up",
        "status": "confirmed",
        **changes,
    }


def test_the_index_lists_objects_and_adds_one(host: ReferenceHost, client: Client, app: HostApp) -> None:
    page = dom(client.get("/admin/"))
    card = page.by_id("objects")
    assert "No objects yet" in card.text
    add = card.find("form", action="/admin/objects")
    assert {i.attrs["name"] for i in add.find_all("input")} == {CSRF_FIELD, "name", "timezone"}
    assert add.find("input", name="timezone").attrs["value"] == "Europe/Amsterdam"  # the proposed zone
    assert page.find("a", id="bookings-link").attrs["href"] == "/admin/bookings"

    response = _post(client, app, "/admin/objects", name=" Room <A> ", timezone="Europe/Amsterdam")
    assert response.status_code == 303 and response.headers["Location"] == "/admin/#objects"
    [room] = host.objects.all()
    assert (room.name, room.timezone) == ("Room <A>", "Europe/Amsterdam")
    row = dom(client.get("/admin/")).by_id(f"object-{room.id}")
    assert [td.text for td in row.find_all("td")] == [
        str(room.id),
        "Room <A>",
        "Europe/Amsterdam",
        "bookings",
        "Rename",
    ]
    assert row.find("a").attrs["href"] == f"/admin/bookings?object={room.id}"
    assert row.find("input", name="name").attrs["value"] == "Room <A>"
    assert "Room &lt;A&gt;" in client.get("/admin/").get_data(as_text=True)


@pytest.mark.parametrize(
    ("name", "timezone", "problem"),
    [
        ("Room B", "Mars/Olympus_Mons", "not a known IANA time zone"),
        ("Room B", "../../etc/passwd", "not a known IANA time zone"),
        ("Room B", "", "not a known IANA time zone"),
        ("", "UTC", "needs a name"),
        ("x" * 201, "UTC", "at most 200"),
    ],
)
def test_a_refused_object_shows_its_error_with_the_typed_values(
    host: ReferenceHost, client: Client, app: HostApp, name: str, timezone: str, problem: str
) -> None:
    response = _post(client, app, "/admin/objects", name=name, timezone=timezone)
    assert response.status_code == 400
    page = dom(response)
    assert problem in page.by_id("objects-error").text
    assert page.by_id("object-name").attrs["value"] == name
    assert page.by_id("object-timezone").attrs["value"] == timezone
    assert host.objects.all() == []


@pytest.mark.parametrize("token", ["", "wrong-token"])
def test_booking_and_object_posts_without_the_csrf_token_are_403(
    host: ReferenceHost, plugin: Any, client: Client, room: int, token: str
) -> None:
    booking = host.bookings.create(
        object_id=room,
        start=T0,
        end=T0 + timedelta(hours=1),
        status="confirmed",
        title="Kept",
        channel="web",
        origin="user:1",
    )
    before = len(plugin.of("on_booking_status_changed"))
    data = {"name": "Room 2", "timezone": "UTC", **_new_booking(object=str(room)), "date": "2024-06-01"}
    if token:
        data[CSRF_FIELD] = token
    for path in (
        "/admin/objects",
        "/admin/bookings",
        f"/admin/bookings/{booking.id}/cancel",
        f"/admin/bookings/{booking.id}/move",
    ):
        response = client.post(path, data=data)
        assert response.status_code == 403, path
        assert "Refused" in response.get_data(as_text=True)
    assert [o.id for o in host.objects.all()] == [room]
    assert host.list_bookings() == [booking]
    assert len(plugin.of("on_booking_status_changed")) == before


def test_the_bookings_page_lists_bookings_newest_first_in_their_zone(
    host: ReferenceHost, client: Client, room: int
) -> None:
    desk = host.add_object("Desk", "America/New_York").id
    first = host.bookings.create(
        object_id=room,
        start=T0 + timedelta(days=2),
        end=T0 + timedelta(days=2, hours=1),
        status="confirmed",
        title="Later but older",
        channel="web",
        origin="user:1",
        fields={"external_id": "evt-1", "meeting_url": "https://meet.example/x"},
    )
    host.bookings.add_remark(first.id, "Calendar move refused: overlap", origin="calendar:g1")
    midnight = datetime(2024, 5, 4, 22, 0, tzinfo=UTC)  # 2024-05-05 00:00 in Amsterdam
    offsite = host.bookings.create(
        object_id=room,
        start=midnight,
        end=midnight + timedelta(days=2),
        status="tentative",
        title="Offsite",
        channel="calendar",
        origin="calendar:g1",
        all_day=True,
    )
    call = host.bookings.create(
        object_id=desk,
        start=T0,
        end=T0 + timedelta(minutes=30),
        status="confirmed",
        title="Call",
        channel="phone",
        origin="user:1",
    )

    response = client.get("/admin/bookings")
    assert response.status_code == 200 and "script-src" not in response.headers["Content-Security-Policy"]
    table = dom(response).by_id("bookings")
    rows = table.find_all("tr")[1:]
    assert [row.attrs["id"] for row in rows] == [f"booking-{b.id}" for b in (call, offsite, first)]

    def cells(booking_id: int) -> dict[str, str]:
        row = table.by_id(f"booking-{booking_id}")
        return {(td.attrs["class"] or "").removeprefix("col-"): td.text for td in row.find_all("td")}

    def when(booking_id: int) -> tuple[str, str]:
        cell = table.by_id(f"booking-{booking_id}").find("td", class_="col-when")
        return cell.find("time").text, cell.find("span", class_="zone").text

    assert {key: value for key, value in cells(first.id).items() if key not in ("when", "fields", "actions")} == {
        "id": str(first.id),
        "object": "Room 1",
        "all_day": "",
        "status": "confirmed",
        "title": "Later but older",
        "channel": "web",
        "remarks": "Calendar move refused: overlap",
    }
    assert when(first.id) == ("2024-05-03 10:00\u201311:00", "Europe/Amsterdam")
    fields = table.by_id(f"booking-{first.id}").find("td", class_="col-fields").find_all("li")
    assert [(li.find("code").text, "".join(li.text_parts).strip()) for li in fields] == [
        ("external_id", "evt-1"),
        ("meeting_url", "https://meet.example/x"),
    ]
    assert when(offsite.id) == ("2024-05-05 \u2013 2024-05-06", "Europe/Amsterdam")
    assert cells(offsite.id)["all_day"] == "yes"
    assert when(call.id) == ("2024-05-01 04:00\u201304:30", "America/New_York")
    # the move form proposes the booking's own local start; all-day bookings move by date only
    move = table.by_id(f"booking-{first.id}").find("form", action=f"/admin/bookings/{first.id}/move")
    assert [(i.attrs["name"], i.attrs["value"]) for i in move.find_all("input")[2:]] == [
        ("date", "2024-05-03"),
        ("time", "10:00"),
    ]
    all_day_move = table.by_id(f"booking-{offsite.id}").find("form", action=f"/admin/bookings/{offsite.id}/move")
    assert [i.attrs["name"] for i in all_day_move.find_all("input")] == [CSRF_FIELD, "back", "date"]

    page = dom(client.get(f"/admin/bookings?object={desk}"))
    assert [row.attrs["id"] for row in page.by_id("bookings").find_all("tr")[1:]] == [f"booking-{call.id}"]
    assert page.find("h1").text == "Bookings of Desk"
    selected = [
        o.attrs["value"]
        for o in page.find("select", name="object", id="new-object").find_all("option")
        if "selected" in o.attrs
    ]
    assert selected == [str(desk)]
    assert {i.attrs["value"] for i in page.find_all("input", name="back")} == {str(desk)}  # back to this filter
    for bad in ("999", "abc", "1" * 40):
        assert client.get(f"/admin/bookings?object={bad}").status_code == 404


def test_the_bookings_page_without_objects_points_to_the_objects_card(client: Client) -> None:
    page = dom(client.get("/admin/bookings"))
    assert page.find("a", href="/admin/#objects").text == "Objects"
    assert page.find_all("form", method="post") == []
    assert page.by_id("bookings").text == "No bookings."


def test_creating_a_booking_writes_it_as_the_admin(
    host: ReferenceHost, plugin: Any, client: Client, app: HostApp, room: int
) -> None:
    page = dom(client.get("/admin/bookings"))
    form = page.find("form", action="/admin/bookings", method="post")
    assert form.find("input", name="date").attrs["value"] == "2024-05-01"  # the host's today, in the room's zone
    assert form.find("input", name="status").attrs["value"] == "confirmed"

    response = _post(client, app, "/admin/bookings", **_new_booking(object=str(room), duration="90", back=str(room)))
    [booking] = host.list_bookings()
    assert response.status_code == 303
    assert response.headers["Location"] == f"/admin/bookings?object={room}#booking-{booking.id}"
    assert (booking.start, booking.end) == (
        datetime(2024, 5, 2, 7, 0, tzinfo=UTC),
        datetime(2024, 5, 2, 8, 30, tzinfo=UTC),
    )
    assert (booking.title, booking.status, booking.channel, booking.all_day) == (
        "Stand-up",
        "confirmed",
        "admin",
        False,
    )
    [call] = plugin.of("on_booking_status_changed")
    assert (call["booking"].id, call["old_status"], call["new_status"], call["origin"]) == (
        booking.id,
        None,
        "confirmed",
        "user:admin",
    )


def test_a_booking_title_is_escaped(host: ReferenceHost, client: Client, app: HostApp, room: int) -> None:
    title = "<script>alert('booked')</script>"
    assert _post(client, app, "/admin/bookings", **_new_booking(object=str(room), title=title)).status_code == 303
    host.bookings.set_field(host.list_bookings()[0].id, "note", "<img src=x onerror=alert(1)>", origin="system")
    response = client.get("/admin/bookings")
    html = response.get_data(as_text=True)
    assert "<script" not in html and "<img" not in html
    assert "&lt;script&gt;alert(&#39;booked&#39;)&lt;/script&gt;" in html
    [row] = dom(response).by_id("bookings").find_all("tr")[1:]
    assert row.find("td", class_="col-title").text == title


def test_a_conflicting_booking_is_an_error_and_nothing_is_written(
    host: ReferenceHost, plugin: Any, client: Client, app: HostApp, room: int
) -> None:
    assert _post(client, app, "/admin/bookings", **_new_booking(object=str(room))).status_code == 303
    before = host.list_bookings()
    calls = len(plugin.of("on_booking_status_changed"))

    response = _post(client, app, "/admin/bookings", **_new_booking(object=str(room), time="09:30", title="Clash"))
    assert response.status_code == 409
    page = dom(response)
    assert "Nothing was written" in page.by_id("banner").text and "overlaps booking" in page.by_id("banner").text
    assert page.find("input", name="title", id="new-title").attrs["value"] == "Clash"  # kept for a retry
    assert page.find("input", name="time", id="new-time").attrs["value"] == "09:30"
    assert host.list_bookings() == before
    assert len(plugin.of("on_booking_status_changed")) == calls

    other = host.bookings.create(
        object_id=room,
        start=datetime(2024, 5, 2, 12, tzinfo=UTC),
        end=datetime(2024, 5, 2, 13, tzinfo=UTC),
        status="confirmed",
        title="Other",
        channel="web",
        origin="user:1",
    )
    before, calls = host.list_bookings(), len(plugin.of("on_booking_status_changed"))
    response = _post(client, app, f"/admin/bookings/{other.id}/move", date="2024-05-02", time="09:15")
    assert response.status_code == 409
    page = dom(response)
    assert f"Booking {other.id} was not moved" in page.by_id("banner").text
    move = page.by_id(f"booking-{other.id}").find("form", action=f"/admin/bookings/{other.id}/move")
    assert move.find("input", name="time").attrs["value"] == "09:15"
    assert host.list_bookings() == before
    assert len(plugin.of("on_booking_status_changed")) == calls


@pytest.mark.parametrize(
    ("changes", "problem"),
    [
        ({"date": "02-05-2024"}, "The date must look like"),
        ({"date": ""}, "The date must look like"),
        ({"time": "9 am"}, "The time must look like"),
        ({"time": "09:00+02:00"}, "The time must look like"),
        ({"date": "2024-03-31", "time": "02:30"}, "does not exist in Europe/Amsterdam"),
        ({"duration": "0"}, "1 to 44640 minutes"),
        ({"duration": "-5"}, "whole number"),
        ({"duration": "99999999999999"}, "whole number"),
        ({"object": "77"}, "Choose one of the objects"),
        ({"object": ""}, "Choose an object"),
        ({"status": ""}, "needs a status"),
        ({"title": "x" * 201}, "at most 200"),
    ],
)
def test_a_malformed_booking_is_an_error_and_nothing_is_written(
    host: ReferenceHost,
    plugin: Any,
    client: Client,
    app: HostApp,
    room: int,
    changes: dict[str, str],
    problem: str,
) -> None:
    response = _post(client, app, "/admin/bookings", **{**_new_booking(object=str(room)), **changes})
    assert response.status_code == 400
    assert problem in dom(response).by_id("banner").text
    assert host.list_bookings() == [] and plugin.of("on_booking_status_changed") == []


def test_cancel_fires_the_hook_with_the_admin_origin(
    host: ReferenceHost, plugin: Any, client: Client, app: HostApp, room: int
) -> None:
    booking = host.bookings.create(
        object_id=room,
        start=T0,
        end=T0 + timedelta(hours=1),
        status="confirmed",
        title="To cancel",
        channel="web",
        origin="user:1",
    )
    row = dom(client.get("/admin/bookings")).by_id(f"booking-{booking.id}")
    cancel = row.find("form", action=f"/admin/bookings/{booking.id}/cancel")
    assert cancel.find("button").text == "Cancel"

    response = _post(client, app, f"/admin/bookings/{booking.id}/cancel", back=str(room))
    assert response.status_code == 303
    assert response.headers["Location"] == f"/admin/bookings?object={room}#booking-{booking.id}"
    assert host.bookings.get(booking.id).status == "cancelled"
    last = plugin.of("on_booking_status_changed")[-1]
    assert (last["booking"].id, last["old_status"], last["new_status"], last["origin"]) == (
        booking.id,
        "confirmed",
        "cancelled",
        "user:admin",
    )
    row = dom(client.get("/admin/bookings")).by_id(f"booking-{booking.id}")
    assert row.find("td", class_="col-status").text == "cancelled"
    assert row.find_all("form", action=f"/admin/bookings/{booking.id}/cancel") == []  # nothing left to cancel
    assert _post(client, app, "/admin/bookings/4242/cancel").status_code == 404


def test_move_keeps_the_length_and_fires_the_hook_with_the_admin_origin(
    host: ReferenceHost, plugin: Any, client: Client, app: HostApp, room: int
) -> None:
    booking = host.bookings.create(
        object_id=room,
        start=T0,
        end=T0 + timedelta(minutes=45),
        status="confirmed",
        title="To move",
        channel="web",
        origin="user:1",
    )
    response = _post(client, app, f"/admin/bookings/{booking.id}/move", date="2024-05-03", time="14:15")
    assert response.status_code == 303 and response.headers["Location"] == f"/admin/bookings#booking-{booking.id}"
    moved = host.bookings.get(booking.id)
    assert (moved.start, moved.end) == (
        datetime(2024, 5, 3, 12, 15, tzinfo=UTC),
        datetime(2024, 5, 3, 13, 0, tzinfo=UTC),
    )
    last = plugin.of("on_booking_status_changed")[-1]
    assert (last["booking"].id, last["origin"]) == (booking.id, "user:admin")

    midnight = datetime(2024, 5, 4, 22, 0, tzinfo=UTC)
    offsite = host.bookings.create(
        object_id=room,
        start=midnight,
        end=midnight + timedelta(days=2),
        status="confirmed",
        title="Offsite",
        channel="web",
        origin="user:1",
        all_day=True,
    )
    assert _post(client, app, f"/admin/bookings/{offsite.id}/move", date="2024-10-26").status_code == 303
    moved = host.bookings.get(offsite.id)  # two local days across the end of summer time
    assert (moved.start, moved.end, moved.all_day) == (
        datetime(2024, 10, 25, 22, 0, tzinfo=UTC),
        datetime(2024, 10, 27, 23, 0, tzinfo=UTC),
        True,
    )
    response = _post(client, app, f"/admin/bookings/{offsite.id}/move", date="soon")
    assert response.status_code == 400 and "The date must look like" in dom(response).by_id("banner").text
    assert _post(client, app, "/admin/bookings/4242/move", date="2024-05-03", time="10:00").status_code == 404
