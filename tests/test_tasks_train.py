"""Training a task's network on real data (scikit-learn's digits): one epoch learns, the same
config gives the same accuracy, the exported graph computes what the trained model does, and a
training job killed halfway resumes from its last finished epoch."""

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from fdi.profile.families import inputs_of
from fdi.tasks import artefact
from fdi.tasks.prepare import prepare
from fdi.tasks.train import export_trained, train

TINY_VGG = [8, 8, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 64, 64]
SETTINGS = {"family": "vgg", "data": "digits", "widths": TINY_VGG, "epochs": 1, "batch_size": 16, "seed": 0}


@pytest.fixture(scope="module")
def digits(tmp_path_factory):
    path = tmp_path_factory.mktemp("data") / "digits.npz"
    record = prepare("digits", SETTINGS, path, path.parent / "downloads")
    assert record["n_train"] == 1438 and record["n_test"] == 359
    return path


def test_one_epoch_on_digits_learns_repeatably_and_exports_exactly(digits, tmp_path):
    first = train("digits", SETTINGS, digits, tmp_path / "a.keras", tmp_path / "a.json", tmp_path / "ckpt")
    assert first["test_accuracy"] > 0.3  # chance is 0.1
    assert first["test_top5"] >= first["test_accuracy"]
    assert first["data_sha256"] == artefact.sha256_of(digits) and first["n_test"] == 359
    assert json.loads((tmp_path / "a.json").read_text()) == first
    assert not (tmp_path / "ckpt").exists()  # removed once training completes
    again = train("digits", SETTINGS, digits, tmp_path / "b.keras", tmp_path / "b.json", tmp_path / "ckpt")
    assert abs(again["test_accuracy"] - first["test_accuracy"]) <= 0.005

    import keras
    from ai_edge_litert.interpreter import Interpreter

    graph = tmp_path / "task-digits.tflite"
    assert export_trained(tmp_path / "a.keras", "digits", "vgg", graph) == TINY_VGG
    arrays, _ = artefact.load(digits)
    images = inputs_of(arrays, "vgg", "test")[0][:4]
    expected = keras.models.load_model(tmp_path / "a.keras").predict(images, verbose=0)
    interpreter = Interpreter(model_path=str(graph))
    interpreter.allocate_tensors()
    for i, image in enumerate(images):
        interpreter.set_tensor(interpreter.get_input_details()[0]["index"], image[None])
        interpreter.invoke()
        output = interpreter.get_tensor(interpreter.get_output_details()[0]["index"])
        assert np.abs(output - expected[i]).max() <= 1e-5


def test_a_killed_training_job_resumes_from_its_last_epoch(digits, tmp_path):
    settings = {**SETTINGS, "epochs": 6, "batch_size": 128}
    command = [sys.executable, "-m", "fdi.cli", "task-train", "--task", "digits"]
    command += ["--settings", json.dumps(settings), "--data", str(digits)]
    command += ["--out-model", str(tmp_path / "m.keras"), "--metrics", str(tmp_path / "m.json")]
    command += ["--checkpoint-dir", str(tmp_path / "ckpt")]
    log = tmp_path / "first.log"
    with log.open("w") as out:
        job = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + 300
        while "epoch 2/6 done" not in log.read_text() and job.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        os.killpg(job.pid, signal.SIGKILL)  # as a cluster's scheduler or an OOM killer would
        job.wait()
    assert "epoch 2/6 done" in log.read_text() and not (tmp_path / "m.json").exists()
    resumed = subprocess.run(command, capture_output=True, text=True, timeout=600, check=True)
    started = [line for line in resumed.stdout.splitlines() if line.startswith("resumed from the checkpoint")]
    assert started, resumed.stdout[-2000:]
    done_before = int(started[0].split("after epoch ")[1].split("/")[0])
    assert done_before >= 2
    finished = [line for line in resumed.stdout.splitlines() if line.startswith("epoch ")]
    assert len(finished) == 6 - done_before and finished[-1].startswith("epoch 6/6 done")
    assert json.loads((tmp_path / "m.json").read_text())["epochs"] == 6


def test_training_stops_at_a_plateau_and_keeps_the_best_epoch(digits, tmp_path):
    """A rate too small to learn: the first epoch is the best, no later one gains more than
    min_delta, the rate halves after each calm epoch, and training stops after `patience`; the
    model kept scores the best epoch's validation accuracy."""
    import keras

    from fdi.tasks.plateau import validation_split

    rule = {"patience": 2, "min_delta": 0.05, "decay": 0.5, "decay_patience": 1, "validation_fraction": 0.2}
    settings = {**SETTINGS, "epochs": 10, "learning_rate": 1e-7, "plateau": rule}
    result = train("digits", settings, digits, tmp_path / "m.keras", tmp_path / "m.json", tmp_path / "ckpt")
    assert (result["epochs_run"], result["best_epoch"], result["epoch_cap"]) == (3, 1, 10)
    assert (
        result["plateaued"]
        and "stop after 2 epochs without a validation-accuracy gain > 0.05" in (result["plateau_rule"])
    )
    rates = [point["learning_rate"] for point in result["curve"]]
    assert rates == pytest.approx([1e-7, 1e-7, 5e-8], rel=1e-6)  # halved after the first calm epoch
    arrays, _ = artefact.load(digits)
    *_, valid_x, valid_y = validation_split(arrays, "vgg", 0.2, 0)
    kept = keras.models.load_model(tmp_path / "m.keras", compile=False)
    predicted = kept.predict(valid_x[0], batch_size=256, verbose=0).argmax(axis=1)
    assert float(np.mean(predicted == valid_y)) == pytest.approx(result["best_val_accuracy"], abs=1e-6)
    assert result["best_val_accuracy"] == result["curve"][0]["val_accuracy"]


def test_an_annealed_original_keeps_its_best_epoch_on_the_plateau_rule_s_slice(digits, tmp_path):
    """`anneal`: after the plateau rule, the compressed networks' fine-tune. At a rate of 0 the
    weights cannot move, so the test accuracy is the one before; at a real rate the kept epoch
    scores at least the plateau's best on the same validation slice (the starting weights are a
    candidate), which a different slice would not guarantee. Without `plateau` it is refused."""
    rule = {"patience": 1, "min_delta": 0.0, "validation_fraction": 0.2}
    base = {**SETTINGS, "epochs": 2, "learning_rate": 1e-3, "plateau": rule}
    frozen = {"epochs": 1, "learning_rate": 0.0, "batch_size": 16, "schedule": "constant"}
    moving = {"epochs": 2, "learning_rate": 1e-3, "batch_size": 16, "schedule": "cosine"}

    def trained(name: str, settings: dict) -> dict:
        paths = (tmp_path / f"{name}.keras", tmp_path / f"{name}.json", tmp_path / f"{name}-ckpt")
        return train("digits", settings, digits, *paths)

    result = trained("frozen", {**base, "anneal": frozen})
    assert result["anneal"]["settings"] == frozen
    assert result["test_accuracy"] == result["anneal"]["test_accuracy_before"]
    assert result["anneal"]["kept_val_accuracy"] == pytest.approx(result["best_val_accuracy"], abs=1e-6)

    result = trained("moving", {**base, "anneal": moving})
    assert result["anneal"]["kept_val_accuracy"] >= result["best_val_accuracy"] - 1e-9
    assert json.loads((tmp_path / "moving.json").read_text())["anneal"]["settings"] == moving

    with pytest.raises(ValueError, match="`anneal` needs `plateau`"):
        trained("refused", {**SETTINGS, "anneal": moving})


def test_a_resumed_job_replays_the_plateau_counters_of_the_epochs_it_kept():
    from fdi.tasks.plateau import DEFAULTS, _replayed

    rule = {**DEFAULTS, "min_delta": 0.01, "decay_patience": 2}
    curve = [
        {"epoch": e + 1, "val_accuracy": a, "next_learning_rate": 1e-3}
        for e, a in enumerate([0.5, 0.6, 0.605, 0.6, 0.7, 0.7])
    ]
    state = _replayed(curve[:4], rule)  # 0.605 and 0.6 gain < 0.01 over 0.6: two calm epochs
    assert (state["best"], state["best_epoch"], state["wait"], state["calm"]) == (0.6, 2, 2, 0)
    state = _replayed(curve, rule)
    assert (state["best"], state["best_epoch"], state["wait"], state["calm"]) == (0.7, 5, 1, 1)


def test_the_tasks_table_says_how_each_original_was_trained():
    from fdi.tasks.table import _training

    assert _training({"epochs": 5}) == "5 epochs (fixed)"
    plateaued = {"epochs": 40, "epochs_run": 17, "best_epoch": 13, "plateaued": True, "epoch_cap": 40}
    rule = (
        "stop after 4 epochs without a validation-accuracy gain > 0.001 (rate x0.5 after 2), best epoch kept"
    )
    assert _training({**plateaued, "plateau_rule": rule}) == f"17 epochs, best 13 (plateaued; {rule})"
    capped = {**plateaued, "epochs_run": 40, "best_epoch": 40, "plateaued": False, "plateau_rule": rule}
    assert _training(capped).startswith("40 epochs, best 40 (cap of 40 reached, not plateaued;")
    tune = {"epochs": 3, "learning_rate": 0.0005, "schedule": "cosine"}
    annealed = {
        **plateaued,
        "plateau_rule": rule,
        "anneal": {"settings": tune, "test_accuracy_before": 0.9132},
    }
    assert _training(annealed).endswith(
        "then annealed as the compressed networks are fine-tuned "
        "(3 epochs, cosine from 0.0005; test 91.32% before)"
    )
