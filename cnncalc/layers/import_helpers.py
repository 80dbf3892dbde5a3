"""What the kinds' import hooks (``from_torch``, ``from_call``, ``from_onnx``) share: the
exception a kind raises for what it cannot say exactly, a traced shape read through a
channels-last view, and writing per-axis values as a person would.
"""

from __future__ import annotations

class ChannelsLast(tuple):
    """A traced input shape (channels first, as cnncalc writes shapes) that the source read
    through a channels-last view — ConvNeXt's ``permute``, then ``LayerNorm(C)`` and ``Linear``
    over the last axis. The importer passes it to ``from_torch`` so a kind can tell "over the
    channels" from "over the last spatial axis"."""

    channels_last = True


def channels_last(x) -> bool:
    return getattr(x, "channels_last", False)


def squash(values) -> int | list:
    """One number where every axis agrees (how a person writes ``kernel: 3``), else the list."""
    values = tuple(values) if isinstance(values, (tuple, list)) else (values,)
    return values[0] if all(v == values[0] for v in values) else list(values)


class Unmappable(Exception):
    """A torch module, call or ONNX node this kind cannot express exactly (the importer then
    reports the operator as unknown, with this reason)."""

