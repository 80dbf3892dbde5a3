"""The ``metadata:`` of a spec: free-form, except the accuracies ``compare`` shows and plots.

``top1``/``top5`` become table cells, JSON numbers and chart coordinates, so each must be a finite
percentage: a NaN would print invalid JSON and crash the chart, a string would vanish silently.
"""

from __future__ import annotations

import math

from .errors import CnncalcError, shorten
from .yamlsrc import line_of

ACCURACIES = ("top1", "top5")


def check_metadata(metadata: dict, file: str | None) -> None:
    """Raise (with the line) for an accuracy that is not a percentage from 0 to 100."""
    for key in ACCURACIES:
        value = metadata.get(key)
        if value is None:
            continue
        number = value
        if isinstance(value, str):
            try:
                number = float(value)
            except ValueError:
                number = None
        if isinstance(number, bool) or not isinstance(number, (int, float)) or not math.isfinite(number) \
                or not 0 <= number <= 100:
            raise CnncalcError(f"metadata {key} must be a percentage from 0 to 100, not {shorten(repr(value))}",
                               file=file, line=line_of(metadata, key), fix=f"e.g. {key}: {76.13 if key == 'top1' else 92.86}")
