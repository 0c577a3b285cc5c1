from __future__ import annotations

import base64
import secrets

import pytest
from pydantic import ValidationError

from driftguard.encryption import new_key
from driftguard.secret_strength import weakness
from driftguard.settings import Settings

STRONG = "LGQzyUoWuGgXnVRSdO6CLs798SFwbCQx6Bc6nqMOn3NbO_eJIjewpLOSuuvy7QXh"
KEY = new_key()


def test_defaults_are_an_embedded_sqlite_database(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DRIFTGUARD_DATABASE_URL", raising=False)
    settings = Settings()
    assert settings.database_url == "sqlite:///driftguard.db"
    assert settings.is_sqlite
    assert settings.redis_url is None
    assert (settings.db_pool_size, settings.db_max_overflow) == (20, 40)
    assert settings.db_pool_timeout_seconds == 10


def test_environment_variables_use_the_driftguard_prefix(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DRIFTGUARD_DB_POOL_SIZE", "5")
    monkeypatch.setenv("DRIFTGUARD_CORS_ORIGINS", "https://a.example, https://b.example")
    settings = Settings()
    assert settings.db_pool_size == 5
    assert settings.cors_origins == ["https://a.example", "https://b.example"]


def test_production_refuses_the_default_secret() -> None:
    with pytest.raises(ValidationError, match="JWT_SECRET"):
        Settings(environment="production")  # type: ignore[arg-type]


def test_production_refuses_a_short_secret() -> None:
    with pytest.raises(ValidationError, match="at least 32"):
        Settings(environment="production", jwt_secret="short-secret")  # type: ignore[arg-type]


def test_production_refuses_a_wildcard_origin() -> None:
    with pytest.raises(ValidationError, match="CORS"):
        Settings(environment="production", jwt_secret=STRONG, cors_origins=["*"])  # type: ignore[arg-type]


def test_production_accepts_a_strong_configuration() -> None:
    settings = Settings(
        environment="production",  # type: ignore[arg-type]
        jwt_secret=STRONG,  # type: ignore[arg-type]
        secrets_key=KEY,  # type: ignore[arg-type]
        cors_origins=["https://driftguard.example"],
    )
    assert settings.cors_origins == ["https://driftguard.example"]


def test_production_refuses_to_start_without_a_secrets_key() -> None:
    with pytest.raises(ValidationError, match="DRIFTGUARD_SECRETS_KEY must be set in production"):
        Settings(environment="production", jwt_secret=STRONG)  # type: ignore[arg-type]


def test_secrets_keys_are_a_list_of_fernet_keys_never_echoed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    other = new_key()
    monkeypatch.setenv("DRIFTGUARD_SECRETS_KEY", f" {KEY} , {other} ")
    assert [k.get_secret_value() for k in Settings().secrets_key] == [KEY, other]
    leaked = "not-a-key-but-still-a-secret"
    monkeypatch.setenv("DRIFTGUARD_SECRETS_KEY", f"{KEY},{leaked}")
    with pytest.raises(ValidationError, match="key 2 of 2 is not a Fernet key") as caught:
        Settings()
    assert leaked not in str(caught.value)
    assert KEY not in str(caught.value)


def test_setting_errors_never_echo_a_secret() -> None:
    with pytest.raises(ValidationError) as caught:
        Settings(environment="production", jwt_secret="short-but-secret")  # type: ignore[arg-type]
    assert "short-but-secret" not in str(caught.value)


def test_access_tokens_live_at_most_fifteen_minutes() -> None:
    with pytest.raises(ValidationError, match="access_token_ttl_seconds"):
        Settings(access_token_ttl_seconds=3600)


def test_every_environment_refuses_a_wildcard_origin_with_credentials() -> None:
    for environment in ("development", "test"):
        with pytest.raises(ValidationError, match="exact origins"):
            Settings(environment=environment, cors_origins="*")  # type: ignore[arg-type]


def test_trusted_proxies_are_addresses_or_networks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DRIFTGUARD_TRUSTED_PROXIES", "10.0.0.7, 192.168.0.0/16")
    assert [str(n) for n in Settings().trusted_proxies] == ["10.0.0.7/32", "192.168.0.0/16"]
    monkeypatch.setenv("DRIFTGUARD_TRUSTED_PROXIES", "not-an-address")
    with pytest.raises(ValidationError, match="trusted_proxies"):
        Settings()


def test_rate_limits_must_parse() -> None:
    assert Settings(rate_limit_api="10/second").rate_limit_api == "10/second"
    with pytest.raises(ValidationError, match="rate_limit_login"):
        Settings(rate_limit_login="often")


def test_audit_checkpoints_are_signed_with_the_audit_key_or_the_jwt_secret() -> None:
    assert Settings(jwt_secret=STRONG).audit_signing_key() == STRONG.encode()  # type: ignore[arg-type]
    dedicated = Settings(jwt_secret=STRONG, audit_key="k" * 40)  # type: ignore[arg-type]
    assert dedicated.audit_signing_key() == b"k" * 40


def test_audit_keys_rotate_and_are_none_without_a_lasting_secret(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert Settings().audit_chain_keys() == []  # a per-process random JWT secret: unkeyed
    monkeypatch.setenv("DRIFTGUARD_AUDIT_KEY", "new-" + "n" * 40)
    monkeypatch.setenv("DRIFTGUARD_AUDIT_PREVIOUS_KEYS", " old-1-" + "o" * 40 + ", old-2 ,")
    assert Settings().audit_chain_keys() == [
        b"new-" + b"n" * 40,
        b"old-1-" + b"o" * 40,
        b"old-2",
    ]


def test_a_checkpoint_directory_needs_a_lasting_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DRIFTGUARD_AUDIT_CHECKPOINT_DIR", "/var/lib/driftguard/checkpoints")
    with pytest.raises(ValidationError, match="DRIFTGUARD_AUDIT_KEY"):
        Settings()
    monkeypatch.setenv("DRIFTGUARD_AUDIT_KEY", "k" * 40)
    assert str(Settings().audit_checkpoint_dir) == "/var/lib/driftguard/checkpoints"
    monkeypatch.setenv("DRIFTGUARD_AUDIT_CHECKPOINT_DIR", "")
    assert Settings().audit_checkpoint_dir is None


def test_optional_services_left_empty_are_unset(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("DRIFTGUARD_SENTRY_DSN", "DRIFTGUARD_SENTRY_ENVIRONMENT", "DRIFTGUARD_REDIS_URL"):
        monkeypatch.setenv(name, " ")
    settings = Settings()
    assert (settings.sentry_dsn, settings.sentry_environment, settings.redis_url) == (None,) * 3


def _production(**values: object) -> Settings:
    values = {"jwt_secret": STRONG, "secrets_key": KEY, **values}
    return Settings(environment="production", **values)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("secret", "reason"),
    [
        ("a" * 32, "repeats a shorter pattern"),
        ("s" * 48, "repeats a shorter pattern"),
        ("0123456789abcdef" * 2, "repeats a shorter pattern"),
        ("ab" * 20 + "cdefg", "bits, fewer than 80"),
        ("changeme-changeme-changeme-changeme", "placeholder word 'changeme'"),
        ("my-super-Secret-jwt-key-for-production-use", "placeholder word 'secret'"),
        ("Password1234567890Password1234567890", "placeholder word 'password'"),
    ],
)
def test_production_refuses_a_weak_jwt_secret_saying_how_to_make_one(
    secret: str, reason: str
) -> None:
    with pytest.raises(ValidationError) as caught:
        _production(jwt_secret=secret)
    message = str(caught.value)
    assert "DRIFTGUARD_JWT_SECRET is too weak for production" in message
    assert reason in message
    assert "secrets.token_urlsafe(48)" in message
    assert secret not in message


@pytest.mark.parametrize(
    ("setting", "name"),
    [("audit_key", "DRIFTGUARD_AUDIT_KEY"), ("metrics_token", "DRIFTGUARD_METRICS_TOKEN")],
)
def test_every_production_secret_is_held_to_the_same_bar(setting: str, name: str) -> None:
    for weak in ("x" * 40, "short-but-random-Q7"):
        with pytest.raises(ValidationError, match=f"{name} is too weak for production"):
            _production(**{setting: weak})
    assert _production(**{setting: "Wq3vZk9Lx2Rb7Tn4Yp8Hc6Jd1Fs5Gm0aE"}) is not None


def test_a_fernet_key_of_repeated_bytes_is_refused_in_production() -> None:
    zeros = base64.urlsafe_b64encode(bytes(32)).decode()
    with pytest.raises(ValidationError, match=r"SECRETS_KEY \(key 2 of 2\) is too weak") as caught:
        _production(secrets_key=f"{KEY},{zeros}")
    assert "driftguard secrets new-key" in str(caught.value)


def test_weak_secrets_are_still_fine_outside_production() -> None:
    assert Settings(environment="test", jwt_secret="s" * 48).jwt_secret  # type: ignore[arg-type]


def test_random_secrets_pass_the_bar() -> None:
    # The shortest random values the hints could give: far above the bound every time.
    for _ in range(2000):
        assert weakness(secrets.token_hex(16)) is None
        assert weakness(secrets.token_urlsafe(24)) is None
        assert weakness(new_key()) is None
