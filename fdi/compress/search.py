"""DeepIoT's compressor-critic search (SPEC §3), with the objective's structure term in the reward.

One iteration: the compressor gives keep probabilities from the critic's weights; elements under
the pruning threshold have theirs halved; every example of a batch gets its own mask sampled from
them (numpy, seeded by the iteration, so a resumed job draws what an uninterrupted one would);
the critic takes one step on the masked batch (Adam 1e-4, beta 0.5/0.9, L2); the reward of each
example is its loss plus lambda x the relative cost of the structure its mask keeps
(fdi.compress.objectives); the compressor takes a REINFORCE step with the advantage normalised by
moving averages (decay 0.9) of the batch's reward mean and std (RMSProp 1e-3). The threshold rises
from 0 to `final` in `steps` steps, one every `every` iterations.

Every `eval_every` iterations the current structure (elements at or above the threshold, at least
one per width) is measured: its parameter fraction and its accuracy on a validation slice of the
training data. The first time it falls under a size target with the accuracy goal met (or under
the next target, whatever the accuracy), its kept elements are extracted with the critic's
weights and saved: one point of the trade-off curve. The search ends when every target has its
point or after `iterations`; then, if targets are left, the structure it ended at is the last
point (target None). Its state is saved every `checkpoint_every` iterations, with its settings; a
killed job resumes there, a job under other settings starts over, and a finished search under the
same ones is reused (fdi.compress.reruns). fdi.compress.search_seeds runs it once per seed.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from fdi.atomic import replacing
from fdi.compress.compressor import Compressor
from fdi.compress.network import Prunable, prunable
from fdi.compress.objectives import StructureCost, parameter_fraction
from fdi.compress.reruns import finished_search, resumed
from fdi.tasks.finetune import accuracy
from fdi.tasks.plateau import validation_split
from fdi.timemodel.device_model import DeviceTimeModel

DEFAULTS: dict[str, Any] = {
    "objective": "none",
    "lambda": 0.0,
    "batch_size": 64,
    "iterations": 17000,
    "threshold": {"final": 0.825, "steps": 33, "every": 500},
    "eval_every": 200,
    "eval_samples": 2000,
    "validation_fraction": 0.1,
    "targets": [0.5, 0.25, 0.1],
    "accuracy_drop": 0.01,
    "critic": {"learning_rate": 1e-4, "beta_1": 0.5, "beta_2": 0.9, "l2": 5e-4},
    "compressor": {"learning_rate": 1e-3, "hidden": 64, "decay": 0.9},
    "initial_keep": {"conv": 0.8, "fc": 0.8, "recurrent": 0.5},
    "checkpoint_every": 100,
    "seed": 0,
}
PROGRESS_KEY = "progress.json"  # the checkpoint's progress record, beside the engine's "group/i" arrays


def settings_with_defaults(settings: dict[str, Any]) -> dict[str, Any]:
    merged = {**DEFAULTS, **settings}
    for key in ("threshold", "critic", "compressor", "initial_keep"):
        merged[key] = {**DEFAULTS[key], **settings.get(key, {})}
    return merged


def initial_keep(kinds: Sequence[str], keep: dict[str, float]) -> list[float]:
    """The compressor's starting keep probability of each width, by its kind (conv, fc, recurrent)."""
    return [float(keep[kind]) for kind in kinds]


def threshold_at(iteration: int, schedule: dict[str, Any]) -> float:
    """The pruning threshold in force at an iteration: 0, then `final`/`steps` higher every
    `every` iterations, up to `final`."""
    step = min(int(schedule["steps"]), iteration // int(schedule["every"]))
    return float(schedule["final"]) * step / int(schedule["steps"])


def effective(probabilities: Sequence[np.ndarray], threshold: float) -> list[np.ndarray]:
    """Sampling probabilities while searching: halved under the threshold (the authors' rule)."""
    return [np.where(p < threshold, 0.5 * p, p) for p in probabilities]


def kept_elements(probabilities: Sequence[np.ndarray], threshold: float) -> list[np.ndarray]:
    """The structure the probabilities stand for: elements at or above the threshold, and at
    least the most probable one of every width."""
    return [
        np.flatnonzero(p >= threshold) if (p >= threshold).any() else np.array([int(np.argmax(p))])
        for p in probabilities
    ]


class Search:
    """The compressor, the critic, their optimisers and the moving averages, with save/restore."""

    def __init__(self, network: Prunable, settings: dict[str, Any], cost: StructureCost) -> None:
        import keras
        import tensorflow as tf

        self.network, self.model, self.settings, self.cost = network, network.model, settings, cost
        matrices = network.matrices()
        shapes = [(int(m.shape[0]), int(m.shape[1])) for m in matrices]
        self.compressor = Compressor(
            shapes,
            initial_keep(network.kinds(), settings["initial_keep"]),
            int(settings["compressor"]["hidden"]),
            int(settings["seed"]),
        )
        critic = settings["critic"]
        self.critic_optimizer = keras.optimizers.Adam(
            float(critic["learning_rate"]), beta_1=float(critic["beta_1"]), beta_2=float(critic["beta_2"])
        )
        self.compressor_optimizer = keras.optimizers.RMSprop(float(settings["compressor"]["learning_rate"]))
        self.critic_optimizer.build(self.model.trainable_variables)
        self.compressor_optimizer.build(self.compressor.variables)
        self.average = tf.Variable([0.0, 1.0, 0.0], dtype=tf.float32, name="moving_mean_std_started")
        self.l2 = float(critic["l2"])
        self.decay = float(settings["compressor"]["decay"])
        self._step = tf.function(self._train_step, reduce_retracing=True, autograph=False)
        self._probabilities = tf.function(lambda: self.compressor(self.network.matrices()), autograph=False)

    def probabilities(self) -> list[np.ndarray]:
        return [p.numpy() for p in self._probabilities()]

    def _train_step(
        self, inputs: list[Any], labels: Any, masks: list[Any], costs: Any, threshold: Any, weight: Any
    ) -> Any:
        import keras
        import tensorflow as tf

        with tf.GradientTape() as tape:
            probabilities = self.network.forward(inputs, masks)
            losses = keras.losses.sparse_categorical_crossentropy(labels, probabilities)
            penalty = tf.add_n([tf.nn.l2_loss(v) for v in self.model.trainable_variables])
            critic_loss = tf.reduce_mean(losses) + self.l2 * penalty
        gradients = tape.gradient(critic_loss, self.model.trainable_variables)
        self.critic_optimizer.apply_gradients(zip(gradients, self.model.trainable_variables, strict=True))
        rewards = tf.stop_gradient(losses) + weight * costs
        mean, std = tf.reduce_mean(rewards), tf.math.reduce_std(rewards)
        started = self.average[2]
        moving_mean = tf.where(started > 0, self.decay * self.average[0] + (1 - self.decay) * mean, mean)
        moving_std = tf.where(started > 0, self.decay * self.average[1] + (1 - self.decay) * std, std)
        self.average.assign(tf.stack([moving_mean, moving_std, 1.0]))
        advantage = (rewards - moving_mean) / tf.maximum(1.0, moving_std)
        with tf.GradientTape() as tape:
            keep = self.compressor(self.network.matrices())
            log_probability = 0.0
            for p, m in zip(keep, masks, strict=True):
                p = tf.where(p < threshold, 0.5 * p, p)
                chosen = p[None, :] * m + (1 - p[None, :]) * (1 - m)
                log_probability += tf.reduce_sum(tf.math.log(tf.maximum(chosen, 1e-8)), axis=1)
            compressor_loss = tf.reduce_mean(log_probability * advantage)
        gradients = tape.gradient(compressor_loss, self.compressor.variables)
        self.compressor_optimizer.apply_gradients(zip(gradients, self.compressor.variables, strict=True))
        return tf.reduce_mean(losses), mean

    def step(
        self,
        inputs: list[np.ndarray],
        labels: np.ndarray,
        masks: list[np.ndarray],
        costs: np.ndarray,
        threshold: float,
    ) -> tuple[float, float]:
        loss, reward = self._step(
            inputs,
            labels,
            masks,
            costs.astype(np.float32),
            np.float32(threshold),
            np.float32(self.settings["lambda"]),
        )
        return float(loss), float(reward)

    def state(self) -> dict[str, np.ndarray]:
        arrays: dict[str, np.ndarray] = {}
        groups = {
            "critic": self.model.weights,
            "compressor": self.compressor.variables,
            "critic_optimizer": self.critic_optimizer.variables,
            "compressor_optimizer": self.compressor_optimizer.variables,
            "average": [self.average],
        }
        for group, variables in groups.items():
            for i, variable in enumerate(variables):
                arrays[f"{group}/{i}"] = np.asarray(variable.numpy())
        return arrays

    def restore(self, arrays: dict[str, np.ndarray]) -> None:
        groups = {
            "critic": self.model.weights,
            "compressor": self.compressor.variables,
            "critic_optimizer": self.critic_optimizer.variables,
            "compressor_optimizer": self.compressor_optimizer.variables,
            "average": [self.average],
        }
        for group, variables in groups.items():
            for i, variable in enumerate(variables):
                variable.assign(arrays[f"{group}/{i}"])


def _take_points(
    progress: dict[str, Any],
    targets: list[float],
    candidate: dict[str, Any],
    model: Any,
    points_dir: Path,
    last: bool,
    log: Callable[[str], None],
) -> None:
    """Settle the curve's next points with a measured structure. Target k's point is the first
    structure under it that meets the accuracy goal; until one does, the most accurate structure
    seen under it is kept in reserve, and it becomes the point once the search passes the next
    target or ends."""
    k = len(progress["points"])
    while k < len(targets) and candidate["fraction"] <= targets[k]:
        reserve = progress.get("reserve")
        path = points_dir / f"target-{k}.keras"
        if (
            candidate["accuracy_goal_met"]
            or reserve is None
            or candidate["validation_accuracy"] > reserve["validation_accuracy"]
        ):
            model.save(path)
            progress["reserve"] = reserve = {**candidate, "target": targets[k]}
        next_passed = k + 1 < len(targets) and candidate["fraction"] <= targets[k + 1]
        if not (reserve["accuracy_goal_met"] or next_passed or last):
            return
        progress["points"].append(reserve)
        progress["reserve"] = None
        log(
            f"point for target {targets[k]:.0%} of {reserve['measure']}: widths {reserve['widths']}, "
            f"params {reserve['parameter_fraction']:.1%}, "
            f"validation accuracy {reserve['validation_accuracy']:.4f}"
            + ("" if reserve["accuracy_goal_met"] else " (under the accuracy goal: the best seen)")
        )
        k += 1


def search(
    original_path: Path,
    data_path: Path,
    family: str,
    settings: dict[str, Any],
    out_dir: Path,
    time_model: DeviceTimeModel | None = None,
    log: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Run the search on a task's original (a family network, read from its graph as any model
    is) and its data artefact; write `out_dir/points/target-K.keras` and `out_dir/search.json`."""
    import keras

    from fdi.tasks import artefact

    settings = settings_with_defaults(settings)
    arrays, record = artefact.load(data_path)
    train_x, train_y, valid_x, valid_y = validation_split(
        arrays, family, float(settings["validation_fraction"]), int(settings["seed"])
    )
    network = prunable(keras.models.load_model(original_path, compile=False), family)
    extra = {"family": family, "data": record["data"]}
    return run_search(
        network, (train_x, train_y), (valid_x, valid_y), settings, out_dir, time_model, log, extra
    )


def run_search(
    network: Prunable,
    train: tuple[list[np.ndarray], np.ndarray],
    valid: tuple[list[np.ndarray], np.ndarray],
    settings: dict[str, Any],
    out_dir: Path,
    time_model: DeviceTimeModel | None = None,
    log: Callable[[str], None] = print,
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """DeepIoT's search on any prunable network (resumable from `out_dir/checkpoint.npz`): the
    compressor and the critic trained on `train`, each structure scored on `valid`; writes
    `out_dir/points/target-K.keras` and `out_dir/search.json` (with `extra` merged in)."""
    import keras
    import tensorflow as tf

    settings = settings_with_defaults(settings)
    seed = int(settings["seed"])
    keras.utils.set_random_seed(seed)
    tf.config.experimental.enable_op_determinism()
    out_dir = Path(out_dir)
    (out_dir / "points").mkdir(parents=True, exist_ok=True)
    checkpoint = out_dir / "checkpoint.npz"  # the engine's arrays and the progress, in one file
    (train_x, train_y), (valid_x, valid_y) = train, valid
    valid_x, valid_y = (
        [x[: int(settings["eval_samples"])] for x in valid_x],
        valid_y[: int(settings["eval_samples"])],
    )
    model = network.model
    original = network.widths
    cost = StructureCost(settings["objective"], network, original, time_model)
    time_cost = StructureCost("time", network, original, time_model) if time_model else None
    engine = Search(network, settings, cost)
    measure = "params" if cost.term == "none" else cost.term
    goal = accuracy(model, valid_x, valid_y) - float(settings["accuracy_drop"])
    targets = sorted((float(t) for t in settings["targets"]), reverse=True)
    progress: dict[str, Any] = {
        "iteration": 0,
        "points": [],
        "original_validation_accuracy": goal + float(settings["accuracy_drop"]),
        "settings": json.loads(json.dumps(settings)),  # as the checkpoint keeps them
    }
    identity = {"original_widths": original, "original_cost": cost.scale, **(extra or {})}
    identity["original_validation_accuracy"] = progress["original_validation_accuracy"]
    done = finished_search(out_dir, settings, identity, log)
    if done is not None:
        return done
    progress, state = resumed(checkpoint, PROGRESS_KEY, progress, log)
    if state is not None:
        engine.restore(state)
    batch, total = int(settings["batch_size"]), int(settings["iterations"])
    started = time.perf_counter()
    iteration = int(progress["iteration"])
    while iteration < total and len(progress["points"]) < len(targets):
        threshold = threshold_at(iteration, settings["threshold"])
        rng = np.random.default_rng([seed, iteration])
        rows = rng.choice(len(train_y), size=batch, replace=False)
        sampling = effective(engine.probabilities(), threshold)
        masks = [(rng.random((batch, len(p))) < p).astype(np.float32) for p in sampling]
        sizes = np.maximum(1, np.column_stack([m.sum(axis=1) for m in masks]).astype(int))
        costs = cost(sizes.tolist())
        loss, reward = engine.step([x[rows] for x in train_x], train_y[rows], masks, costs, threshold)
        iteration += 1
        if iteration % int(settings["eval_every"]) == 0 or iteration == total:
            probabilities = engine.probabilities()
            keep = kept_elements(probabilities, threshold)
            widths = [len(k) for k in keep]
            parameters = parameter_fraction(network, widths, original)
            fraction = float(cost([widths])[0]) if cost.term != "none" else parameters
            small = network.extract(keep, name="point")
            valid_accuracy = accuracy(small, valid_x, valid_y)
            predicted = (
                f", predicted {float(time_cost([widths])[0]):.0%} of the original's time" if time_cost else ""
            )
            log(
                f"iteration {iteration}/{total}: threshold {threshold:.3f}, loss {loss:.3f}, "
                f"reward {reward:.3f}, widths {widths}, params {parameters:.1%}, {measure} {fraction:.1%}, "
                f"validation accuracy {valid_accuracy:.4f}{predicted} "
                f"({time.perf_counter() - started:.0f} s)"
            )
            candidate = {
                "iteration": iteration,
                "threshold": threshold,
                "widths": widths,
                "keep": [k_.tolist() for k_ in keep],
                "parameter_fraction": parameters,
                "measure": measure,
                "fraction": fraction,
                "validation_accuracy": valid_accuracy,
                "accuracy_goal_met": bool(valid_accuracy >= goal),
            }
            progress["last_evaluated"] = candidate
            _take_points(progress, targets, candidate, small, out_dir / "points", iteration >= total, log)
        if iteration % int(settings["checkpoint_every"]) == 0:
            progress["iteration"] = iteration
            with replacing(checkpoint) as partial, partial.open("wb") as out:
                np.savez(out, **engine.state(), **{PROGRESS_KEY: np.asarray(json.dumps(progress))})
    progress["iteration"] = iteration
    last = progress.get("last_evaluated")
    if (
        len(progress["points"]) < len(targets)
        and last
        and all(p["iteration"] != last["iteration"] for p in progress["points"])
    ):
        # Targets out of reach (a network's fixed costs bound its time): the structure the search
        # ended at is the curve's last point, so every variant has its most compressed network.
        small = network.extract([np.asarray(k) for k in last["keep"]], name="point")
        small.save(out_dir / "points" / f"target-{len(progress['points'])}.keras")
        progress["points"].append({**last, "target": None})
        log(
            f"end of search: targets {targets[len(progress['points']) - 1 :]} not reached; "
            f"the last structure {last['widths']} ({last['measure']} {last['fraction']:.1%}) "
            "is the last point"
        )
    result = {
        **progress,
        **(extra or {}),
        "original_widths": original,
        "original_cost": cost.scale,  # the objective's measure of the original (ms for time)
        "targets": targets,
        "unreached_targets": [t for t in targets if t not in {p["target"] for p in progress["points"]}],
        "settings": settings,
        "wall_s_this_job": round(time.perf_counter() - started, 1),
    }
    (out_dir / "search.json").write_text(json.dumps(result, indent=1) + "\n")
    checkpoint.unlink(missing_ok=True)
    return result
