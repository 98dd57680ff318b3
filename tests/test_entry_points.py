"""Providers load through entry points only, and a third-party package can add one by an entry point alone."""

from __future__ import annotations

import importlib.metadata
import sys
import types

import pytest

from ireserve_calendar_plugin.providers.base import CalendarProvider
from ireserve_calendar_plugin.providers.registry import ProviderRegistry
from ireserve_calendar_plugin.providers.registry import load_providers
from ireserve_calendar_plugin.providers.spec import PROVIDER_ENTRY_POINT_GROUP
from ireserve_calendar_plugin.providers.spec import provider_hookimpl


class _FakeDistribution:
    """Just enough of importlib.metadata.Distribution for entry-point loading."""

    def __init__(self, name: str, entry_points: list[importlib.metadata.EntryPoint]) -> None:
        self.metadata = {"name": name}
        self.entry_points = entry_points


def _install_fake_provider(monkeypatch: pytest.MonkeyPatch, module_name: str, body: types.ModuleType) -> None:
    monkeypatch.setitem(sys.modules, module_name, body)
    ep = importlib.metadata.EntryPoint(name="acme", value=module_name, group=PROVIDER_ENTRY_POINT_GROUP)
    real = importlib.metadata.distributions

    def distributions(**kwargs: object) -> list[object]:
        return [*real(**kwargs), _FakeDistribution("ireserve-acme", [ep])]

    monkeypatch.setattr(importlib.metadata, "distributions", distributions)


def test_builtin_providers_come_from_entry_points() -> None:
    registry = load_providers()
    assert {"google", "outlook", "caldav"} <= set(registry.names())
    assert registry.get("google").title == "Google Calendar"
    assert registry.get("caldav").__module__ == "ireserve_calendar_plugin.providers.caldav"


def test_a_third_party_provider_needs_only_an_entry_point(monkeypatch: pytest.MonkeyPatch) -> None:
    class AcmeProvider(CalendarProvider):
        name = "acme"
        title = "Acme calendars"

    module = types.ModuleType("ireserve_acme")

    @provider_hookimpl
    def calendar_provider_register(registry: ProviderRegistry) -> None:
        registry.add(AcmeProvider)

    module.calendar_provider_register = calendar_provider_register  # type: ignore[attr-defined]
    _install_fake_provider(monkeypatch, "ireserve_acme", module)
    registry = load_providers()
    assert registry.get("acme") is AcmeProvider
    assert {"google", "outlook", "caldav", "acme"} <= set(registry.names())


def test_a_broken_provider_is_skipped_not_fatal(monkeypatch: pytest.MonkeyPatch) -> None:
    ep = importlib.metadata.EntryPoint(name="broken", value="no_such_module_xyz", group=PROVIDER_ENTRY_POINT_GROUP)
    real = importlib.metadata.distributions
    monkeypatch.setattr(
        importlib.metadata, "distributions", lambda **kw: [*real(**kw), _FakeDistribution("broken", [ep])]
    )
    registry = load_providers()
    assert "google" in registry and "broken" not in registry


def test_disabled_providers_are_not_loaded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IRESERVE_CALENDAR_DISABLED_PROVIDERS", "outlook")
    assert load_providers().names() == ["caldav", "google"]


def test_registry_refuses_non_providers_and_name_clashes() -> None:
    registry = ProviderRegistry()
    with pytest.raises(TypeError):
        registry.add(object)  # type: ignore[arg-type]

    class A(CalendarProvider):
        name = "x"

    class B(CalendarProvider):
        name = "x"

    registry.add(A)
    with pytest.raises(ValueError):
        registry.add(B)


def test_the_plugin_is_declared_in_the_host_group() -> None:
    eps = importlib.metadata.entry_points(group="ireserve")
    assert "ireserve_calendar_plugin.plugin" in {ep.value for ep in eps if ep.name == "calendar"}
