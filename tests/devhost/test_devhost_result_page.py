"""A plugin's result page (say, after an OAuth sign-in) shown in the admin's style with a link back."""

from __future__ import annotations

from typing import Any

import pluggy
from werkzeug.test import Client

from hookspecs import HttpResponse
from hookspecs import ResultPage
from hookspecs import hookimpl
from ireserve_devhost import HostApp
from ireserve_devhost import ReferenceHost
from tests.devhost.test_devhost_admin import dom


class ResultPlugin:
    @hookimpl
    def on_http_route(self, host: Any, request: Any) -> HttpResponse | None:
        about = request.arg("about")
        page = ResultPage(
            "Account <connected>",
            "Your <b>account</b> is connected.",
            ok=request.arg("ok") == "1",
            integration_id=about,
        )
        return HttpResponse(
            int(request.arg("status") or "200"), b"<p>plain body</p>", {"Content-Type": "text/html"}, page=page
        )


def _client(host: ReferenceHost, pm: pluggy.PluginManager) -> Client:
    pm.register(ResultPlugin(), name="result")
    host.add_integration("gcal", provider="google", name="Team calendar")
    return Client(HostApp(host))


def test_a_result_page_links_back_to_its_integration(host: ReferenceHost, pm: pluggy.PluginManager) -> None:
    client = _client(host, pm)
    response = client.get("/ext/anything?about=gcal&ok=1")
    assert response.status_code == 200 and response.mimetype == "text/html"
    assert "plain body" not in response.get_data(as_text=True)  # the host's page, not the fallback body
    page = dom(response)
    assert page.find("h1").text == "Account <connected>"
    assert "banner ok" in page.by_id("banner").attrs["class"]  # type: ignore[operator]
    assert page.by_id("banner").text == "Your <b>account</b> is connected."
    back = page.by_id("back")
    assert (back.attrs["href"], back.text) == ("/admin/integrations/gcal", "Back to Team calendar")
    assert "style-src" in response.headers["Content-Security-Policy"]


def test_a_failed_result_keeps_its_status_and_an_unknown_integration_links_to_the_index(
    host: ReferenceHost, pm: pluggy.PluginManager
) -> None:
    client = _client(host, pm)
    response = client.get("/ext/anything?about=nope&status=400")
    assert response.status_code == 400
    page = dom(response)
    assert "banner error" in page.by_id("banner").attrs["class"]  # type: ignore[operator]
    assert page.by_id("back").attrs["href"] == "/admin/"
    assert "<b>" not in response.get_data(as_text=True)
