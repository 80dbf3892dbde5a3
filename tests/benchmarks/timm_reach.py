"""How far ``cnncalc`` reaches into timm's CNNs (issue 19): the reach table of docs/benchmarks.md.

Run: ``python tests/benchmarks/timm_reach.py [--jobs 1] [--timeout 300] [--paths torch,onnx] [NAME …]``.

For the smallest variant of each CNN family below (chosen from ``timm.list_models()``), built with
``pretrained=False`` at its own ``pretrained_cfg`` input size, it runs

* ``cnncalc shapes models.py:NAME --input CxHxW --format json`` (the module path: a file exposing
  builders, as a user writes one), and
* ``cnncalc shapes NAME.onnx --format json`` on ``torch.onnx.export(..., dynamo=False,
  do_constant_folding=False)`` (the TorchScript exporter; the dynamo exporter needs onnxscript),

each in the console script's own code (``cnncalc.cli``, in process, stdout and stderr captured),
and classifies each against the oracles ``tests/`` uses everywhere: the output shape of a real
forward pass, params = ``sum(p.numel())``, MACs = ``FlopCounterMode``'s FLOPs / 2 (convolutions,
``mm``/``addmm``/``bmm``: what cnncalc calls MACs). fvcore's ``conv``/``linear``/``addmm``/``mm``/
``matmul``/``bmm``/``einsum`` (``cnncalc verify``'s count) is kept beside it with
``REACH_FVCORE=1``: it misses a convolution with ``padding="same"`` (``aten::_convolution_mode``,
which it has no handle for), so ConvMixer's depthwise convolutions are not in it.

* ``exact`` — all three equal; ``wrong`` — a number differs; ``refused`` — exit 2 with one line
  (the op it names is kept); ``traceback`` — anything else (an exception, a crash, a timeout).

timm's attention runs as explicit matmuls (``TIMM_FUSED_ATTN=0``): fvcore has no handle for
``scaled_dot_product_attention``. Each model runs in its own subprocess under ``--timeout``.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TESTS = Path(__file__).resolve().parents[1]

# The smallest variant of each family (by timm's names: a family is a design, not a timm module —
# resnetblur and seresnet are families of their own in timm's `resnet` module).
FAMILIES = [
    # ResNet and its variants
    "resnet18", "resnet10t", "resnet18d", "resnetblur18", "resnetaa34d", "resnetrs50", "seresnet18",
    "ecaresnetlight", "resnext50_32x4d", "seresnext26d_32x4d", "resnet50_gn", "wide_resnet50_2",
    "legacy_seresnet18", "resnetv2_18", "res2net50_14w_8s", "res2next50", "resnest14d", "skresnet18", "tresnet_m",
    "nf_resnet26", "dm_nfnet_f0", "nf_regnet_b0",
    # byobnet / byoanet (GENet, RepVGG, MobileOne, RegNetZ, GC, BoTNet, HaloNet, LambdaNet)
    "gernet_s", "repvgg_a0", "mobileone_s0", "regnetz_b16", "gcresnet33ts", "resnet32ts", "eca_resnext26ts",
    "botnet26t_256", "halonet26t", "lambda_resnet26t", "sehalonet33ts",
    # RegNet, CSP, DarkNet
    "regnetx_002", "regnety_002", "cspresnet50", "cspdarknet53", "darknet17", "cs3darknet_s", "cspnext_tiny",
    # classic
    "vgg11", "densenet121", "densenetblur121d", "dla34", "dla46x_c", "dpn48b", "inception_v3", "inception_v4",
    "inception_resnet_v2", "legacy_xception", "xception41", "nasnetalarge", "pnasnet5large", "selecsls42",
    "vovnet39a", "ese_vovnet19b_dw", "hrnet_w18_small",
    # mobile
    "mobilenetv3_small_050", "mobilenetv4_conv_small_035", "fbnetv3_b", "lcnet_035", "efficientnet_b0",
    "efficientnet_lite0", "efficientnetv2_rw_t", "tf_efficientnetv2_b0", "gc_efficientnetv2_rw_t", "mixnet_s",
    "mnasnet_small", "fbnetc_100", "spnasnet_100", "tinynet_e", "hardcorenas_a", "ghostnet_050", "ghostnetv2_100",
    "repghostnet_050", "rexnet_100", "hgnet_tiny", "hgnetv2_b0", "repvit_m0_9", "fasternet_t0", "starnet_s050",
    # ConvNeXt era and conv-attention hybrids
    "convnext_atto", "convnextv2_atto", "convmixer_768_32", "inception_next_atto", "poolformer_s12",
    "convformer_s18", "caformer_s18", "mambaout_femto", "rdnet_tiny", "edgenext_xx_small", "fastvit_t8",
    "efficientformer_l1", "efficientformerv2_s0", "efficientvit_b0", "efficientvit_m0", "levit_128s",
    "mobilevit_xxs", "mobilevitv2_050", "coatnet_nano_rw_224", "maxvit_pico_rw_256", "tiny_vit_5m_224",
    "swiftformer_xs", "shvit_s1", "visformer_tiny",
]

MAC_OPS = ("conv", "linear", "addmm", "mm", "matmul", "bmm", "einsum")

MODELS_PY = f'''"""timm's models as builders, for `cnncalc shapes models.py:NAME` (written by timm_reach.py)."""
import sys
sys.path.insert(0, {str(TESTS)!r})
from torchvision_models import _load  # torchvision.models without its C extension (see there)
_load()
import timm


def __getattr__(name):
    return lambda: timm.create_model(name, pretrained=False)
'''


def _cli(args: list[str]) -> tuple[int, str, str]:
    """``cnncalc ARGS`` in this process: exit code, stdout, stderr."""
    from cnncalc import cli

    out, err = io.StringIO(), io.StringIO()
    argv = sys.argv
    sys.argv = ["cnncalc", *args]
    code = 0
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                cli.main()
            except SystemExit as exc:
                code = exc.code if isinstance(exc.code, int) else 1
    except Exception as exc:  # (the CLI should never let one out)
        import traceback

        return 1, out.getvalue(), err.getvalue() + "Traceback\n" + traceback.format_exc()
    finally:
        sys.argv = argv
    return code, out.getvalue(), err.getvalue()


def classify(code: int, out: str, err: str, oracle: dict) -> dict:
    if code == 2 and "Traceback" not in err:
        lines = [line for line in err.splitlines() if line.startswith("error:")]
        return {"status": "refused", "why": lines[0][7:] if lines else err.strip()[-300:]}
    if code != 0:
        return {"status": "traceback", "why": err.strip()[-600:]}
    report = json.loads(out)
    got = {"output": report["output"], "params": report["params"], "macs": report["macs"]}
    bad = {k: (got[k], oracle[k]) for k in got if got[k] != oracle[k]}
    coverage = "opaque" in {row["kind"] for row in report["layers"]}
    if bad:
        return {"status": "wrong", "why": "; ".join(f"{k} {g} ≠ {o}" for k, (g, o) in bad.items()), "got": got}
    return {"status": "exact", "opaque": coverage}


def one(name: str, paths: list[str]) -> dict:
    """The row of one model (run in a subprocess of its own)."""
    os.environ["TIMM_FUSED_ATTN"] = "0"
    sys.path.insert(0, str(TESTS))
    import warnings

    warnings.simplefilter("ignore")
    from torchvision_models import _load

    _load()
    import timm
    import torch
    from fvcore.nn import FlopCountAnalysis

    torch.manual_seed(0)
    model = timm.create_model(name, pretrained=False).eval()
    size = tuple(model.pretrained_cfg["input_size"])
    x = torch.randn(1, *size)
    from torch.utils.flop_counter import FlopCounterMode

    counter = FlopCounterMode(display=False)
    with torch.no_grad():
        with counter:
            y = model(x)
    oracle = {"output": list(y.shape), "params": sum(p.numel() for p in model.parameters()),
              "macs": counter.get_total_flops() // 2}
    row = {"model": name, "input": list(size), **oracle}
    if os.environ.get("REACH_FVCORE") == "1":  # (a second trace of the model: minutes for the large ones)
        with torch.no_grad():
            fv = FlopCountAnalysis(model, x).unsupported_ops_warnings(False).uncalled_modules_warnings(False)
            row["fvcore_macs"] = int(sum(fv.by_operator().get(op, 0) for op in MAC_OPS))
    work = Path(tempfile.mkdtemp(prefix="timm_reach_"))
    (work / "models.py").write_text(MODELS_PY)
    input_text = "x".join(map(str, size))
    if "torch" in paths:
        t = time.perf_counter()
        row["torch"] = classify(*_cli(["shapes", f"{work / 'models.py'}:{name}", "--input", input_text,
                                       "--format", "json"]), oracle)
        row["torch"]["seconds"] = round(time.perf_counter() - t, 2)
    if "onnx" in paths:
        path = work / f"{name}.onnx"
        try:
            with torch.no_grad():
                torch.onnx.export(model, (x,), str(path), dynamo=False, do_constant_folding=False,
                                  input_names=["x"], output_names=["y"])
        except Exception as exc:
            row["onnx"] = {"status": "export failed", "why": f"{type(exc).__name__}: {' '.join(str(exc).split())[:200]}"}
        else:
            t = time.perf_counter()
            row["onnx"] = classify(*_cli(["shapes", str(path), "--format", "json"]), oracle)
            row["onnx"]["seconds"] = round(time.perf_counter() - t, 2)
    return row


def run_all(names, paths, timeout, out_path: Path | None, jobs: int = 1) -> list[dict]:
    from concurrent.futures import ThreadPoolExecutor

    def sub(name):
        cmd = [sys.executable, __file__, "--one", name, "--paths", ",".join(paths)]
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            return {"model": name, **{p: {"status": "traceback", "why": f"timeout after {timeout} s"} for p in paths}}
        lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
        if proc.returncode != 0 or not lines:
            return {"model": name, **{p: {"status": "traceback", "why": "the worker died: " + proc.stderr[-400:]}
                                      for p in paths}}
        return json.loads(lines[-1])

    rows = []
    with ThreadPoolExecutor(jobs) as pool:
        for row in pool.map(sub, names):
            rows.append(row)
            print(summary_line(row, paths), flush=True)
            if out_path:
                out_path.write_text(json.dumps(rows, indent=1))
    return rows


def summary_line(row, paths) -> str:
    parts = [f"{row['model']:28s}"]
    for p in paths:
        r = row.get(p, {})
        why = (" " + r["why"][:150].replace("\n", " ")) if r.get("status") != "exact" and r.get("why") else ""
        parts.append(f"{p}={r.get('status')}{why}")
    return "  ".join(parts)


def totals(rows, paths) -> dict:
    out = {}
    for p in paths:
        counts: dict = {}
        for row in rows:
            status = row.get(p, {}).get("status")
            counts[status] = counts.get(status, 0) + 1
        out[p] = counts
    both = sum(all(row.get(p, {}).get("status") == "exact" for p in paths) for row in rows)
    return {**out, "families": len(rows), "exact on every path": both}


def markdown(rows, paths) -> str:
    """The reach table of docs/benchmarks.md from the rows (``--table a.json b.json``: merged, the
    first file's row of a model wins, in FAMILIES order)."""
    def cell(r) -> str:
        status = r.get("status", "not run")
        if status == "not run":
            return "not run (time)"
        if status == "exact":
            return "exact" + (" (opaque)" if r.get("opaque") else "")
        why = " ".join(r.get("why", "").split())
        for cut in ("; --allow-unknown", "; check --input", "; `cnncalc kinds`"):
            why = why.split(cut)[0]
        why = why.split(".onnx: ")[-1].split(".py:")[-1].replace("|", "\\|")
        return f"{status}: {why[:110]}"

    lines = ["| family (smallest) | input | params | MACs | module path | ONNX path |",
             "| --- | --- | --- | --- | --- | --- |"]
    for row in rows:
        figures = (f"{'×'.join(map(str, row['input']))} | {row['params']:,} | {row['macs']:,}" if "input" in row
                   else "— | — | —")
        lines.append(f"| `{row['model']}` | {figures} | " + " | ".join(cell(row.get(p, {})) for p in paths) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("names", nargs="*")
    parser.add_argument("--one")
    parser.add_argument("--paths", default="torch,onnx")
    parser.add_argument("--timeout", type=int, default=300)
    parser.add_argument("--jobs", type=int, default=1)
    parser.add_argument("--out", type=Path)
    parser.add_argument("--table", nargs="+", type=Path, help="print the markdown table of these result files")
    a = parser.parse_args()
    paths = a.paths.split(",")
    if a.table:
        found = {}
        for path in a.table:
            for row in json.loads(path.read_text()) if path.exists() else []:
                found.setdefault(row["model"], row)
        rows = [found.get(name, {"model": name}) for name in FAMILIES]
        print(markdown(rows, paths))
        print(json.dumps(totals([r for r in rows if "torch" in r], paths)))
        return
    if a.one:
        print(json.dumps(one(a.one, paths)))
        return
    rows = run_all(a.names or FAMILIES, paths, a.timeout, a.out, a.jobs)
    print(json.dumps(totals(rows, paths), indent=1))


if __name__ == "__main__":
    main()
