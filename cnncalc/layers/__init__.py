"""The layer registry: every layer kind cnncalc knows, keyed by name and alias.

Each module in this package defines kinds and registers them with :func:`register`, so a new kind
is one new class in one module (plus its tests). ``cnncalc kinds`` prints this table.

The modules load lazily: a spec loads only the modules of the kinds it uses (ResNet-152: 6 of
15), found through :data:`INDEX`, which says which module holds each name. The index is data, held
to the modules by ``tests/test_registry.py`` (which prints the lines to paste when a kind is added);
a module the index does not know yet is loaded whenever a name is not found, so a new module works
before its line is added, only without the saving. Asking for :data:`KINDS` (or
:func:`all_names`) loads every module.
"""

from __future__ import annotations

import importlib
import sys

from .kind import LayerKind

# module -> every name and alias its kinds register (space-separated), for the lazy lookup; every
# module of the package is listed, one without kinds with ""
INDEX = {
    "arith": "arith unary",
    "conv": "conv Conv1D Conv1d conv1d Conv2D Conv2d conv2d Conv3D Conv3d conv3d Convolution2D",
    "dense": "Dense dense fc flatten Flatten fully_connected linear Linear",
    "elementwise": "drop_path dropout Dropout DropPath elu ELU gelu GELU hard_sigmoid hard_swish hardsigmoid "
           "Hardsigmoid hardswish Hardswish identity Identity leaky_relu LeakyReLU linear_activation "
           "log_softmax LogSoftmax relu ReLU relu6 ReLU6 sigmoid Sigmoid silu SiLU softmax Softmax "
           "stochastic_depth StochasticDepth swish tanh Tanh",
    "mean": "mean",
    "merge": "add Add broadcast_add cat concat Concatenate divide mul multiply Multiply stack subtract",
    "norm": "batch_norm batchnorm BatchNorm1d BatchNorm2d BatchNormalization bn gn group_norm groupnorm "
           "GroupNorm GroupNormalization instance_norm instancenorm InstanceNorm1d InstanceNorm2d "
           "InstanceNorm3d InstanceNormalization layer_norm layernorm LayerNorm LayerNorm2d "
           "LayerNormalization ln local_response_norm LocalResponseNorm lrn",
    "opaque": "opaque",
    "pad": "center_crop centre_crop ConstantPad1d ConstantPad2d ConstantPad3d crop Cropping1D "
           "Cropping2D Cropping3D pad ZeroPad1d ZeroPad2d ZeroPad3d ZeroPadding1D ZeroPadding2D "
           "ZeroPadding3D",
    "pool": "adaptive_avg_pool2d adaptive_avgpool adaptive_max_pool2d adaptive_maxpool "
           "AdaptiveAvgPool1d AdaptiveAvgPool2d AdaptiveAvgPool3d AdaptiveMaxPool1d AdaptiveMaxPool2d "
           "AdaptiveMaxPool3d AveragePooling1D AveragePooling2D AveragePooling3D avg_pool2d avgpool "
           "AvgPool1d AvgPool2D AvgPool2d avgpool2d AvgPool3d global_average_pooling global_avgpool "
           "global_maxpool GlobalAveragePooling1D GlobalAveragePooling2D GlobalAveragePooling3D "
           "GlobalAvgPool2D GlobalMaxPool2D GlobalMaxPooling1D GlobalMaxPooling2D GlobalMaxPooling3D "
           "max_pool2d maxpool MaxPool1d MaxPool2D MaxPool2d maxpool2d MaxPool3d MaxPooling1D "
           "MaxPooling2D MaxPooling3D",
    "reduce": "bmm matmul reduce",
    "scale": "layer_scale LayerScale scale",
    "shuffle": "channel_shuffle ChannelShuffle shuffle",
    "sliding": "",  # (no kind of its own: the window rule conv and the pools share)
    "slice": "chunk Chunk narrow slice Slice",
    "tensor": "Permute permute reshape Reshape squeeze transpose unsqueeze view",
    "transpose": "Conv1DTranspose Conv2DTranspose Conv3DTranspose conv_transpose conv_transpose1d "
           "conv_transpose2d conv_transpose3d Convolution2DTranspose ConvTranspose1d ConvTranspose2d "
           "ConvTranspose3d deconv Deconv2D Deconvolution2D",
    "unfold": "unfold",
    "upsample": "interpolate resize upsample Upsample upsample_bilinear upsample_nearest upsampling "
           "UpSampling1D UpSampling2D UpSampling3D",
}
# the modules every kind builds on (the protocol, its records and argument types): no kinds of their own
PROTOCOL = ("args", "import_helpers", "kind", "records", "strides")
_WHERE = {name: module for module, names in INDEX.items() for name in names.split()}

def tensor_args(kind: LayerKind) -> tuple[str, ...]:
    """The arguments of ``kind`` that name a tensor read for its shape (type ``tensor``:
    ``upsample``'s and ``center_crop``'s ``like``)."""
    return tuple(a.name for a in kind.args if a.type == "tensor")


def placeholder() -> LayerKind:
    """(Not ``opaque()``: that name is the kind's module.) The kind an importer writes for an operator no kind claims (``--allow-unknown``): its
    ``counted`` is False (its cost is unknown, not zero); :meth:`~.opaque.Opaque.stand_in` writes
    its arguments."""
    return lookup("opaque")


# The kinds `cnncalc layer` explains (``LayerKind.calculator``: one sliding window), as data, so
# the command line lists them without loading their modules; tests/test_kind_names.py holds it to
# the kinds.
CALCULATOR_KINDS = ("conv", "maxpool", "avgpool")


# -- the kinds the spec's structure desugars into (docs/spec.md) -----------------------------------
RESIDUAL_MERGE = "add"  # residual: main path + shortcut
PARALLEL_MERGE = "concat"  # parallel: the branches side by side


def projection(channels, stride) -> tuple:
    """``shortcut: projection`` (torchvision's ``downsample``), as (kind name, raw arguments) per
    layer: a 1×1 convolution without bias to ``channels`` stepping by ``stride``, then batch norm.
    It exists only where :func:`needs_projection`; its stride is :func:`projection_stride`."""
    return (("conv", {"filters": channels, "kernel": 1, "stride": stride, "bias": False}), ("batchnorm", {}))


def needs_projection(x: tuple, y: tuple) -> bool:
    return _projection_rules().needs_projection(x, y)


def projection_stride(x: tuple, y: tuple, x_grid, y_grid) -> tuple:
    return _projection_rules().projection_stride(x, y, x_grid, y_grid)


def _projection_rules():
    """The module of the projection's convolution, loaded as the registry loads every kind's module
    (by name, so the registry imports none of the modules that import it)."""
    _load("conv")
    return sys.modules[f"{__name__}.conv"]


_KINDS: dict[str, LayerKind] = {}  # canonical name -> kind, of the modules loaded so far
_BY_ALIAS: dict[str, LayerKind] = {}
_LOADED: set[str] = set()


def register(cls: type[LayerKind]) -> type[LayerKind]:
    kind = cls()
    for key in (cls.name, *cls.aliases):
        if key in _BY_ALIAS:
            raise RuntimeError(f"layer kind name {key!r} registered twice")
        _BY_ALIAS[key] = kind
    _KINDS[cls.name] = kind
    return cls


def lookup(name: str) -> LayerKind | None:
    """Find a kind by its name or an alias (Keras' ``Conv2D``, torch's ``Conv2d``), loading the
    module that defines it on first use."""
    for key in (name, name.lower()):
        kind = _BY_ALIAS.get(key)
        if kind is None and key in _WHERE and _WHERE[key] not in _LOADED:
            _load(_WHERE[key])
            kind = _BY_ALIAS.get(key)
        if kind is not None:
            return kind
    if _unindexed():  # a module added since the index was written: look there too
        for module in _unindexed():
            _load(module)
        return _BY_ALIAS.get(name) or _BY_ALIAS.get(name.lower())
    return None


def claimants(table: str) -> dict:
    """``torch_modules`` / ``torch_calls`` / ``onnx_ops`` name → the kinds that claim it, in
    registry order, fallbacks (``LayerKind.fallback``) last: what both importers ask."""
    found = _CLAIMANTS.get(table)
    if found is None:
        found = {}
        for kind in sorted(load_all().values(), key=lambda k: k.fallback):
            for name in getattr(kind, table):
                found.setdefault(name, []).append(kind)
        _CLAIMANTS[table] = found
    return found


_CLAIMANTS: dict = {}


def all_names() -> list[str]:
    load_all()
    return sorted(_BY_ALIAS)


def load_all() -> dict[str, LayerKind]:
    for module in _modules():
        _load(module)
    return _KINDS


def __getattr__(name: str):
    if name == "KINDS":  # every kind: load them all first
        return load_all()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _load(module: str) -> None:
    if module not in _LOADED:
        _LOADED.add(module)
        importlib.import_module(f"{__name__}.{module}")


_FOUND: list[str] = []


def _modules() -> list[str]:
    """The package's kind modules, as the folder holds them (listed once)."""
    if not _FOUND:
        import os

        for folder in __path__:
            _FOUND.extend(sorted(n[:-3] for n in os.listdir(folder)
                                 if n.endswith(".py") and n[:-3] not in PROTOCOL and n != "__init__.py"))
    return _FOUND


def _unindexed() -> list[str]:
    return [m for m in _modules() if m not in INDEX and m not in _LOADED]
