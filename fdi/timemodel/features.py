"""SPEC Table 3: the split features f and the explanatory variables x of every layer type.

Pure and vectorised over DataFrames; the single place where a structure becomes numbers. FLOPs
are counted as 2 x multiply-accumulates (the paper does not define its count; its Table 1
figures are ~3.9x the MAC count). RNN FLOPs count the gate matrix products of every step: 3
gates for GRU, 4 for LSTM. Convolutions may have non-square kernels and strides (DeepSense's
1x18 kernels with stride 1x6): every spatial quantity is computed per axis.

Two sets of explanatory variables x exist per layer type:
- `paper`: SPEC's x = [FLOPs, mem, param_size] (+ step for GRU/LSTM);
- `runtime`: x split along the costs LiteRT actually pays. A converted GRU/LSTM is a WHILE loop
  whose body runs the whole cell every step: the input's and the state's matrix-vector products
  (not hoisted out of the loop), the gates' element-wise work, and the loop's own per-step
  overhead. A conv reads its input, builds an indirection buffer (mem_inter) and writes its
  output at different costs per element. A fully-connected layer packs its input and writes its
  output besides streaming its weights.
  Three terms follow what the host's kernels and cache do (measured on this project's AVX-512
  VM, README; where a device's kernels differ, the fit gives a term no weight):
  - `narrow_flops`: the FLOPs XNNPACK's f32 GEMM runs on its half-width kernel. The default
    kernel computes 32 output columns at a time, the other 16; XNNPACK takes the 16-wide one
    where the columns are fewer than 32 and, for a fully-connected product, where it pads less,
    (columns mod 32) in 1..16, and the wide one would waste more than 1% of the columns
    (XNNPACK's `xnn_use_nr2`; so never past 100 x 32 columns). A product with one input row
    (FC, every RNN step) then runs up to 2x slower (as if each tile's time were one
    accumulator chain's latency, whatever its width): a 1000->320 FC 11.5 us, 1000->321
    22.3 us; a GRU's step follows (3 x units) mod 32 (200 inputs: 112 units 9.3 us, 113 8.0
    us). On the AMD VM (16-wide kernel), GRUs of 349 and 466 units run their steps at 0.09 ns
    per weight, of 433, 443 and 459 units at 0.16 (the 1% clause: docs/results). A conv
    (many input rows) keeps the wide kernel from 32 output channels on.
  - `padded_flops` (conv): FLOPs over the output channels rounded up to whole tiles: a 3x3 conv
    on 16x16x64 takes the same 258 us for 97 to 128 output channels.
  - `spill_flops`: FLOPs x weight MiB. The time per weight byte grows with the weight size as
    more of the weights miss the cache between uses: a GRU step costs ~14 us per MiB of weights
    up to 1.25 MiB, then rises smoothly to ~38 us/MiB at 3 MiB and stays there (2 MiB L2); the
    quadratic term lets one leaf fit that convex stretch.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from fdi.profile.space import STRUCTURE_COLUMNS

MEMORY_COLUMNS = ["mem_in", "mem_out", "mem_inter"]

# f: the features Algorithm 1 splits on (structure features, memory features, param_size).
SPLIT_COLUMNS: dict[str, list[str]] = {
    "fc": ["in_dim", "out_dim", *MEMORY_COLUMNS, "param_size"],
    "cnn": ["in_channel", "out_channel", *MEMORY_COLUMNS, "param_size"],
    "gru": ["in_dim", "out_dim", *MEMORY_COLUMNS, "param_size"],
    "lstm": ["in_dim", "out_dim", *MEMORY_COLUMNS, "param_size"],
}
_RNN_RUNTIME = ["input_flops", "recurrent_flops", "narrow_flops", "spill_flops", "gate_elements", "step"]
# x: the variables every leaf fits on, per variant.
X_VARIANTS: dict[str, dict[str, list[str]]] = {
    "paper": {
        "fc": ["flops", "mem", "param_size"],
        "cnn": ["flops", "mem", "param_size"],
        "gru": ["flops", "mem", "param_size", "step"],
        "lstm": ["flops", "mem", "param_size", "step"],
    },
    "runtime": {
        "fc": ["flops", "narrow_flops", "spill_flops", "mem_in", "mem_out"],
        "cnn": ["padded_flops", "narrow_flops", "spill_flops", *MEMORY_COLUMNS, "param_size"],
        "gru": list(_RNN_RUNTIME),
        "lstm": list(_RNN_RUNTIME),
    },
}
FIT_COLUMNS = X_VARIANTS["paper"]  # SPEC's x, the default where no variant is named
_RNN_GATES = {"gru": 3, "lstm": 4}
_RNN_MEMORY_FACTOR = {"gru": 1, "lstm": 2}  # LSTM carries (h, c): twice the in/out memory
# XNNPACK's f32 GEMM output-column tiles on the host: the default kernel's and the half-width one.
GEMM_WIDE_COLUMNS = 32
GEMM_NARROW_COLUMNS = 16
# Other devices' kernels tile narrower (this project's AMD VM fits 16/8 better than 32/16; an ARM
# phone's NEON kernels are 8 wide): the tile terms are also computed for these default-kernel
# widths (half-width kernel: half of it), as `narrow_flops_w16`, `padded_flops_w16`, ..., and the
# time model's grid may choose the width per device and layer type by CV (`tiles`).
OTHER_TILES = (16, 8)
TILED = ("narrow_flops", "padded_flops")


def tiled(columns: list[str], wide: int) -> list[str]:
    """x columns with the tile terms at another default-kernel width (32 is the unsuffixed one)."""
    if wide != GEMM_WIDE_COLUMNS and wide not in OTHER_TILES:
        raise ValueError(f"tile width {wide} not computed; known: {GEMM_WIDE_COLUMNS}, {OTHER_TILES}")
    return [f"{c}_w{wide}" if c in TILED and wide != GEMM_WIDE_COLUMNS else c for c in columns]


def narrow_kernel(
    columns: pd.Series, fully_connected: bool = True, wide: int = GEMM_WIDE_COLUMNS
) -> pd.Series:
    """True where XNNPACK runs a product with `columns` outputs on the half-width kernel.

    XNNPACK's rule (`xnn_use_nr2`): where the default kernel (`wide` columns) is wider than the
    columns, and for a fully-connected product also where the half-width one pads less, (columns
    mod wide) in 1..wide/2, *and* the default one would waste more than 1% of the columns,
    100 x (wide - columns mod wide) > columns. Without that last clause GRUs were mispredicted
    by up to 57% from ~270 units on (3 x units columns past 100 x 16 / 2 on a 16-wide kernel)."""
    narrow = columns < wide
    if fully_connected:
        remainder = columns % wide
        pads_less = (remainder >= 1) & (remainder <= wide // 2)
        narrow |= pads_less & ((wide - remainder) * 100 > columns)
    return narrow


def padded_columns(columns: pd.Series, fully_connected: bool, wide: int = GEMM_WIDE_COLUMNS) -> pd.Series:
    """Output columns rounded up to whole tiles of the kernel XNNPACK runs (wide or half as wide)."""
    width = np.where(narrow_kernel(columns, fully_connected, wide), wide // 2, wide)
    return pd.Series(-(-columns.to_numpy() // width) * width, index=columns.index)


def fit_columns(layer: str, variant: str = "paper") -> list[str]:
    """The explanatory variables x of one layer type under a named variant."""
    if variant not in X_VARIANTS:
        raise ValueError(f"unknown x variant {variant!r}; known: {', '.join(X_VARIANTS)}")
    return list(X_VARIANTS[variant][layer])


def conv_output(size: pd.Series, kernel: pd.Series, stride: pd.Series, same: pd.Series) -> pd.Series:
    """TensorFlow's padding rules on one axis: same -> ceil(n/s); valid -> ceil((n-k+1)/s)."""
    same_size = -(-size // stride)
    valid_size = -(-(size - kernel + 1) // stride)
    return pd.Series(np.where(same, same_size, valid_size), index=size.index).astype("int64")


def _ints(frame: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    """Structure columns as int64 (a scope mixing layer types stores them as floats)."""
    out = frame.copy()
    for column in columns:
        if column in out:
            out[column] = out[column].astype("int64")
    return out


def add_features(structures: pd.DataFrame, layer: str) -> pd.DataFrame:
    """Return `structures` of one layer type with Table 3's f and every variant's x appended."""
    if layer not in STRUCTURE_COLUMNS:
        raise ValueError(f"unknown layer type {layer!r}")
    s = _ints(structures, [c for c in STRUCTURE_COLUMNS[layer] if c != "padding"])
    out = s.copy()
    suffixes = {GEMM_WIDE_COLUMNS: "", **{w: f"_w{w}" for w in OTHER_TILES}}
    if layer == "fc":
        out["param_size"] = s.in_dim * s.out_dim + s.out_dim
        out["mem_in"] = s.in_dim
        out["mem_out"] = s.out_dim
        out["mem_inter"] = 0
        macs = s.in_dim * s.out_dim
        for wide, suffix in suffixes.items():
            out[f"narrow_flops{suffix}"] = np.where(narrow_kernel(s.out_dim, True, wide), 2 * macs, 0)
    elif layer == "cnn":
        same = s.padding == "same"
        out["out_height"] = conv_output(s.in_height, s.kernel_h, s.stride_h, same)
        out["out_width"] = conv_output(s.in_width, s.kernel_w, s.stride_w, same)
        out_hw = out.out_height * out.out_width
        kernel_area = s.kernel_h * s.kernel_w
        out["param_size"] = kernel_area * s.in_channel * s.out_channel + 1
        out["mem_in"] = s.in_height * s.in_width * s.in_channel
        out["mem_out"] = out_hw * s.out_channel
        out["mem_inter"] = out_hw * kernel_area * s.in_channel
        macs = out_hw * s.out_channel * kernel_area * s.in_channel
        for wide, suffix in suffixes.items():
            padded = padded_columns(s.out_channel, fully_connected=False, wide=wide)
            out[f"padded_flops{suffix}"] = 2 * out_hw * padded * kernel_area * s.in_channel
            narrow = narrow_kernel(s.out_channel, False, wide)
            out[f"narrow_flops{suffix}"] = np.where(narrow, out[f"padded_flops{suffix}"], 0)
    else:
        gates = _RNN_GATES[layer]
        factor = _RNN_MEMORY_FACTOR[layer]
        out["param_size"] = gates * s.out_dim * (s.in_dim + s.out_dim + 1)
        out["mem_in"] = factor * s.step * s.in_dim
        out["mem_out"] = factor * s.step * s.out_dim
        out["mem_inter"] = gates * s.step * s.out_dim
        out["input_flops"] = 2 * s.step * gates * s.out_dim * s.in_dim
        out["recurrent_flops"] = 2 * s.step * gates * s.out_dim * s.out_dim
        out["gate_elements"] = s.step * gates * s.out_dim
        macs = s.step * gates * s.out_dim * (s.in_dim + s.out_dim)
        # Both products of a step (input and state) have gates x units output columns.
        for wide, suffix in suffixes.items():
            out[f"narrow_flops{suffix}"] = np.where(narrow_kernel(gates * s.out_dim, True, wide), 2 * macs, 0)
    out["flops"] = 2 * macs
    out["spill_flops"] = out["flops"] * out["param_size"] / 2**18  # FLOPs x float32 weight MiB
    out["mem"] = out.mem_in + out.mem_out + out.mem_inter
    # Only this type's columns: a frame mixing layer types holds the others' NaNs.
    tiles = [
        f"{name}{suffix}" for name in TILED[: 2 if layer == "cnn" else 1] for suffix in suffixes.values()
    ]
    kernel_columns = ["spill_flops", *tiles]
    for column in ["param_size", *MEMORY_COLUMNS, "flops", "mem", *kernel_columns]:
        out[column] = out[column].astype("int64")
    return out
