"""Train job: fit the risk model on labelled monthly snapshots, log it to MLflow, keep the champion current.

Idempotent: a training table already trained on (same content hash) is not trained again. The first model
becomes ``champion``; a later one is registered as ``challenger`` and promoted only when it beats the
champion on the same held-out months (radar.models.lifecycle). Every registration, promotion and refusal is
recorded in the store's model history.
"""

from __future__ import annotations

import logging
import os
from typing import Any

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from radar.config import feature_catalog
from radar.errors import RadarError
from radar.jobs.context import RunContext
from radar.jobs.features import SNAPSHOTS
from radar.models.lifecycle import retrain

WEIGHT = "sample_weight"
log = logging.getLogger(__name__)


def feature_columns() -> list[str]:
    """The model's feature columns, in catalog order."""
    return [f.name for f in feature_catalog().features]


def with_external_features(ctx: RunContext, snapshots: DataFrame) -> DataFrame:
    """The snapshots with the catalog's external features (``kind: external``, e.g. graph/snapshots) joined
    on entity and snapshot date; an entity or date their table does not cover, or a table not built yet,
    gives 0."""
    ext = [f for f in feature_catalog().features if f.kind == "external"]
    for table in dict.fromkeys(f.table for f in ext):
        names = [f.name for f in ext if f.table == table]
        if ctx.lake.exists(table, ctx.as_of):
            cols = ctx.lake.read_spark(ctx.spark, table, ctx.as_of).select("entity_id", "snapshot_date", *names)
            snapshots = snapshots.drop(*names).join(cols, ["entity_id", "snapshot_date"], "left")
        else:
            log.warning("external features %s: table %s not built yet, using 0", ", ".join(names), table)
            snapshots = snapshots.drop(*names).select("*", *[F.lit(0).alias(n) for n in names])
    return snapshots.fillna(0, subset=[f.name for f in ext]) if ext else snapshots


def training_frame(snapshots: DataFrame, features: list[str], max_rows: int, ratio: float, seed: int) -> Any:
    """The labelled snapshots as pandas, at most about ``max_rows`` of them (the driver holds them all).

    Above ``max_rows``, rows are sampled in Spark and weighted by 1 / their sampling rate: negatives down to
    twice ``ratio`` per positive (the model's own negative sampling takes it to ``ratio``), and when that is
    still too many, positives and negatives alike (same class mix)."""
    lab = snapshots.where("label_complete")
    n = lab.count()
    if n == 0:
        raise RadarError(
            "no labelled snapshots: the data must cover at least one snapshot plus the label horizon "
            "before the as-of date"
        )
    cols = ["entity_id", "snapshot_date", *features, "label"]
    if n > max_rows:
        pos = lab.where("label = 1").count()
        pos_rate, neg_rate = sampling_rates(n, pos, max_rows, ratio)
        positive = F.col("label") == 1
        lab = lab.where(F.rand(seed) < F.when(positive, pos_rate).otherwise(neg_rate)).withColumn(
            WEIGHT, F.when(positive, 1.0 / pos_rate).otherwise(1.0 / neg_rate)
        )
        cols.append(WEIGHT)
    return lab.select(*cols).orderBy("snapshot_date", "entity_id").toPandas()


def sampling_rates(n: int, positives: int, max_rows: int, ratio: float) -> tuple[float, float]:
    """(positive rate, negative rate) keeping about ``max_rows`` of ``n`` labelled rows: negatives first, down
    to ``2 * ratio`` per positive, then both classes alike."""
    negatives = max(n - positives, 1)
    neg_rate = min(1.0, 2 * ratio * max(positives, 1) / negatives)
    expected = positives + neg_rate * negatives
    shrink = min(1.0, max_rows / expected) if expected > 0 else 1.0
    return max(shrink, 1e-9), max(neg_rate * shrink, 1e-9)


def run(ctx: RunContext) -> dict[str, Any]:
    """Train (unless already trained on this data) and maintain the champion alias."""
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    tp = ctx.policy.train
    uri, artifacts = ctx.profile.mlflow_tracking_uri, ctx.profile.mlflow_artifact_location
    if uri.startswith("sqlite:///"):
        os.makedirs(os.path.dirname(uri.removeprefix("sqlite:///")), exist_ok=True)
    os.makedirs(artifacts, exist_ok=True)
    features = feature_columns()
    snaps = with_external_features(ctx, ctx.lake.read_spark(ctx.spark, SNAPSHOTS, ctx.as_of))
    pdf = training_frame(snaps, features, tp.max_collect_rows, tp.negative_sample_ratio, tp.seed)
    store = _store(ctx)
    try:
        outcome = retrain(
            pdf, features, tp, uri, artifacts, store,
            params={"as_of": ctx.as_of_s, "rows": len(pdf)},
            snapshot_info={"as_of": ctx.as_of_s, "lake": str(ctx.lake.root)},
            drift_bins=ctx.policy.monitoring.drift.bins, weight_col=WEIGHT,
        )
    finally:
        store.close()
    info: dict[str, Any] = {
        "trained": outcome.action != "unchanged",
        "version": outcome.version,
        "champion": outcome.champion_after,
        "decision": f"{outcome.action}: {outcome.reason}",
        "data_hash": outcome.data_hash,
    }
    if outcome.action == "unchanged":
        info["reason"] = outcome.reason
    else:
        info.update(
            train_rows=outcome.train_rows,
            validation_rows=outcome.validation_rows,
            validation={"model": outcome.challenger_metrics, **outcome.baseline_metrics,
                        **({"champion": outcome.champion_metrics} if outcome.champion_metrics else {})},
        )
    return info


def _store(ctx: RunContext) -> Any:
    from radar.store import Store

    return Store(ctx.profile.store_url)
