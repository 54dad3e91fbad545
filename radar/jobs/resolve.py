"""Resolve job: the entity master, a link from every record to its entity, and the linking attributes.

Outputs: ``resolve/entities``, ``resolve/links`` (one row per current record of every record type but the
registry itself), ``resolve/attributes`` (entity -> person / address / phone edges for the graph).
"""

from __future__ import annotations

from functools import reduce
from typing import Any

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from radar.jobs.context import RunContext
from radar.jobs.ingest import records_table
from radar.resolve.attributes import build_attributes
from radar.resolve.entities import build_entities
from radar.resolve.link import link_records, mentions

ENTITIES = "resolve/entities"
LINKS = "resolve/links"
ATTRIBUTES = "resolve/attributes"
# registry sub-tables carry the owner's USCC and are about the registry entity itself
LINKED_TYPES_EXCLUDED = {"registry"}


def run(ctx: RunContext) -> dict[str, Any]:
    """Build and publish entities, links and attributes; returns link figures per record type."""
    spark, lake = ctx.spark, ctx.lake
    pol = ctx.policy.resolve

    def table(rt: str) -> DataFrame:
        return lake.read_spark(spark, records_table(rt), ctx.as_of)

    entities = build_entities(table("registry"), pol, ctx.as_of)
    lake.publish_spark(entities, ENTITIES, ctx.as_of, partitions=1)
    entities = lake.read_spark(spark, ENTITIES, ctx.as_of)

    all_mentions = reduce(
        DataFrame.unionByName,
        [mentions(table(rt), rt) for rt in ctx.sources.record_types if rt not in LINKED_TYPES_EXCLUDED],
    )
    links = link_records(all_mentions, entities, pol).join(
        entities.select("entity_id", "uscc"), "entity_id", "left"
    )
    lake.publish_spark(links, LINKS, ctx.as_of, partitions=max(1, ctx.profile.spark.shuffle_partitions // 4))

    attributes = build_attributes(entities, table("shareholder"), table("key_personnel"))
    lake.publish_spark(attributes, ATTRIBUTES, ctx.as_of, partitions=1)

    published = lake.read_spark(spark, LINKS, ctx.as_of)
    stats: dict[str, Any] = {}
    for r in published.groupBy("source_type", "method").agg(
        F.count(F.lit(1)).alias("n"), F.sum(F.col("wrong_code").cast("int")).alias("wrong")
    ).collect():
        s = stats.setdefault(r["source_type"], {"records": 0, "by_method": {}, "wrong_code": 0})
        s["records"] += r["n"]
        s["by_method"][r["method"]] = r["n"]
        s["wrong_code"] += int(r["wrong"] or 0)
    for s in stats.values():
        s["linked_rate"] = round(1 - s["by_method"].get("unlinked", 0) / max(1, s["records"]), 4)
        s["wrong_code_rate"] = round(s["wrong_code"] / max(1, s["records"]), 4)
    n_entities = entities.count()
    return {"entities": n_entities, "links": stats}
