"""Connected components of the bipartite entity-attribute graph, in Spark, without entity-entity cliques.

The algorithm is the alternating large-star / small-star of Kiveris et al. (2014), "Connected Components
in MapReduce and Beyond". Nodes get dense 64-bit ids; the edge list is rewritten round after round
until every component is a star around its smallest node:

* large-star: every node ``u`` links each larger neighbour ``v`` to ``m(u)``, the smallest node in
  ``{u} + N(u)``;
* small-star: every node ``u`` links itself and each smaller neighbour to the smallest of them.

Both steps keep connectivity and strictly shrink the graph's "height", and the fixed point is a forest
of stars (every edge points from a leaf to its root, no root has a parent). That is the convergence
check, made explicit after each round; the lineage is cut with ``localCheckpoint`` each round so the
plan never grows. A graph that has not converged in ``max_iterations`` rounds raises
:class:`ComponentsDidNotConverge`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from pyspark.sql.window import Window

from radar.errors import RadarError

log = logging.getLogger(__name__)


class ComponentsDidNotConverge(RadarError):
    """Connected components needed more rounds than ``graph.max_iterations`` allows."""


def _large_star(edges: DataFrame) -> DataFrame:
    """Large-star: for each node u, connect every neighbour v > u to m(u) = min({u} + N(u)).

    The edges it emits point down (v > u >= m(u)); duplicates are left for :func:`_small_star`, whose
    minimum ignores them and whose output is distinct, to save a shuffle per round.
    """
    both = edges.select("src", "dst").union(
        edges.select(F.col("dst").alias("src"), F.col("src").alias("dst"))
    )
    by_node = Window.partitionBy("src")
    return (
        both.withColumn("m", F.least(F.min("dst").over(by_node), F.col("src")))
        .where(F.col("dst") > F.col("src"))
        .select(F.col("dst").alias("src"), F.col("m").alias("dst"))
    )


def _small_star(edges: DataFrame) -> DataFrame:
    """Small-star: for each node u, connect u and every neighbour v < u to m = min({u} + {v < u}).

    Expects edges pointing down (src > dst), as :func:`_large_star` emits them, so the edges (u, v)
    of u list its smaller neighbours (repeats do no harm). The output points down and is distinct.
    """
    with_m = edges.withColumn("m", F.min("dst").over(Window.partitionBy("src")))
    # each neighbour v < u goes to m (v == m gives the edge (m, m), dropped), and u itself goes to m
    return (
        with_m.select(
            F.explode(F.array(F.struct(F.col("dst").alias("src"), "m"), F.struct("src", "m"))).alias("e")
        )
        .select(F.col("e.src").alias("src"), F.col("e.m").alias("dst"))
        .where(F.col("src") != F.col("dst"))
        .distinct()
    )


def _is_star_forest(edges: DataFrame) -> bool:
    """True when every node has at most one parent and no parent has a parent of its own."""
    ends = edges.select(F.col("src").alias("node"), F.lit(1).alias("parent"), F.lit(0).alias("child")).union(
        edges.select(F.col("dst").alias("node"), F.lit(0).alias("parent"), F.lit(1).alias("child"))
    )
    bad = (
        ends.groupBy("node")
        .agg(F.sum("parent").alias("n_parents"), F.max("child").alias("is_parent"))
        .where((F.col("n_parents") > 1) | ((F.col("n_parents") > 0) & (F.col("is_parent") > 0)))
    )
    return bad.limit(1).count() == 0


def _node_ids(
    links: DataFrame, entities: DataFrame | None, cut: Callable[[DataFrame], DataFrame]
) -> tuple[DataFrame, DataFrame]:
    """Dense, fixed 64-bit ids for entity and attribute nodes (materialised, so ids never shift)."""
    ent = links.select("entity_id")
    if entities is not None:
        ent = ent.unionByName(entities.select("entity_id"))
    ent = ent.where(F.col("entity_id").isNotNull()).distinct()
    nodes = (
        ent.select(F.lit(0).alias("kind"), "entity_id", F.lit(None).cast("string").alias("node_id"))
        .unionByName(
            links.select("node_id")
            .distinct()
            .select(
                F.lit(1).alias("kind"),
                F.lit(None).cast(ent.schema["entity_id"].dataType).alias("entity_id"),
                "node_id",
            )
        )
        .withColumn("vid", F.monotonically_increasing_id())
        .transform(cut)
    )
    entity_ids = nodes.where(F.col("kind") == 0).select("entity_id", "vid")
    attribute_ids = nodes.where(F.col("kind") == 1).select("node_id", "vid")
    return entity_ids, attribute_ids


ALGORITHMS: tuple[str, ...] = ("large_star", "graphx")


def star_components(
    edges: DataFrame, max_iterations: int, cut: Callable[[DataFrame], DataFrame]
) -> DataFrame:
    """Large-star / small-star rounds on ``edges`` (src, dst: long ids) until they form a star forest.

    Output: vid, cc (the smallest id of the component), one row per vertex that has an edge. Raises
    :class:`ComponentsDidNotConverge` after ``max_iterations`` rounds without convergence.
    """
    current = edges.select("src", "dst")
    for round_no in range(1, max_iterations + 1):
        current = current.transform(_large_star).transform(_small_star).transform(cut)
        if _is_star_forest(current):
            log.info("connected components converged after %d rounds", round_no)
            break
    else:
        raise ComponentsDidNotConverge(
            f"connected components did not converge within {max_iterations} rounds "
            "(raise graph.max_iterations in conf/policy.yaml)"
        )
    # every non-root node has exactly one edge, to its root (the smallest node id); roots have none
    roots = current.select(F.col("dst").alias("vid")).distinct()
    return current.select(F.col("src").alias("vid"), F.col("dst").alias("cc")).unionByName(
        roots.select("vid", F.col("vid").alias("cc"))
    )


def check_labels(edges: DataFrame, labels: DataFrame) -> None:
    """Raise :class:`ComponentsDidNotConverge` when some edge joins two different labels.

    GraphX stops after its superstep budget whether or not the labels have settled; this is its
    convergence check (one join per end of every edge).
    """
    src = labels.select(F.col("vid").alias("src"), F.col("cc").alias("cc_src"))
    dst = labels.select(F.col("vid").alias("dst"), F.col("cc").alias("cc_dst"))
    split = edges.join(src, "src").join(dst, "dst").where(F.col("cc_src") != F.col("cc_dst"))
    if split.limit(1).count() > 0:
        raise ComponentsDidNotConverge(
            "GraphX connected components stopped before convergence "
            "(raise graph.max_iterations in conf/policy.yaml)"
        )


def connected_components(
    edges: DataFrame,
    max_iterations: int,
    entities: DataFrame | None = None,
    reliable_checkpoint: bool = False,
    algorithm: str = "large_star",
) -> DataFrame:
    """Connected components of entities linked through shared attributes.

    ``edges``: entity_id, node_id (as from :func:`radar.graph.edges.active_attribute_edges`); rows
    marked ``is_hub`` are not paths and are dropped here. ``entities`` (optional, needs entity_id)
    adds entities without any path edge, each its own component.

    ``component_id`` is the smallest entity_id of the component, so it is deterministic and stable as
    long as that member stays. Each round is cut from its lineage with ``localCheckpoint`` (fast, kept
    in executor storage); on a cluster that may lose executors pass ``reliable_checkpoint=True`` to use
    ``checkpoint`` instead (needs ``SparkContext.setCheckpointDir``). Runs Spark jobs eagerly (two per
    round) and raises :class:`ComponentsDidNotConverge` after ``max_iterations`` rounds without
    convergence.

    ``algorithm``: ``large_star`` (the default, see the module docstring) or ``graphx``: GraphX's Pregel
    label propagation through the Java shim of :mod:`radar.graph.graphx`, at most ``max_iterations``
    supersteps (a superstep moves a label one hop, so the graph's diameter bounds it). bench/graph.py
    measures both on the same graphs.

    Output: entity_id, component_id (one row per entity).
    """
    if "is_hub" in edges.columns:
        edges = edges.where(~F.col("is_hub"))
    links = edges.select("entity_id", "node_id").where(F.col("node_id").isNotNull()).distinct()
    # an attribute held by one entity joins nothing: only shared ones enter the rounds (most are not shared)
    shared = links.groupBy("node_id").agg(F.count("*").alias("_n")).where(F.col("_n") > 1)
    paths = links.join(shared.select("node_id"), "node_id", "left_semi")
    members = links.select("entity_id")
    if entities is not None:
        members = members.unionByName(entities.select("entity_id"))

    def cut(df: DataFrame) -> DataFrame:
        return df.checkpoint(eager=True) if reliable_checkpoint else df.localCheckpoint(eager=True)

    entity_ids, attribute_ids = _node_ids(paths, members, cut)
    current = (
        paths.join(entity_ids, "entity_id")
        .select(F.col("vid").alias("src"), "node_id")
        .join(attribute_ids, "node_id")
        .select("src", F.col("vid").alias("dst"))
        .transform(cut)
    )
    if algorithm == "large_star":
        labels = star_components(current, max_iterations, cut)
    elif algorithm == "graphx":
        from radar.graph.graphx import graphx_components

        labels = graphx_components(current, max_iterations).transform(cut)
        check_labels(current, labels)
    else:
        raise ValueError(f"unknown connected-components algorithm {algorithm!r} (one of {ALGORITHMS})")
    root = entity_ids.join(labels, entity_ids["vid"] == labels["vid"], "left").select(
        "entity_id", F.coalesce(labels["cc"], entity_ids["vid"]).alias("root")
    )
    smallest_member = root.groupBy("root").agg(F.min("entity_id").alias("component_id"))
    return root.join(smallest_member, "root").select("entity_id", "component_id")
