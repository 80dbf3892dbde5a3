import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))  # reference_nets, spec_strategies, budget

import budget  # noqa: E402

# Each xdist worker gets its share of the cores for torch's threads, in process and in the console
# scripts it starts: with `-n 2` on two cores, two threads a worker only spin against each other
# (several test modules already call torch.set_num_threads(1), which set it for the whole worker).
_WORKERS = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "0"))
if _WORKERS:
    os.environ.setdefault("OMP_NUM_THREADS", str(max(1, (os.cpu_count() or 1) // _WORKERS)))


def _selects_slow(markexpr: str) -> bool:
    """Whether ``-m`` asks for slow tests (``slow``, ``slow or fuzz``), not only excludes them."""
    return "slow" in markexpr.replace("not slow", "")


def pytest_configure(config):
    if _selects_slow(config.getoption("markexpr", "") or ""):
        budget.FULL = True


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config, items):
    """With the full counts, the property tests whose default run is a sample (tests/budget.py) are
    part of ``-m slow``: before the ``-m`` selection, they get the ``slow`` mark."""
    if not budget.FULL:
        return
    for item in items:
        if getattr(getattr(item, "function", None), "is_hypothesis_test", False) and not any(
                item.iter_markers("fuzz")):
            item.add_marker(pytest.mark.slow)
