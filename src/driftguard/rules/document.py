"""The governance policy document: its schema, parsing and content hash.

A policy is a YAML or JSON document. Its JSON Schema (``policy_json_schema()``) is published at
``GET /api/v1/policies/schema``; every problem found while parsing is reported with the path of the
offending value (``rules.2.operator``), never as a bare "invalid document".
"""

from __future__ import annotations

import hashlib
import json
from typing import Annotated, Any, Literal, Self

import yaml
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    SerializerFunctionWrapHandler,
    StringConstraints,
    ValidationError,
    field_validator,
    model_serializer,
    model_validator,
)

from driftguard.rules.facts import FACTS, MONITORING_FACTS

Operator = Literal["<", "<=", ">", ">=", "==", "!="]
RuleName = Annotated[str, StringConstraints(min_length=1, max_length=64, pattern=r"^[\w.\-]+$")]
Message = Annotated[str, StringConstraints(max_length=500, pattern=r"^[^\x00-\x1f\x7f]*$")]
Environment = Annotated[
    str, StringConstraints(min_length=1, max_length=32, pattern=r"^[a-z0-9_-]+$")
]


def _number(value: object) -> float | int:
    # Strict: "0.25" or true is a mistake in a threshold, not something to coerce.
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"must be a number, not {type(value).__name__}")
    if value != value or value in (float("inf"), float("-inf")):
        raise ValueError("must be a finite number")
    return value


Number = Annotated[float | int, BeforeValidator(_number)]
Fraction = Annotated[Number, Field(ge=0, le=1)]
# A non-empty list when given: "no environment at all" is a mistake, not a scope.
NonEmpty = Field(default=None, min_length=1, max_length=100)
MAX_DOCUMENT_BYTES = 256 * 1024


class PolicyError(Exception):
    """A document that is not a valid policy; ``problems`` are ``(path, message)`` pairs."""

    def __init__(self, problems: list[tuple[str, str]]) -> None:
        super().__init__("; ".join(f"{p or '(document)'}: {m}" for p, m in problems))
        self.problems = problems


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Scope(_Strict):
    """Where a policy applies. A missing list means "all"; an empty list is refused."""

    environments: list[Environment] | None = NonEmpty
    tiers: list[Literal[1, 2, 3]] | None = NonEmpty
    teams: list[Annotated[int, Field(ge=1)]] | None = NonEmpty


class Condition(_Strict):
    """A precondition of a rule: it holds when ``observed <operator> threshold`` for a fact of
    the whole version; a fact never measured does not hold."""

    fact: str
    operator: Operator
    threshold: Number

    @field_validator("fact")
    @classmethod
    def _whole_fact(cls, fact: str) -> str:
        if fact not in FACTS:
            raise ValueError(f"unknown fact {fact!r}; see the fact catalogue in the policy schema")
        if FACTS[fact].per_subject:
            raise ValueError(
                f"{fact!r} is measured per feature; a precondition takes a fact of"
                " the whole version"
            )
        return fact


class Rule(_Strict):
    """A requirement for deployment: it *passes* when ``observed <operator> threshold``.

    With ``applies_if`` the rule applies only to versions meeting at least one of its
    conditions (``model.tier == 1`` or ``model.eu_high_risk == 1``); elsewhere it passes and is
    reported as not applicable.
    """

    name: RuleName
    fact: str
    operator: Operator
    threshold: Number
    severity: Literal["block", "warn"]
    message: Message = ""
    environments: list[Environment] | None = NonEmpty
    # What a fact that was never measured counts as; evidence is required unless said otherwise.
    when_missing: Literal["fail", "pass"] = "fail"
    # Any one condition makes the rule apply; absent, it always applies.
    applies_if: Annotated[list[Condition], Field(min_length=1, max_length=20)] | None = None

    @field_validator("fact")
    @classmethod
    def _known_fact(cls, fact: str) -> str:
        if fact not in FACTS:
            raise ValueError(f"unknown fact {fact!r}; see the fact catalogue in the policy schema")
        return fact

    @model_serializer(mode="wrap")
    def _without_absent_preconditions(
        self, handler: SerializerFunctionWrapHandler
    ) -> dict[str, Any]:
        # A rule without preconditions dumps as it did before they existed, so the content hash
        # of every policy stored before then is unchanged.
        dumped: dict[str, Any] = handler(self)
        if self.applies_if is None:
            dumped.pop("applies_if", None)
        return dumped


class MonitoringRuleDoc(_Strict):
    """A monitoring threshold: it *opens an alert* when ``observed <operator> threshold``."""

    name: RuleName
    fact: str
    operator: Operator
    threshold: Number
    severity: Literal["warning", "critical"]
    message: Message = ""

    @field_validator("fact")
    @classmethod
    def _monitored_fact(cls, fact: str) -> str:
        if fact not in MONITORING_FACTS:
            allowed = ", ".join(sorted(MONITORING_FACTS))
            raise ValueError(f"unknown monitoring fact {fact!r}; allowed: {allowed}")
        return fact


class Approvals(_Strict):
    """Who must approve a deployment before it may go ahead."""

    environments: list[Environment] | None = NonEmpty
    required: Annotated[int, Field(ge=0, le=10)] = 1
    roles: Annotated[list[Literal["approver", "admin"]], Field(min_length=1)] = ["approver"]
    # Besides the requester (never), the model's owner and the version's author may not approve.
    separation_of_duties: bool = True


class MriWeights(_Strict):
    drift: Fraction = 0.25
    fairness: Fraction = 0.2
    performance: Fraction = 0.2
    data_quality: Fraction = 0.1
    staleness: Fraction = 0.1
    alerts: Fraction = 0.15

    @model_validator(mode="after")
    def _sum_to_one(self) -> Self:
        total = sum(self.model_dump().values())
        if abs(total - 1) > 1e-9:
            raise ValueError(f"weights must sum to 1, not {total:g}")
        return self


class MriScales(_Strict):
    """The measurement that makes each component 1 (full risk); values in between are linear."""

    psi: Annotated[Number, Field(gt=0)] = 0.5
    disparate_impact_floor: Annotated[Number, Field(ge=0, lt=1)] = 0.5
    degradation: Annotated[Number, Field(gt=0, le=1)] = 0.2
    missing_rate: Annotated[Number, Field(gt=0, le=1)] = 0.2
    staleness_days: Annotated[Number, Field(gt=0)] = 365
    open_alerts: Annotated[Number, Field(gt=0)] = 5
    # Unmeasured components count as this much risk: no evidence is not good evidence.
    missing_evidence: Fraction = 0.5


class MriBands(_Strict):
    """Lower bounds of the bands above ``low``."""

    medium: Annotated[Number, Field(gt=0, lt=100)] = 25
    high: Annotated[Number, Field(gt=0, lt=100)] = 50
    critical: Annotated[Number, Field(gt=0, le=100)] = 75

    @model_validator(mode="after")
    def _increasing(self) -> Self:
        if not self.medium < self.high < self.critical:
            raise ValueError("bands must increase: medium < high < critical")
        return self


class TierFactors(_Strict):
    """Inherent-risk scaling by tier (1 = most material and critical)."""

    tier_1: Fraction = 1.0
    tier_2: Fraction = 0.8
    tier_3: Fraction = 0.6


class Mri(_Strict):
    weights: MriWeights = MriWeights()
    scales: MriScales = MriScales()
    bands: MriBands = MriBands()
    tier_factors: TierFactors = TierFactors()


class ReviewCadence(_Strict):
    """How often a version must be reviewed, in months, by inherent risk tier (SR 11-7's
    "at least annually" for the most material models; PRA SS1/23 principle 4)."""

    tier_1: Annotated[int, Field(ge=1, le=120)] = 12
    tier_2: Annotated[int, Field(ge=1, le=120)] = 24
    tier_3: Annotated[int, Field(ge=1, le=120)] = 36

    def months(self, tier: int) -> int:
        return int(getattr(self, f"tier_{tier}"))


DEFAULT_REVIEW_CADENCE = ReviewCadence()


class Monitoring(_Strict):
    rules: Annotated[list[MonitoringRuleDoc], Field(max_length=100)] = []

    @field_validator("rules")
    @classmethod
    def _unique(cls, rules: list[MonitoringRuleDoc]) -> list[MonitoringRuleDoc]:
        _check_unique([r.name for r in rules])
        return rules


class PolicyDocument(_Strict):
    """A governance policy: scope, deployment rules, approvals, monitoring thresholds, MRI."""

    schema_version: Literal[1] = 1
    description: Message = ""
    # Among active policies whose scope matches, the highest priority applies.
    priority: Annotated[int, Field(ge=0, le=1000)] = 0
    scope: Scope = Scope()
    rules: Annotated[list[Rule], Field(max_length=200)] = []
    # The first entry whose environments match applies; none matching means no approval needed.
    approvals: Annotated[list[Approvals], Field(max_length=20)] = [Approvals()]
    monitoring: Monitoring = Monitoring()
    mri: Mri = Mri()
    # Optional, and left out of the content hash when not set, so documents stored before the
    # section existed keep their hash; unset means the defaults (12, 24, 36 months).
    reviews: ReviewCadence | None = None

    @field_validator("rules")
    @classmethod
    def _unique(cls, rules: list[Rule]) -> list[Rule]:
        _check_unique([r.name for r in rules])
        return rules

    @property
    def review_cadence(self) -> ReviewCadence:
        return self.reviews or DEFAULT_REVIEW_CADENCE

    def approvals_for(self, environment: str) -> Approvals | None:
        """The approval requirement for ``environment``: the first that names it or names none;
        None when none applies."""
        for requirement in self.approvals:
            if requirement.environments is None or environment in requirement.environments:
                return requirement
        return None

    def applies_to(self, *, environment: str | None, tier: int, team_id: int) -> bool:
        """Whether the policy's scope covers this environment (None: any), risk tier and team."""
        scope = self.scope
        return (
            (environment is None or scope.environments is None or environment in scope.environments)
            and (scope.tiers is None or tier in scope.tiers)
            and (scope.teams is None or team_id in scope.teams)
        )


def _check_unique(names: list[str]) -> None:
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise ValueError(f"rule names must be unique; repeated: {', '.join(repeated)}")


def parse_policy(
    source: str | bytes | dict[str, Any], *, environments: frozenset[str] | None = None
) -> PolicyDocument:
    """Parse and validate a policy from YAML or JSON text (or an already-decoded mapping).

    ``environments``, when given, are the known deployment environments; naming another one is an
    error. Raises :class:`PolicyError` listing every problem with its path.

    >>> doc = parse_policy("rules: [{name: psi, fact: drift.psi, operator: '<', threshold: 0.25,"
    ...                    " severity: block}]")
    >>> doc.rules[0].fact, doc.approvals[0].required
    ('drift.psi', 1)
    >>> try:
    ...     parse_policy("rules: [{name: x, fact: drift.psi, operator: '=<', threshold: 1,"
    ...                  " severity: block}]")
    ... except PolicyError as exc:
    ...     exc.problems[0][0]
    'rules.0.operator'
    """
    data = source if isinstance(source, dict) else _decode(source)
    try:
        document = PolicyDocument.model_validate(data)
    except ValidationError as exc:
        raise PolicyError(
            [(".".join(str(p) for p in e["loc"]), _message(e["msg"])) for e in exc.errors()]
        ) from None
    problems = []
    scoped = document.scope.environments
    for path, env in _environment_paths(document):
        if environments is not None and env not in environments:
            known = ", ".join(sorted(environments))
            problems.append((path, f"unknown environment {env!r}; known: {known}"))
        elif scoped is not None and not path.startswith("scope.") and env not in scoped:
            problems.append((path, f"environment {env!r} is outside the policy's scope"))
    if problems:
        raise PolicyError(problems)
    return document


def _decode(source: str | bytes) -> Any:
    if len(source) > MAX_DOCUMENT_BYTES:
        raise PolicyError([("", f"a policy may be at most {MAX_DOCUMENT_BYTES} bytes")])
    try:
        data = yaml.safe_load(source)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise PolicyError([("", f"not valid YAML or JSON{where}")]) from None
    if not isinstance(data, dict):
        raise PolicyError([("", "a policy must be a mapping (YAML) or an object (JSON)")])
    return data


def _message(msg: str) -> str:
    return msg.removeprefix("Value error, ")


def _environment_paths(document: PolicyDocument) -> list[tuple[str, str]]:
    paths = [
        (f"scope.environments.{i}", e) for i, e in enumerate(document.scope.environments or ())
    ]
    for i, rule in enumerate(document.rules):
        paths += [(f"rules.{i}.environments.{j}", e) for j, e in enumerate(rule.environments or ())]
    for i, req in enumerate(document.approvals):
        paths += [
            (f"approvals.{i}.environments.{j}", e) for j, e in enumerate(req.environments or ())
        ]
    return paths


_OPTIONAL_SECTIONS = ("reviews",)


def hashed_form(document: PolicyDocument) -> dict[str, Any]:
    """The document as its content hash sees it: the validated document, every default filled
    in, except optional sections added after documents were first stored (``reviews``), which
    take part only when set, so every document stored before them keeps the hash it was stored
    and decided with. What an evidence pack shows, so an examiner can recompute the hash."""
    dumped: dict[str, Any] = document.model_dump(mode="json")
    for section in _OPTIONAL_SECTIONS:
        if dumped.get(section) is None:
            dumped.pop(section, None)
    return dumped


def content_hash(document: PolicyDocument) -> str:
    """SHA-256 of the canonical JSON of :func:`hashed_form`: equal policies, equal hashes."""
    canonical = json.dumps(
        hashed_form(document), sort_keys=True, separators=(",", ":"), ensure_ascii=False
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


def policy_json_schema() -> dict[str, Any]:
    """The policy document's JSON Schema, with the fact names each kind of rule accepts as enums."""
    schema = PolicyDocument.model_json_schema()
    schema["$defs"]["Rule"]["properties"]["fact"]["enum"] = sorted(FACTS)
    schema["$defs"]["Condition"]["properties"]["fact"]["enum"] = sorted(
        name for name, spec in FACTS.items() if not spec.per_subject
    )
    schema["$defs"]["MonitoringRuleDoc"]["properties"]["fact"]["enum"] = sorted(MONITORING_FACTS)
    return schema
