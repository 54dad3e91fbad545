"""Train job: fit the risk model on labelled monthly snapshots, log it to MLflow, keep the champion current.

Idempotent: a training table already trained on (same content hash) is not trained again. The first model
becomes ``champion``; a later one is registered as ``challenger`` and promoted only when it beats the
champion's validation AUC-PR by ``train.promotion_margin``. Every registration, promotion and refusal is
recorded in the store's model history.
"""

from __future__ import annotations

import os
from typing import Any

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from radar.config import feature_catalog
from radar.errors import RadarError
from radar.jobs.context import RunContext
from radar.jobs.features import SNAPSHOTS
from radar.models import data_hash, train_and_evaluate
from radar.models import registry as reg

EXPERIMENT = "radar-risk"
WEIGHT = "sample_weight"


def feature_columns() -> list[str]:
    """The model's feature columns, in catalog order."""
    return [f.name for f in feature_catalog().features]


def training_frame(snapshots: DataFrame, features: list[str], max_rows: int, ratio: float, seed: int) -> Any:
    """The labelled snapshots as pandas; above ``max_rows`` negatives are pre-sampled in Spark (weighted)."""
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
        rate = min(1.0, 2 * ratio * max(pos, 1) / max(n - pos, 1))
        lab = lab.where((F.col("label") == 1) | (F.rand(seed) < rate)).withColumn(
            WEIGHT, F.when(F.col("label") == 1, 1.0).otherwise(1.0 / rate)
        )
        cols.append(WEIGHT)
    return lab.select(*cols).orderBy("snapshot_date", "entity_id").toPandas()


def run(ctx: RunContext) -> dict[str, Any]:
    """Train (unless already trained on this data) and maintain the champion alias."""
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    tp = ctx.policy.train
    uri, artifacts = ctx.profile.mlflow_tracking_uri, ctx.profile.mlflow_artifact_location
    if uri.startswith("sqlite:///"):
        os.makedirs(os.path.dirname(uri.removeprefix("sqlite:///")), exist_ok=True)
    os.makedirs(artifacts, exist_ok=True)
    features = feature_columns()
    snaps = ctx.lake.read_spark(ctx.spark, SNAPSHOTS, ctx.as_of)
    pdf = training_frame(snaps, features, tp.max_collect_rows, tp.negative_sample_ratio, tp.seed)
    h = data_hash(pdf)
    name = tp.registered_model_name
    champion = reg.champion_version(uri, name)
    existing = reg.find_version_by_data_hash(uri, name, h)
    if existing is not None:
        if champion is None:
            reg.set_alias(name, "champion", existing, tracking_uri=uri)
            champion = existing
        return {"trained": False, "reason": "this training table was already trained on", "version": existing,
                "champion": champion, "data_hash": h}

    result = train_and_evaluate(pdf, features, policy=tp)
    version = reg.log_model(
        result, uri, artifacts, EXPERIMENT, name,
        params={"as_of": ctx.as_of_s, "rows": len(pdf)},
        snapshot_info={"as_of": ctx.as_of_s, "lake": str(ctx.lake.root)},
    )
    metrics = result.metrics["model"]
    store = _store(ctx)
    store.record_model_event(name, version, "registered", reason=f"trained on data up to {ctx.as_of_s}",
                             metrics=result.metrics, champion_before=champion, champion_after=champion)
    if champion is None:
        reg.set_alias(name, "champion", version, tracking_uri=uri)
        store.record_model_event(name, version, "promoted", reason="first model", metrics=result.metrics,
                                 champion_before=None, champion_after=version)
        decision = "promoted (first model)"
    else:
        champ_auc_pr = reg.version_metric(uri, name, champion, "val_model_auc_pr")
        reg.set_alias(name, "challenger", version, tracking_uri=uri)
        better = champ_auc_pr is None or metrics["auc_pr"] >= champ_auc_pr + tp.promotion_margin
        action = "promoted" if better else "refused"
        why = (f"challenger AUC-PR {metrics['auc_pr']:.4f} vs champion {champ_auc_pr if champ_auc_pr is None else round(champ_auc_pr, 4)}"
               f" (margin {tp.promotion_margin})")
        if better:
            reg.set_alias(name, "champion", version, tracking_uri=uri)
        store.record_model_event(name, version, action, reason=why, metrics=result.metrics,
                                 champion_before=champion, champion_after=version if better else champion)
        decision = f"{action}: {why}"
    store.close()
    return {
        "trained": True, "version": version, "decision": decision, "data_hash": h,
        "train_rows": result.train_rows, "validation_rows": result.validation_rows,
        "validation": {k: {m: round(float(v), 4) for m, v in d.items()} for k, d in result.metrics.items()},
    }


def _store(ctx: RunContext) -> Any:
    from radar.store import Store

    return Store(ctx.profile.store_url)
