"""`cnncalc check` for CI: per-layer expectations, budgets, text/github/junit formats, folders.

The passing specs' figures are published ones (LeNet-5's 61,706 and its 16×5×5 maps; the Keras
book's 93,322 and its 26×26×32 … 576 shapes, docs/references.md); the broken folder plants one failure
of each kind on a known YAML line.
"""

from __future__ import annotations

import re
import shutil
from datetime import datetime
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cnncalc.cli import app
from cnncalc.cli import check, shapes  # noqa: F401  (register the commands; two, or typer runs one bare)

ROOT = Path(__file__).resolve().parents[1]
CI = ROOT / "tests" / "specs" / "ci"
runner = CliRunner()


def run(*args):
    return runner.invoke(app, [str(a) for a in args])


def line_of(path: Path, needle: str) -> int:
    """1-based line of the first line containing ``needle`` (the planted failure)."""
    for n, line in enumerate(path.read_text().splitlines(), 1):
        if needle in line:
            return n
    raise AssertionError(f"{needle!r} not in {path}")


# (file, line of the planted failure, words the message must contain)
PLANTED = {
    "budget.yaml": ("params: {max: 90000}", ("93,322", "90,000")),
    "output.yaml": ("output: [16, 5, 5]", ("[16, 5, 5]", "[16, 10, 10]")),
    "invalid.yaml": ("conv: {filters: 8, kernel: 9}", ("kernel 9",)),
}


def expected_lines(folder: Path, names=PLANTED):
    return {name: line_of(folder / name, needle) for name, (needle, _) in names.items()}


@pytest.mark.parametrize("fmt", ["text", "github", "junit"])
def test_passing_folder_exits_0(fmt):
    result = run("check", CI / "pass", "--format", fmt)
    assert result.exit_code == 0, result.output
    if fmt != "junit":
        assert "checked 2 specs: 18 of 18 expectations held, 0 failed" in result.output
        assert "::error" not in result.output


def test_text_format_one_line_per_failure_on_the_yaml_line():
    result = run("check", CI / "broken")
    assert result.exit_code == 2  # an invalid spec is present
    lines = expected_lines(CI / "broken")
    found = [line for line in result.output.splitlines()
             if re.match(r"\S+\.yaml:\d+: ", line) and ": warning: " not in line]
    assert len(found) == 3, result.output
    for name, (_, words) in PLANTED.items():
        mine = [line for line in found if line.startswith(str(CI / "broken" / name) + ":")]
        assert len(mine) == 1, (name, found)
        assert mine[0].startswith(f"{CI / 'broken' / name}:{lines[name]}: ")
        assert all(w in mine[0] for w in words), mine[0]
    assert "checked 3 specs: 3 of 5 expectations held, 2 failed; 1 spec invalid" in result.output


def github_annotations(output: str):
    out = []
    for line in output.splitlines():
        m = re.fullmatch(r"::error file=([^,]+),line=(\d+),title=([^:]+)::(.*)", line)
        if m:
            out.append((m.group(1), int(m.group(2)), m.group(3), m.group(4)))
    return out


def test_github_format_one_annotation_each_on_the_right_line():
    result = run("check", CI / "broken", "--format", "github")
    assert result.exit_code == 2
    annotations = github_annotations(result.stdout)
    assert len(annotations) == 3, result.stdout
    lines = expected_lines(CI / "broken")
    got = {Path(f).name: (line, msg) for f, line, _, msg in annotations}
    for name, (_, words) in PLANTED.items():
        assert got[name][0] == lines[name], (name, got[name])
        assert all(w in got[name][1] for w in words)
    # workflow-command escaping: ':' and ',' in properties
    assert all("%3A" in title for _, _, title, _ in annotations)


def test_without_the_invalid_spec_exits_1(tmp_path):
    folder = tmp_path / "specs"
    shutil.copytree(CI / "broken", folder)
    (folder / "invalid.yaml").unlink()
    for fmt in ("text", "github", "junit"):
        result = run("check", folder, "--format", fmt)
        assert result.exit_code == 1, (fmt, result.output)
    annotations = github_annotations(run("check", folder, "--format", "github").stdout)
    assert sorted(Path(a[0]).name for a in annotations) == ["budget.yaml", "output.yaml"]


def test_junit_xml_structure(tmp_path):
    out = tmp_path / "report.xml"
    result = run("check", CI / "broken", CI / "pass", "--format", "junit", "--output", out)
    assert result.exit_code == 2
    root = ET.parse(out).getroot()
    assert root.tag == "testsuites"
    suites = root.findall("testsuite")
    assert len(suites) == 5
    cases = root.findall("testsuite/testcase")
    assert int(root.get("tests")) == len(cases) == sum(int(s.get("tests")) for s in suites)
    failures = root.findall("testsuite/testcase/failure")
    errors = root.findall("testsuite/testcase/error")
    assert len(failures) == int(root.get("failures")) == 2
    assert len(errors) == int(root.get("errors")) == 1
    for suite in suites:
        assert {"name", "tests", "failures", "errors"} <= set(suite.attrib)
        assert int(suite.get("failures")) == len(suite.findall("testcase/failure"))
        assert int(suite.get("errors")) == len(suite.findall("testcase/error"))
        for case in suite.findall("testcase"):
            assert case.get("name") and case.get("classname")
            assert len(list(case)) <= 1  # at most one failure/error per testcase
    lines = expected_lines(CI / "broken")
    for el in failures + errors:
        suite = next(s for s in suites if any(el in list(c) for c in s.findall("testcase")))
        file, line = el.text.split(":")[:2]  # the schema has no line attribute: file:line: opens the text
        assert file == suite.get("file") and int(line) == lines[Path(file).name]
        assert el.get("message")
    assert_junit10(root)
    # one testcase per expectation: lenet5's block holds 3 totals and 6 per-layer checks
    lenet = next(s for s in suites if s.get("name") == "lenet5_ci")
    assert int(lenet.get("tests")) == 9
    # on stdout too, as a whole document
    text = run("check", CI / "pass", "--format", "junit").stdout
    assert ET.fromstring(text.split("\n", 1)[1]).tag == "testsuites"


# Jenkins' xunit-plugin junit-10.xsd (the schema pytest's junit_family=xunit2 targets), restated as
# data: for each element, its required attributes, the optional ones, and the children it may hold.
JUNIT10 = {
    "testsuites": (set(), {"name", "time", "tests", "failures", "errors"}, {"testsuite"}),
    "testsuite": ({"name", "tests", "failures", "errors"},
                  {"group", "time", "skipped", "timestamp", "hostname", "id", "package", "file", "log", "url"},
                  {"testsuite", "properties", "testcase", "system-out", "system-err"}),
    "testcase": ({"name"}, {"time", "classname", "group"},
                 {"skipped", "error", "failure", "system-out", "system-err"}),
    "failure": (set(), {"type", "message"}, set()),
    "error": (set(), {"type", "message"}, set()),
}
SUREFIRE_TIME = re.compile(r"(([0-9]{0,3},)*[0-9]{3}|[0-9]{0,3})*(\.[0-9]*)?")


def assert_junit10(el):
    required, optional, children = JUNIT10[el.tag]
    assert required <= set(el.attrib) <= required | optional, (el.tag, el.attrib)
    if el.tag in ("testsuites", "testsuite") and "time" in el.attrib:
        assert SUREFIRE_TIME.fullmatch(el.get("time")), el.get("time")
    if el.get("timestamp"):
        datetime.fromisoformat(el.get("timestamp"))
    for child in el:
        assert child.tag in children, (el.tag, child.tag)
        assert_junit10(child)


def test_layer_expectations_by_path_name_and_group(tmp_path):
    spec = tmp_path / "groups.yaml"
    # the Keras book convnet: conv+relu entries are groups (conv then its activation)
    spec.write_text((CI / "pass" / "mnist_convnet.yaml").read_text().split("expect:")[0] + """expect:
  layers:
    "layers[0]": {output: [32, 26, 26], params: 320, kind: group}
    "layers[0][0]": {output: [32, 26, 26], kind: conv, macs: 194688}  # 26·26·32·(3·3·1)
    conv2: {params: 18496}
    "layers[6]": {params: {min: 36000, max: 37000}}
    nosuch: {params: 1}
""")
    result = run("check", spec)
    assert result.exit_code == 2
    assert "no layer has the path or name 'nosuch'" in result.output
    reported = [line for line in result.output.splitlines() if line.startswith(str(spec)) and ": warning: " not in line]
    assert len(reported) == 1  # only the unknown layer is reported


@pytest.mark.parametrize("budget, says", [("{max: -1}", "budget max -1 is negative"),
                                          ("{min: 10, max: 5}", "budget min 10 is above max 5")])
def test_impossible_budget_is_an_invalid_spec_on_its_line(tmp_path, budget, says):
    spec = tmp_path / "budget.yaml"
    spec.write_text(f"name: t\ninput: [1, 8, 8]\nexpect:\n  params: {budget}\nlayers:\n  - conv: {{filters: 2, kernel: 3}}\n")
    result = run("check", spec)
    assert result.exit_code == 2
    assert f"{spec}:4: expect.params: {says}" in result.output
