"""Outlook (delegated mode) through the shared provider contract suite (``ireserve_lab.provider_contract``)."""

from __future__ import annotations

import pytest

from ireserve_lab.provider_contract import ProviderContractTests
from tests.providers.outlook.conftest import Graph


class TestOutlookContract(ProviderContractTests):
    """The rig is the connected Graph harness; its calendar under test is the delegated user's."""

    @pytest.fixture
    def rig(self, connected: Graph) -> Graph:
        return connected
