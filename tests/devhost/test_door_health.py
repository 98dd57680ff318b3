"""A host process that cannot decrypt (or cannot read its keys) shows it in ``status`` (exit 1) and on the
admin page (issue 12), even when ``status`` itself, with its own keys, decrypts fine."""

from __future__ import annotations

import io
from typing import Any

import requests

from ireserve_devhost import HostServer
from ireserve_devhost import ReferenceHost
from ireserve_devhost.keyring import key_file_for
from ireserve_devhost.status import EXIT_ATTENTION
from ireserve_devhost.status import EXIT_OK
from ireserve_devhost.status import run_status


class ConfigDecryptError(Exception):
    """Stands in for the plugin's own error: the host knows no plugin's exceptions, only that one was raised."""


def _status(db: str) -> tuple[int, str]:
    out = io.StringIO()
    code = run_status(db, out=out, err=out)
    return code, out.getvalue()


def test_a_host_failing_its_pushes_shows_in_status_and_on_the_admin_page(file_host: ReferenceHost, plugin: Any) -> None:
    db = file_host.db.path
    with HostServer(file_host, cron_interval=None, workers=0) as server:
        assert _status(db) == (EXIT_OK, "No integrations configured.\n")
        assert "host-problems" not in requests.get(f"{server.url}/admin/", timeout=5).text

        def cannot_decrypt(request: Any) -> Any:
            raise ConfigDecryptError("g1", "channel", "key id 'k2' is not in the key ring")

        plugin.http_answer = cannot_decrypt
        assert requests.post(f"{server.url}/ext/calendar/push/google/g1", timeout=5).status_code == 500
        code, text = _status(db)
        assert code == EXIT_ATTENTION
        assert "on_http_route raised ConfigDecryptError" in text and "k2" not in text  # the type, never the text
        page = requests.get(f"{server.url}/admin/", timeout=5).text
        assert 'id="host-problems"' in page and "on_http_route raised ConfigDecryptError" in page


def test_a_host_that_cannot_reread_its_key_file_shows_it(file_host: ReferenceHost, plugin: Any) -> None:
    with HostServer(file_host, cron_interval=None, workers=0) as server:
        key_file_for(file_host.db.path).write_text("{}")  # a hand edit gone wrong
        file_host.health.beat()
        page = requests.get(f"{server.url}/admin/", timeout=5).text
        assert 'id="host-problems"' in page and "cannot read its keys" in page
