"""Batched NNLS from Gram matrices agrees with scipy's Lawson-Hanson solver."""

import numpy as np
from scipy.optimize import nnls as scipy_nnls

from fdi.timemodel.nnls import nnls, nnls_from_gram


def test_matches_scipy_on_random_problems():
    rng = np.random.default_rng(0)
    for _ in range(300):
        n, p = rng.integers(6, 60), rng.integers(1, 6)
        x = rng.random((n, p)) * rng.random(p) * 100
        y = x @ rng.normal(size=p) + rng.normal(size=n)
        w, sse = nnls(x, y)
        w_ref, residual = scipy_nnls(x, y)
        np.testing.assert_allclose(w, w_ref, rtol=1e-5, atol=1e-8 * np.abs(w_ref).max())
        assert (w >= 0).all()
        assert abs(sse - residual**2) <= 1e-7 * max(1.0, residual**2)


def test_batch_equals_one_by_one():
    rng = np.random.default_rng(1)
    xs = [rng.random((30, 4)) for _ in range(20)]
    ys = [x @ np.array([1.0, -2.0, 0.5, 3.0]) + rng.normal(size=30) for x in xs]
    w, sse = nnls_from_gram(
        np.stack([x.T @ x for x in xs]),
        np.stack([x.T @ y for x, y in zip(xs, ys, strict=True)]),
        np.array([y @ y for y in ys]),
    )
    for k, (x, y) in enumerate(zip(xs, ys, strict=True)):
        w1, sse1 = nnls(x, y)
        np.testing.assert_allclose(w[k], w1, atol=1e-9)
        assert abs(sse[k] - sse1) < 1e-9


def test_negative_truth_is_clipped_to_zero():
    x = np.column_stack([np.arange(1.0, 11.0), np.ones(10)])
    y = -3.0 * x[:, 0] + 40.0  # the unconstrained slope is negative
    w, _ = nnls(x, y)
    assert w[0] == 0.0 and w[1] > 0
    assert abs(w[1] - y.mean()) < 1e-7 * y.mean()  # the best constant (ridge bias ~1e-9)
