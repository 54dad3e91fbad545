"""Features job: events of every entity, monthly point-in-time snapshots with labels, the feature catalog.

Outputs: ``features/events``, ``features/snapshots`` (one row per alive entity and snapshot date; the last
snapshot is the as-of date itself), ``features/catalog``.
"""

from __future__ import annotations

import time
from typing import Any

import pandas as pd
from pyspark.sql import functions as F

from radar.config import feature_catalog
from radar.features.catalog import catalog_rows
from radar.features.events import build_events, build_reports
from radar.features.snapshots import build_snapshots
from radar.jobs.context import RunContext
from radar.jobs.ingest import records_table
from radar.jobs.resolve import ATTRIBUTES, ENTITIES, LINKS
from radar.reference import city_districts

EVENTS = "features/events"
SNAPSHOTS = "features/snapshots"
CATALOG = "features/catalog"


def run(ctx: RunContext) -> dict[str, Any]:
    """Build and publish events, snapshots and the catalog; returns their figures."""
    spark, lake, pol = ctx.spark, ctx.lake, ctx.policy
    # a lake ingested before a record type existed (annual reports) simply has no such table
    tables = {
        rt: lake.read_spark(spark, records_table(rt), ctx.as_of)
        for rt in ctx.sources.record_types
        if lake.exists(records_table(rt), ctx.as_of)
    }
    links = lake.read_spark(spark, LINKS, ctx.as_of)
    entities = lake.read_spark(spark, ENTITIES, ctx.as_of)
    attributes = lake.read_spark(spark, ATTRIBUTES, ctx.as_of)

    t0 = time.perf_counter()
    events = build_events(tables, links, entities, pol.features, pol.labels)
    lake.publish_spark(events, EVENTS, ctx.as_of, partitions=max(1, ctx.profile.spark.shuffle_partitions // 4))
    events = lake.read_spark(spark, EVENTS, ctx.as_of)
    t1 = time.perf_counter()

    catalog = feature_catalog()
    districts = list(city_districts(pol.resolve.city_division, pol.resolve.extra_divisions))
    snaps = build_snapshots(
        entities, events, attributes, catalog, pol.features, pol.labels, ctx.as_of, districts, pol.graph.hub_cap,
        reports=build_reports(tables, links),
    )
    lake.publish_spark(snaps, SNAPSHOTS, ctx.as_of, partitions=ctx.profile.spark.shuffle_partitions)
    t2 = time.perf_counter()
    lake.publish_pandas(pd.DataFrame(catalog_rows(catalog, pol.features)), CATALOG, ctx.as_of)

    s = lake.read_spark(spark, SNAPSHOTS, ctx.as_of)
    summary = s.groupBy("snapshot_date").agg(
        F.count(F.lit(1)).alias("entities"), F.avg("label").alias("positive_rate"), F.first("label_complete").alias("complete")
    ).orderBy("snapshot_date").collect()
    return {
        "events": events.count(),
        "features": len(catalog.built()),
        "phase_seconds": {"events": round(t1 - t0, 1), "snapshots": round(t2 - t1, 1)},
        "snapshots": [
            {"date": r["snapshot_date"].isoformat(), "entities": r["entities"],
             "positive_rate": round(float(r["positive_rate"] or 0), 4), "label_complete": bool(r["complete"])}
            for r in summary
        ],
    }
