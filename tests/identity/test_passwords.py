from __future__ import annotations

import pytest

from driftguard.errors import InvalidError
from driftguard.identity.passwords import (
    MAX_LENGTH,
    MIN_LENGTH,
    build_hasher,
    check_password_policy,
    verify_password,
)
from support.config import make_settings


@pytest.mark.parametrize(
    "password",
    [
        "short-pass",
        "x" * (MIN_LENGTH - 1),
        "passwordpassword",
        "PasswordPassword",
        "qwertyuiopasdfghjkl",
        "123456789012345678",
        "aaaaaaaaaaaaaaaaaaaa",
        "abcabcabcabcabcabc",
        "zyxwvutsrqponmlkj",
        "xxxxxxxyyyyyyyyyy",
        "1qaz2wsx3edc4rfv",
        "x" * (MAX_LENGTH + 1),
    ],
)
def test_weak_passwords_are_refused_with_the_field_named(password: str) -> None:
    with pytest.raises(InvalidError) as caught:
        check_password_policy(password)
    assert caught.value.details[0].loc == "password"


@pytest.mark.parametrize(
    "password",
    [
        "correct-otter-lantern-meadow",
        "all lowercase no digits",  # no composition rules: length is what counts
        "a sentence with spaces in it",
        "🦦 unicode passphrase 🦦",
        ("lantern meadow otter copper violin harbor glacier pepper tundra " * 2)[:64],
    ],
)
def test_reasonable_passphrases_are_accepted(password: str) -> None:
    check_password_policy(password)


def test_a_password_that_is_just_the_email_is_refused() -> None:
    with pytest.raises(InvalidError, match="email"):
        check_password_policy("mariagonzalez123", email="mariagonzalez@bank.example")


def test_hashes_are_argon2id_and_verify() -> None:
    hasher = build_hasher(make_settings("sqlite://"))
    encoded = hasher.hash("correct-otter-lantern-meadow")
    assert encoded.startswith("$argon2id$")
    assert verify_password(hasher, encoded, "correct-otter-lantern-meadow")
    assert not verify_password(hasher, encoded, "wrong-otter-lantern-meadow")
    assert not verify_password(hasher, "not-a-hash", "anything")
