"""``driftguard gate check``: may this release go ahead? For CI/CD pipelines.

Exit codes: 0 allowed, 1 blocked, 2 approval pending, 3 the question could not be answered
(unknown model, bad credentials, server unreachable), 64 a usage error. It talks to a running
DriftGuard over HTTP and imports nothing heavy, so it answers well within a second.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer

from driftguard.cli.groups import command_group

if TYPE_CHECKING:
    from driftguard.client import Client

gate_app = command_group("Release gates for CI/CD.")
CANNOT_ANSWER = 3


@gate_app.callback()
def gate() -> None:
    """Release gates for CI/CD (a group, so `gate check` parses the same wherever it runs)."""


def make_client(url: str | None, api_key: str | None) -> Client:
    """The SDK client the gate talks to (one retry; the URL and key from options or the
    environment)."""
    from driftguard.client import Client

    return Client(url, api_key, retries=1)


@gate_app.command("check")
def check(
    model: Annotated[str, typer.Option(help="model name (or id)")],
    version: Annotated[int, typer.Option(min=1, help="version number")],
    env: Annotated[str, typer.Option(help="target environment, e.g. production")],
    team_id: Annotated[
        int | None, typer.Option(help="needed if several teams use the name")
    ] = None,
    url: Annotated[str | None, typer.Option(help="[default: DRIFTGUARD_URL]")] = None,
    api_key: Annotated[
        str | None, typer.Option(help="[default: DRIFTGUARD_API_KEY]", show_default=False)
    ] = None,
) -> None:
    """Print the policy's rule table; exit 0 allowed, 1 blocked, 2 pending approval."""
    import httpx2

    from driftguard.client import DriftGuardAPIError

    try:
        with make_client(url, api_key) as client:
            answer = client.gate(
                int(model) if model.isdigit() else model, version, env, team_id=team_id
            )
    except (DriftGuardAPIError, httpx2.HTTPError, ValueError) as exc:
        typer.echo(f"gate: cannot answer: {exc}", err=True)
        raise typer.Exit(CANNOT_ANSWER) from None
    typer.echo(render(answer))
    raise typer.Exit(int(answer["exit_code"]))


def render(answer: dict[str, Any]) -> str:
    """A gate answer as text: the outcome, policy and MRI, then one line per rule with its
    observed value and requirement."""
    decision = answer["decision"]
    policy = decision["policy"]
    head = (
        f"{answer['outcome'].upper()}: model {answer['model_id']} version {answer['version']} → "
        f"{answer['environment']}  (policy {policy['name']}"
        f"{'' if policy['version'] is None else ' v' + str(policy['version'])}, "
        f"{policy['content_hash'][:12]}; MRI {decision['mri']:.1f} {decision['mri_band']})"
    )
    lines = [head, f"{'rule':<26} {'severity':<8} {'result':<8} {'observed':>12}  requirement"]
    for rule in decision["rules"]:
        observed = "—" if rule["observed"] is None else f"{rule['observed']:.4g}"
        subject = f"[{rule['subject']}]" if rule["subject"] else ""
        result = "pass" if rule["passed"] else "FAIL"
        if not rule.get("applicable", True):
            result = "n/a"  # none of the rule's applies_if conditions holds
        lines.append(
            f"{rule['rule']:<26} {rule['severity']:<8} {result:<8} {observed:>12}  "
            f"{rule['fact']}{subject} {rule['operator']} {rule['threshold']:g}"
        )
    suspension = answer.get("suspension")
    if suspension:
        lines.append(
            f"SUSPENDED: deployment {suspension['deployment_id']} since "
            f"{suspension['suspended_at']}: {suspension['reason']}"
        )
    if answer["outcome"] == "pending":
        pending = answer["deployment_id"]
        lines.append(
            f"waiting for {decision['required_approvals']} approval(s)"
            + (f" of deployment {pending}" if pending else "; no deployment requested yet")
        )
    return "\n".join(lines)
