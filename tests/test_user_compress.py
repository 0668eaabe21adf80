"""`fdi compress` on a user's own model: bad inputs named before any training, and a small
residual, depthwise model compressed end to end from its file alone."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

keras = pytest.importorskip("keras")

from fdi.cli import main  # noqa: E402
from fdi.compress.user_model import load_user_data, load_user_model  # noqa: E402

CONFIG = Path(__file__).resolve().parents[1] / "config"


def _mobile_block_model():
    """A MobileNetV2-style block (expand, depthwise, project, residual add) on 8x8 digits."""
    layers = keras.layers
    x = inputs = keras.Input((8, 8, 1))
    x = layers.ReLU()(layers.BatchNormalization()(layers.Conv2D(12, 3, padding="same", name="stem")(x)))
    y = layers.Conv2D(24, 1, activation="relu", name="expand")(x)
    y = layers.DepthwiseConv2D(3, padding="same", activation="relu", name="dw")(y)
    x = layers.Add()([x, layers.Conv2D(12, 1, name="project")(y)])
    x = layers.Flatten()(layers.MaxPooling2D()(x))  # 4x4 positions of 12 channels
    x = layers.Dense(24, activation="relu", name="fc")(x)
    return keras.Model(inputs, layers.Dense(10, activation="softmax", name="out")(x), name="mini_mobile")


@pytest.fixture(scope="module")
def digits(tmp_path_factory):
    from sklearn.datasets import load_digits

    root = tmp_path_factory.mktemp("user")
    images, labels = load_digits(return_X_y=True)
    x = (images / 16.0).reshape(-1, 8, 8, 1).astype("float32")
    data = {"x_train": x[:1400], "y_train": labels[:1400], "x_test": x[1400:], "y_test": labels[1400:]}
    np.savez(root / "digits.npz", **data)
    keras.utils.set_random_seed(0)
    model = _mobile_block_model()
    model.compile(keras.optimizers.Adam(0.01), "sparse_categorical_crossentropy")
    model.fit(data["x_train"], data["y_train"], epochs=6, batch_size=32, verbose=0)
    model.save(root / "model.keras")
    return root, data


def test_bad_inputs_are_named_before_any_training(digits, tmp_path) -> None:
    root, data = digits
    with pytest.raises(ValueError, match="no such model file"):
        load_user_model(tmp_path / "absent.keras")
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(ValueError, match=r"notes\.txt: not a Keras model file"):
        load_user_model(tmp_path / "notes.txt")
    (tmp_path / "broken.keras").write_text("not a zip")
    with pytest.raises(ValueError, match=r"broken\.keras: Keras cannot read it as a model"):
        load_user_model(tmp_path / "broken.keras")
    model = load_user_model(root / "model.keras")
    cases = {
        "missing": ({"x_train": data["x_train"], "y_train": data["y_train"]}, "missing x_test, y_test"),
        "shape": (
            {**data, "x_test": data["x_test"][:, :7]},
            r"x_test has shape \(397, 7, 8, 1\); mini_mobile takes",
        ),
        "rows": ({**data, "y_train": data["y_train"][:10]}, "x_train has 1400 rows but y_train has 10"),
        "classes": (
            {**data, "y_test": data["y_test"] + 5},
            "y_test holds classes 5..14, but mini_mobile has 10",
        ),
        "labels": (
            {**data, "y_test": data["y_test"].astype("float32")},
            "y_test must be a vector of class indices",
        ),
    }
    for name, (arrays, message) in cases.items():
        np.savez(tmp_path / f"{name}.npz", **arrays)
        with pytest.raises(ValueError, match=message):
            load_user_data(tmp_path / f"{name}.npz", model)
    with pytest.raises(SystemExit, match=r"no width fdi may change|not a Keras model"):
        main(
            [
                "compress",
                str(tmp_path / "notes.txt"),
                "--data",
                str(root / "digits.npz"),
                "--out-dir",
                str(tmp_path),
            ]
        )


def test_a_users_residual_depthwise_model_is_compressed_from_its_file(digits, tmp_path, capsys) -> None:
    root, data = digits
    out = tmp_path / "out"
    argv = ["compress", str(root / "model.keras"), "--data", str(root / "digits.npz"), "--out-dir", str(out)]
    argv += ["--objective", "flops", "--targets", "0.6", "--iterations", "40", "--finetune-epochs", "1"]
    argv += ["--finetune-rate", "0.001"]
    configs = [str(CONFIG / "config.yaml"), str(CONFIG / "tiny.yaml")]  # the tiny instrument
    main([*argv, "--measure", "--device", "host", "--config", *configs])
    log = capsys.readouterr().out
    assert "mini_mobile: 4 widths to compress [12, 24, 12, 24]" not in log  # stem and project are one
    assert "mini_mobile: 3 widths to compress [12, 24, 24]" in log
    curve = json.loads((out / "curve.json").read_text())
    assert curve["original_test_accuracy"] > 0.85  # a trained original (measured 0.917)
    assert curve["finetune"] == {"epochs": 1, "seed": 0, "learning_rate": 0.001}
    point = curve["points"][0]
    assert curve["device"] == "host" and curve["original_ms"] > 0 and point["measured_time_ms"] > 0
    timed = pd.read_parquet(out / "timings-host.parquet")
    assert set(timed[timed.role == "component"].id) == {"original", "out-target-0"}
    small = keras.models.load_model(point["keras"], compile=False)
    predicted = small.predict(data["x_test"], verbose=0).argmax(axis=1)
    assert point["test_accuracy"] == pytest.approx(np.mean(predicted == data["y_test"]))
    assert Path(point["keras"]).name == "out-target-0.keras"  # named after the out-dir
    assert small.count_params() < load_user_model(root / "model.keras").count_params()
    assert [small.get_layer(n).output.shape[-1] for n in ("stem", "project")] == [point["widths"][0]] * 2
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_path=point["tflite"])
    interpreter.allocate_tensors()
    (given,), (taken,) = interpreter.get_input_details(), interpreter.get_output_details()
    interpreter.set_tensor(given["index"], data["x_test"][:1])
    interpreter.invoke()
    expected = small.predict(data["x_test"][:1], verbose=0)
    np.testing.assert_allclose(interpreter.get_tensor(taken["index"]), expected, atol=1e-5)
    main(argv)  # resumed: every point is already finished, nothing is trained again
    assert "fine-tuning" not in capsys.readouterr().out
    main(argv[:-2])  # asked again at the default rate: the 1e-3 points are set aside, not reused
    log = capsys.readouterr().out
    assert "finetune learning_rate: 0.001 -> 0.0001), moved to final-previous" in log
    assert "out-target-0: fine-tuning" in log and (out / "final-previous" / "out-target-0.keras").exists()
    assert json.loads((out / "curve.json").read_text())["finetune"]["learning_rate"] == 0.0001


def test_expand_widens_a_point_to_algorithm_2s_widths_without_changing_its_outputs(
    digits, monkeypatch
) -> None:
    """`--expand`: the point's widths go to Algorithm 2 with the original's structure, and the
    point comes back at the widths it answers (here planted: every width to 16 or 32), computing
    what it computed (the tied stem and project stay one width)."""
    import fdi.compress.expand as expand
    from fdi.compress.graph_network import GraphNetwork
    from fdi.compress.user_model import widened
    from fdi.timemodel.device_model import DeviceTimeModel

    root, data = digits
    network = GraphNetwork(load_user_model(root / "model.keras"))
    point = network.extract([[0, 2, 3, 5, 7, 11], list(range(0, 24, 2)), list(range(9))], name="point")
    asked = []

    def planted(structure, widths, time_model, mode, limit, originals):
        asked.append((structure, list(widths), list(originals)))
        return [16, 32, 16]

    monkeypatch.setattr(expand, "expand_network", planted)
    lines: list[str] = []
    wide, widths = widened(network, point, [6, 12, 9], DeviceTimeModel("planted", {}), (), lines.append, 0)
    assert asked == [(network, [6, 12, 9], [12, 24, 24])] and widths == [16, 32, 16]
    assert "[6, 12, 9] -> [16, 32, 16]" in lines[0]
    assert [wide.get_layer(n).output.shape[-1] for n in ("stem", "project", "expand", "fc")] == [
        16,
        16,
        32,
        16,
    ]
    x = data["x_test"][:32]
    np.testing.assert_allclose(wide.predict(x, verbose=0), point.predict(x, verbose=0), rtol=1e-4, atol=1e-6)


def test_a_structure_taken_for_two_targets_is_fine_tuned_once(digits, tmp_path, monkeypatch) -> None:
    """The search can pass two targets between evaluations and take one structure for both
    (2026-12-02: 70% and 60% of the time, both at iteration 450): that point is fine-tuned once
    and its model reused; a different structure is still fine-tuned."""
    import fdi.compress.finish as finish
    import fdi.compress.search as search
    from fdi.compress.graph_network import GraphNetwork
    from fdi.compress.user_model import compress_user_model

    root, _ = digits
    network = GraphNetwork(load_user_model(root / "model.keras"))
    planted = [  # (iteration, kept elements per width)
        (450, [list(range(8)), list(range(16)), list(range(12))]),
        (450, [list(range(8)), list(range(16)), list(range(12))]),
        (480, [list(range(6)), list(range(10)), list(range(8))]),
    ]

    def planted_search(network_, train, val, settings, out_dir, time_model, log, extra):
        (out_dir / "points").mkdir(parents=True)
        points = []
        for k, (iteration, keep) in enumerate(planted):
            network.extract(keep, name="point").save(out_dir / "points" / f"target-{k}.keras")
            widths = [len(kept) for kept in keep]
            points.append(
                {"iteration": iteration, "widths": widths, "parameter_fraction": 0.5, "measure": "params"}
                | {"fraction": 0.5}
            )
        return {"points": points}

    tuned = []
    monkeypatch.setattr(search, "run_search", planted_search)
    monkeypatch.setattr(finish, "fine_tune_on", lambda model, *rest: tuned.append(model.count_params()))
    lines: list[str] = []
    settings = {"objective": "none", "targets": [0.7, 0.6, 0.5]}
    rows = compress_user_model(
        root / "model.keras", root / "digits.npz", tmp_path / "out", settings, {}, log=lines.append
    )
    assert len(tuned) == 2 and tuned[0] > tuned[1]  # points 0 and 2, not point 1
    assert (
        "out-target-1: the structure of out-target-0 (taken for two targets), its fine-tune reused" in lines
    )
    assert [row["widths"] for row in rows] == [[8, 16, 12], [8, 16, 12], [6, 10, 8]]
    assert rows[1]["test_accuracy"] == rows[0]["test_accuracy"] and Path(rows[1]["keras"]).exists()


def test_each_search_seed_adds_its_points_and_a_seed_added_later_keeps_the_finished_ones(
    digits, tmp_path, monkeypatch
) -> None:
    """Under seeds [0, 3] the curve is both searches' points: seed 0's search in `search/` with
    its points named as a one-seed run names them, seed 3's in `search-seed-3/`, each search
    started from the file's weights (a search trains its network in place). A one-seed run
    extended by a seed fine-tunes only the new seed's points; back to one seed, nothing is
    fine-tuned and the curve holds that seed's points alone."""
    import fdi.compress.finish as finish
    import fdi.compress.search as search
    from fdi.compress.user_model import compress_user_model

    root, _ = digits
    first_kernel = load_user_model(root / "model.keras").get_layer("stem").get_weights()[0]
    searched = []

    def planted_search(network, train, val, settings, out_dir, time_model, log, extra):
        kernel = network.model.get_layer("stem").get_weights()[0]
        searched.append((settings["seed"], out_dir.name, bool(np.array_equal(kernel, first_kernel))))
        network.model.get_layer("stem").set_weights(
            [w * 0 for w in network.model.get_layer("stem").get_weights()]
        )
        (out_dir / "points").mkdir(parents=True, exist_ok=True)
        keep = 8 - settings["seed"]  # each seed its own structure
        kept = [list(range(keep)), list(range(16)), list(range(12))]
        network.extract(kept, name="point").save(out_dir / "points" / "target-0.keras")
        point = {"iteration": 100, "widths": [keep, 16, 12], "parameter_fraction": 0.5}
        return {"points": [point | {"measure": "params", "fraction": 0.5}]}

    tuned: list[int] = []
    monkeypatch.setattr(search, "run_search", planted_search)
    monkeypatch.setattr(finish, "fine_tune_on", lambda model, *rest: tuned.append(model.count_params()))

    def run(seeds: list[int] | None) -> tuple[list[dict], list[str]]:
        lines: list[str] = []
        settings = {"objective": "none", "targets": [0.5], "seed": 0}
        settings |= {"search_seeds": seeds} if seeds else {}
        out = tmp_path / "out"
        return compress_user_model(
            root / "model.keras", root / "digits.npz", out, settings, {}, log=lines.append
        ), lines

    rows, _ = run(None)
    assert searched == [(0, "search", True)] and len(tuned) == 1
    rows, lines = run([0, 3])
    assert searched[1:] == [(0, "search", True), (3, "search-seed-3", True)]
    assert len(tuned) == 2  # seed 3's point only: seed 0's finished one is kept
    assert "search seed 3 (2/2)" in lines and "out-seed-3-target-0: fine-tuning [5, 16, 12]" in lines
    assert [(r["point"], r["search_seed"], r["widths"][0], Path(r["keras"]).name) for r in rows] == [
        (0, 0, 8, "out-target-0.keras"),
        (1, 3, 5, "out-seed-3-target-0.keras"),
    ]
    curve = json.loads((tmp_path / "out" / "curve.json").read_text())
    assert curve["search_seeds"] == [0, 3] and [p["search_seed"] for p in curve["points"]] == [0, 3]
    listed = (tmp_path / "out" / "graphs.txt").read_text().splitlines()  # what the benchmark job times
    assert [Path(line).name for line in listed] == ["out-target-0.tflite", "out-seed-3-target-0.tflite"]
    rows, lines = run([0])
    assert len(tuned) == 2 and [r["search_seed"] for r in rows] == [0]
    assert len((tmp_path / "out" / "graphs.txt").read_text().splitlines()) == 1  # seed 3's not timed
    with pytest.raises(ValueError, match=r"search seeds must differ, got \[1, 1\]"):
        run([1, 1])


class KilledError(Exception):
    """Stands for SIGKILL: the search stops where the log line says, its checkpoint left behind."""


def test_a_checkpoint_left_under_other_settings_is_not_resumed(digits, tmp_path) -> None:
    """A search killed at iteration 12 (checkpoint at 10) resumes at 10 under the same settings;
    asked again with other iterations (a config edited before the rerun) it names what changed and
    starts at 0, and ends where an unbroken search under the new settings ends. A finished search
    is reused only under its own settings."""
    from fdi.compress.graph_network import GraphNetwork
    from fdi.compress.search import run_search

    root, _ = digits
    data = load_user_data(root / "digits.npz", load_user_model(root / "model.keras"))
    settings = {
        "objective": "none",
        "batch_size": 16,
        "eval_every": 4,
        "eval_samples": 100,
        "checkpoint_every": 5,
        "targets": [0.05],  # out of reach: every search runs all its iterations
        "threshold": {"final": 0.8, "steps": 4, "every": 4},
    }

    def search(out: Path, iterations: int, stop_at: int | None = None) -> tuple[list[str], dict]:
        lines: list[str] = []

        def log(line: str) -> None:
            lines.append(line)
            if stop_at and line.startswith(f"iteration {stop_at}/"):
                raise KilledError

        network = GraphNetwork(load_user_model(root / "model.keras"))  # the search trains it in place
        try:
            asked = settings | {"iterations": iterations}
            result = run_search(network, data["train"], data["val"], asked, out, None, log)
        except KilledError:
            return lines, {}
        return lines, result

    search(tmp_path / "same", 20, stop_at=12)
    lines, _ = search(tmp_path / "same", 20)
    assert lines[0] == "resumed from the checkpoint at iteration 10"

    search(tmp_path / "edited", 20, stop_at=12)
    assert (tmp_path / "edited/checkpoint.npz").exists()
    lines, result = search(tmp_path / "edited", 24)
    assert "left by a search with other settings (iterations: 20 -> 24); starting over" in lines[0]
    assert lines[1].startswith("iteration 4/24") and not any(line.startswith("resumed") for line in lines)
    _, unbroken = search(tmp_path / "unbroken", 24)
    assert result["iteration"] == unbroken["iteration"] == 24
    assert result["last_evaluated"] == unbroken["last_evaluated"]

    # finished: the same settings reuse it without a step (a rerun after an interrupted fine-tune),
    # other settings search again
    lines, again = search(tmp_path / "unbroken", 24)
    assert len(lines) == 1 and lines[0].endswith("on the same network and data; reused")
    assert again == unbroken
    lines, _ = search(tmp_path / "unbroken", 20)
    assert "does not fit this run (iterations: 24 -> 20); searching again" in lines[0]
    assert lines[1].startswith("iteration 4/20")


def test_a_finished_search_under_another_time_model_is_searched_again(tmp_path) -> None:
    """Same settings, same network and data, but the device's time model moved (a new campaign,
    or parts it now prices): the original's cost under the objective differs, so the finished
    search is not reused and the change is named; with all equal it is."""
    from fdi.compress.reruns import finished_search

    settings = {"objective": "time", "iterations": 20}
    identity = {"original_widths": [8, 4], "original_cost": 0.0532, "original_validation_accuracy": 0.9}
    (tmp_path / "points").mkdir()
    (tmp_path / "points/target-0.keras").write_bytes(b"")
    record = {"settings": settings, "points": [{"target": 0.5}], **identity}
    (tmp_path / "search.json").write_text(json.dumps(record))
    lines: list[str] = []
    assert finished_search(tmp_path, settings, identity, lines.append) == record
    moved = identity | {"original_cost": 0.0611}
    assert finished_search(tmp_path, settings, moved, lines.append) is None
    assert "(original_cost: 0.0532 -> 0.0611); searching again" in lines[-1]
    assert finished_search(tmp_path, settings | {"iterations": 24}, moved, lines.append) is None
    assert "(iterations: 20 -> 24; original_cost: 0.0532 -> 0.0611); searching again" in lines[-1]
    (tmp_path / "points/target-0.keras").unlink()
    assert finished_search(tmp_path, settings, identity, lines.append) is None
    assert "(points [0] missing); searching again" in lines[-1]
