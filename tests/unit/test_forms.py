"""The admin form: shown from the schema, validated on submit, stored encrypted or not at all."""

from __future__ import annotations

import os
from dataclasses import dataclass
from dataclasses import field

import pytest

from hookspecs.types import BookableObject
from hookspecs.types import Integration
from hookspecs.types import KeyRing
from ireserve_calendar_plugin.config.form import SETTINGS_KEY
from ireserve_calendar_plugin.config.form import build_form
from ireserve_calendar_plugin.config.form import submit_form
from ireserve_calendar_plugin.config.schemas import SECRET_MASK
from ireserve_calendar_plugin.config.store import SecureConfig
from ireserve_calendar_plugin.providers.google import GoogleProvider
from ireserve_calendar_plugin.providers.outlook import OutlookProvider
from tests.unit.memory_config import MemoryConfig


class _Objects:
    def __init__(self, *objects: BookableObject) -> None:
        self._objects = {o.id: o for o in objects}

    def get(self, object_id: int) -> BookableObject | None:
        return self._objects.get(object_id)

    def all(self) -> list[BookableObject]:
        return list(self._objects.values())


@dataclass
class _Host:
    objects: _Objects = field(default_factory=lambda: _Objects(BookableObject(1, "Room A"), BookableObject(2, "B")))
    config: MemoryConfig = field(default_factory=MemoryConfig)
    keyring: KeyRing = field(default_factory=lambda: KeyRing("k1", {"k1": os.urandom(32)}))


GOOGLE = Integration("g1", "google", name="Main")
OUTLOOK = Integration("o1", "outlook")
VALID_GOOGLE = {
    "client_id": "cid",
    "client_secret": "s3cret-canary",
    "calendar_mapping": [{"object": "*", "calendar_id": "primary"}, {"object": "1", "calendar_id": "room@x"}],
    "create_on_statuses": "confirmed, option",
    "popup_reminder_minutes": "15",
}


def _submit(host: _Host, integration: Integration, provider, data):  # type: ignore[no-untyped-def]
    store = SecureConfig(host.config, host.keyring, integration.id)
    return submit_form(host, integration, provider, store, data), store  # type: ignore[arg-type]


def test_form_lists_every_schema_field_with_defaults_and_object_choices() -> None:
    host = _Host()
    form = build_form(host, GOOGLE, GoogleProvider(), None)  # type: ignore[arg-type]
    by_name = {f.name: f for f in form.fields}
    assert set(by_name) == set(GoogleProvider.settings_schema().fields)
    assert by_name["ires_field"].value == "external_id"
    assert by_name["client_secret"].kind == "secret" and by_name["client_secret"].value == ""
    mapping = by_name["calendar_mapping"]
    assert mapping.kind == "table"
    assert ("*", "* (default)") in mapping.columns[0].choices and ("1", "Room A") in mapping.columns[0].choices


def test_valid_submit_is_stored_encrypted_and_secret_masked() -> None:
    host = _Host()
    (form, data), store = _submit(host, GOOGLE, GoogleProvider(), VALID_GOOGLE)
    assert form.saved and not form.field_errors, form
    assert data is not None and data["create_on_statuses"] == ["confirmed", "option"]
    assert data["popup_reminder_minutes"] == 15
    assert store.load(SETTINGS_KEY).data["client_secret"] == "s3cret-canary"
    assert all("s3cret-canary" not in value for value, _ in host.config.data.values())
    shown = {f.name: f.value for f in form.fields}
    assert shown["client_secret"] == SECRET_MASK
    assert "s3cret-canary" not in repr(form)


def test_resubmitting_the_mask_keeps_the_secret() -> None:
    host = _Host()
    _submit(host, GOOGLE, GoogleProvider(), VALID_GOOGLE)
    (form, data), store = _submit(host, GOOGLE, GoogleProvider(), {"client_secret": SECRET_MASK, "client_id": "new"})
    assert form.saved
    assert store.load(SETTINGS_KEY).data["client_secret"] == "s3cret-canary"
    assert store.load(SETTINGS_KEY).data["client_id"] == "new"


@pytest.mark.parametrize(
    "change,field_name",
    [
        ({"popup_reminder_minutes": "99999"}, "popup_reminder_minutes"),
        ({"popup_reminder_minutes": "soon"}, "popup_reminder_minutes"),
        (
            {"calendar_mapping": [{"object": "*", "calendar_id": "a"}, {"object": "*", "calendar_id": "b"}]},
            "calendar_mapping",
        ),
        ({"calendar_mapping": [{"object": "7", "calendar_id": "a"}]}, "calendar_mapping"),  # no such object
        ({"api_base_url": "http://evil.example.com/calendar/v3"}, "api_base_url"),
        ({"api_base_url": "https://x.example.com/?a=b"}, "api_base_url"),
        ({"ires_field": "bad field!"}, "ires_field"),
        ({"create_on_statuses": "confirmed, cancelled"}, "create_on_statuses"),
        ({"client_secret": ""}, "client_secret"),
    ],
)
def test_invalid_submit_stores_nothing_and_names_the_field(change: dict, field_name: str) -> None:
    host = _Host()
    (form, data), store = _submit(host, GOOGLE, GoogleProvider(), {**VALID_GOOGLE, **change})
    assert not form.saved and data is None
    assert field_name in form.field_errors, form.field_errors
    assert not store.load(SETTINGS_KEY).exists
    assert host.config.data == {}


def test_invalid_resubmit_keeps_the_previous_settings() -> None:
    host = _Host()
    _submit(host, GOOGLE, GoogleProvider(), VALID_GOOGLE)
    before = dict(host.config.data)
    (form, _), _ = _submit(host, GOOGLE, GoogleProvider(), {"popup_reminder_minutes": "-1", "client_id": "zzz"})
    assert not form.saved and "popup_reminder_minutes" in form.field_errors
    assert host.config.data == before
    assert {f.name: f.value for f in form.fields}["client_secret"] == SECRET_MASK


@pytest.mark.parametrize(
    "data,field_name",
    [
        ({"tenant": "contoso.onmicrosoft.com"}, "object_id"),
        ({"tenant": "../evil", "object_id": "1"}, "tenant"),
        # rooms may come later (picked from discovery), but a room mailbox has no Teams licence
        (
            {
                "tenant": "contoso.onmicrosoft.com",
                "auth_mode": "application",
                "room_outbound": True,
                "meeting_link": True,
            },
            "meeting_link",
        ),
        ({"tenant": "common", "auth_mode": "application", "rooms": [{"upn": "r@contoso.com", "object": 1}]}, "tenant"),
        (
            {
                "tenant": "contoso.com",
                "auth_mode": "application",
                "rooms": [{"upn": "room/../x@contoso.com", "object": 1}],
            },
            "rooms",
        ),
        (
            {
                "tenant": "contoso.com",
                "auth_mode": "application",
                "rooms": [{"upn": "r@contoso.com", "object": 1}, {"upn": "R@contoso.com", "object": 2}],
            },
            "rooms",
        ),
        ({"tenant": "contoso.com", "object_id": "9"}, "object_id"),
    ],
)
def test_outlook_mode_rules(data: dict, field_name: str) -> None:
    host = _Host()
    (form, stored), _ = _submit(host, OUTLOOK, OutlookProvider(), {"client_id": "c", "client_secret": "s", **data})
    assert stored is None and field_name in form.field_errors, form.field_errors


def test_outlook_application_mode_with_rooms_is_accepted() -> None:
    host = _Host()
    rooms = [{"upn": "room-1@contoso.onmicrosoft.com", "object": "1"}, {"upn": "room-2@contoso.com", "object": 2}]
    (form, stored), _ = _submit(
        host,
        OUTLOOK,
        OutlookProvider(),
        {
            "client_id": "c",
            "client_secret": "s",
            "tenant": "contoso.onmicrosoft.com",
            "auth_mode": "application",
            "rooms": rooms,
        },
    )
    assert form.saved and stored is not None
    assert [r["object"] for r in stored["rooms"]] == [1, 2]
