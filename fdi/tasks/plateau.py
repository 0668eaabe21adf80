"""Training until the validation accuracy stops improving: a converged original, resumably.

A network trained for a fixed few epochs may still be learning at the last one; then every
compressed network fine-tuned from it can score above it, and "keeps the original's accuracy"
says nothing. So an original trains on the training split minus a seeded validation slice
(`validation_split`) and, after every epoch, the slice's accuracy decides:
- an improvement is a gain of more than `min_delta` over the best epoch so far;
- after `decay_patience` epochs without one, the learning rate is multiplied by `decay`;
- after `patience` epochs without one, training stops (`epochs` stays a cap);
- the best epoch's weights are the ones kept.

Keras's own EarlyStopping and ReduceLROnPlateau keep their counters in memory, so a job killed and
resumed from its BackupAndRestore checkpoint would start them again and train longer than an
unbroken one. Here the state (every epoch's accuracy and rate, the best epoch, the counts) is
written to `plateau.json` and the best weights to `best.weights.h5` in the checkpoint directory
after each epoch, and read back on resume.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from fdi.profile.families import inputs_of

DEFAULTS = {"patience": 4, "min_delta": 0.001, "decay": 0.5, "decay_patience": 2, "validation_fraction": 0.1}


def validation_split(
    arrays: dict[str, np.ndarray], family: str, fraction: float, seed: int
) -> tuple[list[np.ndarray], np.ndarray, list[np.ndarray], np.ndarray]:
    """Training inputs and labels, and a seeded validation slice of the training data (the test
    split stays untouched)."""
    inputs, labels = inputs_of(arrays, family, "train"), arrays["y_train"]
    order = np.random.default_rng(seed).permutation(len(labels))
    cut = round(len(labels) * (1 - fraction))
    train, valid = order[:cut], order[cut:]
    return [x[train] for x in inputs], labels[train], [x[valid] for x in inputs], labels[valid]


def at_patience(patience: int) -> dict[str, int]:
    """The rule at another patience: stop after `patience` epochs without a validation gain, the
    rate halved after half as many (the defaults pair 4 with 2). `fdi compress --finetune-patience`
    and benchmarks/user_models.py train both sides under it."""
    return {"patience": patience, "decay_patience": max(1, patience // 2)}


def criterion(settings: dict[str, Any]) -> str:
    """The plateau rule in words, for the tasks table."""
    rule = {**DEFAULTS, **settings}
    return (
        f"stop after {rule['patience']} epochs without a validation-accuracy gain > {rule['min_delta']:g} "
        f"(rate x{rule['decay']:g} after {rule['decay_patience']}), best epoch kept"
    )


def plateau_callback(settings: dict[str, Any], checkpoint_dir: Path) -> Any:
    """The Keras callback applying the rule above, its state in `checkpoint_dir`."""
    import keras

    rule = {**DEFAULTS, **settings}
    state_path, weights_path = Path(checkpoint_dir) / "plateau.json", Path(checkpoint_dir) / "best.weights.h5"

    class Plateau(keras.callbacks.Callback):
        def __init__(self) -> None:
            super().__init__()
            self.state: dict[str, Any] = {"curve": [], "best": None, "best_epoch": None, "wait": 0, "calm": 0}

        def on_train_begin(self, logs: dict | None = None) -> None:
            if state_path.exists():  # a resumed job: the counters and rate where the last epoch left them
                self.state = json.loads(state_path.read_text())

        def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
            curve = self.state["curve"]
            if len(curve) > epoch:  # killed after writing this state, before the epoch's checkpoint
                self.state = _replayed(curve[:epoch], rule)
            if self.state["curve"] and len(self.state["curve"]) == epoch:
                self.model.optimizer.learning_rate.assign(self.state["curve"][-1]["next_learning_rate"])

        def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
            logs = logs or {}
            accuracy, state = float(logs["val_accuracy"]), self.state
            rate = float(np.asarray(self.model.optimizer.learning_rate))
            improved, decays = step(state, accuracy, epoch + 1, rule)
            if improved:
                self.model.save_weights(weights_path)
            next_rate = rate * rule["decay"] if decays else rate
            if decays:
                self.model.optimizer.learning_rate.assign(next_rate)
            state["curve"].append(
                {
                    "epoch": epoch + 1,
                    "train_accuracy": float(logs.get("accuracy", float("nan"))),
                    "val_accuracy": accuracy,
                    "learning_rate": rate,
                    "next_learning_rate": next_rate,
                }
            )
            if state["wait"] >= rule["patience"]:
                self.model.stop_training = True
                print(
                    f"plateau: no validation gain > {rule['min_delta']:g} for {state['wait']} epochs; "
                    f"keeping epoch {state['best_epoch']} ({state['best']:.4f})",
                    flush=True,
                )
            state_path.write_text(json.dumps(state, indent=1) + "\n")

        def on_train_end(self, logs: dict | None = None) -> None:
            if weights_path.exists():
                self.model.load_weights(weights_path)

    return Plateau()


def step(state: dict[str, Any], accuracy: float, epoch: int, rule: dict[str, Any]) -> tuple[bool, bool]:
    """One epoch of the rule on `state`'s counters (`best`, `best_epoch`, `wait`, `calm`):
    (whether it improved, whether the rate decays). Also the compressed networks' fine-tuning
    (fdi.compress.finish.fine_tune), so both sides train under one rule."""
    improved = state["best"] is None or accuracy > state["best"] + rule["min_delta"]
    if improved:
        state.update(best=accuracy, best_epoch=epoch, wait=0, calm=0)
    else:
        state["wait"] += 1
        state["calm"] += 1
    decays = state["calm"] >= rule["decay_patience"]
    if decays:
        state["calm"] = 0
    return improved, decays


def _replayed(curve: list[dict[str, Any]], rule: dict[str, Any]) -> dict[str, Any]:
    """The rule's counters after the epochs of `curve`, as the callback would have left them."""
    state: dict[str, Any] = {"curve": curve, "best": None, "best_epoch": None, "wait": 0, "calm": 0}
    for point in curve:
        step(state, point["val_accuracy"], point["epoch"], rule)
    return state


def summary(checkpoint_dir: Path, epochs: int, settings: dict[str, Any]) -> dict[str, Any]:
    """What the plateau rule did, for metrics.json: the curve, the best epoch, whether the
    validation accuracy had plateaued by the rule or the epoch cap ended training first."""
    rule = {**DEFAULTS, **settings}
    state = json.loads((Path(checkpoint_dir) / "plateau.json").read_text())
    return {
        "curve": state["curve"],
        "best_epoch": state["best_epoch"],
        "best_val_accuracy": state["best"],
        "epochs_run": len(state["curve"]),
        "epoch_cap": epochs,
        "plateaued": state["wait"] >= rule["patience"],
        "plateau_rule": criterion(rule),
    }
