"""The hand-listed mutations of the engine's safety rules: source snippet -> replacement.

Each :class:`Mutant` removes or weakens one rule in a copy of the plugin; ``test_mutation_gate.py``
applies them one at a time and runs the listed focused tests against the mutant, which must fail.
``named`` marks the rules issue 13 names (always run); the rest run with ``--run-slow``.

A snippet must occur exactly once in its file: when the code it names changes, the gate fails and
says so, and this list is updated together with the rule (never silently dropped).
"""

from __future__ import annotations

from dataclasses import dataclass

PLAN = "ireserve_calendar_plugin/sync/plan.py"
ECHO = "ireserve_calendar_plugin/sync/echo.py"
INBOUND = "ireserve_calendar_plugin/sync/inbound.py"
OUTBOUND = "ireserve_calendar_plugin/sync/outbound.py"
SERVICES = "ireserve_calendar_plugin/services.py"
LINKS = "ireserve_calendar_plugin/sync/links.py"
PAGE = "ireserve_calendar_plugin/sync/page.py"

UNIT_PLAN = "tests/unit/test_plan.py"
UNIT_ECHO = "tests/unit/test_echo.py"
SAFETY = "tests/reliability/test_safety_rules.py"
REGRESSIONS = "tests/reliability/test_regressions.py"
UNIT_OF_WORK = "tests/reliability/test_unit_of_work.py"


@dataclass(frozen=True)
class Mutant:
    """One rule removed: ``old`` (exactly once in ``path``) becomes ``new``; ``tests`` must then fail."""

    name: str
    path: str
    old: str
    new: str
    tests: tuple[str, ...]
    named: bool = False


MUTANTS: tuple[Mutant, ...] = (
    # -- the rules issue 13 names -------------------------------------------------------------------
    Mutant(
        "plan: our own deletion only unlinks (rule removed)",
        PLAN,
        "link is not None and link.state == LinkState.DELETING and link.event_id == event.id",
        "False",
        (f"{UNIT_PLAN}::test_our_own_deletion_seen_again_only_unlinks_a_booking_confirmed_meanwhile",),
        named=True,
    ),
    Mutant(
        "plan: our own deletion only unlinks (any event of the booking)",
        PLAN,
        "link.state == LinkState.DELETING and link.event_id == event.id",
        "link.state == LinkState.DELETING",
        (f"{UNIT_PLAN}::test_our_own_deletion_seen_again_only_unlinks_a_booking_confirmed_meanwhile",),
        named=True,
    ),
    Mutant(
        "hook: own writes ignored by origin (cross-process echo)",
        SERVICES,
        "is_own_origin(origin, iid) or outbound_suppressed(iid)",
        "outbound_suppressed(iid)",
        (f"{SAFETY}::test_own_writes_from_another_process_queue_no_outbound_job",),
        named=True,
    ),
    Mutant(
        "echo: own origin recognised",
        ECHO,
        "return origin == origin_of(integration_id)",
        "return False",
        (f"{UNIT_ECHO}::test_own_origin_is_exactly_this_integrations",),
        named=True,
    ),
    Mutant(
        "hook: in-process outbound suppression consulted",
        SERVICES,
        "is_own_origin(origin, iid) or outbound_suppressed(iid)",
        "is_own_origin(origin, iid)",
        (f"{SAFETY}::test_changes_applied_by_an_inbound_round_queue_no_outbound_job_whatever_the_origin",),
        named=True,
    ),
    Mutant(
        "echo: in-process outbound suppression",
        ECHO,
        "return applying is not None and applying.integration_id == integration_id",
        "return False",
        (f"{UNIT_ECHO}::test_outbound_is_suppressed_only_inside_the_integrations_inbound_block",),
        named=True,
    ),
    Mutant(
        "inbound: the round applies its changes with outbound suppressed",
        INBOUND,
        "with applying_inbound(self.integration_id, alone=alone):",
        'with applying_inbound("", alone=alone):',
        (f"{SAFETY}::test_an_inbound_round_applies_its_changes_with_outbound_suppressed",),
        named=True,
    ),
    Mutant(
        "inbound: mass-deletion guard (removed)",
        INBOUND,
        "if not seen and len(missing) > MASS_DELETE_GUARD:",
        "if False:",
        (f"{SAFETY}::test_an_empty_full_listing_cancels_nothing",),
        named=True,
    ),
    Mutant(
        "inbound: mass-deletion guard (also holds back a listing with events)",
        INBOUND,
        "if not seen and len(missing) > MASS_DELETE_GUARD:",
        "if len(missing) > MASS_DELETE_GUARD:",
        (f"{SAFETY}::test_a_full_listing_with_events_still_cancels_what_it_misses",),
        named=True,
    ),
    # -- the rest of plan.py and the echo / idempotency code (--run-slow) -----------------------
    Mutant(
        "plan: lock statuses are never cancelled",
        PLAN,
        "if booking.status in options.lock_statuses:",
        "if False:",
        (f"{UNIT_PLAN}::test_cancelled_event_leaves_a_locked_booking_alone",),
    ),
    Mutant(
        "plan: the remote echo of our own write is skipped by etag",
        PLAN,
        "if link is not None and link.etag and link.etag == event.etag:",
        "if False:",
        (f"{UNIT_PLAN}::test_own_echo_is_skipped_by_etag",),
    ),
    Mutant(
        "plan: a deleted event is matched only through the field",
        PLAN,
        "    if event.deleted:\n        return None",
        "    if False:\n        return None",
        (f"{UNIT_PLAN}::test_a_deleted_event_is_matched_only_through_the_field",),
    ),
    Mutant(
        "plan: the fallbacks never take a booking linked elsewhere or on another object",
        PLAN,
        'return linked_to in ("", event_id) and booking.object_id in objects',
        "return True",
        (f"{UNIT_PLAN}::test_fallback_never_steals_a_booking",),
    ),
    Mutant(
        "plan: new events outside the window make no booking",
        PLAN,
        "if not window.overlaps(event.start, event.end):",
        "if False:",
        (f"{UNIT_PLAN}::test_new_events_that_must_not_become_bookings",),
    ),
    Mutant(
        "plan: an unfinished delete is finished first",
        PLAN,
        " or state == LinkState.DELETING:",
        ":",
        (f"{UNIT_PLAN}::test_an_unfinished_delete_is_finished_before_the_booking_gets_a_new_event",),
    ),
    Mutant(
        "plan: an interrupted create is resumed",
        PLAN,
        "elif state == LinkState.CREATING or booking.status in options.create_on_statuses:",
        "elif booking.status in options.create_on_statuses:",
        (f"{UNIT_PLAN}::test_an_interrupted_create_is_resumed_or_undone",),
    ),
    Mutant(
        "echo: the suppression ends with the inbound block",
        ECHO,
        "_inbound_of.reset(token)",
        "pass",
        (f"{UNIT_ECHO}::test_outbound_is_suppressed_only_inside_the_integrations_inbound_block",),
    ),
    Mutant(
        "outbound: a retried create reuses its idempotency key",
        OUTBOUND,
        "if link is None or link.state != LinkState.CREATING:",
        "if True:",
        (f"{SAFETY}::test_a_create_repeated_after_the_worker_died_makes_one_event",),
    ),
    Mutant(
        "outbound: a plan made before the lease is checked under it",
        OUTBOUND,
        "if (link.version if link is not None else 0) != planned.get(target.key, 0):",
        "if False:",
        (f"{REGRESSIONS}::test_two_outbound_jobs_planned_together_make_one_event",),
    ),
    Mutant(
        "outbound: a delete is marked ours before it is made",
        OUTBOUND,
        "if event_id and link.state != LinkState.DELETING and not self.links.save(marked):",
        "if False:",
        (f"{REGRESSIONS}::test_a_delete_whose_outcome_was_lost_does_not_cancel_the_booking_confirmed_again",),
    ),
    # -- the unit of work (issue 16) ----------------------------------------------------------------
    Mutant(
        "inbound: each event of a page is applied in its own savepoint",
        INBOUND,
        "                    with writes.savepoint():",
        "                    with contextlib.nullcontext():",
        (f"{UNIT_OF_WORK}::test_an_event_the_host_refuses_is_undone_alone_and_the_rest_of_the_page_commits",),
    ),
    Mutant(
        "hook: a lone round's own writes read nothing",
        SERVICES,
        "    if own_round_write(origin):\n        return",
        "    if False:\n        return",
        (f"{UNIT_OF_WORK}::test_the_hook_reads_nothing_for_the_writes_of_a_round_alone_on_the_host",),
    ),
    Mutant(
        "links: links sealed by an older version still read",
        LINKS,
        'if value.startswith(f"{ENVELOPE_PREFIX}."):',
        "if False:",
        (f"{UNIT_OF_WORK}::test_links_sealed_by_an_older_version_keep_working_and_become_plain",),
    ),
    Mutant(
        "page: a host without a unit of work is written per call",
        PAGE,
        "    if isinstance(host, UnitOfWorkHost):",
        "    if True:",
        (f"{UNIT_OF_WORK}::test_a_host_without_the_capabilities_gets_the_same_outcome",),
    ),
)
