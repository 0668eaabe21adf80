"""SPEC Table 3: the split features f and the explanatory variables x of every layer type.

Pure and vectorised over DataFrames. FLOPs are counted as 2 x multiply-accumulates (the paper
does not define its count; its Table 1 figures are ~3.9x the MAC count). RNN FLOPs count the
gate matrix products of every step: 3 gates for GRU, 4 for LSTM.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

MEMORY_COLUMNS = ["mem_in", "mem_out", "mem_inter"]

# f: the features Algorithm 1 splits on (structure features, memory features, param_size).
SPLIT_COLUMNS: dict[str, list[str]] = {
    "fc": ["in_dim", "out_dim", *MEMORY_COLUMNS, "param_size"],
    "cnn": ["in_channel", "out_channel", *MEMORY_COLUMNS, "param_size"],
    "gru": ["in_dim", "out_dim", *MEMORY_COLUMNS, "param_size"],
    "lstm": ["in_dim", "out_dim", *MEMORY_COLUMNS, "param_size"],
}
# x: the variables every leaf fits on (x_rnn adds the per-step set-up cost).
FIT_COLUMNS: dict[str, list[str]] = {
    "fc": ["flops", "mem", "param_size"],
    "cnn": ["flops", "mem", "param_size"],
    "gru": ["flops", "mem", "param_size", "step"],
    "lstm": ["flops", "mem", "param_size", "step"],
}
_RNN_GATES = {"gru": 3, "lstm": 4}
_RNN_MEMORY_FACTOR = {"gru": 1, "lstm": 2}  # LSTM carries (h, c): twice the in/out memory


def _conv_output(size: pd.Series, kernel: pd.Series, stride: pd.Series, same: pd.Series) -> pd.Series:
    """TensorFlow's padding rules: same -> ceil(n/s); valid -> ceil((n-k+1)/s)."""
    same_size = -(-size // stride)
    valid_size = -(-(size - kernel + 1) // stride)
    return pd.Series(np.where(same, same_size, valid_size), index=size.index).astype("int64")


def add_features(structures: pd.DataFrame, layer: str) -> pd.DataFrame:
    """Return `structures` of one layer type with Table 3's f and x columns appended."""
    s = structures
    out = s.copy()
    if layer == "fc":
        out["param_size"] = s.in_dim * s.out_dim + s.out_dim
        out["mem_in"] = s.in_dim
        out["mem_out"] = s.out_dim
        out["mem_inter"] = 0
        macs = s.in_dim * s.out_dim
    elif layer == "cnn":
        same = s.padding == "same"
        out["out_height"] = _conv_output(s.in_height, s.kernel_h, s.stride, same)
        out["out_width"] = _conv_output(s.in_width, s.kernel_w, s.stride, same)
        out_hw = out.out_height * out.out_width
        kernel_area = s.kernel_h * s.kernel_w
        out["param_size"] = kernel_area * s.in_channel * s.out_channel + 1
        out["mem_in"] = s.in_height * s.in_width * s.in_channel
        out["mem_out"] = out_hw * s.out_channel
        out["mem_inter"] = out_hw * kernel_area * s.in_channel
        macs = out_hw * s.out_channel * kernel_area * s.in_channel
    elif layer in _RNN_GATES:
        gates = _RNN_GATES[layer]
        factor = _RNN_MEMORY_FACTOR[layer]
        out["param_size"] = gates * s.out_dim * (s.in_dim + s.out_dim + 1)
        out["mem_in"] = factor * s.step * s.in_dim
        out["mem_out"] = factor * s.step * s.out_dim
        out["mem_inter"] = gates * s.step * s.out_dim
        macs = s.step * gates * s.out_dim * (s.in_dim + s.out_dim)
    else:
        raise ValueError(f"unknown layer type {layer!r}")
    out["flops"] = 2 * macs
    out["mem"] = out.mem_in + out.mem_out + out.mem_inter
    for column in ["param_size", *MEMORY_COLUMNS, "flops", "mem"]:
        out[column] = out[column].astype("int64")
    return out
