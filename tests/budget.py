"""What the default run samples: hypothesis example counts (a sample by default, the full count
with ``-m slow``), and the zoo's deeper family members.

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


# The deeper members of a family: the layers of its first member (vgg11, vgg11_bn; resnet18's basic
# block, resnet50's bottleneck; wide_resnet50_2 is resnet50 with wider channels) at more depth or
# width. Where a zoo test's cases are many and dear, they run a smaller part of it by default
# (docs/benchmarks.md, "The default test suite", says which) and the rest under -m slow.
DEEPER = {"vgg13", "vgg13_bn", "vgg16", "vgg16_bn", "vgg19", "vgg19_bn", "resnet34", "resnet101", "resnet152",
          "wide_resnet50_2"}


def examples(n: int) -> int:
    """``n`` with the full count, else ``n // DIVISOR`` (at least ``FLOOR``, at most ``n``)."""
    return n if FULL else min(n, max(FLOOR, n // DIVISOR))
