"""Seeded sampling inside the Table 2 scope."""

import copy
from pathlib import Path

import pytest
import yaml
from snakemake.utils import update_config

from fdi.profile.space import ScopeError, conv_output_size, sample_networks, sample_scope, shard_count

DEFAULT = yaml.safe_load(Path("config/config.yaml").read_text())
PAPER = copy.deepcopy(DEFAULT)  # config/paper.yaml merged over the default, as Snakemake does
update_config(PAPER, yaml.safe_load(Path("config/paper.yaml").read_text()))


def test_sampling_is_deterministic_and_per_layer_independent():
    a = sample_scope("cnn", DEFAULT)
    b = sample_scope("cnn", DEFAULT)
    assert a.equals(b)
    other = {**DEFAULT, "layers": {**DEFAULT["layers"], "fc": {**DEFAULT["layers"]["fc"], "networks": 3}}}
    assert sample_scope("cnn", other).equals(a)  # another type's settings do not move this sample


@pytest.mark.parametrize("layer", ["fc", "cnn", "gru", "lstm"])
def test_paper_scope_is_respected(layer):
    settings = PAPER["layers"][layer]
    frame = sample_scope(layer, PAPER)
    scope = settings["scope"]
    for key, bounds in scope.items():
        if key in frame and isinstance(bounds[0], int) and len(bounds) == 2 and key not in ("step", "stride"):
            assert frame[key].between(*bounds).all(), key
    if layer == "cnn":
        kernels = set(zip(frame.kernel_h, frame.kernel_w, strict=True))
        assert kernels <= {tuple(k) for k in scope["kernel"]}
        assert set(frame.padding) <= {"valid", "same"} and set(frame.stride_h) <= {1, 2}
        assert (frame.stride_h == frame.stride_w).all()
    if layer in ("gru", "lstm"):
        assert set(frame.step) <= set(scope["step"])
    low, high = settings["components_per_network"]
    sizes = frame.groupby("network").size()
    assert len(sizes) == settings["networks"] and sizes.between(low, high).all()
    assert frame.shard.max() + 1 == shard_count(layer, PAPER)
    assert frame.id.is_unique


def test_default_config_measures_at_least_200_random_components_per_type():
    for layer in ["fc", "cnn", "gru", "lstm"]:
        assert len(sample_scope(layer, DEFAULT)) >= 200


def test_valid_padding_never_produces_an_empty_output():
    settings = {
        "networks": 20,
        "components_per_network": [10, 10],
        "networks_per_shard": 5,
        "scope": {
            "in_height": [2, 6],
            "in_width": [2, 6],
            "kernel": [[5, 5], [2, 3]],
            "in_channel": [1, 4],
            "out_channel": [1, 4],
            "padding": ["valid"],
            "stride": [1, 2],
        },
    }
    frame = sample_networks("cnn", settings, seed=1)
    for row in frame.itertuples():
        assert conv_output_size(row.in_height, row.kernel_h, row.stride_h, "valid") >= 1
        assert conv_output_size(row.in_width, row.kernel_w, row.stride_w, "valid") >= 1


def test_impossible_scope_names_the_keys():
    settings = {
        "networks": 1,
        "components_per_network": [1, 1],
        "networks_per_shard": 1,
        "scope": {
            "in_height": [2, 3],
            "in_width": [2, 3],
            "kernel": [[5, 5]],
            "in_channel": [1, 1],
            "out_channel": [1, 1],
            "padding": ["valid"],
            "stride": [1],
        },
    }
    with pytest.raises(ScopeError, match="in_height, in_width, kernel, padding"):
        sample_networks("cnn", settings, seed=0)


def test_sweep_is_in_equals_out():
    sweep = sample_scope("sweep", DEFAULT)
    assert (sweep.in_channel == sweep.out_channel).all()
    assert sweep.in_channel.tolist() == list(range(1, 65))
