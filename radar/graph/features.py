"""Graph features: one row per entity, no nulls, ready to join onto the model's feature table."""

from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from radar.graph.edges import path_edges

FLAG_FEATURES: dict[str, str] = {
    "phoenix": "graph_is_phoenix",
    "ring": "graph_in_ring",
    "shell_address": "graph_shell_address",
    "cross_region": "graph_cross_region",
    "cross_industry": "graph_cross_industry",
}
GRAPH_FEATURES: tuple[str, ...] = (
    "graph_component_size",
    "graph_n_districts",
    "graph_n_industries",
    "graph_component_risky",
    "graph_n_neighbours",
    "graph_risky_neighbours",
    "graph_risky_share",
    "graph_propagated_risk",
    "graph_n_hub_links",
    *FLAG_FEATURES.values(),
)


def neighbour_risk(edges: DataFrame, risky: DataFrame) -> DataFrame:
    """Direct related parties (entities sharing a non-hub attribute) and how many of them are risky.

    Pairs are formed per attribute, which is safe because hubs are not paths: an attribute links at
    most ``hub_cap`` entities, so at most ``hub_cap^2`` pairs.

    Inputs: edges (entity_id, node_id[, is_hub]); risky (entity_id, from
    :func:`radar.graph.risk.risky_members`).
    Output: entity_id, n_neighbours, n_risky_neighbours (entities with at least one neighbour).
    """
    ties = path_edges(edges).select("entity_id", "node_id").distinct()
    pairs = (
        ties.join(ties.withColumnRenamed("entity_id", "neighbour_id"), "node_id")
        .where(F.col("entity_id") != F.col("neighbour_id"))
        .select("entity_id", "neighbour_id")
        .distinct()
    )
    flagged = risky.select(F.col("entity_id").alias("neighbour_id"), F.lit(1).alias("neighbour_risky"))
    return (
        pairs.join(flagged, "neighbour_id", "left")
        .groupBy("entity_id")
        .agg(F.count("*").alias("n_neighbours"), F.count("neighbour_risky").alias("n_risky_neighbours"))
    )


def graph_features(
    entities: DataFrame,
    edges: DataFrame,
    components: DataFrame,
    stats: DataFrame,
    propagated: DataFrame,
    flags: DataFrame,
    risky: DataFrame,
) -> DataFrame:
    """One row per entity of ``entities`` with the graph features (nulls filled).

    * graph_component_size, graph_n_districts, graph_n_industries: of the entity's component (an
      entity alone is a component of size 1);
    * graph_component_risky: risky members of the component other than the entity itself;
    * graph_n_neighbours, graph_risky_neighbours, graph_risky_share: direct related parties, the risky
      ones, and their share (0 without neighbours): the DOMAIN.md §5 contagion signal;
    * graph_propagated_risk: :func:`radar.graph.risk.propagated_risk`;
    * graph_n_hub_links: the entity's ties to hub attributes (mass-registration addresses, agents);
    * graph_is_phoenix, graph_in_ring, graph_shell_address, graph_cross_region,
      graph_cross_industry: 1 when flagged, else 0.

    Inputs: entities (entity_id, district_code, industry_section); edges (as-of edges with is_hub);
    components; stats (:func:`radar.graph.risk.component_stats`); propagated (entity_id,
    propagated_risk); flags (entity_id, flag); risky (entity_id).
    Output: entity_id, then GRAPH_FEATURES in that order.
    """
    self_risky = risky.select("entity_id", F.lit(1).alias("self_risky")).distinct()
    hub_links = edges.where(F.col("is_hub")).groupBy("entity_id").agg(F.count("*").alias("graph_n_hub_links"))
    flag_table = (
        flags.select("entity_id", "flag")
        .distinct()
        .groupBy("entity_id")
        .pivot("flag", list(FLAG_FEATURES))
        .agg(F.max(F.lit(1)))
    )
    for flag, feature in FLAG_FEATURES.items():
        flag_table = flag_table.withColumnRenamed(flag, feature)
    # an entity outside ``components`` is alone: size 1, its own district and industry
    own_district = F.when(F.col("district_code").isNotNull(), 1).otherwise(0)
    own_industry = F.when(F.col("industry_section").isNotNull(), 1).otherwise(0)
    out = (
        entities.select("entity_id", "district_code", "industry_section")
        .join(components.select("entity_id", "component_id"), "entity_id", "left")
        .join(
            stats.select("component_id", "size", "n_districts", "n_industries", "n_risky"),
            "component_id",
            "left",
        )
        .join(self_risky, "entity_id", "left")
        .join(neighbour_risk(edges, risky), "entity_id", "left")
        .join(propagated.select("entity_id", "propagated_risk"), "entity_id", "left")
        .join(hub_links, "entity_id", "left")
        .join(flag_table, "entity_id", "left")
        .select(
            "entity_id",
            F.coalesce("size", F.lit(1)).cast("long").alias("graph_component_size"),
            F.coalesce("n_districts", own_district).cast("long").alias("graph_n_districts"),
            F.coalesce("n_industries", own_industry).cast("long").alias("graph_n_industries"),
            F.greatest(F.coalesce("n_risky", F.lit(0)) - F.coalesce("self_risky", F.lit(0)), F.lit(0))
            .cast("long")
            .alias("graph_component_risky"),
            F.coalesce("n_neighbours", F.lit(0)).cast("long").alias("graph_n_neighbours"),
            F.coalesce("n_risky_neighbours", F.lit(0)).cast("long").alias("graph_risky_neighbours"),
            F.coalesce(F.col("n_risky_neighbours") / F.col("n_neighbours"), F.lit(0.0)).alias(
                "graph_risky_share"
            ),
            F.coalesce("propagated_risk", F.lit(0.0)).cast("double").alias("graph_propagated_risk"),
            F.coalesce("graph_n_hub_links", F.lit(0)).cast("long").alias("graph_n_hub_links"),
            *[F.coalesce(F.col(f), F.lit(0)).cast("int").alias(f) for f in FLAG_FEATURES.values()],
        )
    )
    return out.select("entity_id", *GRAPH_FEATURES)
