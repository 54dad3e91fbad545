"""Risk estimators, the scikit-learn way: ``fit`` / ``predict_proba`` with the preprocessing inside.

``RiskModel``       LightGBM gradient boosting + a calibrator fitted on a later time slice; the production model.
``RuleScore``       transparent points from counts (penalties, listings, dishonest debtor, complaints).
``logistic_baseline`` imputation + scaling + logistic regression in one sklearn Pipeline.

All three take a pandas DataFrame that may carry more columns than they use (entity_id, snapshot_date,
label, ...): each selects and orders its own feature columns, so the object stored in MLflow is the whole
thing that scores.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd
from lightgbm import LGBMClassifier
from sklearn.base import BaseEstimator, ClassifierMixin, TransformerMixin
from sklearn.impute import SimpleImputer
from sklearn.isotonic import IsotonicRegression
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.validation import check_is_fitted

if TYPE_CHECKING:
    from radar.config import TrainPolicy

# Columns of the entity-by-time table that are never features.
RESERVED_COLUMNS = frozenset({"entity_id", "uscc", "snapshot_date", "label", "sample_weight"})

Calibration = Literal["sigmoid", "isotonic", "none"]


def _binary_target(y: Any) -> np.ndarray:
    arr = np.asarray(y, dtype=float)
    if arr.ndim != 1:
        raise ValueError("y must be one-dimensional")
    if np.isnan(arr).any() or not np.isin(arr, (0.0, 1.0)).all():
        raise ValueError("y must hold only 0 and 1 (adverse event within the horizon or not)")
    return arr.astype(int)


def _weights(sample_weight: Any, n: int) -> np.ndarray:
    if sample_weight is None:
        return np.ones(n)
    w = np.asarray(sample_weight, dtype=float)
    if w.shape != (n,) or np.isnan(w).any() or (w < 0).any():
        raise ValueError("sample_weight must be non-negative, without NaN, one per row")
    return w


class FeatureFrame(TransformerMixin, BaseEstimator):
    """Select the feature columns in a fixed order and make them float (inf -> NaN, bool -> 0/1).

    NaN stays NaN: LightGBM learns where missing values go, the logistic pipeline imputes them.
    ``columns=None`` takes every numeric or boolean column that is not reserved (ids, dates, label, weight).
    """

    def __init__(self, columns: Sequence[str] | None = None) -> None:
        self.columns = columns

    def fit(self, X: pd.DataFrame, y: Any = None) -> FeatureFrame:
        """Fix the column list and order."""
        if not isinstance(X, pd.DataFrame):
            raise TypeError("FeatureFrame expects a pandas DataFrame with named feature columns")
        if self.columns is None:
            cols = [
                c
                for c in X.columns
                if c not in RESERVED_COLUMNS
                and (pd.api.types.is_numeric_dtype(X[c]) or pd.api.types.is_bool_dtype(X[c]))
            ]
        else:
            cols = list(self.columns)
        if not cols:
            raise ValueError("no feature columns to use")
        if len(set(cols)) != len(cols):
            raise ValueError("feature columns repeat")
        self.columns_ = cols
        self.feature_names_in_ = np.asarray(cols, dtype=object)
        self.n_features_in_ = len(cols)
        self.transform(X)  # fail at fit, not at scoring, on a missing or non-numeric column
        return self

    def transform(self, X: pd.DataFrame) -> pd.DataFrame:
        """The feature matrix as float64 in the fitted column order."""
        check_is_fitted(self, "columns_")
        missing = [c for c in self.columns_ if c not in X.columns]
        if missing:
            raise ValueError(f"missing feature columns: {', '.join(missing)}")
        out = {}
        for c in self.columns_:
            col = X[c]
            if pd.api.types.is_bool_dtype(col) or isinstance(col.dtype, pd.BooleanDtype):
                col = col.astype("float64")
            try:
                out[c] = pd.to_numeric(col, errors="raise").astype("float64")
            except (ValueError, TypeError) as e:
                raise ValueError(f"feature column {c!r} is not numeric: {e}") from None
        frame = pd.DataFrame(out, index=X.index)
        return frame.replace([np.inf, -np.inf], np.nan)

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        """The output column names (the fitted feature columns)."""
        check_is_fitted(self, "columns_")
        return np.asarray(self.columns_, dtype=object)


class RiskModel(ClassifierMixin, BaseEstimator):
    """Probability of an adverse event within the horizon: LightGBM, calibrated on a later time slice.

    ``fit`` holds out the last ``calibration_months`` of ``date_col`` (which X must carry): the booster
    learns on the earlier rows and the calibrator (Platt ``sigmoid`` on the raw margin, or ``isotonic``)
    on the held-out later rows only, so calibration never sees a training row and mimics scoring the
    future. Training is deterministic: fixed seed, ``deterministic=True``, row-wise histograms, a fixed
    thread count.

    Platt is the default because it is strictly monotone: isotonic steps would create large tie groups,
    and grades are cut at score quantiles.
    """

    def __init__(
        self,
        feature_cols: Sequence[str] | None = None,
        *,
        date_col: str = "snapshot_date",
        n_estimators: int = 300,
        learning_rate: float = 0.05,
        num_leaves: int = 31,
        min_child_samples: int = 40,
        seed: int = 42,
        num_threads: int = 1,
        calibration: Calibration = "sigmoid",
        calibration_months: int = 1,
    ) -> None:
        self.feature_cols = feature_cols
        self.date_col = date_col
        self.n_estimators = n_estimators
        self.learning_rate = learning_rate
        self.num_leaves = num_leaves
        self.min_child_samples = min_child_samples
        self.seed = seed
        self.num_threads = num_threads
        self.calibration = calibration
        self.calibration_months = calibration_months

    @classmethod
    def from_policy(
        cls, policy: TrainPolicy, feature_cols: Sequence[str], date_col: str = "snapshot_date"
    ) -> RiskModel:
        """A RiskModel with the hyper-parameters of ``conf/policy.yaml`` ``train:``."""

        return cls(
            feature_cols=list(feature_cols),
            date_col=date_col,
            n_estimators=policy.n_estimators,
            learning_rate=policy.learning_rate,
            num_leaves=policy.num_leaves,
            min_child_samples=policy.min_child_samples,
            seed=policy.seed,
            num_threads=policy.num_threads,
            calibration=policy.calibration,
            calibration_months=policy.calibration_months,
        )

    def _booster_params(self) -> dict[str, Any]:
        return {
            "n_estimators": self.n_estimators,
            "learning_rate": self.learning_rate,
            "num_leaves": self.num_leaves,
            "min_child_samples": self.min_child_samples,
            "random_state": self.seed,
            "n_jobs": self.num_threads,
            # bit-for-bit repeatable training; row-wise avoids the col/row-wise auto choice varying by machine
            "deterministic": True,
            "force_row_wise": True,
            "verbose": -1,
        }

    def _calibration_mask(self, X: pd.DataFrame) -> np.ndarray:
        if self.calibration == "none":
            return np.zeros(len(X), dtype=bool)
        if self.date_col not in X.columns:
            raise ValueError(
                f"RiskModel.fit needs the date column {self.date_col!r} in X to hold out the latest "
                "months for calibration (or calibration='none')"
            )
        dates = pd.to_datetime(X[self.date_col])
        cutoff = dates.max() - pd.DateOffset(months=self.calibration_months)
        mask = (dates > cutoff).to_numpy()
        if mask.all():
            raise ValueError(
                f"all rows fall in the last {self.calibration_months} month(s): nothing left to train on"
            )
        return mask

    def fit(self, X: pd.DataFrame, y: Any, sample_weight: Any = None) -> RiskModel:
        """Train the booster on the earlier rows, then the calibrator on the latest months."""
        y_arr = _binary_target(y)
        w = _weights(sample_weight, len(y_arr))
        if len(X) != len(y_arr):
            raise ValueError("X and y differ in length")
        cal = self._calibration_mask(X)
        fit_rows = ~cal
        if np.unique(y_arr[fit_rows]).size < 2:
            raise ValueError("the training rows hold a single class: no risk can be learned")

        self.pipeline_ = Pipeline(
            [("features", FeatureFrame(self.feature_cols)), ("gbm", LGBMClassifier(**self._booster_params()))]
        )
        X_fit = X.loc[fit_rows] if isinstance(X, pd.DataFrame) else X
        self.pipeline_.fit(X_fit, y_arr[fit_rows], gbm__sample_weight=w[fit_rows])
        features: FeatureFrame = self.pipeline_.named_steps["features"]
        self.feature_names_in_ = features.feature_names_in_
        self.n_features_in_ = features.n_features_in_
        self.classes_ = np.array([0, 1])
        # 0/1 features, remembered so explanations can say 是/否 instead of 1/0
        matrix = features.transform(X_fit)
        self.binary_features_ = [c for c in matrix.columns if matrix[c].dropna().isin((0.0, 1.0)).all()]

        self.calibrator_: LogisticRegression | IsotonicRegression | None = None
        self.n_calibration_rows_ = int(cal.sum())
        if cal.any():
            y_cal = y_arr[cal]
            if np.unique(y_cal).size < 2:
                warnings.warn(
                    "the calibration slice holds a single class: probabilities stay uncalibrated",
                    stacklevel=2,
                )
            else:
                margin = self.decision_function(X.loc[cal])
                if self.calibration == "isotonic":
                    iso = IsotonicRegression(out_of_bounds="clip", y_min=0.0, y_max=1.0)
                    self.calibrator_ = iso.fit(margin, y_cal, sample_weight=w[cal])
                else:
                    # large C: Platt scaling is a 2-parameter fit, it needs no shrinkage
                    platt = LogisticRegression(C=1e6, max_iter=1000)
                    self.calibrator_ = platt.fit(margin.reshape(-1, 1), y_cal, sample_weight=w[cal])
        return self

    @property
    def booster_(self) -> Any:
        """The fitted LightGBM Booster."""
        check_is_fitted(self, "pipeline_")
        return self.pipeline_.named_steps["gbm"].booster_

    def feature_matrix(self, X: pd.DataFrame) -> pd.DataFrame:
        """The preprocessed features the booster sees (selected, ordered, float)."""
        check_is_fitted(self, "pipeline_")
        return self.pipeline_.named_steps["features"].transform(X)

    def decision_function(self, X: pd.DataFrame) -> np.ndarray:
        """The booster's raw margin (log-odds before calibration)."""
        return np.asarray(self.booster_.predict(self.feature_matrix(X), raw_score=True), dtype=float)

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        """Calibrated probabilities, columns [no adverse event, adverse event]."""
        margin = self.decision_function(X)
        if self.calibrator_ is None:
            p = 1.0 / (1.0 + np.exp(-margin))
        elif isinstance(self.calibrator_, IsotonicRegression):
            p = self.calibrator_.predict(margin)
        else:
            p = self.calibrator_.predict_proba(margin.reshape(-1, 1))[:, 1]
        p = np.clip(p, 0.0, 1.0)
        return np.column_stack([1.0 - p, p])

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        """1 where the calibrated probability reaches one half (grades, not this, drive supervision)."""
        return (self.predict_proba(X)[:, 1] >= 0.5).astype(int)

    def risk_score(self, X: pd.DataFrame) -> np.ndarray:
        """The calibrated probability of an adverse event within the horizon."""
        return self.predict_proba(X)[:, 1]

    def contributions(self, X: pd.DataFrame) -> pd.DataFrame:
        """Exact TreeSHAP contributions to the raw margin, one column per feature plus ``bias``.

        Each row sums to ``decision_function(X)``.
        """
        matrix = self.feature_matrix(X)
        contrib = np.asarray(self.booster_.predict(matrix, pred_contrib=True), dtype=float)
        return pd.DataFrame(contrib, index=X.index, columns=[*matrix.columns, "bias"])

    def feature_importance(self) -> pd.Series:
        """Total split gain per feature, largest first."""
        gain = self.booster_.feature_importance(importance_type="gain")
        return pd.Series(gain, index=list(self.feature_names_in_)).sort_values(ascending=False)


class RuleScore(ClassifierMixin, BaseEstimator):
    """Transparent baseline: weighted points from supervision counts, mapped to a probability.

    ``points = sum(weight * value)`` over the weighted columns (NaN counts as 0); a one-variable logistic
    fit turns points into a probability so Brier and calibration compare fairly with the model. Weights
    live in ``conf/policy.yaml`` ``train.rule_weights``. Weighted columns absent from X are skipped with a
    warning (the rule still works on the rest).
    """

    def __init__(self, weights: Mapping[str, float] | None = None) -> None:
        self.weights = weights

    def fit(self, X: pd.DataFrame, y: Any, sample_weight: Any = None) -> RuleScore:
        """Keep the weighted columns present in X and fit the points-to-probability map."""
        if not self.weights:
            raise ValueError("RuleScore needs weights (conf/policy.yaml train.rule_weights)")
        present = [c for c in self.weights if c in X.columns]
        absent = [c for c in self.weights if c not in X.columns]
        if not present:
            raise ValueError(f"none of the rule columns is in the data: {', '.join(self.weights)}")
        if absent:
            warnings.warn(f"RuleScore: columns not in the data, skipped: {', '.join(absent)}", stacklevel=2)
        self.columns_ = present
        self.feature_names_in_ = np.asarray(present, dtype=object)
        self.n_features_in_ = len(present)
        self.classes_ = np.array([0, 1])
        y_arr = _binary_target(y)
        points = self.points(X).to_numpy().reshape(-1, 1)
        self.link_: LogisticRegression | None = None
        self.base_rate_ = float(np.average(y_arr, weights=_weights(sample_weight, len(y_arr))))
        if np.unique(y_arr).size == 2:
            self.link_ = LogisticRegression(C=1e6, max_iter=1000).fit(
                points, y_arr, sample_weight=_weights(sample_weight, len(y_arr))
            )
        return self

    def points(self, X: pd.DataFrame) -> pd.Series:
        """The rule's points per row (higher = riskier)."""
        check_is_fitted(self, "columns_")
        w = np.array([float(self.weights[c]) for c in self.columns_])
        values = FeatureFrame(self.columns_).fit(X).transform(X).fillna(0.0).to_numpy()
        return pd.Series(values @ w, index=X.index, name="rule_points")

    def decision_function(self, X: pd.DataFrame) -> np.ndarray:
        """The points (ranking is all the rule asserts)."""
        return self.points(X).to_numpy()

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        """Points mapped to a probability (the training base rate if the link could not be fitted)."""
        points = self.decision_function(X)
        if self.link_ is None:
            p = np.full(points.shape, self.base_rate_)
        else:
            p = self.link_.predict_proba(points.reshape(-1, 1))[:, 1]
        return np.column_stack([1.0 - p, p])

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        """1 where the probability reaches one half."""
        return (self.predict_proba(X)[:, 1] >= 0.5).astype(int)


def logistic_baseline(feature_cols: Sequence[str], seed: int = 42) -> Pipeline:
    """Logistic regression with median imputation (plus missing indicators) and scaling, as one Pipeline."""
    return Pipeline(
        [
            ("features", FeatureFrame(list(feature_cols))),
            # missing is itself informative (e.g. no annual report), hence the indicators
            ("impute", SimpleImputer(strategy="median", add_indicator=True, keep_empty_features=True)),
            ("scale", StandardScaler()),
            ("logit", LogisticRegression(max_iter=2000, random_state=seed)),
        ]
    )


def positive_proba(estimator: Any, X: pd.DataFrame) -> np.ndarray:
    """The adverse-event probability of any of our estimators (column 1 of predict_proba)."""
    p = np.asarray(estimator.predict_proba(X))[:, 1]
    if not np.isfinite(p).all():
        raise ValueError("an estimator produced a non-finite probability")
    return p


__all__ = [
    "RESERVED_COLUMNS",
    "FeatureFrame",
    "RiskModel",
    "RuleScore",
    "logistic_baseline",
    "positive_proba",
]
