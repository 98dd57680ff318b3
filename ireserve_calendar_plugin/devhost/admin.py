"""The reference host's own pages (everything outside the plugin prefix).

Public API: :class:`AdminPages`.

For now one page: ``/``, listing the integrations and the loaded plugins. The admin forms
(``on_config_form``) will be added here as further rules of :attr:`AdminPages.url_map`; the
server asks this class first for any path outside the plugin prefix.
"""

from __future__ import annotations

from collections.abc import Callable
from html import escape
from typing import TYPE_CHECKING

from werkzeug.exceptions import HTTPException
from werkzeug.routing import Map
from werkzeug.routing import Rule
from werkzeug.wrappers import Request
from werkzeug.wrappers import Response

if TYPE_CHECKING:
    from ireserve_calendar_plugin.devhost.host import ReferenceHost

__all__ = ["AdminPages"]

_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title></head>
<body>
<h1>{title}</h1>
{body}
</body></html>
"""


class AdminPages:
    """Routes and renders the host's pages. Every value shown is HTML-escaped."""

    def __init__(self, host: ReferenceHost) -> None:
        self.host = host
        self.url_map = Map([Rule("/", endpoint="index", methods=["GET", "HEAD"])])
        self._views: dict[str, Callable[..., Response]] = {"index": self.index}

    def dispatch(self, request: Request) -> Response | None:
        """Answer a request for one of the host's pages, or return None when the path is not one."""
        adapter = self.url_map.bind_to_environ(request.environ)
        try:
            endpoint, args = adapter.match()
        except HTTPException as err:
            if err.code == 404:
                return None
            response = err.get_response(request.environ)
            return Response(response.get_data(), status=response.status_code, headers=response.headers)
        return self._views[str(endpoint)](request, **args)

    def index(self, request: Request) -> Response:
        """List the integrations and the loaded plugins."""
        integrations = self.host.integrations.all()
        if integrations:
            rows = "\n".join(
                f"<tr><td>{escape(i.id)}</td><td>{escape(i.provider)}</td><td>{escape(i.name)}</td>"
                f"<td>{'enabled' if i.enabled else 'disabled'}</td></tr>"
                for i in integrations
            )
            table = (
                "<table><thead><tr><th>Id</th><th>Provider</th><th>Name</th><th>State</th></tr></thead>"
                f"<tbody>\n{rows}\n</tbody></table>"
            )
        else:
            table = "<p>No integrations configured.</p>"
        plugins = ", ".join(escape(name) for name, _ in self.host.pm.list_name_plugin()) or "none"
        body = (
            f"<h2>Integrations</h2>\n{table}\n<h2>Plugins</h2>\n<p>Loaded: {plugins}. "
            f"Plugin routes live under <code>{escape(self.host.url_for('/'))}</code>.</p>"
        )
        html = _PAGE.format(title="Reference booking host", body=body)
        return Response(html, mimetype="text/html")
