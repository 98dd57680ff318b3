"""CalDAV through the shared provider contract suite (``ireserve_lab.provider_contract``), on a real
Radicale. What CalDAV cannot offer (push; a request count per page, as Radicale answers a listing in
one response) the rig raises as ``Unsupported``: those tests skip with the reason."""

from __future__ import annotations

from tests.caldav.conftest import require_caldav_libraries

require_caldav_libraries()

import pytest  # noqa: E402

from ireserve_lab.provider_contract import ProviderContractTests  # noqa: E402
from tests.providers.caldav.conftest import CalDav  # noqa: E402


class TestCalDavContract(ProviderContractTests):
    """The rig is a fresh Radicale account; its calendar under test is the account's "work" calendar."""

    @pytest.fixture
    def rig(self, caldav_rig: CalDav) -> CalDav:
        return caldav_rig
