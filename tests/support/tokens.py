"""Forged access tokens: every way a JWT can be wrong, built from a genuine token's claims."""

from __future__ import annotations

import base64
import json
import time

import jwt

from support.config import TEST_SECRET


def _b64(value: dict[str, object]) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")


def sign(claims: dict[str, object], *, key: str = TEST_SECRET, algorithm: str = "HS256") -> str:
    return jwt.encode(claims, key, algorithm=algorithm)


def claims_of(token: str) -> dict[str, object]:
    return dict(jwt.decode(token, TEST_SECRET, algorithms=["HS256"], audience="driftguard-api"))


def forged_tokens(good: dict[str, object]) -> dict[str, str]:
    """By name, tokens that must all be refused although they carry a real user's claims."""
    now = int(time.time())
    signed = sign(good)
    header, _, signature = signed.split(".")
    return {
        "alg none": f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{_b64(good)}.",
        "other key": sign(good, key="another-secret-" + "y" * 64),
        "HS512": sign(good, algorithm="HS512"),
        "wrong audience": sign({**good, "aud": "someone-else"}),
        "wrong issuer": sign({**good, "iss": "someone-else"}),
        "expired": sign({**good, "iat": now - 3600, "exp": now - 1800}),
        "no exp": sign({k: v for k, v in good.items() if k != "exp"}),
        "no type": sign({k: v for k, v in good.items() if k != "typ"}),
        "refresh type": sign({**good, "typ": "refresh"}),
        "tampered signature": signed[:-4] + ("AAAA" if not signed.endswith("AAAA") else "BBBB"),
        # Another subject under the genuine signature.
        "tampered payload": f"{header}.{_b64({**good, 'sub': '999999'})}.{signature}",
        "garbage": "not.a.jwt",
    }
