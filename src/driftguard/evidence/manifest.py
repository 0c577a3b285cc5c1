"""Canonical JSON, section digests and the manifest an examiner checks a pack against.

The canonical form of a section is its JSON with keys sorted, no whitespace between tokens and
non-ASCII characters written as they are, encoded as UTF-8 (Python:
``json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()``). A
section's digest is the SHA-256 of that, in hex. Recomputing it from a pack's JSON form needs
nothing but a JSON parser: parse the pack, dump each ``sections[name]`` canonically, hash.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any, Final

from pydantic import BaseModel, ConfigDict

PACK_FORMAT: Final = "driftguard-evidence-pack"
PACK_VERSION: Final = 1


def canonical_json(value: object) -> bytes:
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode()


def digest(value: object) -> str:
    """The hex SHA-256 of ``value``'s canonical JSON."""
    return hashlib.sha256(canonical_json(value)).hexdigest()


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class SectionDigest(_Frozen):
    name: str
    title: str
    sha256: str


class Withheld(_Frozen):
    """A section left out of this pack, and why (the exporter lacked a permission)."""

    name: str
    reason: str


class ChainHead(_Frozen):
    """The audit chain's newest record when the pack was exported (None: an empty chain)."""

    seq: int | None
    hash: str | None


class Exporter(_Frozen):
    user_id: int | None
    api_key_id: int | None
    email: str | None


class Subject(_Frozen):
    model_id: int
    model_name: str
    version: int
    version_id: int
    team_id: int


class Manifest(_Frozen):
    format: str = PACK_FORMAT
    format_version: int = PACK_VERSION
    subject: Subject
    exported_at: datetime
    exporter: Exporter
    driftguard_version: str
    audit_chain_head: ChainHead
    canonical_form: str = "JSON, keys sorted, separators (',', ':'), UTF-8, no ASCII escaping"
    sections: tuple[SectionDigest, ...]
    withheld: tuple[Withheld, ...] = ()


def mismatches(pack: Mapping[str, Any]) -> list[str]:
    """The sections of a pack's JSON form whose digest no longer matches its manifest, and the
    manifest's sections that are missing from the pack (named ``missing:<name>``); empty when
    the pack is as exported."""
    sections: Mapping[str, Any] = pack["sections"]
    listed = pack["manifest"]["sections"]
    bad = [
        s["name"]
        for s in listed
        if s["name"] in sections and digest(sections[s["name"]]) != s["sha256"]
    ]
    bad += [f"missing:{s['name']}" for s in listed if s["name"] not in sections]
    bad += [f"unlisted:{name}" for name in sections if name not in {s["name"] for s in listed}]
    return bad
