"""Table 3 features and FLOPs, checked against values computed by hand."""

import pandas as pd
import pytest

from fdi.features import add_features


def one(layer: str, **structure) -> pd.Series:
    return add_features(pd.DataFrame([structure]), layer).iloc[0]


def test_fc_by_hand():
    row = one("fc", in_dim=100, out_dim=10)
    assert row.param_size == 100 * 10 + 10 == 1010
    assert (row.mem_in, row.mem_out, row.mem_inter) == (100, 10, 0)
    assert row.mem == 110
    assert row.flops == 2 * 100 * 10 == 2000


def test_cnn_same_padding_stride_two_by_hand():
    # 32x30 input, 3x3 kernel, stride 2, same: out = ceil(32/2) x ceil(30/2) = 16 x 15
    row = one(
        "cnn",
        in_height=32,
        in_width=30,
        kernel_h=3,
        kernel_w=3,
        in_channel=4,
        out_channel=8,
        padding="same",
        stride=2,
    )
    assert (row.out_height, row.out_width) == (16, 15)
    assert row.param_size == 3 * 3 * 4 * 8 + 1 == 289
    assert row.mem_in == 32 * 30 * 4 == 3840
    assert row.mem_out == 16 * 15 * 8 == 1920
    assert row.mem_inter == 16 * 15 * 3 * 3 * 4 == 8640
    assert row.mem == 3840 + 1920 + 8640
    assert row.flops == 2 * 16 * 15 * 8 * 3 * 3 * 4 == 138240


def test_cnn_valid_padding_by_hand():
    # 25x24 input, 2x3 kernel, stride 1, valid: out = (25-2+1) x (24-3+1) = 24 x 22
    row = one(
        "cnn",
        in_height=25,
        in_width=24,
        kernel_h=2,
        kernel_w=3,
        in_channel=3,
        out_channel=5,
        padding="valid",
        stride=1,
    )
    assert (row.out_height, row.out_width) == (24, 22)
    assert row.mem_out == 24 * 22 * 5 == 2640
    assert row.mem_inter == 24 * 22 * 2 * 3 * 3 == 9504
    # valid, stride 2: ceil((25-2+1)/2) = 12, ceil((24-3+1)/2) = 11
    row2 = one(
        "cnn",
        in_height=25,
        in_width=24,
        kernel_h=2,
        kernel_w=3,
        in_channel=3,
        out_channel=5,
        padding="valid",
        stride=2,
    )
    assert (row2.out_height, row2.out_width) == (12, 11)


def test_gru_by_hand():
    row = one("gru", in_dim=20, out_dim=30, step=10)
    assert row.param_size == 3 * 30 * (20 + 30 + 1) == 4590
    assert (row.mem_in, row.mem_out, row.mem_inter) == (10 * 20, 10 * 30, 3 * 10 * 30)
    assert row.flops == 2 * 10 * 3 * 30 * (20 + 30) == 90000


def test_lstm_by_hand():
    row = one("lstm", in_dim=20, out_dim=30, step=10)
    assert row.param_size == 4 * 30 * (20 + 30 + 1) == 6120
    assert (row.mem_in, row.mem_out, row.mem_inter) == (2 * 10 * 20, 2 * 10 * 30, 4 * 10 * 30)
    assert row.flops == 2 * 10 * 4 * 30 * (20 + 30) == 120000


def test_unknown_layer_is_rejected():
    with pytest.raises(ValueError, match="unknown layer type 'rnn'"):
        add_features(pd.DataFrame([{"in_dim": 1}]), "rnn")
