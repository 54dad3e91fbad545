"""Resolve job: the entity master, a link from every record to its entity, and the linking attributes.

Outputs: ``resolve/entities``, ``resolve/identifiers`` (every identifier of every entity: what keeps
``entity_id`` stable across runs), ``resolve/links`` (one row per current record of every record type but
the registry itself), ``resolve/attributes`` (entity -> person / address / phone edges for the graph). The
uncertain matches go to the store's review queue; reviewers' decisions come back from it.
"""

from __future__ import annotations

import threading
from functools import reduce
from typing import Any

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from radar.jobs.context import PhaseClock, RunContext
from radar.jobs.ingest import ROW_GROUP_BYTES, records_table
from radar.resolve.attributes import build_attributes
from radar.resolve.entities import build_master
from radar.resolve.link import mentions, resolve_links
from radar.resolve.match import former_names
from radar.resolve.normalize import name_rules

ENTITIES = "resolve/entities"
IDENTIFIERS = "resolve/identifiers"
LINKS = "resolve/links"
ATTRIBUTES = "resolve/attributes"
# registry sub-tables carry the owner's USCC and are about the registry entity itself
LINKED_TYPES_EXCLUDED = {"registry"}


def previous_identifiers(ctx: RunContext) -> DataFrame | None:
    """The identifiers table of the newest earlier run (None for the first run)."""
    earlier = [d for d in ctx.lake.as_of_dates(IDENTIFIERS) if d < ctx.as_of_s]
    return ctx.lake.read_spark(ctx.spark, IDENTIFIERS, earlier[-1]) if earlier else None


def review_decisions(ctx: RunContext) -> DataFrame | None:
    """Reviewers' decisions from the store (None when there are none)."""
    from radar.store import Store

    with Store(ctx.profile.store_url) as store:
        rows = store.match_decisions()
    if not rows:
        return None
    return ctx.spark.createDataFrame(
        [(r["source_type"], r["record_key"], r["entity_id"], r["decision"]) for r in rows],
        "source_type string, record_key string, entity_id string, decision string",
    )


def store_reviews(ctx: RunContext, review: DataFrame, entities: DataFrame) -> dict[str, int]:
    """Put this run's uncertain matches into the store's review queue (idempotent)."""
    from radar.store import Store

    rows = (
        review.join(
            entities.select(
                "entity_id", F.col("name").alias("entity_name"), F.col("address").alias("entity_address"),
                F.col("uscc").alias("entity_uscc"), "district_code",
            ),
            "entity_id",
            "left",
        )
        .toPandas()
        .astype(object)
        .where(lambda d: d.notna(), None)
        .to_dict("records")
    )
    with Store(ctx.profile.store_url) as store:
        return store.upsert_match_reviews(rows, ctx.as_of)


# Adaptive execution coalesces each shuffle down to about one partition per core: two or three tasks on two
# cores, one core idle while the longest finishes. Resolve's stages are CPU-bound and even: kept at the
# configured number of partitions, the cores share them out.
_MIN_PARTITIONS = "spark.sql.adaptive.coalescePartitions.minPartitionNum"


def _import_fitting_libraries() -> None:
    """Import what the match models are fitted with (scikit-learn: about a second of the driver's time)."""
    import sklearn.ensemble
    import sklearn.linear_model
    import sklearn.metrics  # noqa: F401


def run(ctx: RunContext) -> dict[str, Any]:
    """Build and publish entities, identifiers, links and attributes; returns link figures per record type."""
    # imported while Spark builds the master, not when the models are fitted with the executors waiting
    threading.Thread(target=_import_fitting_libraries, name="radar-imports", daemon=True).start()
    spark = ctx.spark
    before = spark.conf.get(_MIN_PARTITIONS, None)
    spark.conf.set(_MIN_PARTITIONS, str(ctx.profile.spark.shuffle_partitions))
    try:
        return _run(ctx)
    finally:
        if before is None:
            spark.conf.unset(_MIN_PARTITIONS)
        else:
            spark.conf.set(_MIN_PARTITIONS, before)


def _run(ctx: RunContext) -> dict[str, Any]:
    spark, lake = ctx.spark, ctx.lake
    pol = ctx.policy.resolve

    def table(rt: str) -> DataFrame:
        return lake.read_spark(spark, records_table(rt), ctx.as_of)

    clock = PhaseClock()
    entities, identifiers, master_figures = build_master(
        table("registry"), pol, ctx.as_of, previous_identifiers(ctx), pol.identifier_max_iterations
    )
    # materialised before publishing: a one-file write would otherwise run the tables' last stage in one task
    # in row groups of 16 MB: every later job reads them in as many tasks (one 128 MB group was one task, the
    # entities' names normalised by one core while the other waited)
    lake.publish_spark(entities.localCheckpoint(), ENTITIES, ctx.as_of, partitions=1, row_group_bytes=ROW_GROUP_BYTES)
    lake.publish_spark(identifiers.localCheckpoint(), IDENTIFIERS, ctx.as_of, partitions=1,
                       row_group_bytes=ROW_GROUP_BYTES)
    entities = lake.read_spark(spark, ENTITIES, ctx.as_of)
    identifiers = lake.read_spark(spark, IDENTIFIERS, ctx.as_of)
    clock.lap("master")

    all_mentions = reduce(
        DataFrame.unionByName,
        [mentions(table(rt), rt, pol) for rt in ctx.sources.record_types if rt not in LINKED_TYPES_EXCLUDED],
    )
    former = former_names(table("change"), identifiers) if "change" in ctx.sources.record_types else None
    result = resolve_links(
        all_mentions, entities, pol, identifiers=identifiers, former=former, decisions=review_decisions(ctx),
        partitions=ctx.profile.spark.shuffle_partitions,
    )
    links = result.links.join(entities.select("entity_id", "uscc"), "entity_id", "left")
    lake.publish_spark(links, LINKS, ctx.as_of, partitions=max(1, ctx.profile.spark.shuffle_partitions // 4),
                       row_group_bytes=ROW_GROUP_BYTES)
    clock.lap("links")
    # the scoring of the records' candidates on the executors (CPU seconds within the links phase: the first
    # stage, the rivals, the second stage's trees or weights, the best candidate and its reasons)
    scoring = result.figures.pop("scoring_seconds", None)
    scoring_cpu = round(scoring.value, 2) if scoring is not None else None
    review_counts = store_reviews(ctx, result.review, entities)
    clock.lap("review_queue")

    attributes = build_attributes(
        entities, table("shareholder"), table("key_personnel"),
        table("change") if "change" in ctx.sources.record_types else None, lake.read_spark(spark, LINKS, ctx.as_of),
        address_sql=name_rules(pol).address_sql, context_max_entities=ctx.policy.graph.name_context_max_entities,
        max_iterations=ctx.policy.graph.max_iterations,
    )
    lake.publish_spark(attributes.localCheckpoint(), ATTRIBUTES, ctx.as_of, partitions=1, row_group_bytes=ROW_GROUP_BYTES)
    clock.lap("attributes")

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
    ent_stats = entities.groupBy("uscc_status").agg(
        F.count(F.lit(1)).alias("n"), F.sum(F.when(F.col("registry_rows") > 1, 1).otherwise(0)).alias("merged")
    ).collect()
    n_entities = sum(r["n"] for r in ent_stats)
    by_status = {r["uscc_status"]: r["n"] for r in ent_stats}
    records = sum(s["records"] for s in stats.values())
    totals = {
        "records": records,
        "linked_rate": round(1 - sum(s["by_method"].get("unlinked", 0) for s in stats.values()) / max(1, records), 4),
        # records carrying a valid code of another entity (flagged, not trusted)
        "wrong_code_rate": round(sum(s["wrong_code"] for s in stats.values()) / max(1, records), 4),
        # registry entities whose code is shared with another entity's row, or is another entity's
        "duplicate_code_rate": round(
            (by_status.get("duplicate", 0) + by_status.get("inconsistent", 0)) / max(1, n_entities), 4
        ),
        "entities_merged_from_several_rows": sum(r["merged"] for r in ent_stats),
        "entity_code_status": by_status,
        "review_queue": review_counts,
        "match_model": {k: v for k, v in result.model.to_dict().items() if k != "coef"} if result.model else None,
        "match_second_stage": result.figures.get("second_stage"),
        "match_scoring_cpu_seconds": scoring_cpu,
        **master_figures,
    }
    clock.lap("figures")
    return {"entities": n_entities, "links": stats, "totals": totals, "phase_seconds": clock.laps}
