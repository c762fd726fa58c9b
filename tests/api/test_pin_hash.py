"""The citizen's PIN as the read model keeps it: a keyed hash bound to the issue, fast to check,
and useless without the server's key; rows hashed with argon2 before it still open."""

from __future__ import annotations

from api.security import PIN_HASH_SCHEME, hash_pin, hash_secret, pin_for, verify_pin
from settings import Settings

SETTINGS = Settings(secret_key="k" * 32)
OTHER_KEY = Settings(secret_key="q" * 32)


def test_the_stored_hash_opens_with_its_pin_only_for_its_own_issue() -> None:
    pin = pin_for("issue-a", SETTINGS)
    stored = hash_pin("issue-a", pin, SETTINGS)
    assert stored.startswith(PIN_HASH_SCHEME) and pin not in stored
    assert verify_pin("issue-a", pin, stored, SETTINGS)
    assert not verify_pin("issue-a", f"{(int(pin) + 1) % 1_000_000:06d}", stored, SETTINGS)
    # The same PIN on another issue, or checked under another key, does not match.
    assert not verify_pin("issue-b", pin, stored, SETTINGS)
    assert not verify_pin("issue-a", pin, stored, OTHER_KEY)
    assert hash_pin("issue-b", pin, SETTINGS) != stored


def test_a_pin_hashed_with_argon2_before_keeps_working() -> None:
    legacy = hash_secret("123456")
    assert verify_pin("issue-a", "123456", legacy, SETTINGS)
    assert not verify_pin("issue-a", "654321", legacy, SETTINGS)
    assert not verify_pin("issue-a", "123456", None, SETTINGS)
    assert not verify_pin("issue-a", "123456", "garbage", SETTINGS)
