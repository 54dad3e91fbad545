"""Score job: the champion model scores every active entity at the as-of date; grades A-D; top reasons.

The model and its explanations run per partition (``mapInPandas``); only (entity, score, list flags) reach
the driver to cut grades at the policy's shares, then policy lists lift grades (floors). Output
``score/scores`` carries the evidence: reasons (JSON and Chinese text) and the model version, and next to
the risk score an unsupervised ``anomaly_score`` (0..1, 1 = the most unusual; radar.models.anomaly) that
still ranks entities too new to have a history.

Every run also checks drift (radar.models.drift): each model feature's PSI at the as-of snapshot against the
champion's training reference (stored with the model; an older champion without one gets score drift only)
and the score distribution's PSI against the previous scoring run. ``score/drift`` publishes the figures;
any drift raises an operations alert in the store (the dashboard's 模型 page).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import pandas as pd
from pyspark.sql import functions as F
from pyspark.sql import types as T

from radar.config import feature_catalog
from radar.features.snapshots import value_labels
from radar.jobs.context import RunContext
from radar.jobs.features import SNAPSHOTS
from radar.jobs.resolve import ENTITIES
from radar.jobs.train import with_external_features
from radar.models import anomaly_scores, apply_floors, assign_grades, explain
from radar.models import registry as reg
from radar.models.drift import bin_counts, drift_from_reference, score_drift
from radar.reference import city_districts

SCORES = "score/scores"
DRIFT = "score/drift"
DRIFT_COLUMNS = {
    "kind": "string", "feature": "string", "psi": "float64", "threshold": "float64", "drifted": "bool",
    "n_reference": "int64", "n_current": "int64", "bins": "int64",
}
COUNTS_SCHEMA = "feature string, bin long, count double"
log = logging.getLogger(__name__)
FLOOR_FEATURES = {
    "serious_violation": "serious_violation_current",
    "dishonest_debtor": "dishonest_debtor_current",
    "abnormal_list": "abnormal_list_current",
}
SCORE_SCHEMA = T.StructType(
    [
        T.StructField("entity_id", T.StringType()),
        T.StructField("risk_score", T.DoubleType()),
        T.StructField("reasons", T.StringType()),
        T.StructField("reasons_text", T.StringType()),
    ]
)


def run(ctx: RunContext) -> dict[str, Any]:
    """Score, grade and publish; returns the grade mix and the model version used."""
    spark, lake, pol = ctx.spark, ctx.lake, ctx.policy
    model, version = reg.load_champion(ctx.profile.mlflow_tracking_uri, pol.train.registered_model_name)
    features = list(model.feature_names_in_)
    labels = {f.name: f.label for f in feature_catalog().features}
    dists = city_districts(pol.resolve.city_division, pol.resolve.extra_divisions)
    codes = value_labels(list(dists), dists)
    top_k = pol.grading.reasons_top_k
    bmodel = spark.sparkContext.broadcast(model)

    def score(batches: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        m = bmodel.value
        for pdf in batches:
            if pdf.empty:
                continue
            X = pdf[features]
            ex = explain(m, X, labels, top_k=top_k, value_labels=codes)
            yield pd.DataFrame(
                {
                    "entity_id": pdf["entity_id"].to_numpy(),
                    "risk_score": m.predict_proba(X)[:, 1],
                    "reasons": ex["reasons"].to_numpy(),
                    "reasons_text": ex["reasons_text"].to_numpy(),
                }
            )

    entities = lake.read_spark(spark, ENTITIES, ctx.as_of)
    snap = lake.read_spark(spark, SNAPSHOTS, ctx.as_of).where(F.col("snapshot_date") == F.lit(ctx.as_of))
    snap = with_external_features(ctx, snap)
    active = snap.join(entities.where("is_active").select("entity_id"), "entity_id")
    scored = active.select("entity_id", *features).mapInPandas(score, SCORE_SCHEMA)
    anomaly_cols = _anomaly_columns(ctx, active.columns)
    extra = list(dict.fromkeys([*FLOOR_FEATURES.values(), *anomaly_cols]))
    scored = scored.join(active.select("entity_id", *extra), "entity_id").localCheckpoint()

    # grades are cut on the whole population: only ids, scores, list flags and the few attributes of the
    # anomaly score come to the driver
    small = scored.select("entity_id", "risk_score", *extra).toPandas()
    small = small.sort_values("entity_id").reset_index(drop=True)
    model_grades = assign_grades(small["risk_score"], pol.grading.shares)
    flags = pd.DataFrame({k: small[v] > 0 for k, v in FLOOR_FEATURES.items()})
    graded = apply_floors(model_grades, flags, pol.grading.floors)
    graded.insert(0, "entity_id", small["entity_id"])
    an = pol.monitoring.anomaly
    if anomaly_cols and len(small) >= 2:
        graded["anomaly_score"] = anomaly_scores(small, anomaly_cols, an.seed, an.n_estimators).to_numpy()
    else:
        graded["anomaly_score"] = float("nan")
    grades = spark.createDataFrame(graded.astype({"grade": "string", "model_grade": "string", "grade_reason": "string"}))

    previous = _previous_grades(ctx)
    out = (
        scored.select("entity_id", "risk_score", "reasons", "reasons_text")
        .join(grades, "entity_id")
        .join(
            entities.select(
                "entity_id", "uscc", "name", "entity_class", "district_code", "district_name", "industry_section",
                "industry_name", "legal_rep_name",
            ),
            "entity_id",
        )
        .withColumn("model_version", F.lit(str(version)))
        .withColumn("as_of", F.lit(ctx.as_of))
    )
    if previous is not None:
        out = out.join(previous, "entity_id", "left")
    else:
        out = out.withColumn("previous_grade", F.lit(None).cast("string"))
    lake.publish_spark(out, SCORES, ctx.as_of, partitions=max(1, ctx.profile.spark.shuffle_partitions // 4))
    drift = _check_drift(ctx, active, version, small["risk_score"].to_numpy(float))
    mix = graded["grade"].value_counts().to_dict()
    return {
        "model_version": str(version),
        "scored": len(graded),
        "grades": {g: int(mix.get(g, 0)) for g in ("A", "B", "C", "D")},
        "floors_applied": int((graded["grade_reason"] != "model").sum()),
        "anomaly_features": anomaly_cols,
        "drift": drift,
    }


def _anomaly_columns(ctx: RunContext, have: list[str]) -> list[str]:
    """The anomaly score's attributes (conf/policy.yaml ``monitoring.anomaly.features``) the snapshot has."""
    wanted = list(ctx.policy.monitoring.anomaly.features)
    missing = [f for f in wanted if f not in have]
    if missing:
        log.warning("anomaly score: features %s are not in the snapshot, left out", ", ".join(missing))
    return [f for f in wanted if f in have]


def _check_drift(ctx: RunContext, active: Any, version: str, scores: Any) -> dict[str, Any]:
    """Feature drift against the champion's training reference and score drift against the previous run;
    publishes ``score/drift`` and raises (or, on a clean re-run, clears) the operations alert."""
    pol, dp = ctx.policy, ctx.policy.monitoring.drift
    name = pol.train.registered_model_name
    reference = reg.load_reference(ctx.profile.mlflow_tracking_uri, name, version)
    parts = []
    if reference is None:
        log.warning("champion v%s has no drift reference (trained before it was stored): score drift only", version)
    else:
        cols = [f for f in reference["features"] if f in active.columns]

        def count(batches: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
            for pdf in batches:
                yield bin_counts(pdf, reference)

        counts = (
            active.select(*cols).mapInPandas(count, COUNTS_SCHEMA)
            .groupBy("feature", "bin").agg(F.sum("count").alias("count")).toPandas()
        )
        features = drift_from_reference(reference, counts, len(scores), dp.psi_level, dp.null_quantile)
        parts.append(features.assign(kind="feature"))
    earlier = [d for d in ctx.lake.as_of_dates(SCORES) if d < ctx.as_of_s]
    if earlier:
        previous = ctx.lake.read_polars(SCORES, earlier[-1])["risk_score"].to_numpy()
        sd = score_drift(previous, scores, dp.bins, dp.score_psi_level, dp.null_quantile)
        parts.append(pd.DataFrame([{**sd.__dict__, "kind": "score"}]))
    table = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=list(DRIFT_COLUMNS))
    table = table[list(DRIFT_COLUMNS)].astype(DRIFT_COLUMNS)
    ctx.lake.publish_pandas(table, DRIFT, ctx.as_of)

    drifted = table[table["drifted"]]
    feats = drifted[drifted["kind"] == "feature"]
    score_row = table[table["kind"] == "score"]
    summary: dict[str, Any] = {
        "reference": "stored" if reference is not None else "missing",
        "features_checked": int((table["kind"] == "feature").sum()),
        "features_drifted": feats["feature"].tolist(),
        "score_previous_as_of": earlier[-1] if earlier else None,
        "score_psi": float(score_row["psi"].iloc[0]) if len(score_row) else None,
        "score_drifted": bool(score_row["drifted"].any()),
    }
    from radar.store import Store

    with Store(ctx.profile.store_url) as store:
        if len(drifted):
            title = _drift_title(len(feats), summary["score_drifted"], summary["features_checked"])
            details = {
                **summary,
                "drifted": drifted[["kind", "feature", "psi", "threshold", "n_reference", "n_current"]]
                .to_dict("records"),
            }
            store.raise_operations_alert("drift", ctx.as_of, dp.severity, title, details, name, version)
        else:
            store.clear_operations_alert("drift", ctx.as_of)
    summary["alert"] = bool(len(drifted))
    return summary


def _drift_title(n_features: int, score_drifted: bool, n_checked: int) -> str:
    """The operations alert's headline, in Chinese."""
    parts = []
    if n_features:
        parts.append(f"{n_features}/{n_checked} 个模型特征分布较训练数据发生漂移")
    if score_drifted:
        parts.append("风险分分布较上期评分发生漂移")
    return "；".join(parts)


def _previous_grades(ctx: RunContext) -> Any:
    """Grades of the latest earlier scoring run, for 'grade worse than last time' alerts."""
    earlier = [d for d in ctx.lake.as_of_dates(SCORES) if d < ctx.as_of_s]
    if not earlier:
        return None
    prev = ctx.lake.read_spark(ctx.spark, SCORES, earlier[-1])
    return prev.select("entity_id", F.col("grade").alias("previous_grade"))
