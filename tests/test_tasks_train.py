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
