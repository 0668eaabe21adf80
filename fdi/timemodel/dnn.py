"""The paper's DNN baseline: a four-layer fully-connected Keras network as a scikit-learn regressor.

Three hidden ReLU layers with dropout and L2, one linear output; inputs and target are
standardised inside `fit`, so the estimator can be cross-validated like any other. TensorFlow is
imported only when the estimator is fitted.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, RegressorMixin


class KerasMLPRegressor(RegressorMixin, BaseEstimator):
    def __init__(
        self,
        hidden_units: int = 128,
        dropout: float = 0.1,
        l2: float = 1e-4,
        learning_rate: float = 1e-3,
        epochs: int = 300,
        batch_size: int = 32,
        random_state: int = 0,
    ) -> None:
        self.hidden_units = hidden_units
        self.dropout = dropout
        self.l2 = l2
        self.learning_rate = learning_rate
        self.epochs = epochs
        self.batch_size = batch_size
        self.random_state = random_state

    def _build(self, n_inputs: int) -> Any:
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
        import keras

        keras.utils.set_random_seed(self.random_state)
        regulariser = keras.regularizers.L2(self.l2)
        model = keras.Sequential([keras.Input(shape=(n_inputs,))])
        for _ in range(3):
            model.add(
                keras.layers.Dense(self.hidden_units, activation="relu", kernel_regularizer=regulariser)
            )
            model.add(keras.layers.Dropout(self.dropout))
        model.add(keras.layers.Dense(1))
        model.compile(optimizer=keras.optimizers.Adam(self.learning_rate), loss="mse")
        return model

    def fit(self, X: Any, y: Any) -> KerasMLPRegressor:
        X = np.asarray(X, dtype="float32")
        y = np.asarray(y, dtype="float32")
        self.x_mean_, self.x_std_ = X.mean(axis=0), X.std(axis=0) + 1e-12
        self.y_mean_, self.y_std_ = float(y.mean()), float(y.std()) + 1e-12
        self.model_ = self._build(X.shape[1])
        # `epochs` shuffled passes over the rows, handed to Keras as one pass over their
        # concatenation: the same minibatch training (a batch may straddle two passes) without
        # Keras' per-epoch overhead, ~40 ms an epoch against ~1 ms a step on this data
        # (300 epochs of 300 rows: 10.9 s -> 4.0 s).
        order = np.random.default_rng(self.random_state)
        rows = np.concatenate([order.permutation(len(X)) for _ in range(self.epochs)])
        self.model_.fit(
            ((X - self.x_mean_) / self.x_std_)[rows],
            ((y - self.y_mean_) / self.y_std_)[rows],
            epochs=1,
            batch_size=self.batch_size,
            verbose=0,
            shuffle=False,
        )
        self.n_features_in_ = X.shape[1]
        return self

    def predict(self, X: Any) -> np.ndarray:
        X = (np.asarray(X, dtype="float32") - self.x_mean_) / self.x_std_
        scaled = self.model_.predict(X, verbose=0, batch_size=4096)[:, 0]
        return scaled * self.y_std_ + self.y_mean_
