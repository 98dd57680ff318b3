"""Google through the shared provider contract suite (``ireserve_lab.provider_contract``)."""

from __future__ import annotations

import pytest

from ireserve_lab.provider_contract import ProviderContractTests
from tests.providers.google.conftest import Google


class TestGoogleContract(ProviderContractTests):
    """The rig is the connected Google harness; its calendar under test is the room."""

    @pytest.fixture
    def rig(self, connected: Google) -> Google:
        return connected
