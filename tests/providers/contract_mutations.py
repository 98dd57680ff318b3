"""Proof that each shared contract test can fail: break one provider rule at a time, run the contract test
that guards it, expect a failure, restore the file. Run by hand (about two minutes):

    .venv/bin/python tests/providers/contract_mutations.py [name-part ...]

It prints KILLED / SURVIVED per mutation and exits non-zero if any survived. Not collected by pytest.
"""

from __future__ import annotations

import pathlib
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parents[2]
GOOGLE = "tests/providers/google/test_google_contract.py::TestGoogleContract::"
OUTLOOK = "tests/providers/outlook/test_outlook_contract.py::TestOutlookContract::"
PROVIDERS = "ireserve_calendar_plugin/providers/"
#: (what breaks, file, code, broken code, the contract test that must fail)
MUTANTS = [
    (
        "paging: Google puts a cursor on every page",
        PROVIDERS + "google/backend.py",
        "            yield ChangePage(page.events)\n            page_token",
        "            yield ChangePage(page.events, cursor=page.next_sync_token or 'x')\n            page_token",
        GOOGLE + "test_a_full_listing_pages_lazily_and_only_the_last_page_has_the_cursor",
    ),
    (
        "incremental: Outlook ignores @removed",
        PROVIDERS + "outlook/mapping.py",
        '    if "@removed" in data:',
        "    if False:",
        OUTLOOK + "test_an_incremental_listing_returns_exactly_what_a_person_changed",
    ),
    (
        "stale: Google 410 sync token retried as transient",
        PROVIDERS + "google/client.py",
        "    elif status == 410 and reason in SYNC_TOKEN_REASONS:\n        cls = SyncTokenInvalidError",
        "    elif status == 410 and reason in SYNC_TOKEN_REASONS:\n        cls = TransientError",
        GOOGLE + "test_a_stale_cursor_raises_at_once_and_a_full_listing_recovers",
    ),
    (
        "create key: Google ignores the key",
        PROVIDERS + "google/mapping.py",
        '    body = {"id": event_id_for(idempotency_key), **patch_body(draft)}',
        '    body = {"id": new_event_id(), **patch_body(draft)}',
        GOOGLE + "test_a_create_repeated_with_its_key_is_one_event",
    ),
    (
        "lost answer: Outlook drops transactionId",
        PROVIDERS + "outlook/mapping.py",
        '    body = {**patch_body(draft), "transactionId": transaction_id}',
        "    body = {**patch_body(draft)}",
        OUTLOOK + "test_a_create_whose_answer_was_lost_is_one_event",
    ),
    (
        "retried create: Outlook does not patch a changed draft",
        PROVIDERS + "outlook/backend.py",
        "        if not mapping.same_content(data, draft):",
        "        if False:",
        OUTLOOK + "test_a_retried_create_brings_a_changed_draft_up_to_date",
    ),
    (
        "retried create: Google does not patch a changed draft",
        PROVIDERS + "google/backend.py",
        "            if not mapping.same_content(data, draft):",
        "            if False:",
        GOOGLE + "test_a_retried_create_brings_a_changed_draft_up_to_date",
    ),
    (
        "delete: Google 404/410 not done",
        PROVIDERS + "google/backend.py",
        "            if exc.status not in (404, 410):\n                raise",
        "            if True:\n                raise",
        GOOGLE + "test_deleting_twice_or_an_unknown_event_is_done",
    ),
    (
        "delete: Outlook 404 not done",
        PROVIDERS + "outlook/backend.py",
        "            if exc.status not in (404, 410):\n                raise",
        "            if True:\n                raise",
        OUTLOOK + "test_deleting_twice_or_an_unknown_event_is_done",
    ),
    (
        "recheck: Outlook treats every recheck as gone",
        PROVIDERS + "outlook/backend.py",
        "        return None if event.deleted else event",
        "        return None",
        OUTLOOK + "test_recheck_tells_a_removal_from_an_event_that_still_exists",
    ),
    (
        "recheck: Google 404 raises",
        PROVIDERS + "google/backend.py",
        "            if exc.status in (404, 410):\n                return None",
        "            if False:\n                return None",
        GOOGLE + "test_recheck_tells_a_removal_from_an_event_that_still_exists",
    ),
    (
        "push: Google reads the secret from the wrong header",
        PROVIDERS + "google/push.py",
        'token = _clean(request.header("x-goog-channel-token"), MAX_CHANNEL_TOKEN)',
        'token = _clean(request.header("x-goog-resource-id"), MAX_CHANNEL_TOKEN)',
        GOOGLE + "test_a_genuine_notification_routes_to_its_calendar",
    ),
    (
        "push: Outlook takes the subscription id as the secret",
        PROVIDERS + "outlook/push.py",
        "    return PushNotice(channel_id=subscription_id, secret=client_state, kind=kind)",
        "    return PushNotice(channel_id=subscription_id, secret=subscription_id, kind=kind)",
        OUTLOOK + "test_a_genuine_notification_routes_to_its_calendar",
    ),
    (
        "forged: Google accepts a notification without its token",
        PROVIDERS + "google/push.py",
        "    if channel_id is None or token is None or state is None:",
        "    token = token or ''\n    if channel_id is None or state is None:",
        GOOGLE + "test_a_forged_notification_routes_nowhere",
    ),
    (
        "forged: Outlook accepts an item without clientState",
        PROVIDERS + "outlook/push.py",
        "    if subscription_id is None or client_state is None:",
        "    client_state = client_state or ''\n    if subscription_id is None:",
        OUTLOOK + "test_a_forged_notification_routes_nowhere",
    ),
    (
        "stale: Outlook does not read a dead delta link as one",
        PROVIDERS + "outlook/client.py",
        "    return error.status == 410 or error.reason.lower() in SYNC_STATE_CODES",
        "    return False",
        OUTLOOK + "test_a_stale_cursor_raises_at_once_and_a_full_listing_recovers",
    ),
    (
        "forged: the engine skips the secret check",
        "ireserve_calendar_plugin/sync/channels.py",
        "    if not hmac.compare_digest(expected.encode(), secret.encode()):",
        "    if False:",
        GOOGLE + "test_a_forged_notification_routes_nowhere",
    ),
]


def main(only: list[str]) -> int:
    survivors = 0
    for name, path, old, new, test in MUTANTS:
        if only and not any(o in name for o in only):
            continue
        target = ROOT / path
        source = target.read_text()
        assert source.count(old) == 1, f"{name}: the code to break is not there once"
        target.write_text(source.replace(old, new))
        try:
            run = subprocess.run(
                [sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider", test],
                cwd=ROOT,
                capture_output=True,
                text=True,
                check=False,
            )
        finally:
            target.write_text(source)
        killed = run.returncode == 1
        survivors += not killed
        print(("KILLED   " if killed else "SURVIVED ") + name + "  (" + run.stdout.strip().splitlines()[-1] + ")")
    print(f"survivors: {survivors}")
    return 1 if survivors else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
