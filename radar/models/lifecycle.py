"""The model lifecycle: retrain, gate a challenger against the champion, roll back. No Spark needed.

``retrain`` fits a challenger on the labelled snapshots and scores the champion on the very same held-out
rows (the challenger's time-ordered validation months). The challenger is promoted only when it beats the
champion on ``train.promotion_metric`` by ``train.promotion_margin``. If the champion was trained on part of
those months its figures are optimistic, which only makes promotion harder: the record says so. Every
registration, promotion, refusal and rollback goes to the store's model history with the metrics of both.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import pandas as pd

from radar.config import TrainPolicy
from radar.models import registry as reg
from radar.models.drift import reference_bins
from radar.models.evaluate import evaluate_scores
from radar.models.train import data_hash, train_and_evaluate

EXPERIMENT = "radar-risk"


@dataclass
class RetrainOutcome:
    """What one retraining decided."""

    action: str  # unchanged | promoted | refused
    version: str | None
    champion_before: str | None
    champion_after: str | None
    reason: str
    challenger_metrics: dict[str, float] = field(default_factory=dict)
    champion_metrics: dict[str, float] = field(default_factory=dict)
    baseline_metrics: dict[str, dict[str, float]] = field(default_factory=dict)
    data_hash: str = ""
    train_rows: int = 0
    validation_rows: int = 0

    def as_dict(self) -> dict[str, Any]:
        """Plain dict (for run reports and JSON)."""
        return asdict(self)


def _round(d: dict[str, float]) -> dict[str, float]:
    return {k: round(float(v), 4) for k, v in d.items()}


def champion_on_rows(
    champion: Any, table: pd.DataFrame, validation: pd.DataFrame, k: int, date_col: str = "snapshot_date"
) -> dict[str, float] | None:
    """The champion's metrics on the challenger's validation rows (None if it needs features the table lacks)."""
    needed = list(champion.feature_names_in_)
    if any(c not in table.columns for c in needed):
        return None
    keys = ["entity_id", date_col]
    features = table[[*keys, *needed]].drop_duplicates(keys).assign(**{date_col: pd.to_datetime(table[date_col])})
    rows = validation[[*keys, "label"]].merge(features, on=keys, how="left")
    score = champion.predict_proba(rows)[:, 1]
    return evaluate_scores(rows["label"].to_numpy(), score, k=k)


def retrain(
    table: pd.DataFrame,
    feature_cols: Sequence[str],
    policy: TrainPolicy,
    tracking_uri: str,
    artifact_location: str,
    store: Any | None = None,
    params: dict[str, Any] | None = None,
    snapshot_info: dict[str, Any] | None = None,
    drift_bins: int = 10,
    weight_col: str = "sample_weight",
) -> RetrainOutcome:
    """Train a challenger unless this table was trained on already; promote it only past the gate.

    The challenger is stored with its training features' bins (``drift_bins`` quantile bins, rows weighted
    by ``weight_col`` when the table has it): the reference each scoring run measures drift against.
    """
    name = policy.registered_model_name
    h = data_hash(table)
    champion = reg.champion_version(tracking_uri, name)
    existing = reg.find_version_by_data_hash(tracking_uri, name, h)
    if existing is not None:
        if champion is None:
            reg.set_alias(name, reg.CHAMPION, existing, tracking_uri=tracking_uri)
            champion = existing
        return RetrainOutcome("unchanged", existing, champion, champion,
                              "this training table was already trained on", data_hash=h)

    result = train_and_evaluate(table, feature_cols, policy=policy)
    reference = reference_bins(table, result.feature_cols, drift_bins, weight_col=weight_col)
    version = reg.log_model(result, tracking_uri, artifact_location, EXPERIMENT, name, params=params,
                            snapshot_info=snapshot_info, reference=reference)
    chall = _round(result.metrics["model"])
    base = {k: _round(v) for k, v in result.metrics.items() if k != "model"}
    metric = policy.promotion_metric

    def record(action: str, reason: str, champ_m: dict[str, float] | None, after: str | None) -> None:
        if store is not None:
            store.record_model_event(
                name, version, action, reason=reason,
                metrics={"challenger": chall, "champion": champ_m, "baselines": base},
                champion_before=champion, champion_after=after,
            )

    record("registered", f"trained on snapshots {result.snapshot_min}..{result.snapshot_max}", None, champion)
    if champion is None:
        reg.set_alias(name, reg.CHAMPION, version, tracking_uri=tracking_uri)
        reason = "first model"
        record("promoted", reason, None, version)
        return RetrainOutcome("promoted", version, None, version, reason, chall, {}, base, h,
                              result.train_rows, result.validation_rows)

    reg.set_alias(name, reg.CHALLENGER, version, tracking_uri=tracking_uri)
    champ_model = reg.load_version(tracking_uri, name, champion)
    champ_m = champion_on_rows(champ_model, table, result.validation, int(policy.precision_at_k))
    if champ_m is None:
        promote, why = True, "the champion needs features the current table lacks: the challenger replaces it"
        champ_m = {}
    else:
        champ_m = _round(champ_m)
        target = champ_m[metric] + policy.promotion_margin
        promote = chall[metric] >= target
        overlap = ""
        champ_max = reg.version_tag(tracking_uri, name, champion, "snapshot_max")
        if champ_max and champ_max >= result.validation_start:
            overlap = f"; the champion was trained on snapshots up to {champ_max}, inside the held-out months"
        why = (f"{metric} on the same held-out months from {result.validation_start}: challenger v{version} "
               f"{chall[metric]:.4f} vs champion v{champion} {champ_m[metric]:.4f} "
               f"(needed >= {target:.4f}){overlap}")
    if promote:
        reg.set_alias(name, reg.CHAMPION, version, tracking_uri=tracking_uri)
    record("promoted" if promote else "refused", why, champ_m, version if promote else champion)
    return RetrainOutcome("promoted" if promote else "refused", version, champion,
                          version if promote else champion, why, chall, champ_m, base, h,
                          result.train_rows, result.validation_rows)


def rollback(policy: TrainPolicy, tracking_uri: str, store: Any | None = None, to: str | None = None) -> tuple[str, str]:
    """Point ``champion`` back at the previous champion (or at version ``to``); returns (from, to)."""
    name = policy.registered_model_name
    current = reg.champion_version(tracking_uri, name)
    if current is None:
        raise LookupError(f"registered model {name!r} has no champion to roll back from")
    if to is None:
        history = reg.alias_history(tracking_uri, name, reg.CHAMPION)
        earlier = [v for v in history["version"].tolist() if str(v) != str(current)]
        if not earlier:
            raise LookupError(f"champion v{current} is the only model that was ever champion: nothing to roll back to")
        to = str(earlier[-1])
    reg.set_alias(name, reg.CHAMPION, to, tracking_uri=tracking_uri)
    if store is not None:
        store.record_model_event(name, to, "rollback", reason=f"champion v{current} rolled back to v{to}",
                                 champion_before=current, champion_after=to)
    return str(current), str(to)
