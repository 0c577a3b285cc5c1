from __future__ import annotations

import json

import pytest

from driftguard.rules import (
    DEFAULT_POLICY,
    DEFAULT_POLICY_YAML,
    FACTS,
    PolicyError,
    content_hash,
    parse_policy,
    policy_json_schema,
)

RULE = {"name": "psi", "fact": "drift.psi", "operator": "<", "threshold": 0.25, "severity": "block"}


def problems(source: object, **kwargs: object) -> list[tuple[str, str]]:
    with pytest.raises(PolicyError) as caught:
        parse_policy(source, **kwargs)  # type: ignore[arg-type]
    return caught.value.problems


def test_the_default_policy_parses_and_its_hash_ignores_formatting() -> None:
    assert parse_policy(DEFAULT_POLICY_YAML) == DEFAULT_POLICY
    as_json = json.dumps(DEFAULT_POLICY.model_dump(mode="json"), indent=4)
    assert content_hash(parse_policy(as_json)) == content_hash(DEFAULT_POLICY)
    changed = DEFAULT_POLICY_YAML.replace("threshold: 0.25", "threshold: 0.3", 1)
    assert content_hash(parse_policy(changed)) != content_hash(DEFAULT_POLICY)


@pytest.mark.parametrize(
    ("change", "path", "fragment"),
    [
        ({"fact": "drift.psii"}, "rules.0.fact", "unknown fact 'drift.psii'"),
        ({"operator": "=<"}, "rules.0.operator", "'<', '<=', '>', '>=', '==' or '!='"),
        ({"threshold": "0.25"}, "rules.0.threshold", "must be a number, not str"),
        ({"threshold": True}, "rules.0.threshold", "must be a number, not bool"),
        ({"threshold": float("nan")}, "rules.0.threshold", "finite"),
        ({"severity": "fatal"}, "rules.0.severity", "'block' or 'warn'"),
        ({"environments": []}, "rules.0.environments", "at least 1"),
        ({"colour": "red"}, "rules.0.colour", "Extra inputs"),
    ],
)
def test_a_bad_rule_is_refused_with_its_path(
    change: dict[str, object], path: str, fragment: str
) -> None:
    found = problems({"rules": [{**RULE, **change}]})
    assert [p for p, _ in found] == [path]
    assert fragment in found[0][1]


@pytest.mark.parametrize(
    ("document", "path"),
    [
        ({"scope": {"environments": []}}, "scope.environments"),
        ({"scope": {"teams": []}}, "scope.teams"),
        ({"scope": {"tiers": [4]}}, "scope.tiers.0"),
        ({"mri": {"weights": {"drift": 0.9}}}, "mri.weights"),
        ({"mri": {"bands": {"medium": 60, "high": 50}}}, "mri.bands"),
        ({"approvals": [{"required": 11}]}, "approvals.0.required"),
        (
            {"monitoring": {"rules": [{**RULE, "severity": "warning", "fact": "mri.score"}]}},
            "monitoring.rules.0.fact",
        ),
        ({"rules": [RULE, RULE]}, "rules"),
    ],
)
def test_bad_documents_name_the_offending_path(document: dict[str, object], path: str) -> None:
    assert path in [p for p, _ in problems(document)]


def test_environments_must_be_known_and_inside_the_scope() -> None:
    known = frozenset({"staging", "production"})
    found = problems({"rules": [{**RULE, "environments": ["prod"]}]}, environments=known)
    assert found == [
        ("rules.0.environments.0", "unknown environment 'prod'; known: production, staging")
    ]
    scoped = {
        "scope": {"environments": ["staging"]},
        "rules": [{**RULE, "environments": ["production"]}],
    }
    assert problems(scoped)[0][0] == "rules.0.environments.0"


def test_text_that_is_not_a_policy_is_refused_plainly() -> None:
    assert problems("rules: [unclosed")[0][1].startswith("not valid YAML or JSON at line 1")
    assert problems("- a list") == [("", "a policy must be a mapping (YAML) or an object (JSON)")]
    assert "at most" in problems("x" * (300 * 1024))[0][1]


def test_the_published_schema_lists_every_fact() -> None:
    schema = policy_json_schema()
    assert schema["$defs"]["Rule"]["properties"]["fact"]["enum"] == sorted(FACTS)
    assert schema["$defs"]["Rule"]["required"] == [
        "name",
        "fact",
        "operator",
        "threshold",
        "severity",
    ]


# --- rule preconditions (applies_if) ------------------------------------------------------------

TIER_ONE = {"fact": "model.tier", "operator": "==", "threshold": 1}


def test_preconditions_parse_and_are_part_of_the_hash() -> None:
    plain = parse_policy({"rules": [RULE]})
    guarded = parse_policy({"rules": [{**RULE, "applies_if": [TIER_ONE]}]})
    assert guarded.rules[0].applies_if is not None
    assert guarded.rules[0].applies_if[0].fact == "model.tier"
    assert content_hash(guarded) != content_hash(plain)
    assert "applies_if" not in plain.model_dump(mode="json")["rules"][0]
    assert parse_policy(guarded.model_dump(mode="json")) == guarded


def test_a_policy_stored_before_preconditions_keeps_its_content_hash() -> None:
    # Computed by the code before rule preconditions existed (every default was dumped then).
    stored = {
        "description": "stored before preconditions",
        "rules": [
            {**RULE, "environments": ["production"]},
            {
                "name": "refs",
                "fact": "reference.rows",
                "operator": ">",
                "threshold": 0,
                "severity": "warn",
                "when_missing": "pass",
            },
        ],
    }
    document = parse_policy(stored)
    assert all(r.applies_if is None for r in document.rules)
    assert content_hash(document) == (
        "421260ca5bafa5cffafbf92d65b610e8334d632c4965f3131ff7adbf69cf1816"
    )
    explicit = {**stored, "rules": [{**r, "applies_if": None} for r in stored["rules"]]}
    assert content_hash(parse_policy(explicit)) == content_hash(document)


def test_precondition_problems_are_reported_with_their_paths() -> None:
    found = problems(
        {
            "rules": [
                {
                    **RULE,
                    "applies_if": [
                        {"fact": "model.teir", "operator": "==", "threshold": 1},
                        {"fact": "model.tier", "operator": "=<", "threshold": 1},
                        {"fact": "drift.psi", "operator": "<", "threshold": 1},
                        {**TIER_ONE, "when": "always"},
                    ],
                }
            ]
        }
    )
    paths = dict(found)
    assert "unknown fact 'model.teir'" in paths["rules.0.applies_if.0.fact"]
    assert "rules.0.applies_if.1.operator" in paths
    assert "per feature" in paths["rules.0.applies_if.2.fact"]
    assert "rules.0.applies_if.3.when" in paths
    assert problems({"rules": [{**RULE, "applies_if": []}]})[0][0] == "rules.0.applies_if"


def test_the_schema_lists_the_facts_a_precondition_takes() -> None:
    schema = policy_json_schema()
    facts = schema["$defs"]["Condition"]["properties"]["fact"]["enum"]
    assert "model.eu_high_risk" in facts
    assert "validation.status" in facts
    assert "drift.psi" not in facts
    assert "applies_if" in schema["$defs"]["Rule"]["properties"]
