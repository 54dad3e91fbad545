"""Alerts job: rules over the scores and recent events raise evidenced alerts into the store.

Rules (conf/policy.yaml ``alerts.rules``): ``grade_d`` (graded D), ``grade_up`` (a worse grade than at the
previous scoring run), ``complaint_surge`` (complaints in the last 3 months well above the year's rate),
``new_listing`` (listed on the abnormal, serious-violation or dishonest-debtor list in the last days).
Each alert carries the score, the top reasons and the record keys of the events behind it. The store
deduplicates: re-running a date changes nothing.
"""

from __future__ import annotations

import json
from typing import Any

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from radar.jobs.context import RunContext
from radar.jobs.features import EVENTS, SNAPSHOTS
from radar.jobs.score import SCORES

ALERTS = "alerts/raised"
GRADE_ORDER = {"A": 0, "B": 1, "C": 2, "D": 3}
LISTINGS = ["abnormal_list", "serious_violation", "dishonest_debtor"]
RULE_TITLES = {
    "grade_d": "信用风险高(D类)",
    "grade_up": "风险等级上升",
    "complaint_surge": "投诉举报激增",
    "new_listing": "新列入失信/异常名单",
}
EVIDENCE_EVENTS = 5


def candidate_alerts(scores: DataFrame, snapshot: DataFrame, events: DataFrame, ctx: RunContext) -> DataFrame:
    """One row per (entity, rule) that fires at the as-of date, with its evidence columns."""
    rules = ctx.policy.alerts.rules
    as_of = F.lit(ctx.as_of)
    s = scores.join(
        snapshot.select("entity_id", "complaint_count_90d", "complaint_trend"), "entity_id", "left"
    )
    order = F.create_map(*[x for k, v in GRADE_ORDER.items() for x in (F.lit(k), F.lit(v))])
    fired = []
    if rules["grade_d"].enabled:
        fired.append(s.where(F.col("grade") == "D").withColumn("rule", F.lit("grade_d")))
    if rules["grade_up"].enabled:
        fired.append(
            s.where(F.col("previous_grade").isNotNull() & (order[F.col("grade")] > order[F.col("previous_grade")]))
            .withColumn("rule", F.lit("grade_up"))
        )
    cs = rules["complaint_surge"]
    if cs.enabled:
        fired.append(
            s.where((F.col("complaint_count_90d") >= (cs.min_recent or 1)) & (F.col("complaint_trend") >= (cs.min_ratio or 1)))
            .withColumn("rule", F.lit("complaint_surge"))
        )
    if rules["new_listing"].enabled:
        since = F.date_sub(as_of, ctx.policy.alerts.new_listing_days)
        listed = (
            events.where(F.col("event_type").isin(LISTINGS) & (F.col("event_date") > since) & (F.col("event_date") <= as_of))
            .select("entity_id").distinct()
        )
        fired.append(s.join(listed, "entity_id").withColumn("rule", F.lit("new_listing")))
    if not fired:
        return s.limit(0).withColumn("rule", F.lit(None).cast("string"))
    out = fired[0]
    for f in fired[1:]:
        out = out.unionByName(f)
    severity = F.create_map(*[x for k, r in rules.items() for x in (F.lit(k), F.lit(r.severity))])
    recent = (
        events.where(F.col("event_date") <= as_of)
        .where(F.col("event_date") > F.date_sub(as_of, 1095))
        .where(~F.col("event_type").isin("license", "commitment", "spot_check_ok"))
        .groupBy("entity_id")
        .agg(
            F.slice(
                F.sort_array(
                    F.collect_list(F.struct(F.col("event_date"), "event_type", "source_type", "record_key", "detail")),
                    asc=False,
                ),
                1,
                EVIDENCE_EVENTS,
            ).alias("recent_events")
        )
    )
    return out.withColumn("severity", severity[F.col("rule")]).join(recent, "entity_id", "left")


def run(ctx: RunContext) -> dict[str, Any]:
    """Raise the alerts of the as-of date into the store; returns the store's counts."""
    spark, lake = ctx.spark, ctx.lake
    scores = lake.read_spark(spark, SCORES, ctx.as_of)
    snapshot = lake.read_spark(spark, SNAPSHOTS, ctx.as_of).where(F.col("snapshot_date") == F.lit(ctx.as_of))
    events = lake.read_spark(spark, EVENTS, ctx.as_of)
    alerts = candidate_alerts(scores, snapshot, events, ctx).select(
        "entity_id", "uscc", "name", "district_code", "grade", "previous_grade", "risk_score", "rule", "severity",
        "reasons", "reasons_text", "model_version", "recent_events", "complaint_count_90d", "complaint_trend",
    )
    lake.publish_spark(alerts, ALERTS, ctx.as_of, partitions=1)
    rows = [_store_row(r.asDict(recursive=True), ctx) for r in lake.read_spark(spark, ALERTS, ctx.as_of).collect()]
    from radar.store import Store

    store = Store(ctx.profile.store_url)
    try:
        counts = store.upsert_alerts(rows, ctx.as_of_s, due_days=dict(ctx.policy.alerts.due_days))
    finally:
        store.close()
    by_rule: dict[str, int] = {}
    for r in rows:
        by_rule[r["rule"]] = by_rule.get(r["rule"], 0) + 1
    return {"raised": len(rows), "by_rule": by_rule, "store": counts}


def _store_row(r: dict[str, Any], ctx: RunContext) -> dict[str, Any]:
    events = [
        {
            "date": e["event_date"].isoformat() if e.get("event_date") else None,
            "event_type": e["event_type"],
            "source_type": e["source_type"],
            "record_key": e["record_key"],
            "detail": e["detail"],
        }
        for e in (r.get("recent_events") or [])
    ]
    evidence = {
        "rule": r["rule"],
        "as_of": ctx.as_of_s,
        "risk_score": r["risk_score"],
        "grade": r["grade"],
        "previous_grade": r.get("previous_grade"),
        "model_version": r.get("model_version"),
        "reasons": json.loads(r["reasons"]) if r.get("reasons") else [],
        "reasons_text": r.get("reasons_text"),
        "records": events,
    }
    if r["rule"] == "complaint_surge":
        evidence["complaints_90d"] = r.get("complaint_count_90d")
        evidence["complaint_trend"] = r.get("complaint_trend")
    return {
        "entity_id": r["entity_id"],
        "uscc": r["uscc"],
        "name": r["name"],
        "district_code": r["district_code"],
        "risk_score": r["risk_score"],
        "grade": r["grade"],
        "rule": r["rule"],
        "severity": r["severity"],
        "title": f"{RULE_TITLES.get(r['rule'], r['rule'])}：{r['name']}",
        "evidence": evidence,
        "due_date": None,
    }

