"""Views of a solve result (``cnncalc solve``): rendering only."""

from __future__ import annotations

import json

from ..solve import AtSize, Solution


def _intervals(ivs, limit: int = 8) -> str:
    parts = [f"{a}–{b}" if b > a else str(a) for a, b in ivs[:limit]]
    if len(ivs) > limit:
        parts.append(f"… {len(ivs) - limit} more runs")
    return ", ".join(parts) if parts else "none"


def text(s: Solution, point: AtSize | None = None) -> str:
    n = s.symbol
    lines = [f"{s.model} — input {s.input}, {n} in {s.lo}..{s.hi}"]
    if s.smallest is None:
        lines.append(f"valid sizes: none in {s.lo}..{s.hi}")
    else:
        lines.append(f"valid sizes: {_intervals(s.valid)} ({s.valid_count:,} of {s.hi - s.lo + 1:,})")
        lines.append(f"smallest valid: {s.smallest}")
    if s.stride:
        lines.append(f"total stride: {s.stride}")
    if s.feature_map:
        lines.append(f"last feature map: {s.feature_map}")
    lines.append(f"output: {s.output}")
    exact = f"exact sizes (no floor leaves a real row or column unused): {_intervals(s.exact)} ({s.exact_count:,} sizes)"
    lines.append(exact)
    if s.exact_pattern:
        lines.append(f"  that is {s.exact_pattern}")
    if point is not None:
        lines.append("")
        lines.extend(at_text(point, n))
    return "\n".join(lines)


def at_text(p: AtSize, name: str = "N") -> list[str]:
    if not p.valid:
        lines = [f"at {name} = {p.size}: fails at {p.path} ({p.layer}): {p.check}"]
        if p.message:
            lines.append(f"  {p.message}")
    else:
        fm = f" (last feature map {'×'.join(map(str, p.feature_map))})" if p.feature_map else ""
        lines = [f"at {name} = {p.size}: valid, output {'×'.join(map(str, p.output))}{fm}"]
    merged: dict = {}
    for u in p.uncovered:
        merged.setdefault((u.path, u.layer), []).append(f"{u.amount} {u.side[:-1] if u.amount == 1 else u.side}")
    for (path, layer), what in merged.items():
        lines.append(f"  {path} ({layer}) leaves {' and '.join(what)} at the edge unused")
    if p.valid and not merged:
        lines.append("  every input row and column is used")
    return lines


def to_json(s: Solution, point: AtSize | None = None) -> str:
    out = s.to_dict()
    if point is not None:
        out["at"] = {
            "size": point.size, "valid": point.valid, "path": point.path, "layer": point.layer,
            "check": point.check, "message": point.message,
            "output": [1, *point.output] if point.output else None,  # batch first, as everywhere
            "feature_map": list(point.feature_map) if point.feature_map else None,
            "uncovered": [{"path": u.path, "layer": u.layer, "side": u.side, "amount": u.amount}
                          for u in point.uncovered],
        }
    return json.dumps(out, ensure_ascii=False)
