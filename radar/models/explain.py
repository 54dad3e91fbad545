"""The reasons behind each score: exact TreeSHAP contributions from LightGBM, in Chinese.

Contributions are in the booster's raw margin (log-odds before calibration): they add up, with the bias,
to the margin, and calibration is monotone, so the features that push the margin up are the reasons the
score is high. Only positive contributions are reasons (a clean record lowers risk and is not a finding),
and a flag that is off (not on a list) is never shown as a reason.
"""

from __future__ import annotations

import json
import math
from collections.abc import Collection, Mapping
from typing import Any

import numpy as np
import pandas as pd

from radar.models.estimator import RiskModel

NO_REASON_TEXT = "无明显风险因素"
REASON_SEPARATOR = "；"
MISSING_TEXT = "无记录"


def _json_value(value: float, boolean: bool) -> Any:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    if boolean:
        return bool(value)
    if float(value).is_integer():
        return int(value)
    return round(float(value), 4)


def format_value(value: Any, boolean: bool = False) -> str:
    """A feature value as the dashboard shows it: 是/否 for a flag, an integer without decimals, 2 decimals otherwise."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return MISSING_TEXT
    if boolean:
        return "是" if value else "否"
    v = float(value)
    return str(int(v)) if v.is_integer() else f"{v:.2f}"


def _boolean_features(
    model: RiskModel, X: pd.DataFrame, boolean_features: Collection[str] | None
) -> set[str]:
    if boolean_features is not None:
        return set(boolean_features)
    from_dtype = {c for c in model.feature_names_in_ if c in X.columns and pd.api.types.is_bool_dtype(X[c])}
    return from_dtype | set(getattr(model, "binary_features_", []))


def explain(
    model: RiskModel,
    X: pd.DataFrame,
    labels: Mapping[str, str] | None = None,
    top_k: int = 3,
    boolean_features: Collection[str] | None = None,
    value_labels: Mapping[str, Mapping[int, str]] | None = None,
) -> pd.DataFrame:
    """The top-k reasons of each row's score, as JSON text and as a Chinese sentence.

    Returns a DataFrame on X's index with ``reasons`` (JSON list of ``{feature, label, value,
    contribution}``, largest contribution first) and ``reasons_text`` (e.g.
    ``近1年行政处罚次数=3；经营异常名录在列=是``). ``labels`` maps feature names to Chinese labels (the
    name itself is used where a label is missing). Flags show 是/否: the features in
    ``boolean_features``, or by default boolean columns and the features that were 0/1 in training.
    ``value_labels`` names the codes of categorical features (e.g. industry section 17 -> ``R 文化、体育和娱乐业``).
    """
    if top_k < 1:
        raise ValueError("top_k must be at least 1")
    labels = labels or {}
    value_labels = value_labels or {}
    contrib = model.contributions(X)
    features = list(model.feature_names_in_)
    values = model.feature_matrix(X).to_numpy()
    phi = contrib[features].to_numpy()
    booleans = _boolean_features(model, X, boolean_features)
    is_bool = [f in booleans for f in features]
    # top-k by contribution, ties broken by feature order (stable), computed for all rows at once
    order = np.argsort(-phi, axis=1, kind="stable")

    reasons_json, reasons_text = [], []
    for r in range(len(X)):
        items, parts = [], []
        for j in order[r]:
            if len(items) == top_k:
                break
            c = phi[r, j]
            if not c > 0:
                break
            if is_bool[j] and not values[r, j] > 0:
                continue  # being off a list is never a finding, however the trees split
            name = features[j]
            label = labels.get(name, name)
            items.append(
                {
                    "feature": name,
                    "label": label,
                    "value": _json_value(values[r, j], is_bool[j]),
                    "contribution": round(float(c), 4),
                }
            )
            coded = value_labels.get(name, {})
            v = values[r, j]
            shown = coded.get(int(v)) if coded and not math.isnan(v) and int(v) in coded else None
            if shown is not None:
                items[-1]["value_label"] = shown
            parts.append(f"{label}={shown if shown is not None else format_value(v, is_bool[j])}")
        reasons_json.append(json.dumps(items, ensure_ascii=False))
        reasons_text.append(REASON_SEPARATOR.join(parts) if parts else NO_REASON_TEXT)
    return pd.DataFrame({"reasons": reasons_json, "reasons_text": reasons_text}, index=X.index)
