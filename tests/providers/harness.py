"""What both provider test rigs share: one loopback server whose push route answers through the
provider's own ``parse_push``, a recording ``sleep``, and a :class:`Harness` that builds backend
contexts and walks the consent flow. ``google/conftest.py`` and ``outlook/conftest.py`` only add their
settings, their emulator and the contract rig's service-side actions.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from collections.abc import Iterable
from dataclasses import dataclass
from dataclasses import field
from datetime import UTC
from datetime import datetime
from typing import Any
from urllib.parse import parse_qs
from urllib.parse import urlsplit

import requests
from werkzeug.wrappers import Request
from werkzeug.wrappers import Response

from calendar_emulators.core import EmulatorServer
from hookspecs.types import HttpRequest
from hookspecs.types import KeyRing
from ireserve_calendar_plugin.auth.oauth import pkce_pair
from ireserve_calendar_plugin.auth.tokens import TokenStore
from ireserve_calendar_plugin.config.store import SecureConfig
from ireserve_calendar_plugin.providers.base import BackendContext
from ireserve_calendar_plugin.providers.base import CalendarProvider
from ireserve_calendar_plugin.providers.base import PushNotice
from tests.unit.memory_config import MemoryConfig

#: where the emulators deliver notifications (the Graph lifecycle URL is ``HOOK_PATH + "/lifecycle"``)
HOOK_PATH = "/hook/push"


@dataclass
class Sleeps:
    """An injected ``sleep`` that records waits instead of sleeping."""

    waits: list[float] = field(default_factory=list)

    def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


class Switch:
    """A WSGI app forwarding to the emulator a test plugs in (one server for the whole session: stopping
    a werkzeug server costs half a second), plus a push route under :data:`HOOK_PATH` that stands in for
    the plugin's: it records each request as the host hands it over and answers with what the plugged-in
    provider's ``parse_push`` says (so Graph's validation handshake is answered by the provider itself)."""

    def __init__(self) -> None:
        self.app: Callable[..., Iterable[bytes]] | None = None
        self.provider: CalendarProvider | None = None
        self.pushes: list[HttpRequest] = []
        self.notices: list[PushNotice] = []
        self.handshakes: list[str] = []

    def plug(self, app: Callable[..., Iterable[bytes]] | None, provider: CalendarProvider | None) -> None:
        self.app, self.provider = app, provider
        self.pushes.clear()
        self.notices.clear()
        self.handshakes.clear()

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if environ.get("PATH_INFO", "").startswith(HOOK_PATH):
            return self._hook(environ, start_response)
        assert self.app is not None, "no emulator plugged in"
        return self.app(environ, start_response)

    def _hook(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        assert self.provider is not None, "no provider plugged in"
        request = Request(environ)
        plugin_request = HttpRequest(
            request.method,
            request.path,
            query={k: tuple(v) for k, v in request.args.lists()},
            headers={k.lower(): v for k, v in request.headers.items()},
            body=request.get_data(),
        )
        self.pushes.append(plugin_request)
        parsed = self.provider.parse_push(plugin_request)
        if parsed.response is not None:
            self.handshakes.append(request.path)
            answer = parsed.response
            return Response(answer.body, status=answer.status, headers=dict(answer.headers))(environ, start_response)
        self.notices.extend(parsed.notices)
        return Response(status=parsed.ack_status)(environ, start_response)


def new_store() -> SecureConfig:
    return SecureConfig(MemoryConfig(), KeyRing(current="k1", keys={"k1": os.urandom(32)}), "int-1")


@dataclass
class Harness:
    """A running emulator and everything a test needs to talk to it as the provider does."""

    app: Any  # the emulator (each provider's harness names its type)
    server: EmulatorServer
    switch: Switch
    provider: CalendarProvider
    settings: dict[str, Any]
    redirect_uri: str
    store: SecureConfig = field(default_factory=new_store)
    sleeps: Sleeps = field(default_factory=Sleeps)
    session: requests.Session = field(default_factory=requests.Session)

    @property
    def url(self) -> str:
        return self.server.url

    @property
    def hook(self) -> str:
        return self.server.url + HOOK_PATH

    @property
    def waits(self) -> list[float]:
        return self.sleeps.waits

    def ctx(self, **overrides: Any) -> BackendContext:
        """The backend context of integration ``int-1``; ``overrides`` may replace any field."""
        values: dict[str, Any] = {
            "host": None,
            "integration_id": "int-1",
            "settings": self.settings,
            "store": self.store,
            "now": lambda: datetime.now(UTC),
            "sleep": self.sleeps,
            "session": self.session,
        }
        values.update(overrides)
        return BackendContext(**values)

    def consent_code(self, settings: dict[str, Any] | None = None) -> tuple[str, str]:
        """Walk the consent redirect as a browser would; return ``(code, verifier)``."""
        verifier, challenge = pkce_pair()
        url = self.provider.authorization_url(
            settings or self.settings,
            redirect_uri=self.redirect_uri,
            state="s" * 40 + "~int-1",
            code_challenge=challenge,
        )
        answer = requests.get(url, allow_redirects=False, timeout=5)
        assert answer.status_code == 302, answer.text
        query = parse_qs(urlsplit(answer.headers["Location"]).query)
        assert query["state"] == ["s" * 40 + "~int-1"], query
        return query["code"][0], verifier

    def connect(self) -> None:
        code, verifier = self.consent_code()
        tokens = self.provider.exchange_code(
            self.ctx(), code=code, redirect_uri=self.redirect_uri, code_verifier=verifier
        )
        assert TokenStore(self.store).save(tokens, expected_version=0)

    def close(self) -> None:
        self.switch.plug(None, None)
        self.session.close()
