"""Graph job: the related-party graph at the as-of date, its components, risk carried along it, and flags.

Outputs: ``graph/components`` (per entity: component, its size, districts and industries spanned, risky
members, propagated risk), ``graph/flags`` (phoenix, ring, shell_address, cross_region, cross_industry with
evidence paths), ``graph/features`` (graph_* columns per entity), ``graph/hubs`` (attributes shared by too
many entities to be paths: shell-address candidates).
"""

from __future__ import annotations

from typing import Any

from pyspark.sql import functions as F

from radar.graph.build import GraphSettings, related_party_graph
from radar.jobs.context import RunContext
from radar.jobs.features import EVENTS
from radar.jobs.resolve import ATTRIBUTES, ENTITIES

COMPONENTS = "graph/components"
FLAGS = "graph/flags"
FEATURES = "graph/features"
HUBS = "graph/hubs"
RISK_EVENT_TYPES = ["penalty", "abnormal_list", "serious_violation", "dishonest_debtor", "deregistered", "revoked"]


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
    g = related_party_graph(entities, attributes, risk_events, ctx.as_of, GraphSettings.from_policy(ctx.policy))
    try:
        comps = (
            g.components.join(g.component_stats, "component_id", "left")
            .join(g.propagated_risk.select("entity_id", "propagated_risk"), "entity_id", "left")
            .withColumnRenamed("size", "component_size")
            .withColumnRenamed("n_risky", "risky_members")
        )
        lake.publish_spark(comps, COMPONENTS, ctx.as_of, partitions=1)
        lake.publish_spark(g.flags, FLAGS, ctx.as_of, partitions=1)
        lake.publish_spark(g.features, FEATURES, ctx.as_of, partitions=1)
        lake.publish_spark(g.hubs, HUBS, ctx.as_of, partitions=1)
    finally:
        g.unpersist()
    c = lake.read_spark(spark, COMPONENTS, ctx.as_of)
    sizes = c.groupBy("component_id").count()
    n_comp = sizes.count()
    multi = sizes.where("count > 1").count()
    largest = sizes.agg(F.max("count")).first()[0]
    flags = {r["flag"]: r["count"] for r in lake.read_spark(spark, FLAGS, ctx.as_of).groupBy("flag").count().collect()}
    return {"components": n_comp, "multi_entity_components": multi, "largest_component": largest, "flags": flags}
