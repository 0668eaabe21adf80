"""The DNN baseline learns a planted function through its one-pass training, deterministically."""

from __future__ import annotations

import numpy as np
from sklearn.base import clone

from fdi.timemodel.dnn import KerasMLPRegressor


def test_the_dnn_baseline_recovers_a_planted_function_and_repeats_itself():
    rng = np.random.default_rng(0)
    X = rng.uniform(0, 1, size=(240, 3))
    y = 2.0 * X[:, 0] + 3.0 * X[:, 1] ** 2 + 1.0  # x2 is noise-free and unused
    train, test = slice(0, 200), slice(200, 240)
    model = KerasMLPRegressor(hidden_units=32, epochs=60, random_state=1)
    model.fit(X[train], y[train])
    error = np.abs(model.predict(X[test]) - y[test])
    assert error.mean() < 0.1 * y[test].std()  # far below the spread of what it predicts
    again = clone(model).fit(X[train], y[train])
    np.testing.assert_allclose(again.predict(X[test]), model.predict(X[test]), rtol=1e-5)
    assert model.get_params()["epochs"] == 60
