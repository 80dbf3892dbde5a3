"""Every command's JSON against one schema (docs/schema/report.schema.json), and the same key
meaning the same figure in every command."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import zygote

jsonschema = pytest.importorskip("jsonschema")

ROOT = Path(__file__).resolve().parents[1]
SCHEMA = json.loads((ROOT / "docs" / "schema" / "report.schema.json").read_text())
CI = ROOT / "tests" / "specs" / "ci"

COMMANDS = [
    ("report", ["shapes", "lenet5"]),
    ("report", ["shapes", "resnet18", "--convention", "torchinfo", "--batch", "2"]),
    ("symbolic_report", ["shapes", "lenet5", "--input", "1xHxW", "--batch", "B"]),
    ("report", ["shapes", "mobilenet_v2", "--training", "--optimizer", "adam", "--batch", "2"]),
    ("symbolic_report", ["shapes", "lenet5", "--training", "--input", "Nx1x32x32"]),
    ("report", ["shapes", "resnet18", "--training", "--freeze", "layers[0:5]*"]),
    ("fit", ["fit", "resnet50", "--memory", "24GiB", "--optimizer", "adam"]),
    ("comparison", ["list"]),
    ("comparison", ["compare", "resnet", "vgg", "--relative-to", "resnet18"]),
    ("comparison", ["compare", "resnet18", "lenet5", "--input", "64"]),
    ("diff", ["diff", "vgg16", "vgg16_bn"]),
    ("diff", ["diff", str(CI / "pass" / "lenet5.yaml"), str(ROOT / "tests" / "specs" / "diff" / "lenet5_pad.yaml")]),
    ("kinds", ["kinds"]),
    ("solve", ["solve", "lenet5", "--at", "30"]),
    ("verify", ["verify", "lenet5"]),
    ("bench", ["bench", "lenet5", "--device", "cpu", "--min-time-ms", "20", "--warmup-ms", "0", "--per-layer"]),
]


def json_of(args):
    if args[0] in ("verify", "bench"):
        pytest.importorskip("torch")
    if args[0] == "solve" or "1xHxW" in args or "Nx1x32x32" in args:
        pytest.importorskip("sympy")
    result = zygote.run([*args, "--format", "json"], cwd=ROOT, env={**os.environ, "NO_COLOR": "1"}, timeout=300)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def validate(data, definition: str):
    schema = {**SCHEMA, "$ref": f"#/$defs/{definition}"}
    schema.pop("oneOf")
    jsonschema.validate(data, schema, cls=jsonschema.Draft202012Validator)


def test_the_schema_is_a_valid_schema():
    jsonschema.Draft202012Validator.check_schema(SCHEMA)


@pytest.mark.parametrize("definition, args", COMMANDS, ids=[" ".join(a[:2]) for _, a in COMMANDS])
def test_every_command_json_follows_the_schema(definition, args):
    data = json_of(args)
    validate(data, definition)
    jsonschema.validate(data, SCHEMA, cls=jsonschema.Draft202012Validator)  # and exactly one definition


def test_one_key_one_meaning_across_commands():
    report = json_of(["shapes", "lenet5"])
    listed = {r["model"]: r for r in json_of(["list"])["models"]}["lenet5"]
    compared = json_of(["compare", "lenet5"])["models"][0]
    for row in (listed, compared):
        for key in ("model", "input", "output", "params", "macs", "flops", "activation_bytes"):
            assert row[key] == report[key], key
    solved = json_of(["solve", "lenet5"])
    assert solved["model"] == report["model"] and solved["input"] == [1, 1, "N", "N"]
    assert solved["output"] == report["output"]  # batch first, as in every other command
    assert json_of(["diff", "lenet5", "lenet5"])["totals"]["input"]["new"] == report["input"]


# -- a saved report read back (diff, check --baseline): the loader's rules against the schema -------
_SAMPLES = [None, True, -1, 0, 1, 2**63, 2.5, "x", "", [], [0], [1, 2], [1, -2], [1.5], ["a"], {}, [1] * 9]


@pytest.mark.parametrize("definition, fields", [("report", "REPORT_FIELDS"), ("layer_row", "ROW_FIELDS")])
def test_the_report_loader_accepts_only_what_the_schema_states(definition, fields):
    """diff.py reads saved reports without jsonschema (a test dependency): each field it reads has a
    rule there, and whatever a rule accepts, the schema's own property for that field accepts too."""
    from cnncalc import diff

    properties = SCHEMA["$defs"][definition]["properties"]
    for key, rule in getattr(diff, fields).items():
        assert key in properties, f"{definition}.{key}: the loader reads a field the schema does not state"
        check, _ = diff._RULES[rule]
        prop = {**SCHEMA, **properties[key]}
        prop.pop("oneOf")
        for value in _SAMPLES:
            if check(value):
                jsonschema.validate(value, prop, cls=jsonschema.Draft202012Validator)


def test_every_report_the_schema_accepts_loads(tmp_path):
    from cnncalc.diff import load_reports

    for model in ("lenet5", "resnet18", "unet"):
        data = json_of(["shapes", model, "--format", "json"])
        validate(data, "report")
        path = tmp_path / f"{model}.json"
        path.write_text(json.dumps(data))
        assert load_reports(path) == [data]
