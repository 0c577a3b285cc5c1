from __future__ import annotations

import pytest
from cryptography.fernet import Fernet

from driftguard.encryption import SecretsKeyError, derived_key, new_key, secret_cipher
from driftguard.settings import Settings

STRONG = "LGQzyUoWuGgXnVRSdO6CLs798SFwbCQx6Bc6nqMOn3NbO_eJIjewpLOSuuvy7QXh"


def test_round_trip_is_authenticated_and_randomised() -> None:
    cipher = secret_cipher(Settings(secrets_key=new_key()))  # type: ignore[arg-type]
    one, two = cipher.encrypt("whsec_abc"), cipher.encrypt("whsec_abc")
    assert one != two  # a fresh IV each time
    assert "whsec_abc" not in one
    assert cipher.decrypt(one) == "whsec_abc"
    tampered = one[:-6] + ("A" if one[-6] != "A" else "B") + one[-5:]
    with pytest.raises(SecretsKeyError, match="cannot be decrypted"):
        cipher.decrypt(tampered)


def test_the_first_key_encrypts_and_every_key_decrypts() -> None:
    old, new = new_key(), new_key()
    token = secret_cipher(Settings(secrets_key=old)).encrypt("s")  # type: ignore[arg-type]
    both = secret_cipher(Settings(secrets_key=f"{new},{old}"))  # type: ignore[arg-type]
    assert both.decrypt(token) == "s"
    rotated = both.rotate(token)
    assert Fernet(new.encode()).decrypt(rotated.encode()) == b"s"
    with pytest.raises(SecretsKeyError) as caught:
        secret_cipher(Settings(secrets_key=new)).decrypt(token)  # type: ignore[arg-type]
    assert caught.value.code == "secrets_key_mismatch"


def test_outside_production_a_key_is_derived_from_a_configured_jwt_secret() -> None:
    dev = Settings(jwt_secret=STRONG)  # type: ignore[arg-type]
    key = derived_key(dev)
    assert key is not None
    assert key == derived_key(Settings(jwt_secret=STRONG))  # type: ignore[arg-type]
    assert key != derived_key(Settings(jwt_secret="t" * 48))  # type: ignore[arg-type]
    token = secret_cipher(dev).encrypt("s")
    assert Fernet(key.encode()).decrypt(token.encode()) == b"s"
    # Once keys are configured, the derived one still decrypts (until rotated away) ...
    configured = Settings(jwt_secret=STRONG, secrets_key=new_key())  # type: ignore[arg-type]
    assert secret_cipher(configured).decrypt(token) == "s"
    # ... but never in production.
    production = Settings(
        environment="production",
        jwt_secret=STRONG,
        secrets_key=new_key(),  # type: ignore[arg-type]
    )
    with pytest.raises(SecretsKeyError):
        secret_cipher(production).decrypt(token)


def test_no_key_at_all_is_a_clear_error_when_one_is_needed() -> None:
    cipher = secret_cipher(Settings())  # a random per-process JWT secret: nothing to derive from
    with pytest.raises(SecretsKeyError, match="set DRIFTGUARD_SECRETS_KEY") as caught:
        cipher.encrypt("s")
    assert caught.value.code == "secrets_key_missing"
