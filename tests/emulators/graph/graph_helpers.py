"""Helpers of the Graph emulator tests: a webhook receiver, the OAuth flows over HTTP, a small client."""

from __future__ import annotations

import base64
import hashlib
import secrets
import threading
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs
from urllib.parse import urlsplit

import requests
from werkzeug.wrappers import Request
from werkzeug.wrappers import Response

from tests.emulators.capture import Capture

TENANT = "contoso.onmicrosoft.com"
ROOM = "room-001@contoso.onmicrosoft.com"
USER = "alex@contoso.onmicrosoft.com"
REDIRECT = "http://127.0.0.1:8765/oauth/callback"
SCOPE = "offline_access User.Read Calendars.ReadWrite"


class Switch:
    """A WSGI app that forwards to whichever app the current test installed, recording what it serves."""

    def __init__(self) -> None:
        self.app: Callable[..., Any] | None = None
        self.capture = Capture()

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        assert self.app is not None, "no app installed"
        return self.capture.call(self.app, environ, start_response)


class Receiver:
    """A webhook endpoint. ``mode``: ``echo`` (correct handshake), ``raw`` (echoes the still-encoded
    token), ``fail`` (500 to the handshake), ``json`` (the right token, as ``application/json``).
    Notifications are answered with ``status``."""

    def __init__(self) -> None:
        self.lock = threading.Condition()
        self.reset()

    def reset(self) -> None:
        self.mode = "echo"
        self.status = 202
        self.validations: list[dict[str, Any]] = []
        self.posts: list[dict[str, Any]] = []

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        request = Request(environ)
        if "validationToken" in request.args:
            response = self._validate(request)
        else:
            with self.lock:
                self.posts.append({"path": request.path, "args": dict(request.args), "json": request.get_json()})
                self.lock.notify_all()
            response = Response(status=self.status)
        return response(environ, start_response)

    def _validate(self, request: Request) -> Response:
        raw = request.query_string.decode().split("validationToken=", 1)[1].split("&", 1)[0]
        self.validations.append(
            {"path": request.path, "token": request.args["validationToken"], "raw": raw, "headers": request.headers}
        )
        if self.mode == "fail":
            return Response("nope", status=500)
        body = raw if self.mode == "raw" else request.args["validationToken"]
        content_type = "application/json" if self.mode == "json" else "text/plain"
        return Response(body, status=200, content_type=content_type)

    def wait_posts(self, count: int, timeout: float = 5.0) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout
        with self.lock:
            while len(self.posts) < count and time.monotonic() < deadline:
                self.lock.wait(deadline - time.monotonic())
            return list(self.posts)


# --------------------------------------------------------------------------- OAuth helpers


def token_request(base: str, tenant: str = TENANT, **form: str) -> requests.Response:
    return requests.post(f"{base}/{tenant}/oauth2/v2.0/token", data=form, timeout=5)


def client_credentials(
    base: str, tenant: str = TENANT, client_id: str = "demo-client", secret: str = "demo-secret", scope: str = ""
) -> requests.Response:
    return token_request(
        base,
        tenant,
        grant_type="client_credentials",
        client_id=client_id,
        client_secret=secret,
        scope=scope or "https://graph.microsoft.com/.default",
    )


def pkce_pair() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    return verifier, challenge


def authorize(base: str, tenant: str = TENANT, **params: str) -> requests.Response:
    query = {"client_id": "demo-client", "response_type": "code", "redirect_uri": REDIRECT, "scope": SCOPE}
    query.update(params)
    return requests.get(f"{base}/{tenant}/oauth2/v2.0/authorize", params=query, allow_redirects=False, timeout=5)


def redirect_params(response: requests.Response) -> dict[str, str]:
    assert response.status_code == 302, response.text
    return {k: v[0] for k, v in parse_qs(urlsplit(response.headers["Location"]).query).items()}


def user_tokens(base: str, scope: str = SCOPE) -> dict[str, Any]:
    """Run the authorization-code flow with PKCE for alex; return the token response."""
    verifier, challenge = pkce_pair()
    code = redirect_params(authorize(base, scope=scope, code_challenge=challenge, code_challenge_method="S256"))["code"]
    response = token_request(
        base,
        grant_type="authorization_code",
        client_id="demo-client",
        client_secret="demo-secret",
        code=code,
        redirect_uri=REDIRECT,
        code_verifier=verifier,
    )
    assert response.status_code == 200, response.text
    return response.json()


class Client:
    """A requests session against ``/v1.0`` with a bearer token."""

    def __init__(self, base: str, token: str) -> None:
        self.base = base
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Bearer {token}"

    def url(self, path: str) -> str:
        return path if path.startswith("http") else f"{self.base}/v1.0/{path}"

    def request(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        kwargs.setdefault("timeout", 5)
        return self.session.request(method, self.url(path), **kwargs)

    def get(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("POST", path, **kwargs)

    def patch(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("PATCH", path, **kwargs)

    def delete(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("DELETE", path, **kwargs)


def event_body(
    subject: str = "Standup", start: str = "2024-05-01T09:00:00", end: str = "2024-05-01T09:30:00", **extra: Any
) -> dict[str, Any]:
    return {
        "subject": subject,
        "start": {"dateTime": start, "timeZone": "UTC"},
        "end": {"dateTime": end, "timeZone": "UTC"},
        **extra,
    }
