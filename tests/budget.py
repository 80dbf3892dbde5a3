"""Hypothesis example counts: a sample in the default run, the full count with ``-m slow``.

A property test says ``@settings(max_examples=examples(300), ...)``. The default run (which
deselects ``slow``) runs a fifth of the examples, at least 20; a run that selects ``slow`` tests
(``-m slow``, ``-m "slow or not slow"``) or sets ``CNNCALC_FULL_EXAMPLES=1`` runs every property
test with its full count, and tests/conftest.py marks these tests ``slow`` then so that ``-m slow``
selects them. docs/benchmarks.md ("The test suite") has the figures.
"""

from __future__ import annotations

import os

DIVISOR = 5
FLOOR = 20
FULL = os.environ.get("CNNCALC_FULL_EXAMPLES") == "1"  # (conftest.py sets it from -m before any test module loads)


def examples(n: int) -> int:
    """``n`` with the full count, else ``n // DIVISOR`` (at least ``FLOOR``, at most ``n``)."""
    return n if FULL else min(n, max(FLOOR, n // DIVISOR))
