"""Rewrite a golden file, explicitly (no test ever writes one, so no test can pass by rewriting
what it compares with):

    python tests/write_golden.py zoo      # tests/golden/zoo_reports.json, from the engine as it is now
    python tests/write_golden.py modern   # tests/golden/modern_reference.json, measured by torch,
                                          # fvcore and torchinfo on the reference modules (minutes)

A rewritten golden file is a change to review like any other: ``git diff tests/golden`` says which
figures moved.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))


def main(argv) -> None:
    if argv == ["zoo"]:
        from test_golden import GOLDEN, OLD_ZOO, snapshot

        GOLDEN.write_text(json.dumps({n: snapshot(n) for n in OLD_ZOO}, separators=(",", ":")) + "\n")
    elif argv == ["modern"]:
        from test_reference_nets_modern import GOLDEN, golden_table

        GOLDEN.write_text(json.dumps(golden_table(), indent=1) + "\n")
    else:
        sys.exit(f"usage: python {sys.argv[0]} zoo|modern")
    print(f"wrote {GOLDEN}")


if __name__ == "__main__":
    main(sys.argv[1:])
