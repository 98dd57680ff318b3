"""The host contract's health vocabulary: states order by severity, the worst one wins."""

from __future__ import annotations

from hookspecs.forms import ACTION_FIELD
from hookspecs.forms import SECTIONS
from hookspecs.forms import TARGET_FIELD
from hookspecs.forms import ConfigForm
from hookspecs.forms import HealthState
from hookspecs.forms import worst_state


def test_states_order_from_ok_to_error() -> None:
    ordered = sorted(HealthState, key=lambda s: s.severity)
    assert ordered[0] is HealthState.OK and ordered[-1] is HealthState.ERROR
    assert HealthState.NOT_CONNECTED.severity > HealthState.WARNING.severity > HealthState.PENDING.severity


def test_worst_state_never_reads_ok_over_a_failure() -> None:
    assert worst_state([HealthState.OK, HealthState.ERROR, HealthState.WARNING]) is HealthState.ERROR
    assert worst_state([HealthState.OK, HealthState.NOT_CONNECTED]) is HealthState.NOT_CONNECTED
    assert worst_state([]) is HealthState.OK
    assert worst_state([], default=HealthState.NOT_CONFIGURED) is HealthState.NOT_CONFIGURED


def test_attention_starts_at_warning() -> None:
    assert not HealthState.OK.needs_attention and not HealthState.PENDING.needs_attention
    assert all(s.needs_attention for s in (HealthState.WARNING, HealthState.NOT_CONNECTED, HealthState.ERROR))


def test_a_form_without_typed_health_says_so_and_actions_have_reserved_keys() -> None:
    assert ConfigForm("i", "t").state is None
    assert ACTION_FIELD.startswith("_") and TARGET_FIELD.startswith("_")
    assert SECTIONS[0] == "connection"
