"""How links are stored: plain JSON (nothing in them is secret), and links sealed by older versions still read."""

from __future__ import annotations

import json
import os

import pytest

from hookspecs.types import KeyRing
from ireserve_calendar_plugin.config.store import SecureConfig
from ireserve_calendar_plugin.config.store import rotate_integration_keys
from ireserve_calendar_plugin.errors import ConfigDecryptError
from ireserve_calendar_plugin.sync.links import Link
from ireserve_calendar_plugin.sync.links import LinkState
from ireserve_calendar_plugin.sync.links import LinkStore
from tests.unit.memory_config import MemoryConfig

RING = KeyRing(current="k1", keys={"k1": os.urandom(32)})


def _stores() -> tuple[MemoryConfig, SecureConfig, LinkStore]:
    config = MemoryConfig()
    secure = SecureConfig(config, RING, "g1")
    return config, secure, LinkStore(secure)


def test_a_link_is_written_as_plain_json_and_read_back() -> None:
    config, _, links = _stores()
    link = Link(7, "cal", event_id="evt-1", etag='"e1"', state=LinkState.LINKED, join_url="https://meet/x")
    assert links.save(link)
    value, version = config.data[("g1", "link/cal/7")]
    assert json.loads(value)["event_id"] == "evt-1" and version == 1
    assert links.get("cal", 7) == link.but(version=1)
    assert links.booking_ids("cal") == [7]


def test_a_link_sealed_by_an_older_version_still_reads_and_is_rewritten_plain_when_saved() -> None:
    config, secure, links = _stores()
    old = Link(7, "cal", event_id="evt-1", etag='"e1"', content_hash="h", state=LinkState.LINKED)
    assert secure.save(LinkStore.key("cal", 7), old.to_json(), expected_version=0)  # how links were stored
    assert config.data[("g1", "link/cal/7")][0].startswith("icp1.")
    read = links.get("cal", 7)
    assert read == old.but(version=1)
    assert links.find(7, ["other"]) == read  # found by listing too
    assert links.save(read.but(etag='"e2"'))  # compare-and-set on the same version counter
    value, version = config.data[("g1", "link/cal/7")]
    assert version == 2 and json.loads(value)["etag"] == '"e2"'


def test_migrate_rewrites_every_sealed_link_as_plain_and_rotation_leaves_plain_links_alone() -> None:
    config, secure, links = _stores()
    for booking_id in (1, 2):
        secure.save(
            LinkStore.key("cal", booking_id),
            Link(booking_id, "cal", event_id=f"e{booking_id}").to_json(),
            expected_version=0,
        )
    links.save(Link(3, "cal", event_id="e3"))
    assert links.migrate() == 2
    assert links.migrate() == 0
    assert all(not value.startswith("icp1.") for value, _ in config.data.values())
    assert [links.get("cal", i).event_id for i in (1, 2, 3)] == ["e1", "e2", "e3"]  # type: ignore[union-attr]
    rotated = KeyRing(current="k2", keys={**RING.keys, "k2": os.urandom(32)})
    assert rotate_integration_keys(config, rotated, "g1") == 0  # nothing sealed to re-encrypt


def test_a_link_that_is_neither_json_nor_an_envelope_is_an_error_not_garbage() -> None:
    config, _, links = _stores()
    config.put("g1", "link/cal/1", "not json", expected_version=None)
    with pytest.raises(ConfigDecryptError):
        links.get("cal", 1)
