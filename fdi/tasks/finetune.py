"""Training a network further from where it is, keeping the epoch that does best on a validation
slice: the compressed networks' fine-tune (fdi.compress.finish) and, with a task's `anneal`, the
last phase of its original's training (fdi.tasks.train), so neither side gets a training phase the
other did not (issue 29). It lives with the tasks because training an original is the lower stage.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import numpy as np

FINETUNE_DEFAULTS = {"epochs": 2, "learning_rate": 5e-4, "batch_size": 128, "seed": 0, "schedule": "cosine"}


def accuracy(model: Any, inputs: list[np.ndarray], labels: np.ndarray) -> float:
    predicted = model.predict(inputs if len(inputs) > 1 else inputs[0], batch_size=256, verbose=0)
    return float(np.mean(np.argmax(predicted, axis=1) == labels))


def fine_tune_on(
    model: Any,
    train: tuple[list[np.ndarray], np.ndarray],
    valid: tuple[list[np.ndarray], np.ndarray],
    settings: dict[str, Any],
    log: Callable[[str], None],
) -> float:
    """Train `model` further on `train`, keeping its best epoch on `valid` (the starting weights
    included); see fdi.compress.finish.fine_tune for the settings. Returns the kept validation
    accuracy."""
    import keras

    from fdi.tasks import plateau

    settings = {**FINETUNE_DEFAULTS, **settings}
    rule = None if settings.get("plateau") is None else {**plateau.DEFAULTS, **settings["plateau"]}
    keras.utils.set_random_seed(int(settings["seed"]))
    (train_x, train_y), (valid_x, valid_y) = train, valid
    epochs, batch = int(settings["epochs"]), int(settings["batch_size"])
    rate: Any = float(settings["learning_rate"])
    if settings["schedule"] == "cosine" and epochs and rule is None:
        rate = keras.optimizers.schedules.CosineDecay(rate, decay_steps=epochs * -(-len(train_y) // batch))
    elif settings["schedule"] not in ("cosine", "constant"):
        raise ValueError(f"finetune.schedule must be cosine or constant, not {settings['schedule']!r}")
    model.compile(optimizer=keras.optimizers.Adam(rate), loss="sparse_categorical_crossentropy")
    best, best_weights, best_epoch = accuracy(model, valid_x, valid_y), model.get_weights(), 0
    log(f"  before fine-tuning: validation accuracy {best:.4f}")
    state: dict[str, Any] = {"best": None, "best_epoch": None, "wait": 0, "calm": 0}
    if rule is not None:
        plateau.step(state, best, 0, rule)
    for epoch in range(epochs):
        started = time.perf_counter()
        history = model.fit(
            train_x if len(train_x) > 1 else train_x[0],
            train_y,
            batch_size=batch,
            epochs=1,
            shuffle=True,
            verbose=0,
        )
        score = accuracy(model, valid_x, valid_y)
        log(
            f"  fine-tune epoch {epoch + 1}/{epochs}: loss {history.history['loss'][-1]:.4f}, "
            f"validation accuracy {score:.4f} ({time.perf_counter() - started:.0f} s)"
        )
        if score >= best:
            best, best_weights, best_epoch = score, model.get_weights(), epoch + 1
        if rule is not None:
            _, decays = plateau.step(state, score, epoch + 1, rule)
            if decays:
                model.optimizer.learning_rate.assign(
                    float(np.asarray(model.optimizer.learning_rate)) * rule["decay"]
                )
            if state["wait"] >= rule["patience"]:
                log(f"  plateau: no validation gain > {rule['min_delta']:g} for {state['wait']} epochs")
                break
    model.set_weights(best_weights)
    log(f"  kept epoch {best_epoch} (validation accuracy {best:.4f})")
    return best
