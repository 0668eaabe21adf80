"""The variants compared at equal accuracy: each curve's measured time at accuracy levels that both
curves reach, and the ratio between them (issue 29).

A pick (the most compressed point above the bar) compares networks at whatever accuracy each
variant's last good point happens to have: a faster pick at a lower accuracy says nothing about
time at the same accuracy, which is the paper's claim. Here every variant's points (all its
searches' points together, as its pick uses) are reduced to their accuracy-time frontier: the
points no other point of the curve beats on both (at least as accurate and at most as slow, one
of them strictly). Along the frontier, sorted by measured time, accuracy rises. The time at a
level `a` is found between the two frontier points around it: the fastest point with accuracy
>= `a` and the slower-side neighbour just below `a` (faster, less accurate); the time is linear
in accuracy between them. Never extrapolated:
- a level above every point of the curve: `not reached`;
- a level at or below the fastest point's accuracy: the curve was not compressed far enough to
  find out how fast it gets at that level; the fastest point's time is an upper bound, shown
  as `<= t` and never used as a ratio's denominator or numerator.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from fdi.compress.table import variant_order

# Levels below the original's test accuracy, in accuracy points (fractions): the original's own
# accuracy, then half a point, one and two points below (issue 29).
DEFAULT_DROPS = (0.0, 0.005, 0.01, 0.02)


@dataclass(frozen=True)
class TimeAtLevel:
    """A curve's time at one accuracy level: `exact` when interpolated between two frontier
    points (or a point right on the level), else an upper bound or not reached."""

    ms: float  # NaN when not reached
    kind: str  # "interpolated", "upper bound", "not reached"

    @property
    def exact(self) -> bool:
        return self.kind == "interpolated"

    def text(self) -> str:
        if self.kind == "not reached":
            return "not reached"
        return f"{self.ms:.3f}" if self.exact else f"<= {self.ms:.3f}"


def frontier(accuracy: Sequence[float], time_ms: Sequence[float]) -> tuple[np.ndarray, np.ndarray]:
    """The accuracy-time frontier of a set of points, sorted by time (accuracy strictly rising):
    a point stays if every faster point is strictly less accurate. Points with a missing time
    are dropped."""
    accuracy, time_ms = np.asarray(accuracy, dtype=float), np.asarray(time_ms, dtype=float)
    keep = ~(np.isnan(accuracy) | np.isnan(time_ms))
    accuracy, time_ms = accuracy[keep], time_ms[keep]
    # by time, and among equal times the most accurate first, so it alone can stay
    order = np.lexsort((-accuracy, time_ms))
    kept_acc, kept_time = [], []
    best = -np.inf
    for a, t in zip(accuracy[order], time_ms[order], strict=True):
        if a > best:
            kept_acc.append(a)
            kept_time.append(t)
            best = a
    return np.array(kept_acc), np.array(kept_time)


def time_at(accuracy: Sequence[float], time_ms: Sequence[float], level: float) -> TimeAtLevel:
    """The time a curve needs to reach test accuracy `level` (see the module's docstring)."""
    acc, times = frontier(accuracy, time_ms)
    if not len(acc) or level > acc[-1]:
        return TimeAtLevel(np.nan, "not reached")
    above = int(np.argmax(acc >= level))  # the fastest frontier point at or above the level
    if acc[above] == level:
        return TimeAtLevel(float(times[above]), "interpolated")
    if above == 0:
        return TimeAtLevel(float(times[0]), "upper bound")
    a0, a1, t0, t1 = acc[above - 1], acc[above], times[above - 1], times[above]
    return TimeAtLevel(float(t0 + (level - a0) / (a1 - a0) * (t1 - t0)), "interpolated")


def levels(original_accuracy: float, drops: Sequence[float] = DEFAULT_DROPS) -> list[float]:
    return [original_accuracy - drop for drop in drops]


def _variants(curve: pd.DataFrame) -> list[str]:
    names = {v for v in curve.variant.unique() if v != "original" and not v.startswith("tmin_")}
    return variant_order(sorted(names))


def times_at(
    curve: pd.DataFrame, column: str, level: float, variants: Sequence[str]
) -> dict[str, TimeAtLevel]:
    """Each of `variants`' time at accuracy `level`, from its points' `column` (measured ms)."""
    return {
        v: time_at(curve[curve.variant == v].test_accuracy, curve[curve.variant == v][column], level)
        for v in variants
    }


def table_rows(
    curve: pd.DataFrame, devices: Sequence[str], drops: Sequence[float] = DEFAULT_DROPS
) -> pd.DataFrame:
    """Rows to append to a task table (columns: `original` and every variant): per device and
    level, each variant's measured ms at that accuracy, and its ratio to DeepIoT's where both
    are interpolated. The original's column holds its own time at its own accuracy."""
    original = curve[curve.variant == "original"].iloc[0]
    variants = _variants(curve)
    rows: dict[str, dict[str, str]] = {}
    for device in devices:
        column = f"measured_ms_{device}"
        if column not in curve:
            continue
        for drop, level in zip(drops, levels(float(original.test_accuracy), drops), strict=True):
            label = "the original's accuracy" if drop == 0 else f"{100 * drop:g} points below"
            found = times_at(curve, column, level, variants)
            name = f"ms at {100 * level:.2f}% ({label}), {device}"
            rows[name] = {
                "original": f"{original[column]:.3f}" if drop == 0 else "",
                **{v: found[v].text() for v in variants},
            }
            if "deepiot" in found:
                base = found["deepiot"]
                rows[f"vs DeepIoT at {100 * level:.2f}%, {device}"] = {
                    "original": "",
                    **{v: _ratio(found[v], base) for v in variants},
                }
    frame = pd.DataFrame(rows).T
    frame.index.name = "row"
    return frame


def _ratio(value: TimeAtLevel, base: TimeAtLevel) -> str:
    if value.exact and base.exact:
        return f"{100 * (value.ms / base.ms - 1):+.1f}%"
    return "-"


def summary(curve: pd.DataFrame, devices: Sequence[str], drops: Sequence[float] = DEFAULT_DROPS) -> list[str]:
    """A sentence per device and FastDeepIoT variant (one per device's time model,
    `fastdeepiot_DEVICE`): its measured time against DeepIoT's at every level both reach, and,
    where t_min was timed, the same ratio of the two times' parts above it: a network's fixed
    costs (what no width removes) dilute the first, so the second says how much of the time
    compression can remove at all each variant removed (SPEC §5, the paper's HHAR figures)."""
    original = float(curve[curve.variant == "original"].test_accuracy.iloc[0])
    variants = _variants(curve)
    steered = [v for v in variants if v == "fastdeepiot" or v.startswith("fastdeepiot_")]
    if "deepiot" not in variants:
        return []
    lines = []
    for device in devices:
        column = f"measured_ms_{device}"
        if column not in curve:
            continue
        t_min = _t_min(curve, device)
        for variant in steered:
            parts, missing = [], []
            for level in levels(original, drops):
                found = times_at(curve, column, level, ("deepiot", variant))
                base, fast = found["deepiot"], found[variant]
                if base.exact and fast.exact:
                    part = f"{100 * level:.2f}%: {_ratio(fast, base)}"
                    if t_min is not None and base.ms > t_min:
                        above = (fast.ms - t_min) / (base.ms - t_min) - 1
                        part += f" ({100 * above:+.1f}% of the part above t_min)"
                    parts.append(part)
                else:
                    missing.append(f"{100 * level:.2f}% ({base.kind} / {fast.kind})")
            line = (
                f"At equal accuracy on {device}, {variant}'s measured time against DeepIoT's (each "
                "curve's accuracy-time frontier, time linear in accuracy between its two points "
                "around the level, never extrapolated): "
                + ("; ".join(parts) if parts else "no level both reach")
            )
            if t_min is not None:
                line += (
                    f". t_min on {device} (every width 1, then Algorithm 2) measured {t_min:.3f} ms: "
                    "no structure of this network runs faster"
                )
            if missing:
                line += f". Not compared (DeepIoT / {variant}): {'; '.join(missing)}"
            lines.append(line + ".")
    return lines


def _t_min(curve: pd.DataFrame, device: str) -> float | None:
    """The measured time of the network at t_min's widths on `device`, if it was timed."""
    rows = curve[curve.variant == f"tmin_{device}"]
    column = f"measured_ms_{device}"
    if rows.empty or column not in rows or pd.isna(rows[column].iloc[0]):
        return None
    return float(rows[column].iloc[0])


def above_original(curve: pd.DataFrame, other_seeds: Sequence[float], spread_sd: float) -> str | None:
    """Issue 29's check of a converged original: no compressed point's test accuracy above the
    original's by more than `spread_sd` s.d. of the seeds' accuracies. None without seeds."""
    original = float(curve[curve.variant == "original"].test_accuracy.iloc[0])
    if not other_seeds:
        return None
    sd = float(np.std([original, *other_seeds], ddof=1))
    points = curve[(curve.variant != "original") & ~curve.variant.str.startswith("tmin_")]
    best = float(points.test_accuracy.max())
    verdict = "none does" if best <= original + spread_sd * sd else "some do"
    return (
        f"Compressed points above the original: the best scores {100 * best:.2f}% against the "
        f"original's {100 * original:.2f}% + {spread_sd:g} s.d. of its seeds ({100 * spread_sd * sd:.2f} "
        f"points): {verdict} exceed it."
    )
