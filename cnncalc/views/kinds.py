"""``cnncalc kinds``: the layer registry as a table, JSON or Markdown.

Every alias stands whole on its own line; on a narrow terminal the arguments wrap closer, then
the description, then the aliases move under their kind (docs/spec.md).
"""

from __future__ import annotations

import json
from dataclasses import replace

from .layout import Column, fit, forms, recast


def kind_rows(kinds) -> list[dict]:
    """One dict per kind, sorted by name: what the JSON prints and the other formats render."""
    return [{"kind": name, "aliases": list(kind.aliases),
             "arguments": [{"name": a.name, "required": _required(a), "default": None if _required(a) else a.default}
                           for a in kind.args],
             "summary": kind.summary}
            for name, kind in sorted(kinds.items())]


def _required(arg) -> bool:
    return arg.default.__class__ is object  # the registry's REQUIRED sentinel


def _arguments(row) -> str:
    return ", ".join(a["name"] if a["required"] or a["default"] is None else f"{a['name']} ({a['default']})"
                     for a in row["arguments"])


def kinds_table(rows, width: int | None = None):
    columns = [Column("kind", tuple(r["kind"] for r in rows)),
               Column("aliases", tuple("\n".join(r["aliases"]) for r in rows)),
               Column("arguments (default)", tuple(_arguments(r) for r in rows), wrap=40),
               Column("what", tuple(r["summary"] for r in rows), wrap=20)]
    under = tuple("\n".join([r["kind"]] + [f"  {a}" for a in r["aliases"]]) for r in rows)
    steps = [lambda c: recast(c, "arguments (default)", wrap=18), lambda c: recast(c, "what", wrap=14),
             lambda c: [replace(x, header="kind, aliases", cells=under) if x.header == "kind" else x
                        for x in c if x.header != "aliases"]]
    return fit(forms(columns, *steps), width, title="layer kinds")


def to_json(rows) -> str:
    return json.dumps(rows, ensure_ascii=False, default=str)


def to_markdown(rows) -> str:
    lines = ["| kind | aliases | arguments (default) | what |", "|---|---|---|---|"]
    for r in rows:
        cells = [f"`{r['kind']}`", ", ".join(f"`{a}`" for a in r["aliases"]), _arguments(r), r["summary"]]
        lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    return "\n".join(lines) + "\n"
