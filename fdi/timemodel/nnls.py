"""Non-negative least squares for many small problems at once, from their Gram matrices.

Algorithm 1 scores every candidate split by the NNLS error of both sides. Solving thousands of
tiny problems one by one with scipy would dominate the fit time, so we solve them from
sufficient statistics (G = X'X, c = X'y, yy = y'y), which prefix sums give for every range
threshold at once.

Why enumeration is exact: the NNLS optimum w* is the unconstrained least-squares solution on its
own support S*, so it is among the per-subset solutions; every other feasible (w >= 0)
per-subset solution is a feasible point, so its error is no smaller. The minimum error over the
feasible subset solutions is therefore the NNLS optimum. With p <= 5 columns that is at most
31 batched solves of p x p systems.
"""

from __future__ import annotations

import itertools

import numpy as np

# Relative ridge that keeps collinear subsets (e.g. a constant column beside the intercept)
# solvable; far below any effect on the error at float64 precision.
_RIDGE = 1e-10
_FEASIBLE_TOLERANCE = 1e-12


def nnls_from_gram(gram: np.ndarray, xty: np.ndarray, yty: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Solve min ||Xw - y||^2 s.t. w >= 0 for a batch, given G (m,p,p), c (m,p), yy (m,).

    Returns (w of shape (m,p), sum of squared errors of shape (m,)).
    """
    gram = np.asarray(gram, dtype=float)
    xty = np.asarray(xty, dtype=float)
    yty = np.asarray(yty, dtype=float)
    m, p = xty.shape
    best_w = np.zeros((m, p))
    best_sse = yty.copy()  # the empty support: w = 0
    scale = np.maximum(np.einsum("mii->m", gram) / p, 1e-300)
    for size in range(1, p + 1):
        for subset in itertools.combinations(range(p), size):
            idx = np.array(subset)
            g = gram[:, idx[:, None], idx[None, :]] + (_RIDGE * scale)[:, None, None] * np.eye(size)
            c = xty[:, idx]
            w = np.linalg.solve(g, c[..., None])[..., 0]
            feasible = (w >= -_FEASIBLE_TOLERANCE * np.abs(w).max(axis=1, keepdims=True)).all(axis=1)
            w = np.clip(w, 0.0, None)
            g_exact = gram[:, idx[:, None], idx[None, :]]
            sse = yty - 2.0 * np.einsum("mi,mi->m", w, c) + np.einsum("mi,mij,mj->m", w, g_exact, w)
            better = feasible & (sse < best_sse)
            if better.any():
                best_sse = np.where(better, sse, best_sse)
                full = np.zeros((m, p))
                full[:, idx] = w
                best_w = np.where(better[:, None], full, best_w)
    return best_w, np.maximum(best_sse, 0.0)


def nnls(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, float]:
    """NNLS for one problem: (w, sum of squared errors)."""
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    w, sse = nnls_from_gram((x.T @ x)[None], (x.T @ y)[None], np.array([y @ y]))
    return w[0], float(sse[0])
