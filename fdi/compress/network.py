"""A network as the compression stage needs it, whatever built it.

The objectives and Algorithm 2 need its layers and ops at any widths (`Structure`); the search,
the fine-tuning and the widening also need its trained model, its widths, the weights that embed
each width for the compressor, the masked critic, the extraction and the widening (`Prunable`).
Every trained model, the paper's two families' as any user's, is read from its Keras graph
(fdi.compress.graph_network.GraphNetwork, `prunable`); a family named by a string, with no model,
is only a structure (`FamilyStructure`: its layers as fdi.profile.families defines them, which
the graph reading reproduces exactly, tests/test_graph_network.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from fdi.compress.graph_network import GraphNetwork
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


class FamilyStructure:
    """A paper family at any widths, from its definition (no trained model needed)."""

    def __init__(self, family: str) -> None:
        self.family = family

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


def prunable(model: Any, family: str | None = None) -> GraphNetwork:
    """A trained model as the search, the fine-tuning and Algorithm 2's widening see it: read
    from its graph, with the widths its family (if it is one of the paper's) ties together
    (DeepSense's two sensor branches share their conv widths, as the authors' code does)."""
    return GraphNetwork(model, families.WIDTH_TIES.get(family or "", ()))


def structure_of(network: str | Structure) -> Structure:
    return FamilyStructure(network) if isinstance(network, str) else network
