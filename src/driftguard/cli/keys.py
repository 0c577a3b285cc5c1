"""``driftguard secrets``: the keys that encrypt stored secrets (webhook signing keys)."""

from __future__ import annotations

import typer

from driftguard.cli.errors import exit_on_domain_error
from driftguard.cli.groups import command_group

secrets_app = command_group("Keys of the secrets stored encrypted (DRIFTGUARD_SECRETS_KEY).")


@secrets_app.command("new-key")
def make_key() -> None:
    """Print a new random key for DRIFTGUARD_SECRETS_KEY (nothing is stored)."""
    from driftguard.encryption import new_key

    typer.echo(new_key())


@secrets_app.command("rotate")
def rotate() -> None:
    """Re-encrypt every stored secret under the first key of DRIFTGUARD_SECRETS_KEY.

    To change keys: put the new key first and keep the old ones after it, run this, then drop
    the old keys. All or nothing, audited (``secrets.rotate``)."""
    from driftguard.audit.schemas import SYSTEM
    from driftguard.cli.sessions import engine_for, session_factory
    from driftguard.db.session import unit_of_work
    from driftguard.encryption import secret_cipher
    from driftguard.settings import load_settings
    from driftguard.webhooks import service as webhooks

    settings = load_settings()
    with (
        engine_for(settings) as engine,
        exit_on_domain_error(),
        unit_of_work(session_factory(engine, settings)) as session,
    ):
        count = webhooks.rotate_secrets(session, cipher=secret_cipher(settings), actor=SYSTEM)
    typer.echo(f"re-encrypted {count} webhook signing secrets under the first key")
