"""Graph job: the related-party graph at the as-of date, its components, risk carried along it, and flags.

Outputs: ``graph/components`` (per entity: component, its size, districts and industries spanned, risky
members, propagated risk, whether the entity itself is risky), ``graph/flags`` (phoenix, ring,
shell_address, cross_region, cross_industry with evidence paths), ``graph/features`` (graph_* columns
per entity), ``graph/hubs`` (attributes shared by too many entities to be paths: shell-address
candidates), ``graph/snapshots`` (entity_id, snapshot_date, graph_*: the graph features at every feature
snapshot date, point in time, which the model joins as its ``kind: external`` features).
"""

from __future__ import annotations

import time
from typing import Any

from pyspark.sql import functions as F

from radar.features.snapshots import snapshot_dates
from radar.graph.build import GraphSettings, related_party_graph
from radar.graph.risk import risky_members
from radar.graph.snapshots import graph_snapshots, phoenix_lookback_months
from radar.jobs.context import RunContext
from radar.jobs.features import EVENTS
from radar.jobs.resolve import ATTRIBUTES, ENTITIES

COMPONENTS = "graph/components"
FLAGS = "graph/flags"
FEATURES = "graph/features"
HUBS = "graph/hubs"
SNAPSHOTS = "graph/snapshots"
RISK_EVENT_TYPES = [
    "penalty",
    "abnormal_list",
    "serious_violation",
    "dishonest_debtor",
    "deregistered",
    "revoked",
]


def run(ctx: RunContext) -> dict[str, Any]:
    """Build and publish the graph tables; returns component and flag counts."""
    spark, lake = ctx.spark, ctx.lake
    entities = lake.read_spark(spark, ENTITIES, ctx.as_of)
    attributes = lake.read_spark(spark, ATTRIBUTES, ctx.as_of)
    risk_events = (
        lake.read_spark(spark, EVENTS, ctx.as_of)
        .where(F.col("event_type").isin(RISK_EVENT_TYPES))
        .select("entity_id", "event_type", "event_date", "end_date")
    )
    settings = GraphSettings.from_policy(ctx.policy)
    dates = snapshot_dates(ctx.as_of, ctx.policy.features.snapshot_months)
    every = ctx.policy.graph.snapshot_every
    # the phoenix pairs of every successor the snapshots need, built once: the flags take the recent ones
    lookback = phoenix_lookback_months(dates, ctx.as_of, every, settings.new_entity_months)
    g = related_party_graph(entities, attributes, risk_events, ctx.as_of, settings, lookback)
    try:
        risky = risky_members(risk_events, ctx.as_of, ctx.policy.graph.risk_window_days).select(
            "entity_id", F.lit(True).alias("is_risky")
        )
        comps = (
            g.components.join(g.component_stats, "component_id", "left")
            .join(g.propagated_risk.select("entity_id", "propagated_risk"), "entity_id", "left")
            .join(risky, "entity_id", "left")
            .fillna({"is_risky": False})
            .withColumnRenamed("size", "component_size")
            .withColumnRenamed("n_risky", "risky_members")
        )
        lake.publish_spark(comps, COMPONENTS, ctx.as_of, partitions=1)
        lake.publish_spark(g.flags, FLAGS, ctx.as_of, partitions=1)
        lake.publish_spark(g.features, FEATURES, ctx.as_of, partitions=1)
        lake.publish_spark(g.hubs, HUBS, ctx.as_of, partitions=1)
        g.unpersist(phoenix_pairs=False)
        # the model's graph features at every snapshot date, point in time (radar.graph.snapshots)
        t0 = time.perf_counter()
        snaps = graph_snapshots(
            entities, attributes, risk_events, dates, ctx.as_of, settings, every, g.phoenix_pairs
        )
        lake.publish_spark(
            snaps, SNAPSHOTS, ctx.as_of, partitions=max(1, ctx.profile.spark.shuffle_partitions // 4)
        )
        snapshot_seconds = round(time.perf_counter() - t0, 1)
    finally:
        g.unpersist()
    c = lake.read_spark(spark, COMPONENTS, ctx.as_of)
    sizes = c.groupBy("component_id").count()
    n_comp = sizes.count()
    multi = sizes.where("count > 1").count()
    largest = sizes.agg(F.max("count")).first()[0]
    flags = {
        r["flag"]: r["count"]
        for r in lake.read_spark(spark, FLAGS, ctx.as_of).groupBy("flag").count().collect()
    }
    return {
        "components": n_comp,
        "multi_entity_components": multi,
        "largest_component": largest,
        "flags": flags,
        "snapshots": {"dates": len(dates), "seconds": snapshot_seconds},
    }
