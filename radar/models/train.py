"""Training on the entity-by-time table, with time-ordered validation only.

The table has one row per entity and monthly snapshot: ``entity_id``, ``snapshot_date``, numeric feature
columns (NaN allowed), ``label`` (an adverse event within the horizon after the snapshot) and an optional
``sample_weight``. Rows are never split at random across time: validation is always later than training,
with a gap of at least the label horizon so no training label can see into the validation period.
"""

from __future__ import annotations

import hashlib
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from radar.models.estimator import RiskModel, RuleScore, logistic_baseline, positive_proba
from radar.models.evaluate import calibration_table, evaluate_scores

if TYPE_CHECKING:
    from radar.config import TrainPolicy

WEIGHT_COL = "sample_weight"


# ---------------------------------------------------------------- time-ordered splits
def _dates(df: pd.DataFrame, date_col: str) -> pd.Series:
    if date_col not in df.columns:
        raise ValueError(f"no date column {date_col!r}")
    dates = pd.to_datetime(df[date_col])
    if dates.isna().any():
        raise ValueError(f"{date_col} has missing dates")
    return dates


def _split_at(
    df: pd.DataFrame, dates: pd.Series, valid_end: pd.Timestamp, validation_months: int, gap_days: int
) -> tuple[pd.DataFrame, pd.DataFrame]:
    valid_start = valid_end - pd.DateOffset(months=validation_months)  # exclusive
    in_valid = (dates > valid_start) & (dates <= valid_end)
    if not in_valid.any():
        return df.iloc[:0], df.iloc[:0]
    # as in production: scoring at the first validation snapshot, only labels `gap_days` old are known
    first = dates[in_valid].min()
    # never the validation snapshots themselves, even with no gap
    in_train = (dates <= first - pd.Timedelta(days=gap_days)) & (dates < first)
    return df.loc[in_train], df.loc[in_valid]


def time_split(
    df: pd.DataFrame,
    date_col: str = "snapshot_date",
    validation_months: int = 3,
    gap_days: int = 0,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(train, validation): validation is the last ``validation_months`` of snapshots.

    Training keeps the snapshots at least ``gap_days`` before the first validation snapshot; pass the label
    horizon so every training label (which looks ``horizon`` days ahead) was already known on that date,
    as it would be when scoring in production.
    Raises ValueError if either part is empty.
    """
    if validation_months < 1 or gap_days < 0:
        raise ValueError("validation_months must be >= 1 and gap_days >= 0")
    dates = _dates(df, date_col)
    train, valid = _split_at(df, dates, dates.max(), validation_months, gap_days)
    if train.empty or valid.empty:
        raise ValueError(
            f"time split leaves {len(train)} training and {len(valid)} validation rows "
            f"(snapshots {dates.min():%Y-%m-%d}..{dates.max():%Y-%m-%d}, validation_months="
            f"{validation_months}, gap_days={gap_days}): more history is needed"
        )
    return train, valid


def rolling_origin_splits(
    df: pd.DataFrame,
    date_col: str = "snapshot_date",
    validation_months: int = 3,
    n_splits: int = 3,
    step_months: int | None = None,
    gap_days: int = 0,
) -> list[tuple[pd.DataFrame, pd.DataFrame]]:
    """Expanding-window backtest folds, oldest origin first.

    Fold ``i`` validates on ``validation_months`` ending ``(n_splits - 1 - i) * step_months`` months before
    the last snapshot, and trains on everything at least ``gap_days`` before that window's first snapshot.
    Folds whose training part would be empty are dropped with a warning.
    """
    if n_splits < 1:
        raise ValueError("n_splits must be >= 1")
    step = step_months or validation_months
    dates = _dates(df, date_col)
    last = dates.max()
    folds = []
    for back in range(n_splits - 1, -1, -1):
        end = last - pd.DateOffset(months=back * step)
        train, valid = _split_at(df, dates, end, validation_months, gap_days)
        if train.empty or valid.empty:
            warnings.warn(
                f"rolling origin ending {end:%Y-%m-%d} has no training or validation rows", stacklevel=2
            )
            continue
        folds.append((train, valid))
    if not folds:
        raise ValueError("no rolling-origin fold has both training and validation rows")
    return folds


# ---------------------------------------------------------------- sampling and hashing
def negative_subsample(
    df: pd.DataFrame,
    label_col: str = "label",
    ratio: float = 10.0,
    seed: int = 42,
    date_col: str | None = "snapshot_date",
) -> pd.DataFrame:
    """Keep about ``ratio`` negatives per positive, reweighting kept negatives so probabilities stay calibrated.

    One keep rate for the whole table (``ratio * positives / negatives``, at most 1); within each snapshot
    exactly ``round(rate * negatives)`` negatives are drawn, and each kept negative weighs
    ``negatives / kept`` of its snapshot, so every snapshot's weighted base rate equals its true one.
    Positives are all kept. The weights multiply any existing ``sample_weight``.
    """
    if ratio <= 0:
        raise ValueError("ratio must be > 0")
    out = df.copy()
    if WEIGHT_COL not in out.columns:
        out[WEIGHT_COL] = 1.0
    y = out[label_col].to_numpy()
    n_pos, n_neg = int((y == 1).sum()), int((y == 0).sum())
    if n_pos == 0 or n_neg <= ratio * n_pos:
        return out
    rate = ratio * n_pos / n_neg
    rng = np.random.default_rng(seed)
    groups = out[date_col] if date_col and date_col in out.columns else pd.Series(0, index=out.index)
    keep = np.ones(len(out), dtype=bool)
    factor = np.ones(len(out))
    positions = pd.Series(np.arange(len(out)), index=out.index)
    for _, idx in positions[y == 0].groupby(groups[y == 0], sort=True):
        negatives = idx.to_numpy()
        n_keep = max(1, round(rate * len(negatives)))
        chosen = rng.choice(negatives, size=n_keep, replace=False)
        keep[negatives] = False
        keep[chosen] = True
        factor[chosen] = len(negatives) / n_keep
    out[WEIGHT_COL] = out[WEIGHT_COL].to_numpy(dtype=float) * factor
    return out.loc[keep]


def data_hash(df: pd.DataFrame) -> str:
    """SHA-256 of a table's content, independent of row and column order.

    Used to recognise a training table that was already trained on (idempotent retraining).
    """
    cols = sorted(map(str, df.columns))
    frame = df.copy()
    frame.columns = list(map(str, frame.columns))
    frame = frame[cols]
    row_hashes = np.sort(pd.util.hash_pandas_object(frame, index=False).to_numpy())
    h = hashlib.sha256()
    h.update(repr([(c, str(frame[c].dtype)) for c in cols]).encode())
    h.update(row_hashes.tobytes())
    return h.hexdigest()


# ---------------------------------------------------------------- training
@dataclass
class TrainResult:
    """What one training run produced: the refitted model and the evidence of how well it validated."""

    model: RiskModel  # refit on all rows (validation included) for scoring
    baselines: dict[str, Any]  # fitted on the training part: "rule", "logistic"
    metrics: dict[str, dict[str, float]]  # validation metrics per scorer: "model", "rule", "logistic"
    calibration: pd.DataFrame  # the model's validation calibration table (deciles)
    validation: pd.DataFrame  # ids, date, label, and each scorer's validation score
    feature_cols: list[str]
    data_hash: str
    snapshot_min: str
    snapshot_max: str
    train_rows: int
    validation_rows: int
    validation_start: str
    input_example: pd.DataFrame  # a few validation rows' features, as the model sees them (for MLflow)
    params: dict[str, Any] = field(default_factory=dict)

    def metrics_table(self) -> pd.DataFrame:
        """The validation metrics as a table, one row per scorer."""
        return pd.DataFrame(self.metrics).T


def _fit_scorers(
    train: pd.DataFrame, feature_cols: list[str], label_col: str, date_col: str, policy: TrainPolicy
) -> dict[str, Any]:
    y = train[label_col].to_numpy()
    w = train[WEIGHT_COL].to_numpy()
    model = RiskModel.from_policy(policy, feature_cols, date_col=date_col).fit(train, y, sample_weight=w)
    rule = RuleScore(policy.rule_weights).fit(train, y, sample_weight=w)
    logistic = logistic_baseline(feature_cols, seed=policy.seed).fit(train, y, logit__sample_weight=w)
    return {"model": model, "rule": rule, "logistic": logistic}


def train_and_evaluate(
    df: pd.DataFrame,
    feature_cols: Sequence[str],
    label_col: str = "label",
    date_col: str = "snapshot_date",
    policy: TrainPolicy | None = None,
) -> TrainResult:
    """Validate the model and its baselines on the latest months, then refit the model on all rows.

    ``policy`` is ``radar.config.policy().train`` (the default). Validation rows keep their true mix (no
    subsampling) and the optional ``sample_weight``; training rows are negative-subsampled per
    ``negative_sample_ratio``. The table is sorted first so row order cannot change the model.
    """
    if policy is None:
        from radar.config import policy as load_policy

        policy = load_policy().train
    feature_cols = list(feature_cols)
    missing = [c for c in [*feature_cols, label_col, date_col] if c not in df.columns]
    if missing:
        raise ValueError(f"training table lacks columns: {', '.join(missing)}")
    keys = [date_col, *(["entity_id"] if "entity_id" in df.columns else [])]
    table = df.sort_values(keys, kind="stable").reset_index(drop=True)
    table[date_col] = pd.to_datetime(table[date_col])
    if WEIGHT_COL not in table.columns:
        table[WEIGHT_COL] = 1.0

    gap_days = int(policy.gap_days)
    train, valid = time_split(table, date_col, policy.validation_months, gap_days)
    sampled = negative_subsample(train, label_col, policy.negative_sample_ratio, policy.seed, date_col)
    scorers = _fit_scorers(sampled, feature_cols, label_col, date_col, policy)

    k = int(policy.precision_at_k)
    y_valid = valid[label_col].to_numpy()
    w_valid = valid[WEIGHT_COL].to_numpy()
    ids = [c for c in ("entity_id", "uscc") if c in valid.columns]
    validation = valid[[*ids, date_col, label_col]].copy()
    metrics: dict[str, dict[str, float]] = {}
    for name, scorer in scorers.items():
        score = positive_proba(scorer, valid)
        validation[f"score_{name}"] = score
        metrics[name] = evaluate_scores(y_valid, score, k=k, sample_weight=w_valid)
    calibration = calibration_table(y_valid, validation["score_model"], sample_weight=w_valid)

    # the model that scores is refit on every labelled row, the latest ones included
    all_sampled = negative_subsample(table, label_col, policy.negative_sample_ratio, policy.seed, date_col)
    final = RiskModel.from_policy(policy, feature_cols, date_col=date_col).fit(
        all_sampled, all_sampled[label_col].to_numpy(), sample_weight=all_sampled[WEIGHT_COL].to_numpy()
    )
    params = {
        **policy.model_dump(),
        "n_features": len(feature_cols),
    }
    return TrainResult(
        model=final,
        baselines={"rule": scorers["rule"], "logistic": scorers["logistic"]},
        metrics=metrics,
        calibration=calibration,
        validation=validation.reset_index(drop=True),
        feature_cols=feature_cols,
        data_hash=data_hash(df),
        snapshot_min=f"{table[date_col].min():%Y-%m-%d}",
        snapshot_max=f"{table[date_col].max():%Y-%m-%d}",
        train_rows=len(sampled),
        validation_rows=len(valid),
        validation_start=f"{valid[date_col].min():%Y-%m-%d}",
        input_example=final.feature_matrix(valid.head(5)).reset_index(drop=True),
        params=params,
    )


def backtest(
    df: pd.DataFrame,
    feature_cols: Sequence[str],
    label_col: str = "label",
    date_col: str = "snapshot_date",
    policy: TrainPolicy | None = None,
    n_splits: int = 3,
) -> pd.DataFrame:
    """Rolling-origin backtest: the validation metrics of model and baselines per fold, one row per pair."""
    if policy is None:
        from radar.config import policy as load_policy

        policy = load_policy().train
    feature_cols = list(feature_cols)
    table = df.copy()
    table[date_col] = pd.to_datetime(table[date_col])
    if WEIGHT_COL not in table.columns:
        table[WEIGHT_COL] = 1.0
    k = int(policy.precision_at_k)
    rows = []
    folds = rolling_origin_splits(
        table, date_col, policy.validation_months, n_splits, gap_days=int(policy.gap_days)
    )
    for i, (train, valid) in enumerate(folds):
        sampled = negative_subsample(train, label_col, policy.negative_sample_ratio, policy.seed, date_col)
        for name, scorer in _fit_scorers(sampled, feature_cols, label_col, date_col, policy).items():
            score = positive_proba(scorer, valid)
            m = evaluate_scores(valid[label_col], score, k=k, sample_weight=valid[WEIGHT_COL])
            rows.append({"fold": i, "validation_start": valid[date_col].min(), "scorer": name, **m})
    return pd.DataFrame(rows)
