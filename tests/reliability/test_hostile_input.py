"""Hostile input on every route the plugin serves, through the real HTTP server of the World.

What it proves, per provider, for thousands of generated malformed and forged requests to the OAuth
start and callback routes and the push routes (broken JSON, JSON nested a hundred thousand deep, wrong
content types, bodies over 256 KiB and over 1 MiB, missing, oversized and forged headers, unknown
channel and subscription ids, a known id with a wrong token or ``clientState``, validation tokens
carrying markup and script, path tricks, wrong methods, raw malformed HTTP):

- never a 5xx, and every answer well under 3 s (p99 and max are reported);
- no state change: the host's config, bookings, jobs and integration log are byte-identical before
  and after (a forged but well-formed notification may be acknowledged, to no effect), so no job was
  queued for any forged request, and no token was exchanged;
- a ``validationToken`` is only ever echoed as ``text/plain`` with ``nosniff``;
- nothing secret is echoed: the client secret, channel tokens / client states, access and refresh
  tokens never appear in a response body or header.

OAuth callbacks with a missing, mismatched, replayed or expired ``state`` exchange nothing at the token
endpoint; a code minted for another PKCE challenge is refused there and stores nothing. Paging links,
page tokens and calendar ids pointing elsewhere or carrying ``/ ? @ .. #`` never make a request leave
for a host outside the configured ones (a second, "evil" local server receives nothing).
"""

from __future__ import annotations

import http.client
import json
import random
import socket
import sqlite3
import statistics
import time
from collections import Counter
from collections.abc import Callable
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs
from urllib.parse import quote
from urllib.parse import urlencode
from urllib.parse import urlsplit

import pytest
import requests

from calendar_emulators.core import EmulatorServer
from ireserve_calendar_plugin.auth.links import sign_link
from ireserve_calendar_plugin.auth.tokens import TokenStore
from ireserve_calendar_plugin.config.store import SecureConfig
from ireserve_calendar_plugin.errors import UnsafeUrlError
from ireserve_calendar_plugin.runtime import context_for
from ireserve_calendar_plugin.runtime import engine_for
from ireserve_calendar_plugin.web.routes import connect_link
from ireserve_lab.world import World
from tests.reliability.conftest import GoogleRig
from tests.reliability.conftest import make_rig
from tests.reliability.conftest import report

CANARY_SECRET = "canary-client-secret-7f3a91c2"
MARKUP = (
    "<script>alert(1)</script>",
    '"><img src=x onerror=alert(1)>',
    "<svg/onload=alert(1)>",
    "</textarea><iframe src=javascript:alert(1)>",
    "{{7*7}}${7*7}",
    "'; DROP TABLE config; --",
)
TABLES = {
    "config": "SELECT integration_id, key, value, version FROM config ORDER BY 1, 2",
    "bookings": "SELECT * FROM bookings ORDER BY id",
    "booking_fields": "SELECT * FROM booking_fields ORDER BY 1, 2",
    "booking_remarks": "SELECT * FROM booking_remarks ORDER BY 1, 2",
    "jobs": "SELECT * FROM jobs ORDER BY id",
    "integration_log": "SELECT * FROM integration_log ORDER BY id",
}


@dataclass(frozen=True)
class Hostile:
    """One generated request: method, the raw path (with query), headers, body and what it tries."""

    kind: str
    method: str
    path: str
    headers: dict[str, str]
    body: bytes = b""
    token: str = ""  # a validation token it carries, to check how it is echoed
    raw: bytes = b""  # sent as is over a socket instead


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes
    seconds: float


def snapshot(db: Path) -> dict[str, list[tuple[Any, ...]]]:
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        return {name: conn.execute(sql).fetchall() for name, sql in TABLES.items()}


def send(host: str, port: int, request: Hostile) -> Answer:
    started = time.monotonic()
    if request.raw:
        with socket.create_connection((host, port), timeout=5) as sock:
            sock.sendall(request.raw)
            try:
                sock.shutdown(socket.SHUT_WR)
            except OSError:
                pass
            data = b""
            while chunk := sock.recv(65536):
                data += chunk
        head, _, body = data.partition(b"\r\n\r\n")
        line = head.split(b"\r\n", 1)[0].split()
        status = int(line[1]) if len(line) > 1 and line[1].isdigit() else 0
        headers = dict(h.decode("latin-1").split(":", 1) for h in head.split(b"\r\n")[1:] if b":" in h)
        return Answer(
            status, {k.strip().lower(): v.strip() for k, v in headers.items()}, body, time.monotonic() - started
        )
    conn = http.client.HTTPConnection(host, port, timeout=5)
    try:
        conn.putrequest(request.method, request.path, skip_accept_encoding=True)
        for name, value in request.headers.items():
            conn.putheader(name, value.replace("\r", " ").replace("\n", " ").encode("utf-8"))
        if request.body or request.method in ("POST", "PUT", "PATCH"):
            conn.putheader("Content-Length", str(len(request.body)))
        conn.endheaders(request.body or None)
        response = conn.getresponse()
        body = response.read()
        return Answer(
            response.status, {k.lower(): v for k, v in response.getheaders()}, body, time.monotonic() - started
        )
    finally:
        conn.close()


# --------------------------------------------------------------------------- generators


def _junk(rng: random.Random, size: int) -> str:
    alphabet = "abcXYZ019-_.~%/?#@:;=&+!$'()*,[]{}<>\"\\|^` \t" + "éß漢字🙂\u202e\u200b"
    return "".join(rng.choice(alphabet) for _ in range(size))


def _ids(rng: random.Random, known: str) -> str:
    return rng.choice(
        (
            known,
            known + "x",
            known.upper(),
            "",
            " ",
            "a" * rng.choice((65, 129, 300, 5000)),
            _junk(rng, 12),
            "../../" + known,
            known + "\u0000",
            "0",
            "-1",
            "null",
            "%00",
            "${jndi:ldap://x/a}",
            rng.choice(MARKUP),
        )
    )


def _json_bodies(rng: random.Random, valid_item: Callable[[], dict[str, Any]]) -> tuple[bytes, str]:
    depth = rng.choice((1000, 100_000))
    choice = rng.randrange(12)
    if choice == 0:
        return b'{"value": [', "application/json"
    if choice == 1:
        return ("[" * depth + "]" * depth).encode(), "application/json"
    if choice == 2:
        return ('{"value":' * depth + "1" + "}" * depth).encode(), "application/json"
    if choice == 3:
        items = [valid_item() for _ in range(rng.choice((1, 50, 2000)))]
        return json.dumps({"value": items}).encode(), "application/json"
    if choice == 4:
        return b"x" * (300 * 1024), rng.choice(("application/json", "text/plain", "application/octet-stream"))
    if choice == 5:
        return bytes(rng.randrange(256) for _ in range(rng.choice((1, 64, 4096)))), "application/json"
    if choice == 6:
        return json.dumps({"value": {"not": "a list"}}).encode(), "application/json"
    if choice == 7:
        return json.dumps([valid_item()]).encode(), "application/json"
    if choice == 8:
        xxe = b"<?xml version='1.0'?><!DOCTYPE x [<!ENTITY a SYSTEM 'file:///etc/passwd'>]><x>&a;</x>"
        return xxe, "application/xml"
    if choice == 9:
        return b"--b\r\nContent-Disposition: form-data; name=x\r\n\r\ny\r\n--b--", "multipart/form-data; boundary=b"
    if choice == 10:
        return json.dumps({"value": [valid_item()]}).encode("utf-16"), "application/json; charset=utf-16"
    return json.dumps({"value": [valid_item()]}).encode(), rng.choice(("application/json", "text/html", ""))


class Generator:
    """Seeded hostile requests for one provider's routes. ``known`` are real ids (channel, subscription,
    integration) so forgeries reach the checks that matter: the secret, not just the lookup."""

    def __init__(self, rng: random.Random, rig: GoogleRig, prefix: str, known_channel: str) -> None:
        self.rng = rng
        self.rig = rig
        self.prefix = prefix
        self.integration = rig.integration.id
        self.provider = rig.name
        self.channel = known_channel
        self.push = f"{prefix}/calendar/push/{rig.name}/{self.integration}"
        self.expired_link = sign_link(
            rig.host.keyring, "oauth-start", self.integration, rig.world.clock().replace(year=2000)
        )
        self.other_link = sign_link(rig.host.keyring, "oauth-start", "someone-else", rig.world.clock())

    def make(self) -> Hostile:
        kinds: dict[str, Callable[[], Hostile]] = {
            "push: forged notification": self.forged_push,
            "push: malformed body": self.malformed_body,
            "push: validation token": self.validation,
            "push: huge body": self.huge,
            "route: path trick": self.path_trick,
            "route: wrong method": self.wrong_method,
            "oauth: start forged": self.start,
            "oauth: callback forged": self.callback,
            "http: raw malformed": self.raw,
        }
        weights = (25, 20, 10, 3, 12, 8, 8, 12, 2)
        return rng_choice(self.rng, kinds, weights)()

    def _headers(self) -> dict[str, str]:
        headers = {"Host": "127.0.0.1"}
        if self.rng.random() < 0.3:
            headers["X-Forwarded-For"] = _junk(self.rng, 20)
        if self.rng.random() < 0.2:
            headers["Cookie"] = "session=" + _junk(self.rng, 40).replace("\t", " ")
        if self.rng.random() < 0.05:
            headers["X-Huge"] = "A" * 8000
        return headers

    def _google_headers(self) -> dict[str, str]:
        rng, headers = self.rng, self._headers()
        for name, value in (
            ("X-Goog-Channel-ID", _ids(rng, self.channel)),
            ("X-Goog-Channel-Token", rng.choice(("", "wrong", "a" * 300, _junk(rng, 43), rng.choice(MARKUP)))),
            ("X-Goog-Resource-State", rng.choice(("exists", "sync", "not_exists", "", "x" * 40, _junk(rng, 6)))),
            ("X-Goog-Resource-ID", _junk(rng, 27)),
            ("X-Goog-Message-Number", rng.choice(("1", "-1", "99999999999999999999", "NaN"))),
        ):
            if rng.random() < 0.85:
                headers[name] = value.replace("\r", "").replace("\n", "").replace("\u0000", "")
        return headers

    def _graph_item(self) -> dict[str, Any]:
        rng = self.rng
        item: dict[str, Any] = {
            "subscriptionId": _ids(rng, self.channel),
            "clientState": rng.choice(("wrong", "", "a" * 129, rng.choice(MARKUP), None, 7, _junk(rng, 20))),
            "changeType": rng.choice(("created", "updated", "deleted", "bogus")),
            "resource": rng.choice(("me/events/x", "users/../../x", "")),
            "tenantId": _junk(rng, 36),
        }
        if rng.random() < 0.3:
            item["lifecycleEvent"] = rng.choice(("reauthorizationRequired", "subscriptionRemoved", "missed", "x"))
        return item

    def forged_push(self) -> Hostile:
        path = self.push + ("/lifecycle" if self.rng.random() < 0.3 else "")
        if self.provider == "google":
            return Hostile("push: forged notification", "POST", path, self._google_headers())
        body = json.dumps({"value": [self._graph_item() for _ in range(self.rng.choice((1, 3)))]}).encode()
        return Hostile(
            "push: forged notification", "POST", path, {**self._headers(), "Content-Type": "application/json"}, body
        )

    def malformed_body(self) -> Hostile:
        body, content_type = _json_bodies(self.rng, self._graph_item)
        headers = self._google_headers() if self.provider == "google" else self._headers()
        if content_type:
            headers["Content-Type"] = content_type
        return Hostile(
            "push: malformed body", "POST", self.push + ("/lifecycle" if self.rng.random() < 0.3 else ""), headers, body
        )

    def validation(self) -> Hostile:
        token = self.rng.choice((*MARKUP, _junk(self.rng, 30), "A" * 1025, "", "%3Cscript%3E", "a\u0000b"))
        path = self.push + ("/lifecycle" if self.rng.random() < 0.5 else "")
        method = self.rng.choice(("POST", "POST", "GET"))
        return Hostile(
            "push: validation token",
            method,
            f"{path}?{urlencode({'validationToken': token})}",
            self._headers(),
            b"",
            token=token,
        )

    def huge(self) -> Hostile:
        size = self.rng.choice((257 * 1024, 1100 * 1024))
        return Hostile(
            "push: huge body",
            "POST",
            self.push,
            {**self._headers(), "Content-Type": "application/json"},
            b"{" + b" " * size + b"}",
        )

    def path_trick(self) -> Hostile:
        p, iid, rng = self.prefix, self.integration, self.rng
        path = rng.choice(
            (
                f"{p}/calendar/push/{self.provider}/../../admin/",
                f"{p}/calendar/push/{self.provider}/{iid}/../{iid}",
                f"{p}/calendar/push/%2e%2e/{iid}",
                f"{p}/calendar//push/{self.provider}/{iid}",
                f"{p}/calendar/push/{self.provider}/{iid}%00",
                f"{p}/calendar/push/{self.provider.upper()}/{iid}",
                f"{p}/calendar/push/{self.provider}/" + "a" * 200,
                f"{p}/calendar/oauth/start/{iid}/../../push",
                f"{p}/calendar/push/{self.provider}/{quote('ğ1')}",
                f"{p}/calendar/oauth/callback;x=1",
                f"{p}/calendar/push/{self.provider}/{iid}?x=" + "A" * 8000,
                f"{p}/calendar/push/{self.provider}/{iid}/x",
                f"{p}/calendar/push/{self.provider}/{iid}/lifecycle/x",
                f"{p}/calendar/%70ush/{self.provider}/{iid}",
                f"{p}/calendar/oauth/start/" + quote("../" * 5 + "etc/passwd"),
                f"{p}/calendar/push/other/{iid}",
                f"{p}/calendar/push/{self.provider}/unknown-integration",
                f"{p}/calendar/",
                f"{p}/calendar",
                f"{p}/calendar/push/{self.provider}/{iid}#frag",
                f"{p}/calendar/oauth/start/{iid}?t=" + "9" * 400,
            )
        )
        return Hostile("route: path trick", rng.choice(("GET", "POST")), path, self._headers())

    def wrong_method(self) -> Hostile:
        path = self.rng.choice(
            (
                self.push,
                f"{self.prefix}/calendar/oauth/callback",
                f"{self.prefix}/calendar/oauth/start/{self.integration}",
            )
        )
        method = self.rng.choice(("PUT", "DELETE", "PATCH", "OPTIONS", "TRACE", "HEAD", "PROPFIND", "GET", "POST"))
        return Hostile("route: wrong method", method, path, self._headers())

    def start(self) -> Hostile:
        rng = self.rng
        t = rng.choice(
            (
                "",
                "x",
                self.expired_link,
                self.other_link,
                "1.k1." + "0" * 64,
                "9" * 30 + ".k1.x",
                self.expired_link[:-1] + "0",
                _junk(rng, 50),
                rng.choice(MARKUP),
                "١٢٣.k1.ab",
            )
        )
        iid = rng.choice((self.integration, "someone-else", self.integration + "x"))
        query = "" if rng.random() < 0.1 else "?" + urlencode({"t": t})
        return Hostile(
            "oauth: start forged", "GET", f"{self.prefix}/calendar/oauth/start/{iid}{query}", self._headers()
        )

    def callback(self) -> Hostile:
        rng = self.rng
        nonce = rng.choice(("A" * 43, _junk(rng, 43), "", "a" * 31, "a" * 65, "x" * 5000))
        state = rng.choice(
            (
                f"{nonce}~{self.integration}",
                f"{nonce}~someone-else",
                nonce,
                f"~{self.integration}",
                f"{nonce}~{self.integration}~x",
                f"{nonce}~" + "a" * 200,
                rng.choice(MARKUP),
            )
        )
        params: list[tuple[str, str]] = []
        if rng.random() < 0.9:
            params.append(("state", state))
        if rng.random() < 0.8:
            params.append(("code", rng.choice(("4/abc", "x" * 5000, rng.choice(MARKUP), ""))))
        if rng.random() < 0.2:
            params.append(("error", rng.choice(("access_denied", *MARKUP))))
        if rng.random() < 0.1:
            params.append(("state", "second-" + state))
        return Hostile(
            "oauth: callback forged",
            "GET",
            f"{self.prefix}/calendar/oauth/callback?{urlencode(params)}",
            self._headers(),
        )

    def raw(self) -> Hostile:
        p = self.push.encode()
        raw = self.rng.choice(
            (
                b"GARBAGE\r\n\r\n",
                b"POST " + p + b" HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n",
                b"POST " + p + b" HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999\r\n\r\n{",
                b"POST " + p + b" HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nZZZ\r\n",
                b"GET " + p + b" HTTP/9.9\r\n\r\n",
                b"GET /" + b"a" * 70000 + b" HTTP/1.1\r\n\r\n",
                b"POST " + p + b" HTTP/1.1\r\nHost: x\r\nX-Goog-Channel-ID: a\r\n" + b"X: y\r\n" * 200 + b"\r\n",
            )
        )
        return Hostile("http: raw malformed", "RAW", "", {}, raw=raw)


def rng_choice(rng: random.Random, options: dict[str, Callable[[], Hostile]], weights: tuple[int, ...]) -> Any:
    return rng.choices(list(options.values()), weights=weights)[0]


# --------------------------------------------------------------------------- the storm


@pytest.fixture
def connected(world: World, provider: str) -> Iterator[GoogleRig]:
    rig = make_rig(provider, world, client_id="canary-client", client_secret=CANARY_SECRET)
    rig.connect()
    yield rig


def _secrets(rig: GoogleRig) -> set[str]:
    store = SecureConfig(rig.host.config, rig.host.keyring, rig.integration.id)
    tokens, _ = TokenStore(store).load()
    found = {CANARY_SECRET, *rig.issued_secrets()}
    if tokens is not None:
        found |= {tokens.access_token, tokens.refresh_token or ""}
    for key in store.list_keys("chan/"):
        found.add(str(store.load(key).data.get("secret", "")))
    return {s for s in found if len(s) >= 8}


def test_hostile_requests_on_every_route(world: World, connected: GoogleRig, long_run: bool) -> None:
    rig = connected
    count = 10_000 if long_run else 1_500
    channels = [
        k[len("chan/") :]
        for k in SecureConfig(rig.host.config, rig.host.keyring, rig.integration.id).list_keys("chan/")
    ]
    assert channels, "the integration has no push channel to forge against"
    generator = Generator(random.Random(4242), rig, rig.host.prefix, channels[0])
    secrets = _secrets(rig)
    world.settle()
    db = Path(world.host.db.path)
    before = snapshot(db)
    token_calls = rig.token_calls()
    split = urlsplit(world.server.url)
    host, port = split.hostname or "127.0.0.1", split.port or 80

    kinds: Counter[str] = Counter()
    statuses: Counter[int] = Counter()
    seconds: list[float] = []
    failures: list[str] = []
    for _ in range(count):
        request = generator.make()
        answer = send(host, port, request)
        kinds[request.kind] += 1
        statuses[answer.status] += 1
        seconds.append(answer.seconds)
        where = f"{request.kind}: {request.method} {request.path[:120]!r}"
        unsupported_version = answer.status == 505 and b"HTTP/9.9" in request.raw  # the protocol's own answer
        if (answer.status >= 500 and not unsupported_version) or (answer.status == 0 and request.method != "RAW"):
            failures.append(f"{where} -> {answer.status} {answer.body[:200]!r}")
        if answer.seconds >= 3:
            failures.append(f"{where} took {answer.seconds:.2f}s")
        if request.token and request.token.encode() in answer.body:
            content_type = answer.headers.get("content-type", "")
            if not content_type.startswith("text/plain") or answer.headers.get("x-content-type-options") != "nosniff":
                failures.append(f"{where} echoed the validation token as {content_type!r}")
        blob = answer.body + repr(answer.headers).encode()
        leaked = [s[:6] + "..." for s in secrets if s.encode() in blob]
        if leaked:
            failures.append(f"{where} echoed secrets {leaked}")
    world.wait_for_pushes()
    after = snapshot(db)
    changed = [name for name in TABLES if before[name] != after[name]]
    ordered = sorted(seconds)
    figures = {
        "provider": rig.name,
        "requests": count,
        "by_kind": dict(kinds),
        "statuses": {str(k): v for k, v in sorted(statuses.items())},
        "p50_ms": round(statistics.median(ordered) * 1000, 2),
        "p99_ms": round(ordered[int(len(ordered) * 0.99) - 1] * 1000, 2),
        "max_ms": round(ordered[-1] * 1000, 2),
        "server_errors": sum(v for k, v in statuses.items() if k >= 500),
        "state_changes": changed,
        "token_exchanges": rig.token_calls() - token_calls,
        "failures": len(failures),
    }
    report(f"hostile-{rig.name}", {**figures, "first_failures": failures[:10]}, long_run=long_run)
    assert not failures, failures[:10]
    assert not changed, f"hostile requests changed {changed}"
    assert figures["token_exchanges"] == 0


# --------------------------------------------------------------------------- OAuth state and PKCE


class Browser:
    """An admin's browser: follows the connect link to the provider and stops at the callback."""

    def __init__(self, world: World, rig: GoogleRig) -> None:
        self.world, self.rig = world, rig
        self.http = requests.Session()

    def consent(self, integration_id: str | None = None) -> str:
        """Start a flow and return the callback URL the provider sends the browser to (not opened)."""
        url = connect_link(self.rig.host, integration_id or self.rig.integration.id)
        for _ in range(5):
            response = self.http.get(url, allow_redirects=False, timeout=10)
            assert response.status_code in (301, 302, 303, 307), response.status_code
            url = response.headers["Location"]
            if "/calendar/oauth/callback" in url:
                return url
        raise AssertionError("the flow never came back")

    def open(self, url: str) -> requests.Response:
        return self.http.get(url, allow_redirects=False, timeout=10)


def _with(url: str, **params: str | None) -> str:
    parts = urlsplit(url)
    query = {k: v[0] for k, v in parse_qs(parts.query).items()}
    for name, value in params.items():
        if value is None:
            query.pop(name, None)
        else:
            query[name] = value
    return parts._replace(query=urlencode(query)).geturl()


def test_oauth_callback_state_and_pkce(world: World, connected: GoogleRig) -> None:
    rig = connected
    browser = Browser(world, rig)
    exchanges = rig.token_calls
    store = SecureConfig(rig.host.config, rig.host.keyring, rig.integration.id)
    tokens_version = TokenStore(store).load()[1]

    # missing, malformed and unknown states: refused before any exchange
    url = browser.consent()
    before = exchanges()
    for bad in (None, "", "x", "A" * 43 + "~" + rig.integration.id, "~" + rig.integration.id):
        assert browser.open(_with(url, state=bad)).status_code == 400
    assert exchanges() == before

    # mismatched: a real state of this integration presented for another one
    other = world.host.add_integration("other", rig.name, name="other")
    nonce = parse_qs(urlsplit(url).query)["state"][0].split("~")[0]
    assert browser.open(_with(url, state=f"{nonce}~{other.id}")).status_code == 400
    assert exchanges() == before

    # the genuine callback works once; its replay exchanges nothing
    assert browser.open(url).status_code == 200
    assert exchanges() == before + 1
    assert browser.open(url).status_code == 400
    assert exchanges() == before + 1

    # expired: the admin took longer than ten minutes
    late = browser.consent()
    world.advance(11 * 60)
    assert browser.open(late).status_code == 400
    assert exchanges() == before + 1

    # a code minted for another PKCE challenge (an attacker's own code) under the victim's state
    victim = browser.consent()
    attacker_code = parse_qs(urlsplit(browser.consent()).query)["code"][0]
    version_now = TokenStore(store).load()[1]
    answer = browser.open(_with(victim, code=attacker_code))
    assert answer.status_code == 502
    ok = rig.app.requests.count(method="POST", path=rig.token_path, status=200)
    assert exchanges() == before + 2 and ok == before + 1  # one attempt, refused by the provider
    assert TokenStore(store).load()[1] == version_now > tokens_version


# --------------------------------------------------------------------------- requests never leave


class Evil:
    """A second local server that records whatever reaches it."""

    def __init__(self) -> None:
        self.hits: list[str] = []

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        self.hits.append(f"{environ['REQUEST_METHOD']} {environ.get('PATH_INFO')}")
        start_response("200 OK", [("Content-Type", "application/json")])
        return [b"{}"]


def test_no_request_leaves_for_another_host(world: World, provider: str, monkeypatch: pytest.MonkeyPatch) -> None:
    evil = Evil()
    with EmulatorServer(evil) as server:
        rig = make_rig(provider, world)
        rig.connect()
        ctx = context_for(rig.host, rig.integration)
        assert ctx is not None
        good = urlsplit(rig.base)
        tricks = [
            f"{server.url}/calendar/v3/users/me/calendarList",
            f"{server.url}/v1.0/me/events",
            f"http://{good.hostname}:{good.port}@127.0.0.1:{server.port}/calendar/v3/x",
            f"http://127.0.0.1:{server.port}#@{good.hostname}:{good.port}/calendar/v3/x",
            f"{rig.base}/calendar/v3/../../../x",
            f"{rig.base}/v1.0/../../x",
            f"{rig.base}.evil/calendar/v3",
            f"https://{good.hostname}:{good.port}/calendar/v3/x",
            f"//127.0.0.1:{server.port}/calendar/v3",
        ]
        with engine_for(ctx) as engine:
            api = engine.backend.api
            for url in tricks:
                with pytest.raises(UnsafeUrlError):
                    api.request("GET", url)
        rig.follow_foreign_links(monkeypatch, server.url)
        rig.world.settle()
        assert evil.hits == []
