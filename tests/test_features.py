"""Table 3 features and FLOPs, checked against values computed by hand."""

import numpy as np
import pandas as pd
import pytest

from fdi.timemodel.features import add_features, fit_columns


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
        stride_h=2,
        stride_w=2,
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
        stride_h=1,
        stride_w=1,
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
        stride_h=2,
        stride_w=2,
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


def test_non_square_kernel_and_stride_by_hand():
    # DeepSense's first conv: 20 intervals x 60 features, kernel 1x18, stride 1x6, valid:
    # out = (20-1+1)/1 x ceil((60-18+1)/6) = 20 x ceil(43/6) = 20 x 8
    row = one(
        "cnn",
        in_height=20,
        in_width=60,
        kernel_h=1,
        kernel_w=18,
        in_channel=1,
        out_channel=64,
        padding="valid",
        stride_h=1,
        stride_w=6,
    )
    assert (row.out_height, row.out_width) == (20, 8)
    assert row.param_size == 1 * 18 * 1 * 64 + 1 == 1153
    assert row.mem_in == 20 * 60 == 1200
    assert row.mem_out == 20 * 8 * 64 == 10240
    assert row.mem_inter == 20 * 8 * 18 == 2880
    assert row.flops == 2 * 20 * 8 * 64 * 18 == 368640
    # The same conv with the strides swapped is a different layer: 1x18 stride 6x1 on 20x60.
    swapped = one(
        "cnn",
        in_height=20,
        in_width=60,
        kernel_h=1,
        kernel_w=18,
        in_channel=1,
        out_channel=64,
        padding="same",
        stride_h=6,
        stride_w=1,
    )
    assert (swapped.out_height, swapped.out_width) == (4, 60)  # ceil(20/6) x 60


def test_runtime_x_splits_a_recurrent_layer_into_its_per_step_costs():
    row = one("lstm", in_dim=20, out_dim=30, step=10)
    # per step: 4 gates x 30 units x 20 inputs (input product), x 30 states (recurrent product)
    assert row.input_flops == 2 * 10 * 4 * 30 * 20 == 48000
    assert row.recurrent_flops == 2 * 10 * 4 * 30 * 30 == 72000
    assert row.input_flops + row.recurrent_flops == row.flops
    assert row.gate_elements == 10 * 4 * 30
    assert row.narrow_flops == 0  # 4 x 30 = 120 columns: 120 mod 32 = 24 -> the 32-column kernel
    assert fit_columns("lstm", "runtime") == [
        "input_flops",
        "recurrent_flops",
        "narrow_flops",
        "spill_flops",
        "gate_elements",
        "step",
    ]
    assert fit_columns("lstm", "paper") == ["flops", "mem", "param_size", "step"]
    with pytest.raises(ValueError, match="unknown x variant"):
        fit_columns("lstm", "magic")


@pytest.mark.parametrize(
    ("layer", "in_dim", "out_dim", "narrow"),
    [
        # the host's measured pairs (fdi.timemodel.features): 1000->320 11.5 us, 1000->321 22.3 us
        ("fc", 1000, 320, False),  # 320 = 10 x 32
        ("fc", 1000, 321, True),  # remainder 1
        ("fc", 1000, 336, True),  # remainder 16: the 16-column kernel pads 0, the 32 one 16
        ("fc", 1000, 337, False),  # remainder 17: both pad 15, the default stays
        ("fc", 1000, 20, True),  # fewer columns than the default kernel's 32
        ("gru", 200, 112, True),  # 3 x 112 = 336, remainder 16
        ("gru", 200, 113, False),  # 339, remainder 19
        ("lstm", 20, 33, True),  # 4 x 33 = 132, remainder 4
        ("lstm", 20, 32, False),  # 128 = 4 x 32
        # XNNPACK's 1% rule: the default kernel stays where its padding wastes <= 1% of the columns
        ("fc", 100, 3073, True),  # 96 x 32 + 1: pads 31, 3100 > 3073
        ("fc", 100, 3105, False),  # 97 x 32 + 1: pads 31, 3100 < 3105
        ("fc", 100, 4000, False),  # remainder 0
    ],
)
def test_narrow_flops_are_the_products_on_xnnpacks_half_width_kernel(layer, in_dim, out_dim, narrow):
    structure = {"in_dim": in_dim, "out_dim": out_dim} | ({} if layer == "fc" else {"step": 10})
    row = one(layer, **structure)
    assert row.narrow_flops == (row.flops if narrow else 0)
    assert "narrow_flops" in fit_columns(layer, "runtime")


@pytest.mark.parametrize(
    ("in_dim", "out_dim", "narrow"),
    [
        # GRU steps measured on the AMD VM (16-wide default kernel), us per 1000 weights per step:
        (358, 459, True),  # 1377 columns, remainder 1: pads 15, 1500 > 1377; 0.160 us
        (328, 443, True),  # 1329, remainder 1; 0.158 us
        (369, 433, True),  # 1299, remainder 3: pads 13, 1300 > 1299; 0.158 us
        (356, 349, False),  # 1047, remainder 7: pads 9, 900 < 1047; 0.091 us
        (340, 466, False),  # 1398, remainder 6: pads 10, 1000 < 1398; 0.088 us
        (436, 269, True),  # 807, remainder 7: pads 9, 900 > 807; 0.164 us
    ],
)
def test_a_grus_steps_follow_xnnpacks_one_percent_rule_at_16_columns(in_dim, out_dim, narrow):
    row = one("gru", in_dim=in_dim, out_dim=out_dim, step=10)
    assert row.narrow_flops_w16 == (row.flops if narrow else 0)


def test_conv_flops_over_whole_tiles_and_the_narrow_kernel_below_32_channels():
    # 16x16x64 'same' 3x3: measured 258 us for every width 97..128 (README)
    def conv(out_channel: int) -> pd.Series:
        return one(
            "cnn",
            in_height=16,
            in_width=16,
            kernel_h=3,
            kernel_w=3,
            in_channel=64,
            out_channel=out_channel,
            padding="same",
            stride_h=1,
            stride_w=1,
        )

    per_channel = 2 * 16 * 16 * 3 * 3 * 64
    assert conv(97).padded_flops == conv(128).padded_flops == 128 * per_channel
    assert conv(97).narrow_flops == 0  # a conv keeps the 32-wide kernel for remainders
    assert conv(20).padded_flops == 32 * per_channel  # two 16-wide tiles
    assert conv(20).narrow_flops == conv(20).padded_flops
    assert conv(32).narrow_flops == 0 and conv(32).padded_flops == conv(32).flops


def test_spill_flops_are_flops_times_weight_mib():
    row = one("fc", in_dim=1024, out_dim=256)
    weight_mib = (1024 * 256 + 256) * 4 / 2**20
    assert row.spill_flops == pytest.approx(row.flops * weight_mib, rel=1e-6)
    assert "spill_flops" in fit_columns("gru", "runtime") and "spill_flops" not in fit_columns("gru", "paper")


def test_the_tile_terms_at_narrower_kernels_and_a_planted_width_chosen_by_cv():
    """16- and 8-wide default kernels (half-width 8 and 4): the same rules at their widths; a
    device whose conv time follows 16-wide tiles gets its x chosen as the w16 terms by CV."""
    from fdi.timemodel.baselines import build_time_model, fitted_tree

    def conv(out_channel: int) -> pd.Series:
        structure = {"in_height": 8, "in_width": 8, "kernel_h": 3, "kernel_w": 3, "in_channel": 16}
        return one("cnn", **structure, out_channel=out_channel, padding="same", stride_h=1, stride_w=1)

    per_channel = 2 * 8 * 8 * 3 * 3 * 16
    assert conv(20).padded_flops_w16 == 32 * per_channel and conv(20).narrow_flops_w16 == 0
    assert conv(12).padded_flops_w16 == 16 * per_channel == conv(12).narrow_flops_w16  # 2 x 8 wide
    assert conv(20).padded_flops_w8 == 24 * per_channel and conv(20).narrow_flops_w8 == 0
    fc = one("fc", in_dim=10, out_dim=20)
    assert fc.narrow_flops_w16 == fc.flops  # 20 mod 16 = 4: the 8-wide kernel pads less
    assert fc.narrow_flops_w8 == fc.flops and fc.narrow_flops == fc.flops  # 4 in 1..4; 20 < 32
    assert one("fc", in_dim=10, out_dim=30).narrow_flops_w16 == 0  # 30 mod 16 = 14 > 8
    rng = np.random.default_rng(0)
    rows = pd.DataFrame(
        {
            "in_height": 16, "in_width": 16, "kernel_h": 3, "kernel_w": 3, "padding": "same",
            "stride_h": 1, "stride_w": 1, "in_channel": rng.integers(4, 64, 120),
            "out_channel": rng.integers(17, 100, 120),
        }
    )  # fmt: skip
    features = add_features(rows, "cnn")
    time_ms = 1e-6 * features.padded_flops_w16  # planted: whole 16-wide tiles
    settings = {
        "mape_stop": 0.01,
        "min_samples_split": 15,
        "min_samples_leaf": 5,
        "moduli": [2, 4, 8, 16, 32],
    }
    settings |= {"max_thresholds": 64, "x": "runtime", "grid": {"tiles": [32, 16, 8]}, "cv_folds": 3}
    model = fitted_tree(build_time_model("cnn", settings).fit(features, time_ms))
    assert "padded_flops_w16" in model.fit_columns and "padded_flops" not in model.fit_columns
