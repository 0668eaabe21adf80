"""Whole networks: their measured time against the device's time model.

The random-width networks of each family (fdi.profile.space.sample_whole_networks) are exported and
timed whole, by the same device code and instrument as the layers. A network's predicted time is
what the device's one time model says (fdi.timemodel.device_model, its registry entry): the sum
of its layers' Algorithm 1 predictions (fdi.profile.families.layers) and of its other ops' times
(pooling, concatenation, mean, softmax: each a non-negative line in its element count, fitted on
the single-op graphs timed with the family's layer shapes, `fit_op_models`), plus the in-network
term fitted on the zoo's sample networks (fdi.timemodel.op_models). The table fits nothing (the
op lines are fitted once, for the registry entry): the table, `fdi predict`, Algorithm 2 and the
compression objective price a network the same way.

A layer timed alone runs with its weights warm in the caches (the same weights, run after run);
inside a network whose weights outgrow the caches, every layer streams its weights from memory
again at each inference. Measured here on three VGG networks: their layers' warm times summed to
12-18% less than the network. Until 2026-12-01 a term was fitted per family on `calibration`
networks; the zoo's term, which never saw these families, predicts their test networks as well
(docs/results/2026-12-01-one-time-model.md). The calibration networks are still timed and listed
(role `calibration`); the summary scores the test networks, as before. The table also gives the
error of the plain sum of the parts (`error_layers_only_pct`).

The networks table says, per device and test network, the measured time (and how much a later
check job's measurement moved it), the prediction, the error; its summary gives per family the
share of networks predicted within 10% and Spearman's rank correlation between predicted and
measured times (what a compressor ranking candidates relies on).
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pandas as pd
from scipy.optimize import nnls
from scipy.stats import spearmanr

from fdi.profile.families import layers
from fdi.timemodel.dataset import summarise_timings
from fdi.timemodel.device_model import DeviceTimeModel, weight_megabytes

# A whole network's campaign time and its check job's may differ by this much (of the smaller) and
# both count: on a quiet run here (fresh clone of 62e90fb) the 56 networks' two times differed by
# up to 17.9% (a DeepSense network; median 2-7%). Beyond it one of the two was taken in a spell.
CHECK_TOLERANCE = 0.20


def fit_op_models(dataset: pd.DataFrame) -> dict[str, tuple[float, float]]:
    """Per op kind: (ms per element, ms per call), non-negative, from the dataset's op rows."""
    ops = dataset[dataset.layer == "op"]
    models = {}
    for kind, rows in ops.groupby("op"):
        design = np.column_stack([rows.elements.to_numpy(dtype=float), np.ones(len(rows))])
        # Relative error: weight rows by 1 / time, as Algorithm 1's configured loss does.
        weight = 1 / rows.time_ms.to_numpy()
        coef, _ = nnls(design * weight[:, None], rows.time_ms.to_numpy() * weight)
        models[str(kind)] = (float(coef[0]), float(coef[1]))
    return models


def layer_megabytes(family: str, widths: list[int]) -> list[float]:
    """Each layer's float32 weights (its param_size), in MB, in network order."""
    return [weight_megabytes(layer) for layer in layers(family, widths)]


def networks_table(
    structures: pd.DataFrame,
    timings: dict[str, pd.DataFrame],
    checks: dict[str, pd.DataFrame],
    time_models: dict[str, DeviceTimeModel],
    device_settings: dict[str, dict[str, Any]],
) -> pd.DataFrame:
    """One row per device and network: measured, check, noise, predicted (by the device's time
    model: its parts, and with the in-network term), error."""
    rows = []
    for device, device_timings in timings.items():
        measured = summarise_timings(device_timings, device_settings[device]).set_index("id")
        check = checks.get(device)
        checked = (
            summarise_timings(check, device_settings[device], floor_from=device_timings)
            .set_index("id")
            .time_ms
            if check is not None and len(check)
            else pd.Series(dtype=float)
        )
        missing = [network for network in structures.id if network not in measured.index]
        if missing:
            raise ValueError(f"device {device!r}: network {missing[0]} has no timing")
        model = time_models[device]
        device_rows = []
        for network in structures.itertuples():
            widths = [json.loads(network.widths)]
            [parts_ms], [predicted_ms] = model.priced_structures(network.family, widths)
            time_ms = float(measured.time_ms[network.id])
            check_ms = float(checked.get(network.id, np.nan))
            device_rows.append(
                {
                    "device": device,
                    "family": network.family,
                    "id": network.id,
                    "role": getattr(network, "role", "test"),
                    "widths": network.widths,
                    "weight_mb": float(sum(layer_megabytes(network.family, widths[0]))),
                    "measured_ms": time_ms,
                    "check_ms": check_ms,
                    "noise_pct": 100 * abs(check_ms - time_ms) / time_ms,
                    "predicted_parts_ms": parts_ms,
                    "predicted_in_network_ms": predicted_ms - parts_ms,
                    "predicted_ms": predicted_ms,
                    "passes": int(measured.passes[network.id]),
                    "flagged": bool(measured.flagged[network.id]),
                }
            )
        rows.append(with_errors(pd.DataFrame(device_rows)))
    return pd.concat(rows, ignore_index=True)


def check_disagrees(
    measured_ms: pd.Series, check_ms: pd.Series, tolerance: float = CHECK_TOLERANCE
) -> pd.Series:
    """Where the campaign's time and the later check job's differ by more than `tolerance` of the
    smaller one: one of them was taken in a spell the campaign job did not see (two passes in one
    long spell agree with each other). No check time: no disagreement."""
    high, low = np.fmax(measured_ms, check_ms), np.fmin(measured_ms, check_ms)
    return pd.Series((high / low - 1) > tolerance, index=measured_ms.index).fillna(False).astype(bool)


def with_errors(frame: pd.DataFrame) -> pd.DataFrame:
    """The networks with their errors, and `flagged` (fits nothing, scores nothing, is counted) if
    their time never settled or their check job disagrees with it (`check_disagrees`)."""
    frame = frame.copy()
    frame["check_disagrees"] = check_disagrees(frame.measured_ms, frame.check_ms)
    frame["flagged"] = frame.flagged.astype(bool) | frame.check_disagrees
    frame["error_pct"] = 100 * (frame.predicted_ms - frame.measured_ms) / frame.measured_ms
    frame["error_layers_only_pct"] = 100 * (frame.predicted_parts_ms - frame.measured_ms) / frame.measured_ms
    return frame


def with_zoo(table: pd.DataFrame, zoo: pd.DataFrame | None) -> pd.DataFrame:
    """The networks table with the zoo's networks as family `zoo` (fdi.timemodel.op_registry's
    zoo table: timed whole, predicted op by op by the same time model): its test networks are
    scored like the families', its sample networks (whose ops trained the models) are listed as
    role `sample`. No check job times them: their noise is not measured."""
    if zoo is None or zoo.empty:
        return table
    rows = pd.DataFrame(
        {
            "device": zoo.device,
            "family": "zoo",
            "id": zoo.network,
            "role": zoo.role,
            "widths": "",
            "measured_ms": zoo.measured_ms,
            "check_ms": np.nan,
            "noise_pct": np.nan,
            "predicted_ms": zoo.predicted_ms,
            "flagged": zoo.flagged.astype(bool) | zoo.measured_ms.isna(),
            "check_disagrees": False,
            "error_pct": zoo.error_pct,
        }
    )
    return pd.concat([table, rows], ignore_index=True)


def with_energy(table: pd.DataFrame, energy: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """Energy per inference (median over passes, mJ) and its spread per device and network, from
    the energy step's files; `energy` says "measured" or "not measured" (no source on the device,
    or none readable there), never an estimate."""
    table = table.copy()
    table["energy_mj"], table["energy_spread"], table["energy"] = np.nan, np.nan, "not measured"
    for device, summary in energy.items():
        if summary.empty:
            continue
        rows = table.device == device
        by_id = summary.set_index("id")
        table.loc[rows, "energy_mj"] = table.id[rows].map(by_id.energy_mj).astype(float)
        table.loc[rows, "energy_spread"] = table.id[rows].map(by_id.energy_spread).astype(float)
        table.loc[rows & table.energy_mj.notna(), "energy"] = "measured"
    return table


def networks_summary(table: pd.DataFrame) -> pd.DataFrame:
    """Per device and family, over the test networks: networks, share within 10%, median |error|
    (with and without the in-network term), noise, Spearman's rho."""
    rows = []
    if "role" in table:
        table = table[table.role == "test"]
    for (device, family), everything in table.groupby(["device", "family"], sort=False):
        # A network whose time never settled is counted, not scored: its time is not a measurement.
        group = everything[~everything.flagged] if "flagged" in everything else everything
        rho = spearmanr(group.predicted_ms, group.measured_ms).statistic if len(group) > 2 else np.nan
        rows.append(
            {
                "device": device,
                "family": family,
                "networks": len(group),
                "within_10_pct": 100 * float((group.error_pct.abs() <= 10).mean()) if len(group) else np.nan,
                "median_abs_error_pct": float(group.error_pct.abs().median()),
                "mean_error_pct": float(group.error_pct.mean()),
                "median_abs_error_layers_only_pct": float(
                    group.get("error_layers_only_pct", group.error_pct).abs().median()
                ),
                "median_in_network_ms": float(group.predicted_in_network_ms.median()),
                "median_noise_pct": float(group.noise_pct.median()),
                "spearman": float(rho),
                "measured_ms_range": f"{group.measured_ms.min():.3g}-{group.measured_ms.max():.3g}",
                "flagged": int(everything.flagged.sum()),
                "energy_mj_range": (
                    f"{group.energy_mj.min():.3g}-{group.energy_mj.max():.3g}"
                    if "energy_mj" in group and group.energy_mj.notna().all()
                    else "not measured"
                ),
            }
        )
    return pd.DataFrame(rows)


def networks_markdown(table: pd.DataFrame) -> str:
    summary = networks_summary(table)
    lines = [
        "| device | family | test networks | within ±10% | median abs error | mean error "
        "| median abs error, parts only | in-network term (median ms) "
        "| noise (later job) | Spearman "
        "| measured ms | flagged | energy mJ/inference |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for row in summary.itertuples():
        lines.append(
            f"| {row.device} | {row.family} | {row.networks} | {row.within_10_pct:.0f}% "
            f"| {row.median_abs_error_pct:.1f}% | {row.mean_error_pct:+.1f}% "
            f"| {_shown(row.median_abs_error_layers_only_pct, '.1f', '%')} "
            f"| {_shown(row.median_in_network_ms, '+.4g')} "
            f"| {_shown(row.median_noise_pct, '.1f', '%')} | {row.spearman:.3f} | {row.measured_ms_range} "
            f"| {row.flagged} "
            f"| {row.energy_mj_range} |"
        )
    return "\n".join(lines) + "\n"


def _shown(value: float, form: str, unit: str = "") -> str:
    """A summary figure, or "-" where it was not measured (the zoo has no check job)."""
    return "-" if np.isnan(value) else f"{value:{form}}{unit}"
