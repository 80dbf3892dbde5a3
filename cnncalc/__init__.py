"""cnncalc: CNN shapes, parameters and compute from a declarative spec, without running anything.

>>> from cnncalc import load_model, analyze
>>> analyze(load_model("lenet5")).params
61706
"""

from .engine import analyze
from .errors import CnncalcError
from .zoo import load_model

__all__ = ["analyze", "load_model", "CnncalcError"]
__version__ = "0.1.0"
