"""Policies: the list, a policy's versions (source shown as text), activation, the editor for a
new policy or version, and a simulation of the draft before anything is saved."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Annotated

from fastapi import Request, Response
from fastapi.responses import RedirectResponse
from pydantic import BaseModel, Field, StringConstraints, ValidationError
from sqlalchemy.orm import Session

from driftguard.errors import DriftGuardError, ErrorDetail, ErrorKind, InvalidError
from driftguard.governance import policies, simulation
from driftguard.governance.schemas import (
    EnvironmentName,
    Override,
    PolicyCreate,
    PolicyRead,
    PolicySource,
    PolicyVersionCreate,
    Simulation,
    SimulationRequest,
    SimulationScope,
)
from driftguard.http.deps import DbSession, SandboxSession, SettingsDep
from driftguard.http.params import ObjectId, VersionNumber
from driftguard.http.status import STATUS_BY_KIND
from driftguard.identity import service as identity
from driftguard.identity.permissions import Permission
from driftguard.rules import FACTS
from driftguard.schemas import Id, Name, ShortText
from driftguard.web.forms import FieldErrors, page_count, parse_fields
from driftguard.web.routing import web_router
from driftguard.web.security import CheckedForm, SignedIn, page_permission
from driftguard.web.templating import render

router = web_router()
Reader = Annotated[SignedIn, page_permission(Permission.POLICIES_READ)]
Writer = Annotated[SignedIn, page_permission(Permission.POLICIES_WRITE)]
Simulator = Annotated[SignedIn, page_permission(Permission.SIMULATIONS_RUN)]
PAGE_SIZE = 50
VERSIONS = 50
MAX_SOURCE = 256 * 1024


class ListQuery(BaseModel):
    page: Annotated[int, Field(ge=1, le=1_000_000)] = 1


class DraftFields(BaseModel):
    """The editor: ``name`` and ``description`` only when creating a policy; the simulation's
    scope (one team) and one hypothetical fact (``what_if_*``, the API's first override)."""

    name: Name | None = None
    description: ShortText = ""
    source: PolicySource | None = None
    policy_id: Id | None = None
    environment: EnvironmentName = "production"
    team_id: Id | None = None
    what_if_fact: Annotated[str, StringConstraints(max_length=64)] = ""
    what_if_feature: Annotated[str, StringConstraints(max_length=128)] = ""
    what_if_value: Annotated[str, StringConstraints(max_length=32)] = ""

    def override(self) -> list[Override]:
        """The hypothetical fact as the API takes it (none when no fact is chosen)."""
        if not self.what_if_fact:
            return []
        value: float | str = self.what_if_value
        if self.what_if_fact not in ("model.materiality", "model.criticality"):
            try:
                value = float(self.what_if_value)
            except ValueError:
                raise InvalidError(
                    "overrides.0.value: must be a number",
                    details=[ErrorDetail("overrides.0.value", "must be a number")],
                ) from None
        try:
            return [
                Override.model_validate(
                    {"fact": self.what_if_fact, "subject": self.what_if_feature, "value": value}
                )
            ]
        except ValidationError as exc:
            details = [
                ErrorDetail(f"overrides.0.{e['loc'][0]}", e["msg"].removeprefix("Value error, "))
                for e in exc.errors()
            ]
            raise InvalidError(
                "overrides.0: " + "; ".join(f"{d.loc}: {d.msg}" for d in details), details=details
            ) from None


# Where an API error about the simulation's inputs is shown on the form.
_FORM_FIELDS = {
    "environment": "environment",
    "scope.team_id": "team_id",
    "overrides.0.fact": "what_if_fact",
    "overrides.0.subject": "what_if_feature",
    "overrides.0.value": "what_if_value",
}
WHAT_IF_FACTS = (
    "model.materiality",
    "model.criticality",
    *sorted(f for f in FACTS if f != "mri.score"),
)
# Facts that encode states as numbers, with their codes shown beside them in the fact list.
FACT_CODES = {
    name: ", ".join(f"{code} {state}" for state, code in spec.codes.items())
    for name, spec in FACTS.items()
    if spec.codes is not None
}


@router.get("/policies")
def policy_list(request: Request, session: DbSession, user: Reader) -> Response:
    """The stored policies, one page at a time."""
    query, errors = parse_fields(ListQuery, dict(request.query_params))
    result = policies.list_policies(session, limit=PAGE_SIZE, offset=(query.page - 1) * PAGE_SIZE)
    context = {
        "user": user,
        "query": query,
        "result": result,
        "pages": page_count(result.total, PAGE_SIZE),
        "can_write": user.can(Permission.POLICIES_WRITE),
    }
    return render(request, "policies.html", context, status_code=422 if errors else 200)


def _raw_names() -> tuple[str, ...]:
    return tuple(DraftFields.model_fields)


def _raw(form: CheckedForm) -> dict[str, str]:
    return {name: str(form.get(name) or "")[:MAX_SOURCE] for name in _raw_names()}


def editor(
    request: Request,
    session: Session,
    user: SignedIn,
    settings: SettingsDep,
    *,
    policy: PolicyRead | None,
    raw: dict[str, str],
    errors: FieldErrors | None = None,
    problems: list[tuple[str, str]] | None = None,
    message: str = "",
    result: Simulation | None = None,
    status_code: int = 200,
) -> Response:
    """The policy editor page: the form as submitted, its problems, and a simulation's result
    when one ran."""
    context = {
        "user": user,
        "policy": policy,
        "raw": raw,
        "errors": errors or {},
        "problems": problems or [],
        "message": message,
        "simulation": result,
        "environments": settings.deployment_environments,
        "teams": identity.visible_teams(session, principal=user.principal),
        "what_if_facts": WHAT_IF_FACTS,
        "fact_codes": FACT_CODES,
        "can_write": user.can(Permission.POLICIES_WRITE),
        "can_simulate": user.can(Permission.SIMULATIONS_RUN),
    }
    return render(request, "policy_editor.html", context, status_code=status_code)


def _refusal(exc: DriftGuardError) -> tuple[FieldErrors, list[tuple[str, str]], str]:
    """A service error as field errors, the paths of policy problems, and a form message."""
    problems = [
        ("source" + d.loc.removeprefix("policy").removeprefix("source"), d.msg)
        for d in exc.details
        if d.loc.startswith(("source", "policy"))
    ]
    errors: FieldErrors = {_FORM_FIELDS[d.loc]: d.msg for d in exc.details if d.loc in _FORM_FIELDS}
    if problems:
        errors["source"] = "the policy is not valid; each problem is listed by its path"
    elif exc.code == "name_taken":
        errors["name"] = exc.message
    elif exc.code == "same_content":
        errors["source"] = exc.message
    message = "" if errors else exc.message
    return errors, problems, message


def _refused(page: Callable[..., Response], exc: DriftGuardError) -> Response:
    """The editor again, showing why the service refused the draft, with the error's status."""
    errors, problems, message = _refusal(exc)
    return page(
        errors=errors, problems=problems, message=message, status_code=STATUS_BY_KIND[exc.kind]
    )


def _draft(
    session: Session, form: CheckedForm
) -> tuple[dict[str, str], DraftFields, FieldErrors, PolicyRead | None]:
    """A submitted draft: its raw fields, the parsed ones and their errors (a missing source
    among them), and the policy it is a new version of, if it names one."""
    raw = _raw(form)
    fields, errors = parse_fields(DraftFields, raw)
    policy = policies.read_policy(session, policy_id=fields.policy_id) if fields.policy_id else None
    if fields.source is None and "source" not in errors:
        errors["source"] = "write the policy here"
    return raw, fields, errors, policy


@router.get("/policies/new")
def new_policy(
    request: Request, session: DbSession, user: Writer, settings: SettingsDep
) -> Response:
    """An empty policy editor."""
    raw = dict.fromkeys(_raw_names(), "")
    return editor(request, session, user, settings, policy=None, raw=raw)


@router.post("/policies")
def save_draft(
    request: Request, session: DbSession, user: Writer, settings: SettingsDep, form: CheckedForm
) -> Response:
    """A new policy (its version 1), or, with ``policy_id``, a new version of that policy."""
    raw, fields, errors, policy = _draft(session, form)
    page = partial(editor, request, session, user, settings, policy=policy, raw=raw)
    if policy is None and fields.name is None and "name" not in errors:
        errors["name"] = "a new policy needs a name"
    if errors or fields.source is None:
        return page(errors=errors, status_code=422)
    environments = settings.deployment_environments
    try:
        if policy is None:
            assert fields.name is not None
            data = PolicyCreate(
                name=fields.name, description=fields.description, source=fields.source
            )
            saved = policies.create_policy(
                session, principal=user.principal, data=data, environments=environments
            )
        else:
            saved = policies.add_version(
                session,
                principal=user.principal,
                policy_id=policy.id,
                data=PolicyVersionCreate(source=fields.source),
                environments=environments,
            )
    except DriftGuardError as exc:
        if exc.kind is ErrorKind.NOT_FOUND:
            raise
        session.rollback()
        return _refused(page, exc)
    return RedirectResponse(f"/policies/{saved.policy_id}", status_code=303)


@router.post("/policies/simulate")
def simulate_draft(
    request: Request,
    session: DbSession,
    sandbox: SandboxSession,
    user: Simulator,
    settings: SettingsDep,
    form: CheckedForm,
) -> Response:
    """The draft judged across the caller's portfolio in a read-only, rolled-back transaction."""
    raw, fields, errors, policy = _draft(session, form)
    page = partial(editor, request, session, user, settings, policy=policy, raw=raw)
    if errors or fields.source is None:
        return page(errors=errors, status_code=422)
    try:
        data = SimulationRequest(
            policy=fields.source,
            policy_id=fields.policy_id,
            environment=fields.environment,
            scope=SimulationScope(team_id=fields.team_id),
            overrides=fields.override(),
        )
        result = simulation.simulate(
            sandbox,
            principal=user.principal,
            data=data,
            environments=settings.deployment_environments,
        )
    except DriftGuardError as exc:
        return _refused(page, exc)
    return page(result=result)


@router.get("/policies/{policy_id}")
def policy_page(
    policy_id: ObjectId,
    request: Request,
    session: DbSession,
    user: Reader,
    settings: SettingsDep,
) -> Response:
    """A policy's page: its versions (newest first), the active one, and an editor for the next
    version."""
    policy = policies.read_policy(session, policy_id=policy_id)
    versions = policies.list_versions(session, policy_id=policy.id, limit=VERSIONS, offset=0)
    latest = versions.items[0].source if versions.items else ""
    context = {
        "user": user,
        "policy": policy,
        "versions": versions,
        "raw": {**dict.fromkeys(_raw_names(), ""), "source": latest, "policy_id": str(policy.id)},
        "errors": {},
        "problems": [],
        "message": "",
        "simulation": None,
        "environments": settings.deployment_environments,
        "teams": identity.visible_teams(session, principal=user.principal),
        "what_if_facts": WHAT_IF_FACTS,
        "fact_codes": FACT_CODES,
        "can_write": user.can(Permission.POLICIES_WRITE),
        "can_simulate": user.can(Permission.SIMULATIONS_RUN),
    }
    return render(request, "policy.html", context)


@router.post("/policies/{policy_id}/versions/{number}/activate")
def activate(
    policy_id: ObjectId,
    number: VersionNumber,
    session: DbSession,
    user: Writer,
    form: CheckedForm,
) -> Response:
    """Put a policy version in force, then go back to the policy's page."""
    policies.activate(session, principal=user.principal, policy_id=policy_id, number=number)
    return RedirectResponse(f"/policies/{policy_id}", status_code=303)
