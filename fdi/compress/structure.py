"""What the objectives and the widening need of a network: its layers and ops at any widths.

A network is either one of the paper's families (named by a string: fdi.profile.families builds
its rows) or any object with the same two methods (fdi.compress.graph_network reads them off a
user's Keras graph). Costing, FLOPs, parameter counts and Algorithm 2 work from these rows only,
so they run the same way for both.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from fdi.profile import families


class Structure(Protocol):
    def layers(self, widths: Sequence[int]) -> list[dict[str, Any]]:
        """The modelled layers at these widths, in execution order, as structure rows with a name."""

    def other_ops(self, widths: Sequence[int]) -> list[dict[str, Any]]:
        """The ops the op models price (op, elements), at these widths."""


class FamilyStructure:
    def __init__(self, family: str) -> None:
        self.family = family

    def layers(self, widths: Sequence[int]) -> list[dict[str, Any]]:
        return families.layers(self.family, widths)

    def other_ops(self, widths: Sequence[int]) -> list[dict[str, Any]]:
        return families.other_ops(self.family, widths)


def structure_of(network: str | Structure) -> Structure:
    return FamilyStructure(network) if isinstance(network, str) else network
