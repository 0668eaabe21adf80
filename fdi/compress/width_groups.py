"""The widths a compressor may change in any Keras model, and the constraints between them.

DeepIoT drops hidden elements: conv filters, dense units, recurrent units. In a network that is
not a plain chain, one element lives in several layers at once: a residual add ties the
channels of its two inputs (drop channel k of one and you must drop it in the other), a depthwise
conv or a batch norm passes its input channels through with weights of their own, a concat lays
several widths side by side, a flatten repeats the channels once per spatial position before a
dense layer. DepGraph (Fang et al., CVPR 2023) solves this for PyTorch by grouping coupled
dimensions; this module does the same over a Keras functional graph, so that masking (the
critic), extraction and the objectives can all work from one list of groups instead of a
hand-written layout per network family.

A *group* is one set of channel indices that must be kept or dropped together. Each tensor's last
axis is described as a sequence of segments, one per group, repeated `tiles` times (a flatten's
output: spatial positions outermost, channels innermost). A layer outside the supported list is
kept as it is: the groups it reads and writes are fixed, and it is named in `WidthGraph.kept`,
never silently mishandled. The model's inputs and outputs are fixed (the data and the labels set
them).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

# New widths: each call's output channels are the layer's own units / filters.
RECURRENT = {"GRU", "LSTM", "SimpleRNN"}
PRODUCERS = {"Dense", "Conv1D", "Conv2D", "Conv3D"} | RECURRENT
# Channel by channel, with per-channel weights the extraction must slice (or none at all).
CHANNELWISE = {"BatchNormalization", "DepthwiseConv2D", "DepthwiseConv1D", "PReLU"}
PASS_THROUGH = {
    "Activation", "ReLU", "LeakyReLU", "ELU", "Dropout", "SpatialDropout1D", "SpatialDropout2D",
    "GaussianNoise", "GaussianDropout", "AlphaDropout", "Identity",
    "MaxPooling1D", "MaxPooling2D", "AveragePooling1D", "AveragePooling2D",
    "GlobalAveragePooling1D", "GlobalAveragePooling2D", "GlobalMaxPooling1D", "GlobalMaxPooling2D",
    "ZeroPadding1D", "ZeroPadding2D", "Cropping1D", "Cropping2D", "UpSampling1D", "UpSampling2D",
}  # fmt: skip
# Element-wise on equal channels: the inputs' channels are one and the same.
ELEMENTWISE = {"Add", "Subtract", "Multiply", "Maximum", "Minimum", "Average"}
FLATTENING = {"Flatten"}
JOINING = {"Concatenate"}
RESHAPING = {"Reshape"}


@dataclass(frozen=True)
class Segment:
    """`width` channels of one group, at `offset` within each tile of a tensor's last axis."""

    group: int
    offset: int
    width: int


@dataclass(frozen=True)
class Layout:
    """A tensor's last axis: `segments` side by side (a concat), the whole repeated `tiles` times."""

    segments: tuple[Segment, ...]
    tiles: int = 1

    @property
    def period(self) -> int:
        return sum(s.width for s in self.segments)


@dataclass(frozen=True)
class Consumer:
    """A layer whose kernel reads the group: its input rows `offset + k + p * period` for channel
    k of the group and tile p < `tiles` (a dense layer after a flatten reads each channel once
    per spatial position)."""

    layer: str
    offset: int
    period: int
    tiles: int


@dataclass(frozen=True)
class WidthGroup:
    """Channels that are kept or dropped together, and every layer holding weights for them."""

    name: str
    width: int
    producers: tuple[str, ...]
    channelwise: tuple[str, ...]
    consumers: tuple[Consumer, ...]
    fixed: str | None  # why the compressor may not change this width; None when it may

    @property
    def prunable(self) -> bool:
        return self.fixed is None


@dataclass(frozen=True)
class WidthGraph:
    """The groups, and how the model read (functional) lays them out: every tensor's layout by
    the id of its Keras tensor, every layer's first call as (input, output) layout; a segment's
    `group` is a position in `groups`."""

    groups: tuple[WidthGroup, ...]
    kept: tuple[tuple[str, str], ...]  # (layer, why) for layers outside the supported list
    model: Any = field(default=None, compare=False, repr=False)
    layouts: dict[int, Layout] = field(default_factory=dict, compare=False, repr=False)
    calls: dict[str, tuple[Layout, Layout]] = field(default_factory=dict, compare=False, repr=False)
    shapes: dict[str, tuple[tuple, tuple]] = field(default_factory=dict, compare=False, repr=False)

    def prunable(self) -> tuple[WidthGroup, ...]:
        return tuple(g for g in self.groups if g.prunable)

    def group(self, name: str) -> WidthGroup:
        for g in self.groups:
            if g.name == name:
                return g
        raise KeyError(f"no width group {name!r}; groups: {', '.join(g.name for g in self.groups)}")


@dataclass
class _Builder:
    """Union-find over groups, with what each group's root has collected so far."""

    parent: list[int] = field(default_factory=list)
    width: list[int] = field(default_factory=list)
    producers: list[list[str]] = field(default_factory=list)
    channelwise: list[list[str]] = field(default_factory=list)
    consumers: list[list[Consumer]] = field(default_factory=list)
    fixed: list[str | None] = field(default_factory=list)
    kept: list[tuple[str, str]] = field(default_factory=list)

    def new(self, width: int, producer: str | None = None, fixed: str | None = None) -> Layout:
        self.parent.append(len(self.parent))
        self.width.append(width)
        self.producers.append([producer] if producer else [])
        self.channelwise.append([])
        self.consumers.append([])
        self.fixed.append(fixed)
        return Layout((Segment(len(self.parent) - 1, 0, width),))

    def root(self, g: int) -> int:
        while self.parent[g] != g:
            self.parent[g] = self.parent[self.parent[g]]
            g = self.parent[g]
        return g

    def union(self, a: int, b: int) -> None:
        a, b = self.root(a), self.root(b)
        if a == b:
            return
        if self.width[a] != self.width[b]:  # shapes matched, so this is a bug here, not the user's
            raise AssertionError(f"tying widths {self.width[a]} and {self.width[b]}")
        self.parent[b] = a
        for mine, theirs in ((self.producers, b), (self.channelwise, b), (self.consumers, b)):
            mine[a] += mine[theirs]
        self.fixed[a] = self.fixed[a] or self.fixed[b]

    def fix(self, layout: Layout, why: str) -> None:
        for s in layout.segments:
            r = self.root(s.group)
            self.fixed[r] = self.fixed[r] or why

    def tie(self, layouts: list[Layout]) -> bool:
        """Make equal layouts one: segment by segment. False when their cuts differ."""
        first = layouts[0]
        shape = [(s.offset, s.width) for s in first.segments], first.tiles
        if any(([(s.offset, s.width) for s in x.segments], x.tiles) != shape for x in layouts):
            return False
        for other in layouts[1:]:
            for a, b in zip(first.segments, other.segments, strict=True):
                self.union(a.group, b.group)
        return True


def _last(tensor: Any) -> int:
    return int(tensor.shape[-1])


def call_order(model: Any) -> list[Any]:
    """The model's calls in an order where every input is computed first (Keras' own order)."""
    by_depth = model._nodes_by_depth  # what keras.Model.call walks; there is no public accessor
    return [node for depth in sorted(by_depth, reverse=True) for node in by_depth[depth]]


def _functional(model: Any) -> Any:
    import keras

    if isinstance(model, keras.Sequential):
        if not model.built or not model.inputs:
            raise ValueError(f"{model.name}: a Sequential model must be built with an Input first")
        inputs, outputs = model.inputs, model.outputs
        single = (inputs[0] if len(inputs) == 1 else inputs), (outputs[0] if len(outputs) == 1 else outputs)
        return keras.Model(*single, name=model.name)
    if not hasattr(model, "_nodes_by_depth"):
        raise ValueError(f"{model.name}: a subclassed model has no graph to read; use functional")
    return model


def _on_last_axis(axis: Any, rank: int) -> bool:
    return isinstance(axis, int) and axis in (-1, rank - 1)


def _unsupported(op: Any, rank_in: int, rank_out: int) -> str | None:
    """Why a layer of a supported kind still cannot be pruned through, if it cannot."""
    kind = type(op).__name__
    if getattr(op, "data_format", "channels_last") != "channels_last":
        return "channels_first"
    if kind.startswith("Conv") and getattr(op, "groups", 1) != 1:
        return "grouped convolution"
    if kind.startswith("DepthwiseConv") and op.depth_multiplier != 1:
        return f"depth_multiplier {op.depth_multiplier}"
    if kind in RECURRENT and (op.return_state or op.stateful or op.go_backwards):
        return "return_state, stateful or go_backwards"
    if kind == "Activation" and getattr(op.activation, "__name__", "") in {"softmax", "log_softmax"}:
        return "softmax mixes the channels"
    if kind == "BatchNormalization" and not _on_last_axis(op.axis, rank_in):
        return f"normalizes axis {op.axis}"
    if kind == "Concatenate" and not _on_last_axis(op.axis, rank_out):
        return f"joins along axis {op.axis}"
    return None


def width_groups(model: Any, ties: Sequence[Sequence[str]] = ()) -> WidthGraph:
    """The model's width groups (see the module docstring), in the order the model computes them.
    `ties` lists producers whose widths are one by choice rather than by the graph (DeepSense's
    two sensor branches share their conv masks, as in the authors' code)."""
    model = _functional(model)
    b = _Builder()
    layout: dict[int, Layout] = {}
    first_call: dict[str, tuple[Layout, Layout]] = {}  # layer -> (input, output) of its first call
    shapes: dict[str, tuple[tuple, tuple]] = {}
    for x in model.inputs:
        layout[id(x)] = b.new(_last(x), fixed="model input")
    for node in call_order(model):
        op = node.operation
        if node.is_input or op is None:
            continue
        inputs, outputs = node.input_tensors, node.output_tensors
        ins = [layout[id(x)] for x in inputs]
        kind, name = type(op).__name__, op.name
        ranks = len(inputs[0].shape) if inputs else 0, len(outputs[0].shape)
        checked = PRODUCERS | CHANNELWISE | JOINING | {"Activation"}
        why = _unsupported(op, *ranks) if kind in checked else None
        out: list[Layout] | None = None
        if why is None and kind in PRODUCERS and len(ins) == 1:
            if name in first_call:  # a shared layer: the same kernel, so the same groups
                if not b.tie([first_call[name][0], ins[0]]):
                    b.fix(ins[0], f"input of shared layer {name} laid out differently")
                own = first_call[name][1]
            else:
                own = b.new(_last(outputs[0]), producer=name)
            out = [own for _ in outputs]  # a recurrent layer's states are its units too
            x = ins[0]
            for s in x.segments:
                b.consumers[b.root(s.group)].append(Consumer(name, s.offset, x.period, x.tiles))
        elif why is None and kind in CHANNELWISE | PASS_THROUGH and len(ins) == 1:
            if kind in CHANNELWISE:
                if ins[0].tiles != 1:
                    why = "per-channel weights over a flattened tensor"
                else:
                    for s in ins[0].segments:
                        b.channelwise[b.root(s.group)].append(name)
            out = None if why else [ins[0]]
        elif kind in ELEMENTWISE:
            wide = [x for x, t in zip(ins, inputs, strict=True) if _last(t) != 1] or ins[:1]
            if wide and b.tie(wide):
                out = [wide[0]]
            else:
                why = "element-wise on differently concatenated inputs"
        elif kind in JOINING:
            if why is None and all(x.tiles == 1 for x in ins):  # on the channels: side by side
                segs, offset = [], 0
                for x in ins:
                    segs += [Segment(s.group, offset + s.offset, s.width) for s in x.segments]
                    offset += x.period
                out = [Layout(tuple(segs))]
            elif why is not None and b.tie(ins):  # on another axis: channel k of each is one
                why, out = None, [ins[0]]
            else:
                why = why or "concatenates flattened tensors"
        elif kind in FLATTENING | RESHAPING:
            # Row-major: channel c of period P sits at l mod P == c in any last axis of length
            # a multiple of P, so such a reshape only changes how often the channels repeat.
            x, width = ins[0], _last(outputs[0])
            if width % x.period == 0:
                out = [Layout(x.segments, tiles=width // x.period)]
            else:
                why = f"reshapes {tuple(inputs[0].shape[1:])} to {tuple(outputs[0].shape[1:])}"
        else:
            why = why or f"{kind} is not a layer fdi prunes through"
        if out is None:  # kept as it is: what it reads and writes stays at its width
            b.kept.append((name, why or kind))
            for x in ins:
                b.fix(x, f"read by {name} ({why})")
            out = [b.new(_last(t), fixed=f"written by {name} ({why})") for t in outputs]
        if name not in first_call and ins:
            first_call[name] = (ins[0], out[0])
            shapes[name] = (tuple(inputs[0].shape), tuple(outputs[0].shape))
        for t, lay in zip(outputs, out, strict=True):
            layout[id(t)] = lay
    for t in model.outputs:
        b.fix(layout[id(t)], "model output (set by the labels)")
    made = {name for names in b.producers for name in names}
    for tie in ties:
        unknown = [n for n in tie if n not in made]
        if unknown:
            raise ValueError(f"{model.name}: cannot tie {', '.join(unknown)}: not a producer of a width")
        outs = [first_call[n][1] for n in tie]
        if len({o.period for o in outs}) != 1:
            raise ValueError(f"{model.name}: cannot tie {', '.join(tie)}: their widths differ")
        b.tie(outs)
    return _collect(b, model, layout, first_call, shapes)


def _collect(
    b: _Builder,
    model: Any,
    layouts: dict[int, Layout],
    calls: dict[str, tuple[Layout, Layout]],
    shapes: dict[str, tuple[tuple, tuple]],
) -> WidthGraph:
    groups, position = [], {}
    for g in range(len(b.parent)):
        if b.root(g) != g:
            continue
        position[g] = len(groups)
        name = b.producers[g][0] if b.producers[g] else f"group{len(groups)}"
        fixed = b.fixed[g]
        if fixed is None and not b.producers[g]:
            fixed = "no layer produces it"
        # A single channel stays prunable: the search keeps at least one element of every width,
        # and a compressed network read again (finish, Algorithm 2's widening) must have the
        # widths its original had, a layer pruned to one channel among them.
        groups.append(
            WidthGroup(
                name=name,
                width=b.width[g],
                producers=tuple(b.producers[g]),
                channelwise=tuple(dict.fromkeys(b.channelwise[g])),
                consumers=tuple(dict.fromkeys(b.consumers[g])),
                fixed=fixed,
            )
        )

    def resolved(x: Layout) -> Layout:
        return Layout(
            tuple(Segment(position[b.root(s.group)], s.offset, s.width) for s in x.segments), x.tiles
        )

    return WidthGraph(
        tuple(groups),
        tuple(b.kept),
        model=model,
        layouts={k: resolved(x) for k, x in layouts.items()},
        calls={k: (resolved(i), resolved(o)) for k, (i, o) in calls.items()},
        shapes=shapes,
    )
