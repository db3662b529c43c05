"""The GitHub workflows (.github/workflows), read as data: what the issue asks of them that
actionlint, zizmor and the schema (.github/lint.sh) do not check on their own. Fast, offline.

* every action pinned by a full commit SHA, its version in a comment;
* permissions: none at the top, the least per job; an OIDC token (id-token: write) only in the
  jobs that publish or deploy;
* no expression in a `run:` script (values reach scripts through `env:`), checkout leaves no
  credentials behind;
* ci.yml runs `make test`; wheels.yml builds the five platforms and the sdist, smoke-tests each
  on its platform and publishes on a tag only; deploy.yml applies on main only, behind an
  environment; image.yml pushes on a tag only.
"""

from __future__ import annotations

import re
import tomllib
from typing import Any

import pytest
import yaml

from eventlake.config import PROJECT_ROOT

WORKFLOWS = PROJECT_ROOT / ".github" / "workflows"
NAMES = ("ci.yml", "wheels.yml", "image.yml", "deploy.yml")
# owner/repo[/path]@<40 hex> followed by a "# vX.Y.Z" comment on the same line.
PINNED = re.compile(r"^[\w.-]+/[\w.-]+(/[\w./-]+)?@[0-9a-f]{40}$")
VERSION_COMMENT = re.compile(r"@[0-9a-f]{40} # v\d+\.\d+\.\d+$")
# The jobs that may ask for an OIDC token: the ones that publish (PyPI, ECR) or deploy (plan and
# apply assume their AWS roles).
OIDC_JOBS = {
    ("wheels.yml", "publish"),
    ("image.yml", "push"),
    ("deploy.yml", "plan"),
    ("deploy.yml", "apply"),
}
WHEEL_TARGETS = {
    "x86_64-unknown-linux-gnu",
    "aarch64-unknown-linux-gnu",
    "x86_64-apple-darwin",
    "aarch64-apple-darwin",
    "x86_64-pc-windows-msvc",
}


Workflow = dict[str, Any]


def load(name: str) -> Workflow:
    parsed: dict[object, Any] = yaml.safe_load((WORKFLOWS / name).read_text())
    # YAML 1.1 reads the key `on` as the boolean true.
    return {"on" if key is True else str(key): value for key, value in parsed.items()}


@pytest.fixture(scope="module")
def workflows() -> dict[str, Workflow]:
    return {name: load(name) for name in NAMES}


def steps(workflow: Workflow) -> list[tuple[str, dict[str, Any]]]:
    return [(job_id, step) for job_id, job in workflow["jobs"].items() for step in job["steps"]]


def uses_of(workflow: Workflow, action: str) -> list[tuple[str, dict[str, Any]]]:
    return [(j, s) for j, s in steps(workflow) if s.get("uses", "").startswith(f"{action}@")]


def test_the_workflows_are_these_four() -> None:
    assert sorted(path.name for path in WORKFLOWS.glob("*.y*ml")) == sorted(NAMES)


def test_every_action_is_pinned_by_commit_sha_with_its_version(
    workflows: dict[str, Workflow],
) -> None:
    unpinned = []
    for name, workflow in workflows.items():
        text = (WORKFLOWS / name).read_text()
        for job_id, step in steps(workflow):
            uses = step.get("uses")
            if uses is None or uses.startswith("./"):  # a local action is this commit's
                continue
            line = next(line for line in text.splitlines() if f"uses: {uses}" in line)
            if not PINNED.match(uses) or not VERSION_COMMENT.search(line.strip()):
                unpinned.append(f"{name} {job_id}: {line.strip()}")
        # Reusable workflows are called by a job's `uses:`.
        for job_id, job in workflow["jobs"].items():
            reusable = job.get("uses", "./")
            if not reusable.startswith("./") and not PINNED.match(reusable):
                unpinned.append(f"{name} {job_id}: {job['uses']}")
    assert unpinned == []


def test_permissions_are_none_at_the_top_and_declared_per_job(
    workflows: dict[str, Workflow],
) -> None:
    for name, workflow in workflows.items():
        top = workflow.get("permissions")
        assert top == {} or (isinstance(top, dict) and set(top.values()) <= {"read", "none"}), (
            f"{name}: top-level permissions {top!r}"
        )
        for job_id, job in workflow["jobs"].items():
            assert "permissions" in job, f"{name} {job_id}: no permissions of its own"


def test_only_the_publishing_and_deploying_jobs_get_an_oidc_token(
    workflows: dict[str, Workflow],
) -> None:
    with_token = {
        (name, job_id)
        for name, workflow in workflows.items()
        for job_id, job in workflow["jobs"].items()
        if (job.get("permissions") or {}).get("id-token") == "write"
    }
    assert with_token == OIDC_JOBS
    writes = {
        (name, job_id, scope)
        for name, workflow in workflows.items()
        for job_id, job in workflow["jobs"].items()
        for scope, level in (job.get("permissions") or {}).items()
        if level == "write" and scope != "id-token"
    }
    assert writes == set()  # nothing else is written: contents, packages, ... stay read-only


def test_no_expression_in_a_run_script(workflows: dict[str, Workflow]) -> None:
    """An expression in a script is pasted into it before the shell runs: `${{
    github.event... }}` there is code injection. Values go through `env:`."""
    expanded = [
        f"{name} {job_id}: {step['run'].strip()[:60]}"
        for name, workflow in workflows.items()
        for job_id, step in steps(workflow)
        if "${{" in step.get("run", "")
    ]
    assert expanded == []


def test_checkout_leaves_no_credentials(workflows: dict[str, Workflow]) -> None:
    for name, workflow in workflows.items():
        for job_id, step in uses_of(workflow, "actions/checkout"):
            assert step.get("with", {}).get("persist-credentials") is False, f"{name} {job_id}"


def test_ci_runs_make_test_on_pull_requests_and_main(workflows: dict[str, Workflow]) -> None:
    ci = workflows["ci.yml"]
    assert "pull_request" in ci["on"]
    assert ci["on"]["push"]["branches"] == ["main"]
    scripts = [step["run"] for _, step in steps(ci) if "run" in step]
    assert any("make test" in script.splitlines() for script in scripts)
    cached = {
        path.strip()
        for _, step in uses_of(ci, "actions/cache")
        for path in step["with"]["path"].splitlines()
    }
    assert {"~/.cache/uv", "~/.cargo/registry/cache", "target"} <= cached
    assert any("type=gha" in step.get("with", {}).get("cache-from", "") for _, step in steps(ci))


def test_wheels_cover_five_platforms_and_the_sdist(workflows: dict[str, Workflow]) -> None:
    wheels = workflows["wheels.yml"]
    platforms = wheels["jobs"]["build"]["strategy"]["matrix"]["platform"]
    assert {platform["target"] for platform in platforms} == WHEEL_TARGETS
    for platform in platforms:
        is_linux = platform["target"].endswith("linux-gnu")
        assert (platform["manylinux"] == "2_17") is is_linux, platform
        windows = platform["target"].endswith("windows-msvc")
        assert ("generate-import-lib" in platform["features"]) is windows, platform
    maturin = uses_of(wheels, "PyO3/maturin-action")
    (build,) = [step for job, step in maturin if job == "build"]
    assert "--profile dist" in build["with"]["args"]
    assert "--locked" in build["with"]["args"]
    (sdist,) = [step for job, step in maturin if job == "sdist"]
    assert sdist["with"]["command"] == "sdist"
    # The feature the Windows build enables exists in the crate.
    manifest = PROJECT_ROOT / "crates" / "data_processor_rs" / "Cargo.toml"
    features = tomllib.loads(manifest.read_text())["features"]
    assert features["generate-import-lib"] == ["pyo3/generate-import-lib"]


def test_each_wheel_is_imported_on_its_own_platform(workflows: dict[str, Workflow]) -> None:
    wheels = workflows["wheels.yml"]
    built = {p["name"] for p in wheels["jobs"]["build"]["strategy"]["matrix"]["platform"]}
    smoke = wheels["jobs"]["smoke"]
    assert smoke["needs"] == "build"
    runners = {p["name"]: p["runner"] for p in smoke["strategy"]["matrix"]["platform"]}
    assert set(runners) == built
    assert runners["linux-aarch64"].endswith("-arm")
    assert runners["macos-x86_64"].endswith("-intel")
    (script,) = [step["run"] for _, step in steps(wheels) if "run" in step]
    assert "import data_processor_rs" in script


def test_wheels_are_published_on_a_tag_only_by_trusted_publishing(
    workflows: dict[str, Workflow],
) -> None:
    wheels = workflows["wheels.yml"]
    assert "v*" in wheels["on"]["push"]["tags"]
    publish = wheels["jobs"]["publish"]
    assert publish["if"] == "startsWith(github.ref, 'refs/tags/v')"
    assert set(publish["needs"]) == {"build", "sdist", "smoke"}
    assert publish["environment"]["name"] == "pypi"
    (step,) = [s for j, s in uses_of(wheels, "pypa/gh-action-pypi-publish") if j == "publish"]
    assert "password" not in step.get("with", {})  # OIDC, no token


def test_the_image_is_scanned_and_pushed_on_a_tag_only_with_oidc(
    workflows: dict[str, Workflow],
) -> None:
    image = workflows["image.yml"]
    ((_, scan),) = uses_of(image, "aquasecurity/trivy-action")
    assert scan["with"]["exit-code"] == "1"
    push = image["jobs"]["push"]
    assert push["if"] == "startsWith(github.ref, 'refs/tags/v')"
    assert push["needs"] == "build-and-scan"
    ((_, aws),) = uses_of(image, "aws-actions/configure-aws-credentials")
    assert "role-to-assume" in aws["with"]
    assert not {"aws-access-key-id", "aws-secret-access-key"} & set(aws["with"])
    assert uses_of(image, "aws-actions/amazon-ecr-login")
    # A release is never built from a cache a pull request's run could have written.
    pushes = [s for j, s in uses_of(image, "docker/build-push-action") if j == "push"]
    assert [s["with"].get("no-cache") for s in pushes] == [True]
    assert not any("cache-from" in s["with"] for s in pushes)


def test_deploy_plans_on_pull_requests_and_applies_on_main_behind_an_environment(
    workflows: dict[str, Workflow],
) -> None:
    deploy = workflows["deploy.yml"]
    assert "deploy/**" in deploy["on"]["pull_request"]["paths"]
    assert deploy["on"]["push"]["branches"] == ["main"]
    directory = deploy["defaults"]["run"]["working-directory"]
    assert directory == "deploy/terraform/environments/example"
    jobs = deploy["jobs"]
    assert jobs["plan"]["if"] == "github.event_name == 'pull_request'"
    apply = jobs["apply"]
    assert apply["if"] == "github.event_name == 'push' && github.ref == 'refs/heads/main'"
    assert apply["environment"] == "production"
    apply_scripts = [step.get("run", "") for step in apply["steps"]]
    assert any(script.startswith("terraform apply") for script in apply_scripts)
    # Nothing but the apply job applies.
    others = [
        job_id
        for job_id, step in steps(deploy)
        if "terraform apply" in step.get("run", "") and job_id != "apply"
    ]
    assert others == []
    for job_id in ("plan", "apply"):
        credentials = uses_of(deploy, "aws-actions/configure-aws-credentials")
        (aws,) = [step for job, step in credentials if job == job_id]
        assert "role-to-assume" in aws["with"], job_id
    assert all(uses_of(deploy, "hashicorp/setup-terraform"))
