"""independent validation and findings: validations, their evidence (cited reports, uploaded
documents), findings and their history

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-08
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import driftguard.db.base

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "validations",
        sa.Column("team_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("model_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "version_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("scope", sa.Text(), nullable=False),
        sa.Column("method", sa.Text(), nullable=False),
        sa.Column("conditions", sa.Text(), nullable=False),
        sa.Column("outcome_note", sa.Text(), nullable=False),
        sa.Column(
            "opened_by_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column(
            "decided_by_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column("created_at", driftguard.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", driftguard.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("decided_at", driftguard.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["decided_by_id"],
            ["users.id"],
            name=op.f("fk_validations_decided_by_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["model_id"],
            ["registered_models.id"],
            name=op.f("fk_validations_model_id_registered_models"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["opened_by_id"],
            ["users.id"],
            name=op.f("fk_validations_opened_by_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["team_id"], ["teams.id"], name=op.f("fk_validations_team_id_teams"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["version_id"],
            ["model_versions.id"],
            name=op.f("fk_validations_version_id_model_versions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_validations")),
    )
    with op.batch_alter_table("validations", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_validations_model_id"), ["model_id"], unique=False)
        batch_op.create_index("ix_validations_team_id_status", ["team_id", "status"], unique=False)
        batch_op.create_index("ix_validations_version_id_id", ["version_id", "id"], unique=False)

    op.create_table(
        "findings",
        sa.Column("team_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("model_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "version_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column(
            "validation_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("severity", sa.String(length=16), nullable=False),
        sa.Column("owner_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("due_date", sa.Date(), nullable=False),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("remediation_note", sa.Text(), nullable=False),
        sa.Column(
            "created_by_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column("created_at", driftguard.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", driftguard.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("closed_at", driftguard.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["created_by_id"],
            ["users.id"],
            name=op.f("fk_findings_created_by_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["model_id"],
            ["registered_models.id"],
            name=op.f("fk_findings_model_id_registered_models"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["owner_id"], ["users.id"], name=op.f("fk_findings_owner_id_users"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["team_id"], ["teams.id"], name=op.f("fk_findings_team_id_teams"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["validation_id"],
            ["validations.id"],
            name=op.f("fk_findings_validation_id_validations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["version_id"],
            ["model_versions.id"],
            name=op.f("fk_findings_version_id_model_versions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_findings")),
    )
    with op.batch_alter_table("findings", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_findings_model_id"), ["model_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_findings_owner_id"), ["owner_id"], unique=False)
        batch_op.create_index("ix_findings_status_due_date", ["status", "due_date"], unique=False)
        batch_op.create_index(
            "ix_findings_team_id_status_due_date", ["team_id", "status", "due_date"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_findings_validation_id"), ["validation_id"], unique=False
        )
        batch_op.create_index(
            "ix_findings_version_id_status", ["version_id", "status"], unique=False
        )

    op.create_table(
        "validation_documents",
        sa.Column(
            "validation_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("filename", sa.String(length=255), nullable=False),
        sa.Column("content_type", sa.String(length=100), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=False),
        sa.Column(
            "uploaded_by_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column("created_at", driftguard.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["uploaded_by_id"],
            ["users.id"],
            name=op.f("fk_validation_documents_uploaded_by_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["validation_id"],
            ["validations.id"],
            name=op.f("fk_validation_documents_validation_id_validations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_validation_documents")),
    )
    with op.batch_alter_table("validation_documents", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_validation_documents_validation_id"), ["validation_id"], unique=False
        )

    op.create_table(
        "finding_events",
        sa.Column(
            "finding_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("action", sa.String(length=32), nullable=False),
        sa.Column("from_status", sa.String(length=32), nullable=True),
        sa.Column("to_status", sa.String(length=32), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column(
            "actor_user_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column(
            "actor_api_key_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column("at", driftguard.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["actor_api_key_id"],
            ["api_keys.id"],
            name=op.f("fk_finding_events_actor_api_key_id_api_keys"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["actor_user_id"],
            ["users.id"],
            name=op.f("fk_finding_events_actor_user_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["finding_id"],
            ["findings.id"],
            name=op.f("fk_finding_events_finding_id_findings"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_finding_events")),
    )
    with op.batch_alter_table("finding_events", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_finding_events_finding_id"), ["finding_id"], unique=False
        )

    op.create_table(
        "validation_reports",
        sa.Column(
            "validation_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("report_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column(
            "cited_report_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("window_start", driftguard.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("window_end", driftguard.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["report_id"],
            ["monitoring_reports.id"],
            name=op.f("fk_validation_reports_report_id_monitoring_reports"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["validation_id"],
            ["validations.id"],
            name=op.f("fk_validation_reports_validation_id_validations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_validation_reports")),
    )
    with op.batch_alter_table("validation_reports", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_validation_reports_report_id"), ["report_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_validation_reports_validation_id"), ["validation_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("validation_reports", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_validation_reports_validation_id"))
        batch_op.drop_index(batch_op.f("ix_validation_reports_report_id"))

    op.drop_table("validation_reports")
    with op.batch_alter_table("finding_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_finding_events_finding_id"))

    op.drop_table("finding_events")
    with op.batch_alter_table("validation_documents", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_validation_documents_validation_id"))

    op.drop_table("validation_documents")
    with op.batch_alter_table("findings", schema=None) as batch_op:
        batch_op.drop_index("ix_findings_version_id_status")
        batch_op.drop_index(batch_op.f("ix_findings_validation_id"))
        batch_op.drop_index("ix_findings_team_id_status_due_date")
        batch_op.drop_index("ix_findings_status_due_date")
        batch_op.drop_index(batch_op.f("ix_findings_owner_id"))
        batch_op.drop_index(batch_op.f("ix_findings_model_id"))

    op.drop_table("findings")
    with op.batch_alter_table("validations", schema=None) as batch_op:
        batch_op.drop_index("ix_validations_version_id_id")
        batch_op.drop_index("ix_validations_team_id_status")
        batch_op.drop_index(batch_op.f("ix_validations_model_id"))

    op.drop_table("validations")
