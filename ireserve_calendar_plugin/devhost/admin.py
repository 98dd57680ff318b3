"""The reference host's own pages (everything outside the plugin prefix): the integrations admin.

Public API: :class:`AdminPages`, :data:`ADMIN_ROOT`.

Routes (served by :class:`.server.HostApp` for every path outside the plugin prefix):

* ``GET /`` redirects to ``/admin/``;
* ``GET /admin/``: the integrations with provider, enabled state and the status line their plugin
  reports, and a small "add integration" form (``POST /admin/integrations``: id, provider, name);
* ``GET /admin/integrations/<id>``: whatever the plugin's ``on_config_form(submitted=None)`` returns,
  rendered generically (:mod:`.form_html`): sections, fields of every kind, links as buttons, the status
  line, the health table, then the integration's log, newest first;
* ``POST /admin/integrations/<id>``: the posted form becomes the ``submitted`` mapping
  (:mod:`.form_data`, driven by the fields the plugin describes) and the page is shown again with the
  plugin's answer: a "saved" banner (200) or its errors (422);
* ``POST /admin/integrations/<id>/enabled`` (``enabled=true|false``): the enable/disable toggle.

Every POST must carry the per-process anti-CSRF token the pages put in a hidden field
(:data:`.form_data.CSRF_FIELD`); without it the answer is 403 and no hook is called. The pages send a
strict Content-Security-Policy (no scripts at all), ``no-store`` and ``nosniff``. There is no login: the
reference host is meant for a developer's loopback address.
"""

from __future__ import annotations

import hmac
import logging
import re
import secrets
from collections.abc import Callable
from typing import TYPE_CHECKING

from werkzeug.exceptions import HTTPException
from werkzeug.routing import Map
from werkzeug.routing import Rule
from werkzeug.utils import redirect
from werkzeug.wrappers import Request
from werkzeug.wrappers import Response

from hookspecs.forms import ConfigForm
from hookspecs.types import Integration
from ireserve_calendar_plugin.devhost.admin_html import ADMIN_ROOT
from ireserve_calendar_plugin.devhost.admin_html import CONTENT_SECURITY_POLICY
from ireserve_calendar_plugin.devhost.admin_html import IndexRow
from ireserve_calendar_plugin.devhost.admin_html import index_body
from ireserve_calendar_plugin.devhost.admin_html import integration_body
from ireserve_calendar_plugin.devhost.admin_html import integration_url
from ireserve_calendar_plugin.devhost.admin_html import page
from ireserve_calendar_plugin.devhost.form_data import CSRF_FIELD
from ireserve_calendar_plugin.devhost.form_data import submitted_values
from ireserve_calendar_plugin.devhost.markup import Html
from ireserve_calendar_plugin.devhost.markup import join
from ireserve_calendar_plugin.devhost.markup import tag

if TYPE_CHECKING:
    from ireserve_calendar_plugin.devhost.host import ReferenceHost

__all__ = ["ADMIN_ROOT", "AdminPages"]

log = logging.getLogger(__name__)

#: The largest admin form post accepted.
MAX_FORM = 1 << 20

_ID = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
_PROVIDER = re.compile(r"^[a-z0-9_-]{1,32}$")
_MAX_NAME = 200
_PLUGIN_FAILED = "The plugin failed to handle this form; the details are in the host's log."


class AdminPages:
    """Routes and renders the host's pages. Every value shown is HTML-escaped.

    :attr:`csrf_token` is a random per-process secret; the pages embed it in each form they render.
    """

    def __init__(self, host: ReferenceHost) -> None:
        self.host = host
        self.csrf_token = secrets.token_urlsafe(32)
        self.url_map = Map(
            [
                Rule("/", endpoint="root", methods=["GET", "HEAD"]),
                Rule(ADMIN_ROOT, endpoint="index", methods=["GET", "HEAD"]),
                Rule(f"{ADMIN_ROOT}integrations", endpoint="add", methods=["POST"]),
                Rule(f"{ADMIN_ROOT}integrations/<integration_id>", endpoint="integration",
                     methods=["GET", "HEAD", "POST"]),
                Rule(f"{ADMIN_ROOT}integrations/<integration_id>/enabled", endpoint="toggle", methods=["POST"]),
            ]
        )
        self._views: dict[str, Callable[..., Response]] = {
            "root": self.root,
            "index": self.index,
            "add": self.add,
            "integration": self.integration,
            "toggle": self.toggle,
        }

    def dispatch(self, request: Request) -> Response | None:
        """Answer a request for one of the host's pages, or return None when the path is not one."""
        request.max_content_length = MAX_FORM
        request.max_form_memory_size = MAX_FORM
        adapter = self.url_map.bind_to_environ(request.environ)
        try:
            endpoint, args = adapter.match()
            return self._views[str(endpoint)](request, **args)
        except HTTPException as err:
            if err.code == 404 and not request.path.startswith(ADMIN_ROOT.rstrip("/")):
                return None
            response = err.get_response(request.environ)
            return Response(response.get_data(), status=response.status_code, headers=response.headers)

    # ------------------------------------------------------------------ views

    def root(self, request: Request) -> Response:
        """``/`` is the admin."""
        return redirect(ADMIN_ROOT, 302)

    def index(self, request: Request, *, add_error: str = "", add_values: dict[str, str] | None = None,
              status: int = 200) -> Response:
        """List the integrations with their status, the add form and the loaded plugins."""
        rows = [IndexRow(i, self._status_line(i)) for i in self.host.integrations.all()]
        body = index_body(
            rows,
            csrf_token=self.csrf_token,
            plugins=[name for name, _ in self.host.pm.list_name_plugin()],
            plugin_root=self.host.url_for("/"),
            add_error=add_error,
            add_values=add_values,
        )
        return _html(page("Integrations", body), status)

    def add(self, request: Request) -> Response:
        """Create an integration from the index page's form, then show its page."""
        denied = self._refuse_without_token(request)
        if denied is not None:
            return denied
        values = {name: request.form.get(name, "").strip() for name in ("id", "provider", "name")}
        error = _add_problem(values)
        if not error:
            try:
                self.host.add_integration(values["id"], values["provider"], values["name"])
            except ValueError as exc:
                error = str(exc)
        if error:
            return self.index(request, add_error=error, add_values=values, status=400)
        self.host.integrations.log(values["id"], "info", "Integration added in the admin.")
        return redirect(integration_url(values["id"]), 303)

    def integration(self, request: Request, integration_id: str) -> Response:
        """Show (GET) or submit (POST) the plugin's form of one integration."""
        if request.method == "POST":
            denied = self._refuse_without_token(request)
            if denied is not None:
                return denied
        integration = self.host.integrations.get(integration_id)
        if integration is None:
            return _not_found(integration_id)
        try:
            form = self.host.hooks.config_form(integration, None)
        except Exception:
            log.exception("on_config_form failed for integration %s", integration_id)
            return self._integration_page(integration, None, problem=_PLUGIN_FAILED, status=500)
        posting = request.method == "POST"
        if form is None:
            problem = f"No installed plugin serves provider {integration.provider!r}."
            return self._integration_page(integration, None, problem=problem, status=409 if posting else 200)
        if not posting:
            return self._integration_page(integration, form)
        submitted = submitted_values(form, request.form)
        try:
            answer = self.host.hooks.config_form(integration, submitted)
        except Exception:
            log.exception("on_config_form failed to submit integration %s", integration_id)
            return self._integration_page(integration, form, problem=_PLUGIN_FAILED, status=500)
        if answer is None:
            return self._integration_page(integration, form, problem="The plugin no longer serves this form.",
                                          status=409)
        return self._integration_page(integration, answer, submitted=True, status=200 if answer.saved else 422)

    def toggle(self, request: Request, integration_id: str) -> Response:
        """Enable or disable an integration, then go back where the button was."""
        denied = self._refuse_without_token(request)
        if denied is not None:
            return denied
        enabled = request.form.get("enabled", "") == "true"
        try:
            self.host.integrations.set_enabled(integration_id, enabled)
        except LookupError:
            return _not_found(integration_id)
        self.host.integrations.log(integration_id, "info", f"Integration {'enabled' if enabled else 'disabled'} "
                                   "in the admin.")
        back = integration_url(integration_id) if request.form.get("back") == "integration" else ADMIN_ROOT
        return redirect(back, 303)

    # ------------------------------------------------------------------ helpers

    def _refuse_without_token(self, request: Request) -> Response | None:
        token = request.form.get(CSRF_FIELD, "")
        if token and hmac.compare_digest(token.encode(), self.csrf_token.encode()):
            return None
        log.warning("refused an admin %s to %s without a valid CSRF token", request.method, request.path)
        body = join((
            tag("h1", {}, "Refused"),
            tag("p", {}, "This form did not come from this host's admin pages (or the host restarted). "
                         "Open the page again and resubmit."),
        ))
        return _html(page("Refused", body), 403)

    def _status_line(self, integration: Integration) -> str:
        try:
            form = self.host.hooks.config_form(integration, None)
        except Exception:
            log.exception("on_config_form failed for integration %s", integration.id)
            return _PLUGIN_FAILED
        if form is None:
            return f"No installed plugin serves provider {integration.provider!r}."
        return form.status

    def _integration_page(self, integration: Integration, form: ConfigForm | None, *, submitted: bool = False,
                          problem: str = "", status: int = 200) -> Response:
        body = integration_body(
            integration,
            form,
            self.host.integration_log(integration.id),
            csrf_token=self.csrf_token,
            submitted=submitted,
            problem=problem,
        )
        crumbs = [("Integrations", ADMIN_ROOT), (integration.id, None)]
        return _html(page(form.title if form else integration.id, body, crumbs=crumbs), status)


def _add_problem(values: dict[str, str]) -> str:
    if not _ID.match(values["id"]):
        return "The id takes 1 to 64 letters, digits, dots, dashes or underscores."
    if not _PROVIDER.match(values["provider"]):
        return "The provider is a short lower-case name, like the plugin's provider (for example google)."
    if len(values["name"]) > _MAX_NAME:
        return f"The name takes at most {_MAX_NAME} characters."
    return ""


def _not_found(integration_id: str) -> Response:
    body = join((tag("h1", {}, "Not found"), tag("p", {}, f"There is no integration {integration_id!r}.")))
    return _html(page("Not found", body, crumbs=[("Integrations", ADMIN_ROOT)]), 404)


def _html(document: Html, status: int = 200) -> Response:
    response = Response(document, status=status, mimetype="text/html")
    response.headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["Referrer-Policy"] = "same-origin"
    response.headers["Cache-Control"] = "no-store"
    return response
