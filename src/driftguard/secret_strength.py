"""Whether a configured secret looks random enough to guard a production deployment.

A secret's true entropy cannot be measured from one value, but a weak one usually shows: few
distinct characters ("aaaa…"), a repeated pattern ("abcdabcd…"), or a placeholder word copied
from an example ("changeme", "my-jwt-secret"). The bar sits below what random generators give:
``secrets.token_hex(16)`` (32 characters) measures 92 bits or more in a million draws, the
bound is 80; ``secrets.token_urlsafe(48)`` measures about 330.
"""

from __future__ import annotations

import math
import re
from collections import Counter

MIN_SECRET_BITS = 80.0
GENERATE_HINT = "python3 -c 'import secrets; print(secrets.token_urlsafe(48))'"
# Words that mark a value copied from an example; six letters or more, so that a random token
# contains one by chance about once in ten million draws.
PLACEHOLDERS = (
    "changeme",
    "secret",
    "password",
    "passwd",
    "example",
    "placeholder",
    "replace",
    "default",
    "insecure",
    "sample",
)


def character_bits(value: str) -> float:
    """The Shannon entropy of ``value``'s characters times its length, in bits.

    ``H = -n * sum(p_c * log2(p_c))`` over the characters ``c`` of ``value`` with frequencies
    ``p_c``: 0 for one repeated character, ``n * log2(k)`` for ``k`` characters used equally.

    >>> character_bits("aaaa"), character_bits("abab")
    (0.0, 4.0)
    """
    n = len(value)
    counts = Counter(value).values()
    return -n * sum(c / n * math.log2(c / n) for c in counts) + 0.0


def _period(value: str) -> int:
    # The shortest unit the value repeats (its own length when it repeats nothing).
    for size in range(1, len(value) // 2 + 1):
        if len(value) % size == 0 and value == value[:size] * (len(value) // size):
            return size
    return len(value)


def weakness(value: str) -> str | None:
    """Why ``value`` is too weak for a production secret, or None. Never quotes the value."""
    words = re.sub(r"[^a-z0-9]", "", value.lower())
    for word in PLACEHOLDERS:
        if word in words:
            return f"it contains the placeholder word {word!r}"
    if _period(value) < len(value):
        return "it repeats a shorter pattern"
    bits = character_bits(value)
    if bits < MIN_SECRET_BITS:
        return (
            f"its characters carry about {bits:.0f} bits, fewer than {MIN_SECRET_BITS:.0f} "
            "(too few distinct characters)"
        )
    return None
