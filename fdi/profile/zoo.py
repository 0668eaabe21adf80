"""Networks nobody here designed: Keras Applications architectures and common small models, at
several input sizes and width multipliers, built without any download (`weights=None`).

A zoo network is named `<architecture>-<input size>[-a<width multiplier>]` (`mobilenet_v2-96-a0.5`).
Its ops, cut out of its converted graph (fdi.profile.cut_ops), are what the op models learn from;
the network timed whole is what they are checked against (issue 27; nn-Meter samples around its
model zoo the same way). Input sizes and width multipliers a network's constructor refuses are
named in a ValueError before anything is built.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

CLASSES = 1000  # the ImageNet head every Keras Application has; small models their own


@dataclass(frozen=True)
class Architecture:
    """How to build one architecture: its constructor, the smallest input it takes, and the width
    multipliers it offers (empty: none)."""

    build: Callable[[int, float | None], Any]
    min_size: int
    alphas: tuple[float, ...] = ()


def _application(name: str, **fixed: Any) -> Callable[[int, float | None], Any]:
    def build(size: int, alpha: float | None) -> Any:
        import keras

        constructor = getattr(keras.applications, name)
        extra = {"alpha": alpha} if alpha is not None else {}
        return constructor(input_shape=(size, size, 3), weights=None, classes=CLASSES, **extra, **fixed)

    return build


def _lenet(size: int, alpha: float | None) -> Any:
    """LeNet-5 (LeCun et al. 1998) on a size x size grey image: two 5x5 convs with 2x2 max pools,
    three dense layers; ReLU for the paper's tanh-like squashing."""
    import keras

    layers = keras.layers
    inputs = keras.Input((size, size, 1))
    x = layers.Conv2D(6, 5, padding="same", activation="relu")(inputs)
    x = layers.MaxPooling2D(2)(x)
    x = layers.Conv2D(16, 5, activation="relu")(x)
    x = layers.MaxPooling2D(2)(x)
    x = layers.Flatten()(x)
    x = layers.Dense(120, activation="relu")(x)
    x = layers.Dense(84, activation="relu")(x)
    return keras.Model(inputs, layers.Dense(10, activation="softmax")(x), name="lenet5")


def _kws_cnn(size: int, alpha: float | None) -> Any:
    """A keyword-spotting CNN on size x 10 MFCC frames (Sainath and Parada 2015's cnn-trad-fpool3
    shape, as the TensorFlow speech-commands example builds it): 20x8 and 10x4 convs, a 1x3 pool."""
    import keras

    layers = keras.layers
    inputs = keras.Input((size, 10, 1))
    x = layers.Conv2D(64, (20, 8), padding="same", activation="relu")(inputs)
    x = layers.MaxPooling2D((1, 3))(x)
    x = layers.Conv2D(64, (10, 4), padding="same", activation="relu")(x)
    x = layers.Flatten()(x)
    return keras.Model(inputs, layers.Dense(12, activation="softmax")(x), name="kws_cnn")


ARCHITECTURES: dict[str, Architecture] = {
    "mobilenet": Architecture(_application("MobileNet"), 32, (0.25, 0.5, 0.75, 1.0)),
    "mobilenet_v2": Architecture(_application("MobileNetV2"), 32, (0.35, 0.5, 0.75, 1.0, 1.3)),
    "mobilenet_v3_small": Architecture(_application("MobileNetV3Small"), 32, (0.75, 1.0)),
    "mobilenet_v3_large": Architecture(_application("MobileNetV3Large"), 32, (0.75, 1.0)),
    "efficientnet_b0": Architecture(_application("EfficientNetB0"), 32),
    "resnet50": Architecture(_application("ResNet50"), 32),
    "densenet121": Architecture(_application("DenseNet121"), 32),
    "vgg16": Architecture(_application("VGG16"), 32),
    "lenet5": Architecture(_lenet, 28),
    "kws_cnn": Architecture(_kws_cnn, 20),
}

_NAME = re.compile(r"^(?P<arch>[a-z0-9_]+)-(?P<size>\d+)(?:-a(?P<alpha>\d+(?:\.\d+)?))?$")


@dataclass(frozen=True)
class ZooNetwork:
    architecture: str
    size: int
    alpha: float | None = None

    @property
    def name(self) -> str:
        return f"{self.architecture}-{self.size}" + (f"-a{self.alpha:g}" if self.alpha is not None else "")

    def build(self) -> Any:
        """The Keras model at batch 1 (as it is timed), untrained weights."""
        from fdi.profile.export import at_batch_one

        return at_batch_one(ARCHITECTURES[self.architecture].build(self.size, self.alpha))


def parse(name: str) -> ZooNetwork:
    """A zoo network from its name; an unknown architecture, a size below the architecture's
    smallest input, or a width multiplier it does not offer is a ValueError naming it."""
    match = _NAME.match(name)
    if match is None:
        raise ValueError(
            f"zoo network {name!r}: expected <architecture>-<size>[-a<alpha>], e.g. mobilenet_v2-96-a0.5"
        )
    architecture = match["arch"]
    if architecture not in ARCHITECTURES:
        raise ValueError(f"zoo network {name!r}: unknown architecture; known: {', '.join(ARCHITECTURES)}")
    known = ARCHITECTURES[architecture]
    size = int(match["size"])
    if size < known.min_size:
        raise ValueError(
            f"zoo network {name!r}: input size {size} < {known.min_size}, the smallest {architecture} takes"
        )
    alpha = float(match["alpha"]) if match["alpha"] else None
    if alpha is not None and alpha not in known.alphas:
        offered = ", ".join(f"{a:g}" for a in known.alphas) or "none"
        raise ValueError(f"zoo network {name!r}: width multiplier {alpha:g} not offered (offered: {offered})")
    if alpha is None and known.alphas:
        alpha = 1.0
    return ZooNetwork(architecture, size, alpha)


# Ops that only relabel a tensor (no data moved): priced at zero, never timed.
RELABEL_OPS = {"RESHAPE", "SQUEEZE", "EXPAND_DIMS"}


def export_network(name: str, network_path: Path, ops_dir: Path | None = None) -> list[dict[str, Any]]:
    """Build and convert zoo network `name`, write it whole to `network_path` (kept if already
    there) and, given `ops_dir`, every op it holds alone (`ops_dir/KEY.tflite`, one file per op
    key: ops of the same kind, shapes and options are timed once). Returns one row per op of the
    main graph: network, index, key, whether it is timed, and its structure
    (fdi.profile.tflite_ops.op_structure)."""
    from fdi.profile.cut_ops import SUBGRAPH_OPS, cut_op
    from fdi.profile.export import to_tflite
    from fdi.profile.tflite_ops import op_key, op_structure, read_graph

    network_path = Path(network_path)
    if not network_path.exists():
        network_path.parent.mkdir(parents=True, exist_ok=True)
        network_path.write_bytes(to_tflite(parse(name).build()))
    data = network_path.read_bytes()
    rows = []
    for op in read_graph(network_path).main:
        key = op_key(op)
        timed = op.kind not in RELABEL_OPS and op.kind not in SUBGRAPH_OPS
        if ops_dir is not None and timed and not (Path(ops_dir) / f"{key}.tflite").exists():
            Path(ops_dir).mkdir(parents=True, exist_ok=True)
            (Path(ops_dir) / f"{key}.tflite").write_bytes(cut_op(data, op.index))
        rows.append({"network": name, "index": op.index, "key": key, "timed": timed, **op_structure(op)})
    return rows


OPS_TABLE = "ops.parquet"  # in a zoo shard's graph folder: every op of its networks


def export_shard(networks: Any, out_dir: Path, log: Any = print) -> Path:
    """A shard of the zoo scope (fdi.profile.space.sample_zoo rows): every network whole as
    `<id>.tflite`, the ops of its `sample` networks alone as `<key>.tflite`, and the ops table
    (`ops.parquet`: every op of every network, with its role) that the op models and the
    predictions read."""
    import pandas as pd

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    rows = []
    for network in networks.itertuples():
        ops = export_network(
            network.name, out_dir / f"{network.id}.tflite", out_dir if network.role == "sample" else None
        )
        rows += [{"id": network.id, "role": network.role, **row} for row in ops]
        cut = sum(row["timed"] for row in ops) if network.role == "sample" else 0
        log(f"{network.name} ({network.role}): {len(ops)} ops, {cut} cut out to be timed alone")
    table = out_dir / OPS_TABLE
    pd.DataFrame(rows).to_parquet(table, index=False)
    return table
