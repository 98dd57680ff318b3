"""The reference host holds its door (issue 12): DNS rebinding and cross-origin state changes, over real sockets.

A DNS-rebinding page reaches the loopback host with ``Host: attacker.example``; a page on another site
posts with its own ``Origin``. Both are refused before the application runs, so nothing is served and
nothing changes. Providers' pushes (no Origin) still reach the plugin's routes on the public host name.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
import requests

from hookspecs import HttpResponse
from ireserve_devhost import HostServer
from ireserve_devhost import ReferenceHost
from ireserve_devhost.door import default_host_names
from ireserve_devhost.door import normalise_host

ATTACKER = "attacker.example"


@pytest.fixture
def server(host: ReferenceHost, plugin: Any) -> Iterator[HostServer]:
    with HostServer(host, cron_interval=None, workers=0) as running:
        yield running


class _FirstCsrfField(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.field: tuple[str, str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        named = dict(attrs)
        if tag == "input" and self.field is None and "csrf" in (named.get("name") or "").lower():
            self.field = (named["name"] or "", named.get("value") or "")


def _csrf(server: HostServer) -> dict[str, str]:
    """The anti-CSRF field of the index page, as a same-origin browser gets it."""
    parser = _FirstCsrfField()
    parser.feed(requests.get(f"{server.url}/admin/", timeout=5).text)
    assert parser.field is not None, "the index page has no CSRF field"
    return dict([parser.field])


def _add_object(server: HostServer, **headers: str) -> requests.Response:
    data = {**_csrf(server), "name": "Smuggled room", "timezone": "UTC"}
    return requests.post(f"{server.url}/admin/objects", data=data, headers=headers, timeout=5, allow_redirects=False)


def _port(server: HostServer) -> int:
    return server.port


# ---------------------------------------------------------------------- DNS rebinding


@pytest.mark.parametrize("name", [ATTACKER, f"{ATTACKER}:{{port}}", "127.0.0.1.attacker.example", "x@127.0.0.1"])
def test_a_foreign_host_name_gets_400_and_no_page(server: HostServer, name: str) -> None:
    host_header = name.format(port=_port(server))
    response = requests.get(f"{server.url}/admin/", headers={"Host": host_header}, timeout=5)
    assert response.status_code == 400
    assert "csrf" not in response.text.lower() and "<form" not in response.text


def test_a_rebound_post_changes_nothing(host: ReferenceHost, server: HostServer) -> None:
    data = {**_csrf(server), "name": "Smuggled room", "timezone": "UTC"}  # even holding a valid token
    response = requests.post(
        f"{server.url}/admin/objects", data=data, headers={"Host": ATTACKER}, timeout=5, allow_redirects=False
    )
    assert response.status_code == 400
    assert host.objects.all() == []


@pytest.mark.parametrize("name", ["127.0.0.1", "localhost", "[::1]", "LOCALHOST", "localhost."])
def test_loopback_names_are_served(server: HostServer, name: str) -> None:
    response = requests.get(f"{server.url}/admin/", headers={"Host": f"{name}:{_port(server)}"}, timeout=5)
    assert response.status_code == 200


def test_a_request_without_host_gets_400(server: HostServer) -> None:
    with socket.create_connection(("127.0.0.1", _port(server)), timeout=5) as sock:
        sock.sendall(b"GET /admin/ HTTP/1.0\r\n\r\n")
        answer = b""
        while chunk := sock.recv(4096):
            answer += chunk
    assert answer.startswith(b"HTTP/1.0 400") or answer.startswith(b"HTTP/1.1 400"), answer[:100]


# ---------------------------------------------------------------------- cross-origin state changes


@pytest.mark.parametrize(
    "headers",
    [
        {"Origin": f"http://{ATTACKER}"},
        {"Origin": "null"},
        {"Origin": "http://127.0.0.1:1"},  # another server on loopback
        {"Origin": "https://127.0.0.1:{port}"},  # another scheme
        {"Origin": "not a url"},
        {"Referer": f"http://{ATTACKER}/page"},
        {"Referer": "http://127.0.0.1@attacker.example/"},
    ],
)
def test_a_cross_origin_post_gets_403_and_changes_nothing(
    host: ReferenceHost, server: HostServer, headers: dict[str, str]
) -> None:
    headers = {name: value.format(port=_port(server)) for name, value in headers.items()}
    response = _add_object(server, **headers)
    assert response.status_code == 403
    assert host.objects.all() == []


@pytest.mark.parametrize("headers", [{"Origin": "{url}"}, {"Referer": "{url}/admin/"}, {}])
def test_a_same_origin_post_is_served(host: ReferenceHost, server: HostServer, headers: dict[str, str]) -> None:
    response = _add_object(server, **{name: value.format(url=server.url) for name, value in headers.items()})
    assert response.status_code in (200, 303), response.text
    assert [room.name for room in host.objects.all()] == ["Smuggled room"]


def test_a_post_from_the_public_origin_is_served(host: ReferenceHost, plugin: Any) -> None:
    """Behind a TLS proxy the browser's Origin is the public URL, not the server's own address."""
    host.public_url = "https://booking.example"
    with HostServer(host, cron_interval=None, workers=0, update_public_url=False) as running:
        response = _add_object(running, Origin="https://booking.example", Host="booking.example")
        assert response.status_code in (200, 303)
        assert _add_object(running, Origin="https://evil.example", Host="booking.example").status_code == 403
    assert len(host.objects.all()) == 1


# ---------------------------------------------------------------------- the plugin's routes


def test_pushes_reach_the_plugin_on_the_public_host_name(host: ReferenceHost, plugin: Any) -> None:
    plugin.http_answer = lambda request: HttpResponse(200, b"ok", {"Content-Type": "text/plain"})
    host.public_url = "https://hooks.booking.example"
    with HostServer(host, cron_interval=None, workers=0, update_public_url=False) as running:
        push = f"{running.url}/ext/google/push"
        ok = requests.post(
            push, data=b"{}", headers={"Host": "hooks.booking.example", "X-Goog-Channel-ID": "c"}, timeout=5
        )
        assert ok.status_code == 200
        refused = requests.post(push, data=b"{}", headers={"Host": ATTACKER}, timeout=5)
        assert refused.status_code == 400
        foreign = requests.post(push, data=b"{}", headers={"Origin": f"http://{ATTACKER}"}, timeout=5)
        assert foreign.status_code == 403
    assert len(plugin.of("on_http_route")) == 1


def test_an_added_host_name_is_served(host: ReferenceHost, plugin: Any) -> None:
    with HostServer(host, cron_interval=None, workers=0, allowed_hosts=["Intranet.LAN"]) as running:
        page = f"{running.url}/admin/"
        assert requests.get(page, headers={"Host": "intranet.lan:8080"}, timeout=5).status_code == 200
        assert requests.get(page, headers={"Host": "other.lan"}, timeout=5).status_code == 400


def test_host_names_are_normalised() -> None:
    assert normalise_host("LocalHost:8080") == "localhost"
    assert normalise_host("[::1]:80") == "[::1]"
    assert normalise_host("[::1]x") is None
    assert normalise_host("a:b") is None
    assert normalise_host("evil/..") is None
    names = default_host_names("https://Booking.Example:8443/base", "10.0.0.5", ["intra.lan"])
    assert {"127.0.0.1", "localhost", "[::1]", "booking.example", "10.0.0.5", "intra.lan"} == names
    assert "0.0.0.0" not in default_host_names(None, "0.0.0.0")
    with pytest.raises(ValueError):
        default_host_names(None, None, ["bad/name"])


# ---------------------------------------------------------------------- the command


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_the_command_holds_its_door(tmp_path: Path) -> None:
    port = _free_port()
    env = {
        **os.environ,
        "IRESERVE_DISABLED_PLUGINS": "calendar",
        "IRESERVE_DEVHOST_ALLOWED_HOSTS": "intranet.lan, other.lan",
    }
    command = [
        sys.executable,
        "-m",
        "ireserve_devhost.cli",
        "host",
        "--db",
        str(tmp_path / "host.db"),
        "--create",
        "--port",
        str(port),
        "--public-url",
        "https://booking.example",
        "--allowed-host",
        "extra.lan",
    ]
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 15
        url = f"http://127.0.0.1:{port}/admin/"
        while True:
            try:
                requests.get(url, timeout=1)
                break
            except requests.ConnectionError:
                assert process.poll() is None, process.communicate()[1]
                assert time.monotonic() < deadline, "the host did not start"
                time.sleep(0.05)
        for name, status in [
            ("127.0.0.1", 200),
            ("booking.example", 200),
            ("intranet.lan", 200),
            ("other.lan", 200),
            ("extra.lan", 200),
            (ATTACKER, 400),
        ]:
            assert requests.get(url, headers={"Host": name}, timeout=5).status_code == status, name
    finally:
        process.terminate()
        process.communicate(timeout=15)
