"""The zoo listing, as a rich table or text formats."""

from __future__ import annotations

import csv
import io
import json

from .text import shape_text


def zoo_rows(reports) -> list[dict]:
    return [
        {"name": name, "family": r.family or "", "input": list(r.input[1:]), "output": list(r.output[1:]),
         "params": r.params, "macs": r.macs}
        for name, r in reports
    ]


def render_zoo(rows, format, console) -> None:
    fmt = getattr(format, "value", format)
    if fmt == "json":
        print(json.dumps(rows))
    elif fmt == "csv":
        buf = io.StringIO()
        w = csv.DictWriter(buf, fieldnames=list(rows[0]) if rows else ["name"], lineterminator="\n")
        w.writeheader()
        for row in rows:
            w.writerow({**row, "input": shape_text(row["input"]), "output": shape_text(row["output"])})
        print(buf.getvalue(), end="")
    elif fmt == "markdown":
        print("| model | family | input | params | MACs |\n|---|---|---|---|---|")
        for r in rows:
            print(f"| {r['name']} | {r['family']} | {shape_text(r['input'])} | {r['params']:,} | {r['macs']:,} |")
    else:
        from rich.table import Table

        table = Table(title="model zoo", title_justify="left")
        for col, justify in (("model", "left"), ("family", "left"), ("input", "left"), ("params", "right"),
                             ("MACs", "right")):
            table.add_column(col, justify=justify)
        for r in rows:
            table.add_row(r["name"], r["family"], shape_text(r["input"]), f"{r['params']:,}", f"{r['macs']:,}")
        console().print(table)
