"""Which settings are endpoints (changing one is a re-approval, issue 12): both providers, and a third
provider that only declares its URLs."""

from __future__ import annotations

from marshmallow import fields

from ireserve_calendar_plugin.config.schemas import BaseUrl
from ireserve_calendar_plugin.config.schemas import ProviderSettingsSchema
from ireserve_calendar_plugin.providers.base import CalendarProvider
from ireserve_calendar_plugin.providers.google import GoogleProvider
from ireserve_calendar_plugin.providers.outlook import OutlookProvider


class _CalDavSchema(ProviderSettingsSchema):
    server_url = BaseUrl(load_default="https://dav.example.com")
    discovery = fields.String(load_default="", metadata={"endpoint": True})
    colour = fields.String(load_default="")


class _CalDav(CalendarProvider):
    name = "caldav-test"
    settings_schema = _CalDavSchema


def test_both_providers_declare_every_url_they_send_credentials_to() -> None:
    assert set(GoogleProvider().endpoint_fields()) == {
        "api_base_url",
        "auth_url",
        "token_url",
        "revoke_url",
        "directory_base_url",
    }
    assert set(GoogleProvider.grant_keys) >= {"tokens", "sa_token", "sa_directory_token"}
    # the tenant is part of the token endpoint's address ({login}/{tenant}/oauth2/v2.0/token)
    assert set(OutlookProvider().endpoint_fields()) == {"graph_base_url", "login_base_url", "tenant"}
    assert set(OutlookProvider.grant_keys) >= {"tokens", "app_token"}


def test_a_third_provider_gets_the_rule_by_declaring_its_urls() -> None:
    assert set(_CalDav().endpoint_fields()) == {"server_url", "discovery"}
    assert _CalDav.grant_keys == ("tokens",)
