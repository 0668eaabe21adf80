"""A network as the compression stage needs it, whatever built it.

The objectives and Algorithm 2 need its layers and ops at any widths; the search also needs its
widths, the weights that embed each width for the compressor, the masked critic and the
extraction. One of the paper's families (named by a string) gets all of it from
fdi.profile.families and the hand-written masked/extract modules (`FamilyNetwork`); any other
Keras model gets it from its graph (fdi.compress.graph_network.GraphNetwork), which reproduces
the families exactly (tests/test_graph_network.py). Everything downstream takes either.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from fdi.compress.compressor import width_matrices
from fdi.compress.extract import extract_model
from fdi.compress.masked import masked_forward
from fdi.profile import families


class Structure(Protocol):
    def layers(self, widths: Sequence[int]) -> list[dict[str, Any]]:
        """The modelled layers at these widths, in execution order, as structure rows with a name."""

    def other_ops(self, widths: Sequence[int]) -> list[dict[str, Any]]:
        """The ops the op models price (op, elements), at these widths."""

    def parameter_count(self, widths: Sequence[int]) -> int:
        """Trainable parameters at these widths, as Keras counts them."""


class Prunable(Structure, Protocol):
    """What the search needs besides the structure: the trained model and its widths."""

    model: Any
    widths: list[int]

    def kinds(self) -> list[str]:
        """conv, fc or recurrent per width (the compressor's initial keep is set by kind)."""

    def matrices(self) -> list[Any]:
        """Per width, the (rows x width) matrix of the weights making it (the compressor's input)."""

    def forward(self, inputs: Sequence[Any], masks: Sequence[Any]) -> Any:
        """The model's output with one (batch, width) keep mask per width."""

    def extract(self, keep: Sequence[Sequence[int]], name: str | None = None) -> Any:
        """A new, smaller model of the kept elements with their trained weights."""

    def widen(self, widths: Sequence[int], name: str | None = None) -> Any:
        """A new, wider model at `widths` (each at least the model's) computing what it computes."""


class FamilyNetwork:
    """A paper family; `model` (a trained network of it) only for what needs weights."""

    def __init__(self, family: str, model: Any = None) -> None:
        self.family, self.model = family, model

    @property
    def widths(self) -> list[int]:
        return families.widths_of(self.model, self.family)

    def kinds(self) -> list[str]:
        return [
            "recurrent" if name.startswith("gru") else "fc" if name.startswith("fc") else "conv"
            for name in families.WIDTH_NAMES[self.family]
        ]

    def layers(self, widths: Sequence[int]) -> list[dict[str, Any]]:
        return families.layers(self.family, widths)

    def other_ops(self, widths: Sequence[int]) -> list[dict[str, Any]]:
        return families.other_ops(self.family, widths)

    def parameter_count(self, widths: Sequence[int]) -> int:
        """Weights and biases as Keras holds them (a GRU's reset_after keeps two bias vectors).
        Table 3's param_size is a model feature (a conv's counts one bias), not this count."""
        total = 0
        for layer in self.layers(widths):
            kind = layer["layer"]
            if kind == "cnn":
                weights = layer["kernel_h"] * layer["kernel_w"] * layer["in_channel"] * layer["out_channel"]
                total += weights + layer["out_channel"]
            elif kind == "fc":
                total += (layer["in_dim"] + 1) * layer["out_dim"]
            else:
                gates, biases = (3, 2) if kind == "gru" else (4, 1)
                total += gates * layer["out_dim"] * (layer["in_dim"] + layer["out_dim"] + biases)
        return int(total)

    def matrices(self) -> list[Any]:
        return width_matrices(self.model, self.family)

    def forward(self, inputs: Sequence[Any], masks: Sequence[Any]) -> Any:
        return masked_forward(self.model, self.family, inputs, masks)

    def extract(self, keep: Sequence[Sequence[int]], name: str | None = None) -> Any:
        return extract_model(self.model, keep, self.family, name=name)

    def widen(self, widths: Sequence[int], name: str | None = None) -> Any:
        from fdi.compress.widen_keras import expand_model

        return expand_model(self.model, widths, self.family)


def structure_of(network: str | Structure) -> Structure:
    return FamilyNetwork(network) if isinstance(network, str) else network
