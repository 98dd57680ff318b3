"""The reference host's own pages (everything outside the plugin prefix): integrations, objects, bookings.

Public API: :class:`AdminPages`, :class:`IndexRow`, :data:`ADMIN_ORIGIN`.

Routes (served by :class:`.server.HostApp` for every path outside the plugin prefix):

* ``GET /`` redirects to ``/admin/``;
* ``GET /admin/``: the integrations with provider, enabled state and the status line their plugin
  reports, a small "add integration" form (``POST /admin/integrations``: id, provider, name), the
  "Objects" card and a link to the bookings page;
* ``GET /admin/integrations/<id>``: whatever the plugin's ``on_config_form(submitted=None)`` returns,
  rendered generically (``templates/_form.html``, :mod:`.form_view`): sections, fields of every kind,
  links as buttons, the status line, the health table, then the integration's log, newest first;
* ``POST /admin/integrations/<id>``: the posted form becomes the ``submitted`` mapping
  (:mod:`.form_data`, driven by the fields the plugin describes) and the page is shown again with the
  plugin's answer: a "saved" banner (200) or its errors (422);
* ``POST /admin/integrations/<id>/enabled`` (``enabled=true|false``): the enable/disable toggle;
* ``POST /admin/objects`` (name, IANA time zone): the index's "add object" form (the objects are what
  an integration maps to calendars); a refused value shows the index again (400) with what was typed;
* ``GET /admin/bookings[?object=<id>]``: the bookings (of one object), most recently created first (at
  most :data:`MAX_LISTED`), with their times in the object's zone, all-day flag, status, title, channel,
  free fields (a calendar plugin's event id among them) and remarks, and a "new booking" form
  (``POST /admin/bookings``: object, date, time, duration in minutes, title, status);
* ``POST /admin/bookings/<id>/cancel`` (status ``cancelled``) and ``POST /admin/bookings/<id>/move``
  (a new local date and time, the length kept).

Booking writes go through ``host.bookings`` with origin ``user:admin``, so plugins see them as a
person's change (a calendar plugin syncs them out). A conflict (:class:`~hookspecs.types.BookingConflictError`,
409) or a refused value (400) shows the bookings page again with an error banner, and nothing is written.

Every POST must carry the anti-CSRF token the pages put in a hidden field (:data:`.form_data.CSRF_FIELD`),
signed with a key derived from the host's key file and at most :data:`.csrf.CSRF_MAX_AGE` old
(:mod:`.csrf`), so a form opened before a restart still posts; without a valid one the answer is 403,
saying why, and no hook is called. Every page is a Jinja2 template with autoescape (:mod:`.templating`).
The pages send a strict Content-Security-Policy (no scripts at all), ``no-store`` and ``nosniff``.
There is no login: the reference host is meant for a developer's loopback address.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from dataclasses import replace
from typing import TYPE_CHECKING
from typing import Any
from zoneinfo import ZoneInfo

from werkzeug.datastructures import MultiDict
from werkzeug.exceptions import HTTPException
from werkzeug.routing import Map
from werkzeug.routing import Rule
from werkzeug.utils import redirect
from werkzeug.wrappers import Request
from werkzeug.wrappers import Response

from hookspecs.forms import ACTION_FIELD
from hookspecs.forms import TARGET_FIELD
from hookspecs.forms import ConfigForm
from hookspecs.forms import FormAction
from hookspecs.types import Booking
from hookspecs.types import BookingConflictError
from hookspecs.types import BookingNotFoundError
from hookspecs.types import Integration
from hookspecs.types import ResultPage
from ireserve_devhost.booking_forms import booking_values
from ireserve_devhost.booking_forms import move_times
from ireserve_devhost.booking_forms import object_values
from ireserve_devhost.booking_forms import timezone_names
from ireserve_devhost.bookings_view import CANCELLED
from ireserve_devhost.bookings_view import BookingsView
from ireserve_devhost.bookings_view import booking_rows
from ireserve_devhost.csrf import CSRF_MAX_AGE
from ireserve_devhost.csrf import CsrfTokens
from ireserve_devhost.csrf import CsrfVerdict
from ireserve_devhost.form_data import CSRF_FIELD
from ireserve_devhost.form_data import submitted_values
from ireserve_devhost.health import process_problems
from ireserve_devhost.health import process_reports
from ireserve_devhost.health import wall_clock
from ireserve_devhost.health_view import DISABLED
from ireserve_devhost.health_view import UNKNOWN
from ireserve_devhost.health_view import state_of
from ireserve_devhost.status import problems
from ireserve_devhost.templating import CONTENT_SECURITY_POLICY
from ireserve_devhost.templating import render
from ireserve_devhost.urls import ADMIN_ROOT
from ireserve_devhost.urls import BOOKINGS_PATH
from ireserve_devhost.urls import bookings_url
from ireserve_devhost.urls import integration_url

if TYPE_CHECKING:
    from ireserve_devhost.host import ReferenceHost

__all__ = ["ADMIN_ORIGIN", "ADMIN_ROOT", "AdminPages"]

log = logging.getLogger(__name__)

#: The largest admin form post accepted.
MAX_FORM = 1 << 20

_ID = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
_PROVIDER = re.compile(r"^[a-z0-9_-]{1,32}$")
_MAX_NAME = 200
_MAX_ID = (1 << 63) - 1  # SQLite's largest integer
_PLUGIN_FAILED = "The plugin failed to handle this form; the details are in the host's log."

#: Who the admin pages write bookings as (a person, so plugins sync the change out).
ADMIN_ORIGIN = "user:admin"
#: The channel of bookings created on the bookings page.
ADMIN_CHANNEL = "admin"
#: The bookings page lists at most this many (the newest).
MAX_LISTED = 500


@dataclass(frozen=True)
class IndexRow:
    """One integration on the index page with the status line its form reported."""

    integration: Integration
    status: str
    state: str = UNKNOWN
    next_step: str = ""


class AdminPages:
    """Routes and renders the host's pages (Jinja2 templates with autoescape, :mod:`.templating`).

    Each rendered form carries a fresh :attr:`csrf_token`, signed and time-limited (:mod:`.csrf`).
    """

    def __init__(self, host: ReferenceHost) -> None:
        self.host = host
        self.csrf = CsrfTokens(lambda: host.keyring, host.now)
        self.url_map = Map(
            [
                Rule("/", endpoint="root", methods=["GET", "HEAD"]),
                Rule(ADMIN_ROOT, endpoint="index", methods=["GET", "HEAD"]),
                Rule(f"{ADMIN_ROOT}integrations", endpoint="add", methods=["POST"]),
                Rule(
                    f"{ADMIN_ROOT}integrations/<integration_id>",
                    endpoint="integration",
                    methods=["GET", "HEAD", "POST"],
                ),
                Rule(f"{ADMIN_ROOT}integrations/<integration_id>/enabled", endpoint="toggle", methods=["POST"]),
                Rule(f"{ADMIN_ROOT}integrations/<integration_id>/action", endpoint="action", methods=["POST"]),
                Rule(f"{ADMIN_ROOT}integrations/<integration_id>/delete", endpoint="delete", methods=["POST"]),
                Rule(f"{ADMIN_ROOT}objects", endpoint="add_object", methods=["POST"]),
                Rule(
                    f"{ADMIN_ROOT}objects/<int(max={_MAX_ID}):object_id>/name",
                    endpoint="rename_object",
                    methods=["POST"],
                ),
                Rule(BOOKINGS_PATH, endpoint="bookings", methods=["GET", "HEAD", "POST"]),
                Rule(f"{BOOKINGS_PATH}/<int(max={_MAX_ID}):booking_id>/cancel", endpoint="cancel", methods=["POST"]),
                Rule(f"{BOOKINGS_PATH}/<int(max={_MAX_ID}):booking_id>/move", endpoint="move", methods=["POST"]),
            ]
        )
        self._views: dict[str, Callable[..., Response]] = {
            "root": self.root,
            "index": self.index,
            "add": self.add,
            "integration": self.integration,
            "toggle": self.toggle,
            "action": self.action,
            "delete": self.delete,
            "add_object": self.add_object,
            "rename_object": self.rename_object,
            "bookings": self.bookings,
            "cancel": self.cancel,
            "move": self.move,
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

    @property
    def csrf_token(self) -> str:
        """A fresh anti-CSRF token for one rendered form."""
        return self.csrf.issue()

    def result_page(self, result: ResultPage, status: int) -> Response:
        """A plugin's :class:`~hookspecs.types.ResultPage` (say, after an OAuth sign-in) in the admin's
        style, with a link back to the integration's settings (or to the index when it is unknown)."""
        integration = self.host.integrations.get(result.integration_id) if result.integration_id else None
        if integration is not None:
            crumbs: list[tuple[str, str | None]] = [
                ("Integrations", ADMIN_ROOT),
                (integration.id, integration_url(integration.id)),
            ]
            back = (f"Back to {integration.name or integration.id}", integration_url(integration.id))
        else:
            crumbs, back = [("Integrations", ADMIN_ROOT)], ("Back to the integrations", ADMIN_ROOT)
        return _message(
            result.title, [result.message], status, crumbs=crumbs, back=back, banner="ok" if result.ok else "error"
        )

    # ------------------------------------------------------------------ views

    def root(self, request: Request) -> Response:
        """``/`` is the admin."""
        return redirect(ADMIN_ROOT, 302)

    def index(
        self,
        request: Request,
        *,
        add_error: str = "",
        add_values: dict[str, str] | None = None,
        object_error: str = "",
        object_form: dict[str, str] | None = None,
        status: int = 200,
        rename_values: tuple[int, str] | None = None,
    ) -> Response:
        """List the integrations with their status, the add form, the objects and the loaded plugins."""
        rows = [self._summary(i) for i in self.host.integrations.all()]
        return _page(
            "index.html",
            status,
            title="Integrations",
            crumbs=[],
            rows=rows,
            host_problems=process_problems(process_reports(self.host.db), wall_clock()),
            csrf_token=self.csrf_token,
            plugins=[name for name, _ in self.host.pm.list_name_plugin()],
            plugin_root=self.host.url_for("/"),
            add_error=add_error,
            add_values=add_values or {},
            objects=self.host.objects.all(),
            object_error=object_error,
            object_values=object_form or {},
            rename_values=rename_values,
            timezones=timezone_names(),
        )

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
            return _not_found(f"There is no integration {integration_id!r}.")
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
            return self._integration_page(
                integration, form, problem="The plugin no longer serves this form.", status=409
            )
        return self._integration_page(
            integration, answer, submitted=True, status=200 if answer.saved else 422, typed=submitted
        )

    def toggle(self, request: Request, integration_id: str) -> Response:
        """Enable or disable an integration, then go back where the button was."""
        denied = self._refuse_without_token(request)
        if denied is not None:
            return denied
        enabled = request.form.get("enabled", "") == "true"
        try:
            self.host.integrations.set_enabled(integration_id, enabled)
        except LookupError:
            return _not_found(f"There is no integration {integration_id!r}.")
        self.host.integrations.log(
            integration_id, "info", f"Integration {'enabled' if enabled else 'disabled'} in the admin."
        )
        back = integration_url(integration_id) if request.form.get("back") == "integration" else ADMIN_ROOT
        return redirect(back, 303)

    def action(self, request: Request, integration_id: str) -> Response:
        """Run one of the buttons the plugin's form offers (a conflict decision, "disconnect" ...).

        Only a button the form offers right now is submitted (a conflict resolved meanwhile is not); one
        with a ``confirm`` question is first asked on a page of its own (there is no script to ask with).
        """
        denied = self._refuse_without_token(request)
        if denied is not None:
            return denied
        integration = self.host.integrations.get(integration_id)
        if integration is None:
            return _not_found(f"There is no integration {integration_id!r}.")
        name, target = request.form.get(ACTION_FIELD, ""), request.form.get(TARGET_FIELD, "")
        try:
            form = self.host.hooks.config_form(integration, None)
        except Exception:
            log.exception("on_config_form failed for integration %s", integration_id)
            return self._integration_page(integration, None, problem=_PLUGIN_FAILED, status=500)
        offered = _offered(form, name, target) if form is not None else None
        if form is None or offered is None:
            return self._integration_page(
                integration,
                form,
                status=409,
                problem=(
                    "That button is no longer offered (the conflict may have been resolved meanwhile); "
                    "nothing was done."
                ),
            )
        if offered.confirm and request.form.get("confirmed") != "yes":
            return self._confirm(
                integration,
                offered.confirm,
                integration_url(integration_id, "/action"),
                {ACTION_FIELD: name, TARGET_FIELD: target},
                offered.label,
            )
        try:
            answer = self.host.hooks.config_form(integration, {ACTION_FIELD: name, TARGET_FIELD: target})
        except Exception:
            log.exception("on_config_form failed to run action %s of integration %s", name, integration_id)
            return self._integration_page(integration, form, problem=_PLUGIN_FAILED, status=500)
        self.host.integrations.log(integration_id, "info", f"Admin pressed {offered.label!r}.")
        if answer is None:
            return self._integration_page(
                integration, form, problem="The plugin no longer serves this form.", status=409
            )
        return self._integration_page(integration, answer, status=422 if answer.errors else 200)

    def delete(self, request: Request, integration_id: str) -> Response:
        """Delete an integration with its settings, stored tokens and log, after a confirmation page."""
        denied = self._refuse_without_token(request)
        if denied is not None:
            return denied
        integration = self.host.integrations.get(integration_id)
        if integration is None:
            return _not_found(f"There is no integration {integration_id!r}.")
        if request.form.get("confirmed") != "yes":
            question = (
                f"Delete the integration {integration.name or integration.id}? Its settings, stored tokens "
                "and log are removed from this host; bookings stay. Disconnect the account first if its "
                "grant should also be revoked at the provider."
            )
            return self._confirm(
                integration, question, integration_url(integration_id, "/delete"), {}, "Delete integration"
            )
        # the plugin may keep the config to clean up at the provider (stop push channels), then deletes it
        self.host.integrations.delete(integration_id, keep_config=True)
        if not self.host.hooks.integration_removed(integration):
            self.host.integrations.drop_config(integration_id)
        log.info("integration %s deleted in the admin", integration_id)
        return redirect(ADMIN_ROOT, 303)

    def _confirm(
        self, integration: Integration, question: str, action: str, fields: dict[str, str], label: str
    ) -> Response:
        crumbs = [("Integrations", ADMIN_ROOT), (integration.id, integration_url(integration.id))]
        return _page(
            "confirm.html",
            200,
            title="Please confirm",
            crumbs=crumbs,
            question=question,
            action=action,
            fields=fields,
            label=label,
            back=integration_url(integration.id),
            csrf_token=self.csrf_token,
        )

    def rename_object(self, request: Request, object_id: int) -> Response:
        """Rename a bookable object from its row on the index (a taken name is refused)."""
        denied = self._refuse_without_token(request)
        if denied is not None:
            return denied
        name = request.form.get("name", "").strip()
        obj = self.host.objects.get(object_id)
        if obj is None:
            return _not_found(f"There is no object {object_id}.")
        try:
            object_values({"name": name, "timezone": obj.timezone})
            self.host.objects.rename(object_id, name)
        except ValueError as exc:
            return self.index(
                request,
                object_error=f"Object {object_id} was not renamed: {exc}",
                status=400,
                rename_values=(object_id, name),
            )
        return redirect(f"{ADMIN_ROOT}#object-{object_id}", 303)

    def add_object(self, request: Request) -> Response:
        """Create a bookable object from the index page's form, then show the index again."""
        denied = self._refuse_without_token(request)
        if denied is not None:
            return denied
        values = {name: request.form.get(name, "").strip() for name in ("name", "timezone")}
        try:
            self.host.add_object(*object_values(values))
        except ValueError as exc:
            return self.index(request, object_error=str(exc), object_form=values, status=400)
        return redirect(f"{ADMIN_ROOT}#objects", 303)

    # ------------------------------------------------------------------ bookings

    def bookings(self, request: Request) -> Response:
        """List the bookings (GET) or create one from the page's form (POST)."""
        if request.method != "POST":
            selected = request.args.get("object")
            if selected is None or selected == "":
                return self._bookings_page(None)
            if not _is_id(selected) or self.host.objects.get(int(selected)) is None:
                return _not_found(f"There is no object {selected!r}.", crumbs=[("Bookings", BOOKINGS_PATH)])
            return self._bookings_page(int(selected))
        denied = self._refuse_without_token(request)
        if denied is not None:
            return denied
        values = _stripped(request.form, ("object", "date", "time", "duration", "title", "status"))
        back = _back(request.form)
        try:
            new = booking_values(values, {obj.id: obj for obj in self.host.objects.all()})
            booking = self.host.bookings.create(
                object_id=new.object_id,
                start=new.start,
                end=new.end,
                status=new.status,
                title=new.title,
                channel=ADMIN_CHANNEL,
                origin=ADMIN_ORIGIN,
            )
        except (BookingConflictError, ValueError) as exc:
            return self._bookings_page(back, error=_refusal(exc), new_values=values, status=_refusal_status(exc))
        return redirect(bookings_url(back, anchor=f"booking-{booking.id}"), 303)

    def cancel(self, request: Request, booking_id: int) -> Response:
        """Set a booking's status to ``cancelled`` (plugins hear of it as the admin's change)."""
        denied = self._refuse_without_token(request)
        if denied is not None:
            return denied
        back = _back(request.form)
        try:
            self.host.bookings.set_status(booking_id, CANCELLED, origin=ADMIN_ORIGIN)
        except BookingNotFoundError:
            return _not_found(f"There is no booking {booking_id}.", crumbs=[("Bookings", BOOKINGS_PATH)])
        except ValueError as exc:
            return self._bookings_page(back, error=_refusal(exc), status=400)
        return redirect(bookings_url(back, anchor=f"booking-{booking_id}"), 303)

    def move(self, request: Request, booking_id: int) -> Response:
        """Move a booking to a new local start, keeping its length (or its days, when all-day)."""
        denied = self._refuse_without_token(request)
        if denied is not None:
            return denied
        back = _back(request.form)
        values = _stripped(request.form, ("date", "time"))
        try:
            booking = self.host.bookings.get(booking_id)
            obj = self.host.objects.get(booking.object_id)
            start, end = move_times(values, booking, obj.timezone if obj else "UTC")
            self.host.bookings.update_times(
                booking_id, start=start, end=end, all_day=booking.all_day, origin=ADMIN_ORIGIN
            )
        except BookingNotFoundError:
            return _not_found(f"There is no booking {booking_id}.", crumbs=[("Bookings", BOOKINGS_PATH)])
        except (BookingConflictError, ValueError) as exc:
            return self._bookings_page(
                back,
                error=f"Booking {booking_id} was not moved: {_refusal(exc)}",
                move_values=(booking_id, values),
                status=_refusal_status(exc),
            )
        return redirect(bookings_url(back, anchor=f"booking-{booking_id}"), 303)

    def _bookings_page(
        self,
        selected: int | None,
        *,
        error: str = "",
        new_values: dict[str, str] | None = None,
        move_values: tuple[int, dict[str, str]] | None = None,
        status: int = 200,
    ) -> Response:
        objects = {obj.id: obj for obj in self.host.objects.all()}
        if selected not in objects:
            selected = None
        everything: list[Booking] = sorted(self.host.list_bookings(selected), key=lambda b: b.id, reverse=True)
        proposed = objects.get(selected) if selected is not None else next(iter(objects.values()), None)
        today = self.host.now().astimezone(ZoneInfo(proposed.timezone if proposed else "UTC")).date()
        view = BookingsView(
            bookings=everything[:MAX_LISTED],
            objects=objects,
            today=today,
            selected=selected,
            total=len(everything),
            error=error,
            new_values=new_values or {},
            move_values=move_values,
        )
        crumbs: list[tuple[str, str | None]] = [("Bookings", BOOKINGS_PATH if selected is not None else None)]
        if selected is not None:
            crumbs.append((objects[selected].name, None))
        return _page(
            "bookings.html",
            status,
            title="Bookings",
            crumbs=crumbs,
            view=view,
            rows=booking_rows(view),
            csrf_token=self.csrf_token,
        )

    # ------------------------------------------------------------------ helpers

    def _refuse_without_token(self, request: Request) -> Response | None:
        verdict = self.csrf.check(request.form.get(CSRF_FIELD, ""))
        if verdict is CsrfVerdict.VALID:
            return None
        log.warning("refused an admin %s to %s: CSRF token %s", request.method, request.path, verdict.value)
        if verdict is CsrfVerdict.EXPIRED:
            why = (
                f"This form was opened more than {CSRF_MAX_AGE // 3600} hours ago, so it can no longer be "
                "sent. Nothing was changed."
            )
        else:
            why = "This form did not come from this host's admin pages, so it was not accepted. Nothing was changed."
        back = request.referrer if request.referrer and _same_site(request) else ADMIN_ROOT
        return _message("Refused", [why, "Open the page again and resubmit."], 403, back=("Open the page again", back))

    def _summary(self, integration: Integration) -> IndexRow:
        """The integration's worst state and status line, as its plugin reports them (or as judged)."""
        try:
            form = self.host.hooks.config_form(integration, None)
        except Exception:
            log.exception("on_config_form failed for integration %s", integration.id)
            return IndexRow(integration, _PLUGIN_FAILED, DISABLED if not integration.enabled else UNKNOWN)
        if form is None:
            return IndexRow(
                integration,
                f"No installed plugin serves provider {integration.provider!r}.",
                DISABLED if not integration.enabled else UNKNOWN,
            )
        state = self._state(form) if integration.enabled else DISABLED
        return IndexRow(integration, form.status, state, form.next_step)

    def _state(self, form: ConfigForm) -> str:
        judged = problems(form.status, form.health, self.host.now()) if form.state is None else ()
        return state_of(form, judged_problems=judged)

    def _integration_page(
        self,
        integration: Integration,
        form: ConfigForm | None,
        *,
        submitted: bool = False,
        problem: str = "",
        status: int = 200,
        typed: dict[str, object] | None = None,
    ) -> Response:
        if form is not None and submitted and not form.saved:
            form = _keep_typed(form, typed or {})
        rows = form.rows if form is not None else ()
        context: dict[str, Any] = {
            "integration": integration,
            "form": form,
            "state": (self._state(form) if integration.enabled else DISABLED) if form is not None else UNKNOWN,
            "now": self.host.now(),
            "zone": rows[0].timezone if rows else "UTC",
            "log": self.host.integration_log(integration.id),
            "csrf_token": self.csrf_token,
            "submitted": submitted,
            "problem": problem,
        }
        crumbs = [("Integrations", ADMIN_ROOT), (integration.id, None)]
        return _page(
            "integration.html",
            status,
            title=form.title if form else integration.name or integration.id,
            crumbs=crumbs,
            **context,
        )


def _offered(form: ConfigForm, name: str, target: str) -> FormAction | None:
    """The button of ``form`` with this name and target, if it offers one."""
    buttons = [*form.actions, *(action for conflict in form.conflicts for action in conflict.actions)]
    return next((b for b in buttons if b.name == name and b.target == target), None)


def _keep_typed(form: ConfigForm, typed: dict[str, object]) -> ConfigForm:
    """After a refused save, show every non-secret value as the admin typed it (whatever the plugin echoed),
    so nothing typed is lost; secrets are never sent back to the browser."""
    fields = tuple(
        replace(f, value=typed[f.name]) if f.name in typed and f.kind not in ("secret", "readonly") else f
        for f in form.fields
    )
    return replace(form, fields=fields)


def _add_problem(values: dict[str, str]) -> str:
    if not _ID.match(values["id"]):
        return "The id takes 1 to 64 letters, digits, dots, dashes or underscores."
    if not _PROVIDER.match(values["provider"]):
        return "The provider is a short lower-case name, like the plugin's provider (for example google)."
    if len(values["name"]) > _MAX_NAME:
        return f"The name takes at most {_MAX_NAME} characters."
    return ""


def _stripped(form: MultiDict[str, str], names: tuple[str, ...]) -> dict[str, str]:
    return {name: form.get(name, "").strip() for name in names}


def _back(form: MultiDict[str, str]) -> int | None:
    """The object filter the posting page had (None: all objects)."""
    value = form.get("back", "")
    return int(value) if _is_id(value) else None


def _is_id(value: str) -> bool:
    return value.isascii() and value.isdigit() and len(value) < 19


def _refusal(exc: Exception) -> str:
    if isinstance(exc, BookingConflictError):
        return f"Nothing was written, the booking conflicts: {exc.reason}"
    return f"Nothing was written: {exc}"


def _refusal_status(exc: Exception) -> int:
    return 409 if isinstance(exc, BookingConflictError) else 400


def _not_found(what: str, *, crumbs: list[tuple[str, str | None]] | None = None) -> Response:
    return _message("Not found", [what], 404, crumbs=crumbs or [("Integrations", ADMIN_ROOT)])


def _message(
    heading: str,
    lines: list[str],
    status: int,
    *,
    crumbs: list[tuple[str, str | None]] | None = None,
    back: tuple[str, str] | None = None,
    banner: str = "",
) -> Response:
    """A short page: a heading, a few sentences and a way back."""
    return _page(
        "message.html",
        status,
        title=heading,
        crumbs=crumbs or [],
        heading=heading,
        lines=lines,
        back=back,
        banner=banner,
    )


def _same_site(request: Request) -> bool:
    """Whether the request's Referer is one of this host's admin pages (so "back" may point there)."""
    referrer = request.referrer or ""
    return referrer.startswith(request.host_url.rstrip("/") + ADMIN_ROOT.rstrip("/"))


def _page(template: str, status: int = 200, **context: Any) -> Response:
    return _html(render(template, **context), status)


def _html(document: str, status: int = 200) -> Response:
    response = Response(document, status=status, mimetype="text/html")
    response.headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["Referrer-Policy"] = "same-origin"
    response.headers["Cache-Control"] = "no-store"
    return response
