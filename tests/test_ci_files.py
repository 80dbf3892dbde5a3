"""The CI files cnncalc ships: the GitHub workflow of docs/examples and the pre-commit hook.

The workflow is validated against SchemaStore's GitHub workflow schema (vendored in tests/schemas,
Apache-2.0), checked for what the issue found missing, and its pull-request step is run for real in
a scratch git repository with a stand-in ``gh``; actionlint runs too where it is installed. The
hook's file selection is replayed as pre-commit does it, and ``pre-commit try-repo`` runs where
pre-commit is installed.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
WORKFLOW = ROOT / "docs" / "examples" / "github-workflow.yml"
HOOKS = ROOT / ".pre-commit-hooks.yaml"
BIN = Path(sys.executable).parent
SPEC = (ROOT / "tests" / "specs" / "ci" / "pass" / "lenet5.yaml").read_text()


def workflow() -> dict:
    data = yaml.safe_load(WORKFLOW.read_text())
    data["on"] = data.pop(True, data.get("on"))  # YAML 1.1 reads the key `on` as true
    return data


def steps() -> list[dict]:
    return workflow()["jobs"]["specs"]["steps"]


def test_workflow_follows_the_github_workflow_schema():
    jsonschema = pytest.importorskip("jsonschema")
    schema = json.loads((ROOT / "tests" / "schemas" / "github-workflow.schema.json").read_text())
    jsonschema.validate(workflow(), schema, cls=jsonschema.Draft7Validator)


def test_workflow_has_what_a_working_one_needs():
    data = workflow()
    assert data["permissions"]["pull-requests"] == "write"
    assert re.fullmatch(r"cnncalc @ git\+https://github\.com/\S+@\S+", data["env"]["CNNCALC"])
    check = next(s for s in steps() if "cnncalc check" in s.get("run", ""))
    assert "--format github" in check["run"] and "--baseline" in check["run"]
    comment = next(s for s in steps() if "gh pr comment" in s.get("run", ""))
    assert "always()" in comment["if"]  # the comment must come exactly when the check fails
    checkout = next(s for s in steps() if s.get("uses", "").startswith("actions/checkout"))
    assert checkout["with"]["fetch-depth"] == 0


def test_ci_page_shows_the_workflow_file_as_it_is():
    page = (ROOT / "docs" / "ci.md").read_text()
    blocks = re.findall(r"```yaml\n(.*?)```", page, re.S)
    assert WORKFLOW.read_text() in blocks


@pytest.mark.skipif(shutil.which("actionlint") is None, reason="actionlint is not installed")
def test_actionlint_passes_the_workflow():
    result = subprocess.run(["actionlint", str(WORKFLOW)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def git(repo, *args):
    subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True,
                   env={**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t",
                        "GIT_COMMITTER_EMAIL": "t@t"})


def run_step(step: dict, repo: Path, env: dict) -> subprocess.CompletedProcess:
    script = step["run"]
    return subprocess.run(["bash", "-eo", "pipefail", "-c", script], cwd=repo, capture_output=True, text=True,
                          env={**os.environ, "SPECS": "specs", "PATH": f"{BIN}:{os.environ['PATH']}", **env})


@pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")
def test_pull_request_steps_run_with_a_changed_and_a_new_spec(tmp_path):
    """The base branch holds one spec; the pull request widens it, adds a second one and breaks an
    expectation. The check step fails with annotations; the comment step still writes a diff for
    the changed spec and the totals of the new one (the old snippet broke on a new spec)."""
    repo = tmp_path / "repo"
    (repo / "specs").mkdir(parents=True)
    (repo / "specs" / "net.yaml").write_text(SPEC)
    git(repo, "init", "-q", "-b", "main")
    git(repo, "add", ".")
    git(repo, "commit", "-qm", "base")
    git(repo, "update-ref", "refs/remotes/origin/main", "HEAD")
    (repo / "specs" / "net.yaml").write_text(SPEC.replace("linear: 120", "linear: 128"))
    (repo / "specs" / "new.yaml").write_text(SPEC.replace("name: lenet5_ci", "name: other"))
    git(repo, "add", ".")
    git(repo, "commit", "-qm", "change")
    fake = tmp_path / "bin"
    fake.mkdir()
    # `gh pr comment 7 --body-file F [--edit-last]`: no earlier comment to edit, so a new one is posted
    (fake / "gh").write_text(f'#!/bin/sh\n[ "$6" = "--edit-last" ] && exit 1\ncp "$5" {tmp_path}/posted.md\n')
    (fake / "gh").chmod(0o755)
    env = {"BASE": "main", "PR": "7", "GH_TOKEN": "x", "PATH": f"{fake}:{BIN}:{os.environ['PATH']}"}
    check = next(s for s in steps() if "cnncalc check" in s.get("run", ""))
    checked = run_step(check, repo, env)
    assert checked.returncode == 1 and "::error file=specs/net.yaml" in checked.stdout
    comment = next(s for s in steps() if "gh pr comment" in s.get("run", ""))
    posted = run_step(comment, repo, env)
    assert posted.returncode == 0, posted.stderr
    body = (tmp_path / "posted.md").read_text()
    assert "### cnncalc diff — lenet5_ci: base.yaml → specs/net.yaml" in body
    assert "`specs/new.yaml` is new" in body and "| other |" in body


def hook() -> dict:
    (entry,) = yaml.safe_load(HOOKS.read_text())
    return entry


def scratch_repo(tmp_path) -> Path:
    """Specs, a .pre-commit-config.yaml and a workflow: what a repository with the hook holds."""
    repo = tmp_path / "specs_repo"
    (repo / "specs").mkdir(parents=True)
    (repo / ".github" / "workflows").mkdir(parents=True)
    (repo / "specs" / "net.yaml").write_text(SPEC)
    (repo / ".github" / "workflows" / "cnncalc.yml").write_text(WORKFLOW.read_text())
    (repo / ".pre-commit-config.yaml").write_text(
        f"repos:\n  - repo: {ROOT}\n    rev: HEAD\n    hooks:\n      - id: cnncalc-check\n")
    return repo


def test_hook_checks_specs_and_passes_over_other_yaml(tmp_path):
    """pre-commit's selection, replayed: files matching ``files`` (default: all) of the ``types``
    given (yaml: .yaml/.yml), passed to ``entry``."""
    h = hook()
    repo = scratch_repo(tmp_path)
    assert h["types"] == ["yaml"] and "files" not in h
    pattern = re.compile(h.get("files", ""))
    files = sorted(str(p.relative_to(repo)) for p in repo.rglob("*")
                   if p.suffix in (".yaml", ".yml") and pattern.search(str(p.relative_to(repo))))
    assert len(files) == 3  # the spec, the workflow and .pre-commit-config.yaml all reach the hook
    argv = h["entry"].split()
    result = subprocess.run([str(BIN / argv[0]), *argv[1:], *files], cwd=repo, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "checked 1 spec: 9 of 9 expectations held, 0 failed; 2 YAML files without layers passed over" \
        in result.stdout
    broken = repo / "specs" / "net.yaml"
    broken.write_text(SPEC.replace("params: 61706", "params: 61000"))
    failed = subprocess.run([str(BIN / argv[0]), *argv[1:], *files], cwd=repo, capture_output=True, text=True)
    assert failed.returncode == 1 and "expected 61,000, got 61,706" in failed.stderr


def test_hook_manifest_is_valid_for_pre_commit():
    pytest.importorskip("pre_commit")
    result = subprocess.run([str(BIN / "pre-commit"), "validate-manifest", str(HOOKS)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")
def test_pre_commit_try_repo_runs_clean(tmp_path):
    """The real thing: pre-commit installs cnncalc from this repository into its own environment
    and runs the hook on a repository with a spec, a .pre-commit-config.yaml and a workflow."""
    pytest.importorskip("pre_commit")
    repo = scratch_repo(tmp_path)
    git(repo, "init", "-q")
    git(repo, "add", ".")
    result = subprocess.run([str(BIN / "pre-commit"), "try-repo", str(ROOT), "cnncalc-check", "--all-files"],
                            cwd=repo, capture_output=True, text=True, timeout=600,
                            env={**os.environ, "PRE_COMMIT_HOME": str(tmp_path / "cache")})
    assert result.returncode == 0, result.stdout + result.stderr
    assert re.search(r"cnncalc check.*Passed", result.stdout), result.stdout
