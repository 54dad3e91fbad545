"""Score job: the champion model scores every active entity at the as-of date; grades A-D; top reasons.

The model and its explanations run per partition (``mapInPandas``); only (entity, score, list flags) reach
the driver to cut grades at the policy's shares, then policy lists lift grades (floors). Output
``score/scores`` carries the evidence: reasons (JSON and Chinese text) and the model version.
"""

from __future__ import annotations

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
from radar.models import apply_floors, assign_grades, explain
from radar.models import registry as reg
from radar.reference import city_districts

SCORES = "score/scores"
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
    scored = scored.join(active.select("entity_id", *FLOOR_FEATURES.values()), "entity_id").localCheckpoint()

    # grades are cut on the whole population: only ids, scores and list flags come to the driver
    small = scored.select("entity_id", "risk_score", *FLOOR_FEATURES.values()).toPandas()
    small = small.sort_values("entity_id").reset_index(drop=True)
    model_grades = assign_grades(small["risk_score"], pol.grading.shares)
    flags = pd.DataFrame({k: small[v] > 0 for k, v in FLOOR_FEATURES.items()})
    graded = apply_floors(model_grades, flags, pol.grading.floors)
    graded.insert(0, "entity_id", small["entity_id"])
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
    mix = graded["grade"].value_counts().to_dict()
    return {
        "model_version": str(version),
        "scored": len(graded),
        "grades": {g: int(mix.get(g, 0)) for g in ("A", "B", "C", "D")},
        "floors_applied": int((graded["grade_reason"] != "model").sum()),
    }


def _previous_grades(ctx: RunContext) -> Any:
    """Grades of the latest earlier scoring run, for 'grade worse than last time' alerts."""
    earlier = [d for d in ctx.lake.as_of_dates(SCORES) if d < ctx.as_of_s]
    if not earlier:
        return None
    prev = ctx.lake.read_spark(ctx.spark, SCORES, earlier[-1])
    return prev.select("entity_id", F.col("grade").alias("previous_grade"))
