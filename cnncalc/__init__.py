"""cnncalc: CNN shapes, parameters and compute from a declarative spec, without running anything.

>>> import cnncalc
>>> cnncalc.summary("lenet5").params
61706

``summary``, ``import_module``, ``verify`` and ``fit`` take a zoo name, a spec (path or dict), a
Python source, an ONNX model or a live ``nn.Module`` (docs/python.md). Importing cnncalc imports
no torch: that happens when a module or a Python source is given.
"""

from .api import fit, import_module, summary, verify
from .engine import analyze
from .errors import CnncalcError
from .zoo import load_model

__all__ = ["summary", "import_module", "verify", "fit", "analyze", "load_model", "CnncalcError"]
__version__ = "0.1.0"
