"""DeepIoT's compressor and the objectives that steer it (issue 11): the extracted network computes
what the masked one does, each objective term on hand-computed structures, the compressor learns
to drop elements under a size reward, a killed search resumes where it was, and the tables pick
the right point of a curve."""

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pandas as pd
import pytest
from real_inputs import family_inputs

from fdi.compress.network import prunable
from fdi.compress.objectives import StructureCost, parameter_counts, parameter_fraction
from fdi.compress.search import Search, effective, kept_elements, settings_with_defaults, threshold_at
from fdi.compress.table import (
    accuracy_bar,
    compression_order,
    kept_by,
    ranking,
    seed_accuracies,
    seed_picks,
    select,
    task_table,
)
from fdi.profile.families import WIDTH_NAMES
from fdi.timemodel.device_model import DeviceTimeModel

SMALL = {
    "vgg": [5, 7, 9, 6, 10, 8, 7, 12, 9, 11, 6, 13, 10, 20, 17],
    "deepsense": [5, 7, 6, 9, 4, 6, 11, 9],
}


def _perturbed(family, widths, classes=None, seed=3):
    """A family network with random weights and non-zero biases (a misplaced bias would show)."""
    import keras

    from fdi.profile.families import build_keras

    keras.utils.set_random_seed(seed)
    model = build_keras(family, widths, name="original", batch_size=None, classes=classes)
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        weights = layer.get_weights()
        if weights:
            layer.set_weights([w + 0.1 * rng.standard_normal(w.shape).astype(w.dtype) for w in weights])
    return model


@pytest.mark.parametrize("family", ["vgg", "deepsense"])
def test_the_extracted_network_computes_what_the_masked_network_computes(family):
    """The paper's families read from their graphs as any model is (fdi.compress.network.prunable):
    the critic with every element kept is the network; extracted = masked on real inputs."""
    from fdi.profile.families import widths_of

    model = _perturbed(family, SMALL[family])
    network = prunable(model, family)
    assert network.widths == SMALL[family]
    inputs = family_inputs(family, 0, count=4)
    everything = [np.ones((4, w), np.float32) for w in SMALL[family]]
    full = np.asarray(network.forward(inputs, everything))
    assert np.abs(full - model.predict(inputs, verbose=0)).max() <= 1e-5

    rng = np.random.default_rng(1)
    keep = [np.sort(rng.choice(w, size=max(1, w // 2), replace=False)) for w in SMALL[family]]
    keep[-1] = np.array([SMALL[family][-1] - 1])  # a single kept element, the last one
    masks = []
    for kept, width in zip(keep, SMALL[family], strict=True):
        mask = np.zeros((4, width), np.float32)
        mask[:, kept] = 1
        masks.append(mask)
    small = network.extract(keep)
    assert widths_of(small, family) == [len(k) for k in keep]  # the family's own reading agrees
    # read again as any model is, it has the original's widths, the one pruned to a single
    # channel among them (finish and Algorithm 2 read every compressed point so)
    assert prunable(small, family).widths == [len(k) for k in keep]
    masked = np.asarray(network.forward(inputs, masks))
    extracted = small.predict(inputs, verbose=0)
    assert np.abs(extracted - masked).max() <= 1e-5
    assert np.abs(extracted - model.predict(inputs, verbose=0)).max() > 1e-3  # it did drop something
    with pytest.raises(ValueError, match="non-empty subset"):
        network.extract([*keep[:-1], np.array([], int)])


def test_parameter_counts_are_keras_counts():
    from fdi.profile.families import build_keras

    # By hand, VGG at every width 1: conv1_1 27 + 1, twelve convs 9 + 1, fc1 and fc2 1 + 1,
    # fc3 10 + 10 = 172; at every width 2: 54 + 2, 12 x (36 + 2), 4 + 2, 4 + 2, 20 + 10 = 554.
    assert parameter_counts("vgg", [[1] * 15, [2] * 15]).tolist() == [172, 554]
    for family, widths in SMALL.items():
        assert parameter_counts(family, [widths])[0] == build_keras(family, widths).count_params()


def test_each_objective_term_on_a_known_structure():
    small, full = [1] * 15, [2] * 15
    assert StructureCost("none", "vgg", full)([small, full]).tolist() == [0, 0]
    assert np.allclose(StructureCost("params", "vgg", full)([small, full, small]), [172 / 554, 1, 172 / 554])
    assert parameter_fraction("vgg", small, full) == pytest.approx(172 / 554)
    # MACs by hand at width 1: 32*32*9*3 + 32*32*9 + 2*(16*16*9) + 3*(8*8*9) + 3*(4*4*9)
    # + 3*(2*2*9) + 1 + 1 + 10 = 43752; at width 2: 55296 + 36864 + 18432 + 6912 + 1728 + 432 + 28.
    assert np.allclose(StructureCost("flops", "vgg", full)([small]), [43752 / 119692])

    class PerMflop:
        """A stand-in time model: 1 ms per MFLOP, counting its predict calls."""

        calls = 0

        def predict(self, features):
            PerMflop.calls += 1
            return features["flops"].to_numpy() / 1e6

    free_ops = {"max_pool": (0.0, 0.0), "softmax": (0.0, 0.0)}
    planted = DeviceTimeModel("planted", {"cnn": PerMflop(), "fc": PerMflop()}, free_ops)
    cost = StructureCost("time", "vgg", full, planted)
    PerMflop.calls = 0
    batch = [small, full, small, [1] * 13 + [2, 2], full]
    relative = cost(batch)
    assert PerMflop.calls == 2  # one predict call per layer type for the whole batch
    assert np.allclose(relative[:2], [43752 / 119692, 1]) and relative[2] == relative[0]
    assert relative[4] == 1 and relative[0] < relative[3] < 1
    with pytest.raises(ValueError, match="time model"):
        StructureCost("time", "vgg", full)
    with pytest.raises(ValueError, match="objective term"):
        StructureCost("latency", "vgg", full)


def test_threshold_schedule_and_the_kept_structure():
    schedule = {"final": 0.8, "steps": 4, "every": 10}
    assert [threshold_at(i, schedule) for i in (0, 9, 10, 25, 40, 400)] == [0, 0, 0.2, 0.4, 0.8, 0.8]
    probabilities = [np.array([0.1, 0.5, 0.3]), np.array([0.05, 0.1])]
    assert [p.tolist() for p in effective(probabilities, 0.3)] == [[0.05, 0.5, 0.3], [0.025, 0.05]]
    assert [k.tolist() for k in kept_elements(probabilities, 0.3)] == [[1, 2], [1]]  # at least one


def _run_search(model, family, objective, weight, iterations, data):
    settings = settings_with_defaults(
        {"objective": objective, "lambda": weight, "batch_size": 32, "compressor": {"learning_rate": 0.02}}
    )
    engine = Search(prunable(model, family), settings, StructureCost(objective, family, SMALL[family]))
    inputs, labels = data
    before = np.concatenate(engine.probabilities()).mean()
    for iteration in range(iterations):
        rng = np.random.default_rng([0, iteration])
        rows = rng.choice(len(labels), size=32, replace=False)
        masks = [
            (rng.random((32, len(p))) < p).astype(np.float32) for p in effective(engine.probabilities(), 0.0)
        ]
        sizes = np.maximum(1, np.column_stack([m.sum(axis=1) for m in masks]).astype(int))
        engine.step([x[rows] for x in inputs], labels[rows], masks, engine.cost(sizes.tolist()), 0.0)
    return before, np.concatenate(engine.probabilities()).mean()


def test_the_compressor_lowers_keep_probabilities_under_a_size_reward():
    """Synthetic labels (this is about the reward, not the task): with the parameter fraction
    weighted in the reward, the mean keep probability falls well below where it started, and
    below where the task loss alone leaves it."""
    rng = np.random.default_rng(0)
    images = family_inputs("vgg", 0, count=256)
    data = (images, rng.integers(0, 10, 256))
    started, sized = _run_search(_perturbed("vgg", SMALL["vgg"]), "vgg", "params", 5.0, 40, data)
    _, plain = _run_search(_perturbed("vgg", SMALL["vgg"]), "vgg", "none", 0.0, 40, data)
    assert started == pytest.approx(0.8, abs=0.05)
    assert sized < started - 0.1
    assert sized < plain - 0.05


@pytest.fixture(scope="module")
def digits_task(tmp_path_factory):
    """The digits artefact and an (untrained) tiny VGG original saved as a task's network."""
    from fdi.tasks.prepare import prepare

    root = tmp_path_factory.mktemp("task")
    settings = {"family": "vgg", "data": "digits", "widths": SMALL["vgg"]}
    prepare("digits", settings, root / "digits.npz", root / "downloads")
    _perturbed("vgg", SMALL["vgg"], classes=10).save(root / "original.keras")
    return root


def test_fine_tuning_keeps_the_epoch_best_on_the_validation_slice(digits_task):
    import keras

    from fdi.compress.finish import fine_tune
    from fdi.tasks import artefact
    from fdi.tasks.finetune import accuracy
    from fdi.tasks.plateau import validation_split

    arrays, _ = artefact.load(digits_task / "digits.npz")
    model = keras.models.load_model(digits_task / "original.keras", compile=False)
    *_, valid_x, valid_y = validation_split(arrays, "vgg", 0.2, 1)
    untrained = accuracy(model, valid_x, valid_y)
    lines: list[str] = []
    settings = {"epochs": 3, "learning_rate": 0.003, "batch_size": 32, "schedule": "cosine"}
    learned = fine_tune(model, arrays, "vgg", settings, lines.append, (0.2, 1))
    assert learned == accuracy(model, valid_x, valid_y) > untrained + 0.2  # it learns, and says so
    assert sum("validation accuracy" in line for line in lines) == 5  # before, 3 epochs, kept
    before = model.get_weights()
    # A rate that wrecks the weights: no epoch beats the start, so the start is what stays; and
    # under the originals' plateau rule the cap (10) is not spent: with a patience of 1 it stops
    # after one epoch without a gain, the rate halved after that epoch (decay_patience 1).
    lines.clear()
    wrecking = {
        **settings,
        "epochs": 10,
        "learning_rate": 50.0,
        "plateau": {"patience": 1, "decay_patience": 1},
    }
    wrecked = fine_tune(model, arrays, "vgg", wrecking, lines.append, (0.2, 1))
    assert lines[-1].startswith("  kept epoch 0") and wrecked == learned
    assert all(np.array_equal(a, b) for a, b in zip(before, model.get_weights(), strict=True))
    assert sum("fine-tune epoch" in line for line in lines) == 1
    assert any("plateau: no validation gain" in line for line in lines)
    assert float(np.asarray(model.optimizer.learning_rate)) == 25.0


# A search on the digits task small enough for a test; the target is out of reach, so a search
# runs all its iterations and its one point is the structure it ends at.
TINY_SEARCH = {
    "objective": "none",
    "batch_size": 16,
    "eval_every": 10,
    "eval_samples": 200,
    "targets": [0.05],
    "compressor": {"learning_rate": 0.05},
}


def _search_command(task, out_dir, settings):
    command = [sys.executable, "-m", "fdi.cli", "compress-search", "--task", "digits", "--variant", "deepiot"]
    command += [
        "--family",
        "vgg",
        "--settings",
        json.dumps(settings),
        "--original",
        str(task / "original.keras"),
    ]
    return [*command, "--data", str(task / "digits.npz"), "--out-dir", str(out_dir)]


def test_a_killed_search_resumes_from_its_checkpoint_and_ends_as_an_unbroken_one(digits_task, tmp_path):
    settings = {
        **TINY_SEARCH,
        "iterations": 30,
        "eval_every": 5,
        "threshold": {"final": 0.8, "steps": 4, "every": 5},
        "checkpoint_every": 5,
    }
    unbroken = subprocess.run(
        _search_command(digits_task, tmp_path / "unbroken", settings),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert unbroken.returncode == 0, unbroken.stderr[-3000:]
    expected = json.loads((tmp_path / "unbroken/seed-0/search.json").read_text())  # the one seed's own

    out_dir, log = tmp_path / "killed", tmp_path / "first.log"
    with log.open("w") as out:
        job = subprocess.Popen(
            _search_command(digits_task, out_dir, settings),
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + 300
        while "iteration 15/30" not in log.read_text() and job.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        os.killpg(job.pid, signal.SIGKILL)  # as a cluster's scheduler or an OOM killer would
        job.wait()
    assert "iteration 15/30" in log.read_text() and not (out_dir / "search.json").exists()
    resumed = subprocess.run(
        _search_command(digits_task, out_dir, settings),
        capture_output=True,
        text=True,
        timeout=600,
        check=True,
    )
    started = [line for line in resumed.stdout.splitlines() if line.startswith("resumed from the checkpoint")]
    assert started and int(started[0].rsplit(" ", 1)[1]) >= 10, resumed.stdout[-2000:]
    result = json.loads((out_dir / "seed-0/search.json").read_text())
    assert json.loads((out_dir / "search.json").read_text())["searches"]["0"] == result
    assert result["iteration"] == expected["iteration"]
    assert [p["widths"] for p in result["points"]] == [p["widths"] for p in expected["points"]]
    assert [p["keep"] for p in result["points"]] == [p["keep"] for p in expected["points"]]
    assert result["last_evaluated"]["iteration"] == 30
    assert result["last_evaluated"] == expected["last_evaluated"]  # same structure, same accuracy
    assert not (out_dir / "seed-0/checkpoint.npz").exists()


def test_searches_under_several_seeds_merge_into_one_curve_and_a_finished_seed_is_kept(digits_task, tmp_path):
    from fdi.compress.finish import finish
    from fdi.compress.search_seeds import search_seeds

    settings = {
        **TINY_SEARCH,
        "iterations": 10,
        "threshold": {"final": 0.8, "steps": 4, "every": 2},
        "seeds": [3, 5],
    }
    lines: list[str] = []
    merged = search_seeds(
        digits_task / "original.keras",
        digits_task / "digits.npz",
        "vgg",
        settings,
        tmp_path,
        log=lines.append,
    )
    own = {s: json.loads((tmp_path / f"seed-{s}/search.json").read_text()) for s in (3, 5)}
    assert own[3]["settings"]["seed"] == 3 and own[5]["settings"]["seed"] == 5
    assert [p["seed"] for p in merged["points"]] == [3, 5]
    assert [p["widths"] for p in merged["points"]] == [
        own[3]["points"][0]["widths"],
        own[5]["points"][0]["widths"],
    ]
    assert merged["points"][1]["path"] == "seed-5/points/target-0.keras"
    assert merged["unreached_targets"] == [0.05] and merged["settings"]["seeds"] == [3, 5]
    assert json.loads((tmp_path / "search.json").read_text()) == merged

    # A seed added to the list: the finished ones are read back, only the new one is searched.
    lines.clear()
    grown = search_seeds(
        digits_task / "original.keras",
        digits_task / "digits.npz",
        "vgg",
        {**settings, "seeds": [3, 5, 8]},
        tmp_path,
        log=lines.append,
    )
    assert sum("already searched" in line for line in lines) == 2
    assert sum(line.startswith("iteration 10/10") for line in lines) == 1
    assert grown["points"][:2] == merged["points"] and grown["points"][2]["seed"] == 8

    # Finishing the merged curve: each point from its own search's network, judged and exported.
    frame = finish(
        "digits",
        "deepiot",
        tmp_path,
        digits_task / "digits.npz",
        {"finetune": {"epochs": 0}},
        tmp_path / "final",
    )
    assert frame.search_seed.tolist() == [3, 5, 8] and frame.point.tolist() == [0, 1, 2]
    assert frame.searched_widths.map(json.loads).tolist() == [p["widths"] for p in grown["points"]]
    assert frame.searched_fraction.tolist() == [p["fraction"] for p in grown["points"]]
    assert all((tmp_path / "final/graphs" / g).stat().st_size > 0 for g in frame.graph)
    assert len(set(frame.graph)) == 3

    # FastDeepIoT's finish: Algorithm 2 under a planted time model (a conv costs 10x less per
    # output element at a multiple of 8 out-channels) widens every point before fine-tuning, on
    # the network read from its graph; widening is lossless, so with no fine-tuning each point
    # scores what it scored unwidened. DeepIoT+localMin widens the finished points the same way.
    from fdi.compress.expand import width_limit
    from fdi.compress.finish import localmin
    from fdi.timemodel.tree import Condition, Node, TreeLinearRegressor

    def per_element(cost):
        return Node(coef=np.array([cost]), intercept=0.0, n_samples=10, impurity=0, mape=0)

    conv = TreeLinearRegressor(split_columns=("out_channel",), fit_columns=("mem_out",))
    conv.tree_ = per_element(0.0)
    conv.tree_.condition = Condition("out_channel", "mod", 8)
    conv.tree_.left, conv.tree_.right = per_element(1e-4), per_element(1e-3)
    fc = TreeLinearRegressor(split_columns=("in_dim",), fit_columns=("flops",))
    fc.tree_ = Node(coef=np.array([1e-6]), intercept=0.001, n_samples=10, impurity=0, mape=0)
    planted = DeviceTimeModel("planted", {"cnn": conv, "fc": fc}, {"max_pool": (0, 0), "softmax": (0, 0)})
    widened = finish(
        "digits",
        "fastdeepiot_planted",
        tmp_path,
        digits_task / "digits.npz",
        {"finetune": {"epochs": 0}},
        tmp_path / "widened",
        expand_with=planted,
    )
    for before, after in zip(frame.itertuples(), widened.itertuples(), strict=True):
        searched, wide = json.loads(before.widths), json.loads(after.widths)
        # each conv on the next multiple of 8 where Algorithm 2's limit (the next power of two)
        # reaches one, else where it was; the FC layers (cost per FLOP) stay
        eights = [-(-w // 8) * 8 for w in searched[:13]]
        limits = [width_limit(w, o, "next_pow2") for w, o in zip(searched, SMALL["vgg"], strict=False)]
        expected = [e if e <= m else w for e, m, w in zip(eights, limits, searched, strict=False)]
        assert wide == expected + searched[13:] and wide != searched
        assert abs(after.test_accuracy - before.test_accuracy) <= 1 / 360  # at most one example
    local = localmin(
        "digits", "planted", tmp_path / "final", digits_task / "digits.npz", {}, tmp_path / "local", planted
    )
    widened_points = local[local.variant == "deepiot_localmin_planted"]
    assert widened_points.widths.tolist() == widened.widths.tolist()
    assert np.allclose(widened_points.test_accuracy, frame.test_accuracy, atol=1 / 360)
    # t_min, for this network too: every width 1, then Algorithm 2, whose limit (the next power
    # of two at or above the width) keeps a width of 1 where it is; exported for its time
    (t_min,) = local[local.variant == "tmin_planted"].itertuples()
    assert json.loads(t_min.widths) == [1] * 15
    assert (tmp_path / "local/graphs" / t_min.graph).stat().st_size > 0

    # Other inputs (a retrained original, new time models: their digest) search a finished seed
    # again, and the same seed on the same original finds the same structure.
    lines.clear()
    again = search_seeds(
        digits_task / "original.keras",
        digits_task / "digits.npz",
        "vgg",
        {**settings, "seeds": [3]},
        tmp_path,
        log=lines.append,
        inputs_digest="another original",
    )
    assert any("searching again" in line for line in lines)
    assert sum(line.startswith("iteration 10/10") for line in lines) == 1
    assert again["points"] == merged["points"][:1]


def _curve_row(variant, point, accuracy, widths, measured):
    return {
        "task": "images",
        "family": "vgg",
        "variant": variant,
        "point": point,
        "widths": json.dumps(widths),
        "test_accuracy": accuracy,
        "parameter_fraction": parameter_fraction("vgg", widths, SMALL["vgg"]),
        "mflops": 1.0,
        "measured_ms_host": measured,
        "spread_host": 0.01,
        "predicted_ms_host": measured,
    }


def test_the_accuracy_bar_is_the_seeds_mean_less_their_spread_or_the_tolerance(tmp_path):
    # One original: its accuracy less the tolerance.
    assert accuracy_bar(0.80, [], 0.01, 2.0)[0] == pytest.approx(0.79)
    # Seeds 0.80, 0.78, 0.82: mean 0.80, s.d. 0.02 (n - 1), so 2 s.d. = 0.04 > the tolerance.
    bar, why = accuracy_bar(0.80, [0.78, 0.82], 0.01, 2.0)
    assert bar == pytest.approx(0.76) and "3 seeds" in why and "s.d. 2.00 points" in why
    assert accuracy_bar(0.80, [0.78, 0.82], 0.05, 2.0)[0] == pytest.approx(0.75)  # tolerance larger
    assert accuracy_bar(0.84, [0.78, 0.81], 0.01, 0.0)[0] == pytest.approx(0.80)  # mean 0.81 - 0.01
    # Spread runs' metrics come back per task in seed order, whatever order they are given in.
    paths = []
    for task, seed, accuracy in [("ds", 3, 0.7), ("ds", 1, 0.9), ("img", 2, 0.5)]:
        paths.append(tmp_path / f"{task}-{seed}.json")
        paths[-1].write_text(json.dumps({"task": task, "seed": seed, "test_accuracy": accuracy}))
    assert seed_accuracies(paths) == {"ds": [0.9, 0.7], "img": [0.5]}


def test_the_selection_picks_the_most_compressed_point_that_keeps_the_accuracy():
    base = SMALL["vgg"]
    narrower = [[max(1, w - k) for w in base] for k in range(1, 5)]
    curve = pd.DataFrame(
        [
            _curve_row("deepiot", i, acc, w, 1.0 - 0.1 * i)
            for i, (acc, w) in enumerate(zip([0.905, 0.893, 0.86, 0.891], narrower, strict=True))
        ]
    )
    assert select(curve, 0.89).point == 3  # 0.86 misses, the last that keeps 0.89 wins
    assert select(curve, 0.90).point == 0 and select(curve, 0.90).kept_accuracy
    fallback = select(curve, 0.94)
    assert fallback.point == 0 and not fallback.kept_accuracy  # none keeps it: the most accurate
    # exactly at the bar keeps it, though 0.5006 - 0.01 > 4906 / 10000 in floats
    at_bar = curve.assign(test_accuracy=[0.5006, 4906 / 10000, 0.40, 0.30])
    assert 4906 / 10000 < 0.5006 - 0.01 and select(at_bar, 0.5006 - 0.01).point == 1

    # A curve merged from two searches: ordered by the searched measure, not by point number.
    merged = curve.assign(search_seed=[0, 0, 1, 1], searched_fraction=[0.7, 0.4, 0.6, 0.5])
    assert select(merged, 0.89).point == 1  # 0.893 at 0.4: the most compressed that keeps 0.89
    assert select(merged, 0.895).point == 0  # only 0.905 (at 0.7) keeps it
    assert compression_order(merged).point.tolist() == [0, 2, 3, 1]
    lines = seed_picks(merged.assign(variant="deepiot"), 0.89, ["host"])
    assert "seeds 0, 1" in lines[0] and len(lines) == 3
    assert lines[1] == "- seed 0: deepiot 89.30%, 0.900 ms on host."  # point 1, at 0.4
    assert lines[2] == "- seed 1: deepiot 89.10%, 0.700 ms on host."  # point 3: 0.86 misses
    assert seed_picks(curve, 0.89, ["host"]) == []  # one search: nothing to say

    rows = pd.DataFrame(
        [
            _curve_row("original", 0, 0.90, base, 2.0),
            *curve.to_dict("records"),
            _curve_row("fastdeepiot_host", 0, 0.90, narrower[3], 0.5),
        ]
    )
    assert kept_by(rows, 0.90) == ["deepiot", "fastdeepiot_host"] and kept_by(rows, 0.91) == []
    table = task_table(rows, "vgg", ["host"], 0.89)
    assert list(table.columns) == ["original", "deepiot", "fastdeepiot_host"]
    assert table.loc["conv1_1"].tolist() == [base[0], narrower[3][0], narrower[3][0]]
    assert table.loc["measured vs DeepIoT, host"].tolist() == ["+185.7%", "+0.0%", "-28.6%"]
    assert list(table.index[: len(WIDTH_NAMES["vgg"])]) == WIDTH_NAMES["vgg"]
    assert table.loc["energy mJ/inference, host (spread)"].tolist() == ["not measured"] * 3
    measured_energy = rows.assign(energy_mj_host=3.0 * rows.measured_ms_host, energy_spread_host=0.02)
    table = task_table(measured_energy, "vgg", ["host"], 0.89)
    energy_row = table.loc["energy mJ/inference, host (spread)"].tolist()
    assert energy_row == ["6 (2.0%)", "2.1 (2.0%)", "1.5 (2.0%)"]
    assert table.loc["energy vs DeepIoT, host"].tolist() == ["+185.7%", "+0.0%", "-28.6%"]
    rows["predicted_ms_host"] = rows.measured_ms_host * np.linspace(1.0, 1.3, len(rows))  # same order
    assert ranking(rows, ["host"]) == [
        "host: the time models rank the 6 networks of this table's curves with Spearman 1.00 against "
        "their measured times (median |error| 15.0%)."
    ]
