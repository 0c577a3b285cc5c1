"""Building an evidence pack for one model version, and rendering it."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.orm import Session

import driftguard
from driftguard.audit import repository as audit_repository
from driftguard.evidence.manifest import (
    PACK_FORMAT,
    PACK_VERSION,
    ChainHead,
    Exporter,
    Manifest,
    SectionDigest,
    Subject,
    Withheld,
    digest,
)
from driftguard.evidence.sections import SECTIONS, Limits, Scope, SectionSpec, as_json
from driftguard.identity.orm import User
from driftguard.identity.principal import Principal
from driftguard.registry import service as registry_service
from driftguard.settings import Settings


@dataclass(frozen=True, slots=True)
class Section:
    name: str
    title: str
    data: Mapping[str, Any]  # the JSON the manifest hashes


@dataclass(frozen=True, slots=True)
class EvidencePack:
    sections: tuple[Section, ...]
    manifest: Manifest

    def document(self) -> dict[str, Any]:
        """The pack's JSON form: sections by name, and the manifest."""
        return {
            "format": PACK_FORMAT,
            "format_version": PACK_VERSION,
            "sections": {s.name: s.data for s in self.sections},
            "manifest": self.manifest.model_dump(mode="json"),
        }


def build_pack(
    session: Session,
    *,
    principal: Principal,
    model_id: int,
    number: int,
    limits: Limits,
    environments: Sequence[str],
    now: datetime | None = None,
    specs: Sequence[SectionSpec] = SECTIONS,
) -> EvidencePack:
    """The pack of a version the caller may read (else not found). A section whose permission
    the caller lacks in the version's team is withheld, and the manifest says so."""
    model, version = registry_service.resolve_version(
        session, principal=principal, model_id=model_id, number=number
    )
    # The head first: the audit section holds no record after it, so the two agree.
    head = audit_repository.head(session)
    scope = Scope(
        session=session,
        principal=principal,
        model=model,
        version=version,
        now=now or datetime.now(UTC),
        limits=limits,
        environments=tuple(environments),
        chain_head_seq=head[0] if head else None,
    )
    sections: list[Section] = []
    withheld: list[Withheld] = []
    for spec in specs:
        if spec.requires is not None and not principal.can_in_team(spec.requires, model.team_id):
            withheld.append(Withheld(name=spec.name, reason=f"requires {spec.requires.value}"))
            continue
        sections.append(Section(spec.name, spec.title, as_json(spec.build(scope))))
    manifest = Manifest(
        subject=Subject(
            model_id=model.id,
            model_name=model.name,
            version=version.number,
            version_id=version.id,
            team_id=model.team_id,
        ),
        exported_at=scope.now,
        exporter=_exporter(session, principal),
        driftguard_version=driftguard.__version__,
        audit_chain_head=ChainHead(seq=head[0], hash=head[1])
        if head
        else ChainHead(seq=None, hash=None),
        sections=tuple(
            SectionDigest(name=s.name, title=s.title, sha256=digest(s.data)) for s in sections
        ),
        withheld=tuple(withheld),
    )
    return EvidencePack(tuple(sections), manifest)


def _exporter(session: Session, principal: Principal) -> Exporter:
    user = session.get(User, principal.user_id) if principal.user_id is not None else None
    return Exporter(
        user_id=principal.user_id,
        api_key_id=principal.api_key_id,
        email=user.email if user is not None else None,
    )


def limits_of(settings: Settings) -> Limits:
    return Limits(
        audit_records=settings.evidence_audit_records,
        reports_per_kind=settings.evidence_reports_per_kind,
    )
