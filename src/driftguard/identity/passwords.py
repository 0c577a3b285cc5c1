"""Password hashing (Argon2id) and the NIST SP 800-63B acceptance rules.

The rules: at least 15 characters, at most 256 (more than the 64 the standard asks to accept), no
composition rules, and no password from a blocklist of common or predictable choices.
"""

from __future__ import annotations

from functools import cache
from importlib import resources

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError

from driftguard.errors import ErrorDetail, InvalidError
from driftguard.settings import Settings

MIN_LENGTH = 15
MAX_LENGTH = 256
_KEYBOARD_WALKS = (
    "1234567890",
    "1234567890qwertyuiopasdfghjklzxcvbnm",
    "1qaz2wsx3edc4rfv5tgb6yhn7ujm8ik9ol0p",
    "abcdefghijklmnopqrstuvwxyz",
)


def build_hasher(settings: Settings) -> PasswordHasher:
    """An Argon2id hasher with the settings' cost parameters."""
    return PasswordHasher(
        time_cost=settings.argon2_time_cost,
        memory_cost=settings.argon2_memory_cost_kib,
        parallelism=settings.argon2_parallelism,
        type=Type.ID,
    )


def verify_password(hasher: PasswordHasher, password_hash: str, password: str) -> bool:
    """Whether ``password`` matches the stored hash (a malformed hash never matches)."""
    try:
        return hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


@cache
def _blocklist() -> frozenset[str]:
    text = resources.files("driftguard.identity").joinpath("common_passwords.txt").read_text()
    return frozenset(
        line.strip().lower() for line in text.splitlines() if line.strip() and line[0] != "#"
    )


def _is_predictable(lowered: str) -> bool:
    compact = lowered.replace(" ", "")
    if len(set(compact)) <= 2:
        return True
    # A short unit repeated ("abcabcabc...").
    for unit in range(1, len(compact) // 2 + 1):
        if len(compact) % unit == 0 and compact[:unit] * (len(compact) // unit) == compact:
            return True
    # A walk along a keyboard row or the alphabet, forwards or backwards, possibly wrapping.
    for row in _KEYBOARD_WALKS:
        ring = row * 4
        if compact in ring or compact in ring[::-1]:
            return True
    return False


def check_password_policy(password: str, *, email: str = "", field: str = "password") -> None:
    """Raise :class:`InvalidError` naming ``field`` if ``password`` is not acceptable."""
    problem: str | None = None
    lowered = password.lower()
    local_part = email.split("@", 1)[0].lower()
    if len(password) < MIN_LENGTH:
        problem = f"must be at least {MIN_LENGTH} characters"
    elif len(password) > MAX_LENGTH:
        problem = f"must be at most {MAX_LENGTH} characters"
    elif lowered in _blocklist() or _is_predictable(lowered):
        problem = "is too common or predictable; choose a longer, less guessable passphrase"
    elif len(local_part) >= 4 and local_part in lowered and len(lowered) - len(local_part) < 8:
        problem = "is too close to the account's email address"
    if problem is not None:
        raise InvalidError(
            f"{field} {problem}",
            code="weak_password",
            details=[ErrorDetail(loc=field, msg=problem)],
        )
