"""Anomaly score for entities with too little history for the risk model (new registrations).

An IsolationForest on basic registration attributes (capital, staff, age, address load, ...) flags
entities that look unlike their peers, e.g. large registered capital with no staff at a crowded address.
It ranks; it does not predict an adverse event, so it is reported next to the risk score, never blended.
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd
from sklearn.ensemble import IsolationForest
from sklearn.impute import SimpleImputer
from sklearn.pipeline import Pipeline

from radar.models.estimator import FeatureFrame


def anomaly_pipeline(feature_cols: Sequence[str], seed: int = 42, n_estimators: int = 200) -> Pipeline:
    """Feature selection, median imputation and an IsolationForest, as one Pipeline."""
    return Pipeline(
        [
            ("features", FeatureFrame(list(feature_cols))),
            ("impute", SimpleImputer(strategy="median", keep_empty_features=True)),
            ("forest", IsolationForest(n_estimators=n_estimators, random_state=seed, n_jobs=1)),
        ]
    )


def anomaly_scores(
    df: pd.DataFrame, feature_cols: Sequence[str], seed: int = 42, n_estimators: int = 200
) -> pd.Series:
    """Each entity's anomaly percentile among the entities given (1.0 = the most unusual), on df's index."""
    if len(df) < 2:
        raise ValueError("an anomaly score needs at least two entities to compare")
    pipe = anomaly_pipeline(feature_cols, seed, n_estimators).fit(df)
    # score_samples: higher = more normal; rank its negation as a percentile
    raw = -pipe.score_samples(df)
    return pd.Series(raw, index=df.index).rank(pct=True, method="average").rename("anomaly_score")
