"""Benchmark of ``cnncalc import model.onnx``. Run: ``python tests/benchmarks/bench_onnx_import.py [NAMES]``.

For each zoo model (or the names given): cnncalc's torch build of the spec exported with
``torch.onnx.export`` (TorchScript exporter, ``do_constant_folding=False``), the file's size, the
in-process import (read, size, map, fold; best of 3), the whole ``cnncalc import FILE -o spec.yaml``
process (best of 3), and whether the imported spec gives back every figure of the zoo spec (params,
output, MACs, FLOPs, torchinfo; fvcore too, less what ONNX cannot say — adaptive pooling that is
not global, exported as a fixed window). A benchmark, not a test: it reports, it asserts nothing.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

CNNCALC = str(Path(sys.executable).with_name("cnncalc"))


def best(run, times: int = 3) -> float:
    out = []
    for _ in range(times):
        t = time.perf_counter()
        run()
        out.append(time.perf_counter() - t)
    return min(out)


def figures(report) -> dict:
    return {"params": report.params, "output": report.output, "macs": report.macs, "flops": report.flops,
            "fvcore": report.fvcore_flops, "torchinfo": report.torchinfo_mult_adds}


def main(names: list[str]) -> None:
    import torch

    from cnncalc import analyze, load_model
    from cnncalc.importing import write_yaml
    from cnncalc.onnx_import import import_file
    from cnncalc.spec import load_string
    from cnncalc.torch_backend.build import build_module
    from cnncalc.zoo import zoo_names

    print("| model | ONNX nodes | file | export | import (in-process) | `cnncalc import` (process) | figures |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    with tempfile.TemporaryDirectory() as tmp:
        for name in names or zoo_names():
            graph = load_model(name)
            report = analyze(graph)
            module = build_module(graph, report).eval()
            path = Path(tmp) / f"{name}.onnx"
            start = time.perf_counter()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                torch.onnx.export(module, torch.randn(1, *graph.input), str(path), dynamo=False,
                                  do_constant_folding=False)
            export = time.perf_counter() - start
            result = import_file(str(path))
            in_process = best(lambda: import_file(str(path)))
            process = best(lambda: subprocess.run([CNNCALC, "import", str(path), "-o", str(Path(tmp) / "x.yaml")],
                                                  check=True, capture_output=True))
            want, got = figures(report), figures(analyze(load_string(write_yaml(result.spec))))
            want["fvcore"] -= sum(r.fvcore_flops for r in report.rows
                                  if r.kind.startswith("adaptive_") and r.output[2:] != (1, 1))
            same = "all equal" if want == got else "differ: " + ", ".join(k for k in want if want[k] != got[k])
            import onnx

            nodes = len(onnx.load(str(path), load_external_data=False).graph.node)
            print(f"| {name} | {nodes} | {path.stat().st_size / 2**20:.1f} MiB | {export:.1f} s | "
                  f"{in_process * 1000:.0f} ms | {process:.2f} s | {same} |", flush=True)
            path.unlink()


if __name__ == "__main__":
    main(sys.argv[1:])
