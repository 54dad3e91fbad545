"""Graph features at every snapshot date at once, point in time, for the model (``graph/snapshots``).

The model trains on monthly snapshots T: a graph feature joined to T must describe the graph as it stood
on T, or the model learns from the future (a ring member's later penalty, a successor founded after T).
Building the whole :func:`radar.graph.build.related_party_graph` once per date costs one iterative
components job per date; here every date is computed in the same jobs instead:

* the graph of date T is the edges valid on T (:func:`radar.graph.edges.valid_on`) between entities
  established by T, with hubs counted on T; every node is prefixed with its date (``2024-03-31|...``),
  so the graphs of all dates form one disjoint graph and **one** large-star/small-star run finds the
  components of every date (the rounds needed grow with the diameter, not with the number of dates);
* the rings of T (entities linked through people and corporate owners alone, two or more risky members
  on T) are the components of the control edges of T, found by a second run;
* risky members, component statistics, direct neighbours, hub links, shell addresses and cross-region /
  cross-industry exposure are aggregations keyed by (date, ...); propagated risk is personalised
  PageRank per (date, component) through ``applyInPandas``;
* phoenix: pairs found once (:func:`radar.graph.patterns.phoenix_pairs`) over the whole span, then a
  successor is flagged on T when it was established in the ``new_entity_months`` before T and its tie
  held by T (its predecessor closed before it was born, so before T). The commonness of a name and the
  one-to-one test of the name-only rule use every record up to the as-of date (an approximation: they
  do not say what happened, only how ambiguous a name is).

At the as-of date the features equal those of :func:`radar.graph.features.graph_features` (tested).
``every`` computes the graph on every ``every``-th date only (the as-of date and every ``every`` dates
back, and the oldest); the other dates take the latest computed date before them: staler, never later.
"""

from __future__ import annotations

from datetime import date

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
from pyspark.sql import types as T
from pyspark.sql.window import Window

from radar.graph.build import GraphSettings
from radar.graph.components import connected_components
from radar.graph.edges import attribute_nodes, operating_on, valid_on
from radar.graph.features import GRAPH_FEATURES
from radar.graph.patterns import PHOENIX_LINK_TYPES, phoenix_pairs
from radar.graph.risk import ADVERSE_EVENTS, LISTINGS, propagate_component

SNAPSHOT_KEY = ("entity_id", "snapshot_date")


def graph_dates(dates: list[date], every: int) -> dict[date, date]:
    """For each snapshot date, the date whose graph it takes: itself when ``every`` is 1, else the latest
    computed date on or before it (computed: the newest date, every ``every``-th one back, the oldest)."""
    ordered = sorted(dates)
    computed = set(ordered[::-1][:: max(1, every)]) | {ordered[0]}
    out, last = {}, ordered[0]
    for d in ordered:
        if d in computed:
            last = d
        out[d] = last
    return out


def _tag(day: str | Column, value: str | Column) -> Column:
    """``<yyyy-MM-dd>|<value>``: a node of the graph of one date."""
    return F.concat_ws(
        "|", F.date_format(day, "yyyy-MM-dd"), F.col(value) if isinstance(value, str) else value
    )


def _untag(col: str) -> tuple[Column, Column]:
    """(snapshot_date, value) of a tagged node."""
    return F.to_date(F.substring_index(col, "|", 1)), F.expr(f"substring({col}, 12)")


def risky_on(risk_events: DataFrame, dates: DataFrame, risk_window_days: int) -> DataFrame:
    """:func:`radar.graph.risk.risky_members` on every date: entity_id, snapshot_date (distinct)."""
    day = F.col("snapshot_date")
    ev = risk_events.where(F.col("event_type").isin(*ADVERSE_EVENTS)).crossJoin(F.broadcast(dates))
    in_window = (F.col("event_date") <= day) & (F.col("event_date") > F.date_sub(day, risk_window_days))
    listed = (
        F.col("event_type").isin(*LISTINGS)
        & (F.col("event_date") <= day)
        & (F.col("end_date").isNull() | (F.col("end_date") > day))
    )
    return ev.where(in_window | listed).select("entity_id", "snapshot_date").distinct()


def dated_edges(
    attributes: DataFrame, entities: DataFrame, dates: DataFrame, hub_cap: int, link_types: tuple[str, ...]
) -> DataFrame:
    """Edges of every date: entity_id, snapshot_date, attr_type, node_type, node_id, is_hub (distinct).

    An edge of date T holds on T and its entity was established by T; ``is_hub`` counts the entities
    holding the node on T (:func:`radar.graph.edges.active_attribute_edges` on each date).
    """
    day = F.col("snapshot_date")
    founded = entities.select("entity_id", "established_date")
    edges = (
        attribute_nodes(attributes, link_types)
        .crossJoin(F.broadcast(dates))
        .where(valid_on(day))
        .join(founded, "entity_id")
        .where(F.col("established_date").isNull() | (F.col("established_date") <= day))
        .select("entity_id", "snapshot_date", "attr_type", "node_type", "node_id")
        .distinct()
    )
    counts = edges.groupBy("snapshot_date", "node_id").agg(F.countDistinct("entity_id").alias("_n"))
    return (
        edges.join(counts, ["snapshot_date", "node_id"])
        .withColumn("is_hub", F.col("_n") > hub_cap)
        .drop("_n")
    )


def dated_components(edges: DataFrame, known: DataFrame, max_iterations: int, algorithm: str) -> DataFrame:
    """Components of every date in one run: entity_id, snapshot_date, component_id (``<date>|<entity>``)."""
    tagged = edges.select(
        _tag("snapshot_date", "entity_id").alias("entity_id"),
        _tag("snapshot_date", "node_id").alias("node_id"),
    )
    nodes = known.select(_tag("snapshot_date", "entity_id").alias("entity_id"))
    comps = connected_components(tagged, max_iterations, entities=nodes, algorithm=algorithm)
    day, entity = _untag("entity_id")
    return comps.select(entity.alias("entity_id"), day.alias("snapshot_date"), "component_id")


def graph_snapshots(
    entities: DataFrame,
    attributes: DataFrame,
    risk_events: DataFrame,
    dates: list[date],
    as_of: date,
    settings: GraphSettings,
    every: int = 1,
) -> DataFrame:
    """Graph features of every entity established by T, for every snapshot date T (see the module doc).

    Inputs as :func:`radar.graph.build.related_party_graph`; ``dates`` the snapshot dates (the as-of
    date among them). Runs two connected-components jobs eagerly.

    Output: entity_id, snapshot_date, then GRAPH_FEATURES (no nulls).
    """
    s = settings
    spark = entities.sparkSession
    chosen = graph_dates(dates, every)
    graph_days = sorted(set(chosen.values()))
    days = spark.createDataFrame([(d,) for d in graph_days], "snapshot_date date")
    day = F.col("snapshot_date")
    known = (
        entities.crossJoin(F.broadcast(days))
        .where(F.col("established_date").isNull() | (F.col("established_date") <= day))
        .select(
            "entity_id",
            "snapshot_date",
            "district_code",
            "industry_section",
            operating_on(day).alias("_operating"),
        )
        .cache()
    )
    edges = dated_edges(attributes, entities, days, s.hub_cap, s.link_types).cache()
    paths = edges.where(~F.col("is_hub"))
    comps = dated_components(paths, known, s.max_iterations, s.components_algorithm).cache()
    risky = risky_on(risk_events, days, s.risk_window_days).withColumn("_risky", F.lit(1))

    members = (
        known.join(comps, list(SNAPSHOT_KEY), "left")
        .join(risky, list(SNAPSHOT_KEY), "left")
        .withColumn("component_id", F.coalesce("component_id", _tag("snapshot_date", "entity_id")))
        .fillna({"_risky": 0})
        .cache()
    )
    stats = members.groupBy("snapshot_date", "component_id").agg(
        F.count("*").alias("_size"),
        F.countDistinct("district_code").alias("_n_districts"),
        F.countDistinct("industry_section").alias("_n_industries"),
        F.sum("_risky").alias("_n_risky"),
        F.collect_set(F.when(F.col("_risky") == 1, F.col("district_code"))).alias("_risky_districts"),
        F.collect_set(F.when(F.col("_risky") == 1, F.col("industry_section"))).alias("_risky_industries"),
    )

    # direct neighbours on T (hubs are not paths, so at most hub_cap^2 pairs per node)
    ties = paths.select("entity_id", "snapshot_date", "node_id").distinct()
    pairs = (
        ties.join(ties.withColumnRenamed("entity_id", "_nb"), ["snapshot_date", "node_id"])
        .where(F.col("entity_id") != F.col("_nb"))
        .select("entity_id", "snapshot_date", "_nb")
        .distinct()
        .join(
            risky.select(F.col("entity_id").alias("_nb"), "snapshot_date", "_risky"),
            ["_nb", "snapshot_date"],
            "left",
        )
        .groupBy(*SNAPSHOT_KEY)
        .agg(F.count("*").alias("_n_nb"), F.count("_risky").alias("_n_risky_nb"))
    )
    hub_links = edges.where("is_hub").groupBy(*SNAPSHOT_KEY).agg(F.count("*").alias("graph_n_hub_links"))

    # rings: components of the control edges (people, corporate owners) with two or more risky members
    control = paths.where(F.col("node_type").isin("person", "org"))
    rings = (
        dated_components(
            control,
            control.select("entity_id", "snapshot_date").distinct(),
            s.max_iterations,
            s.components_algorithm,
        )
        .join(risky, list(SNAPSHOT_KEY), "left")
        .withColumn(
            "_n",
            F.sum(F.coalesce("_risky", F.lit(0))).over(Window.partitionBy("snapshot_date", "component_id")),
        )
        .where(F.col("_n") >= 2)
        .select(*SNAPSHOT_KEY, F.lit(1).alias("graph_in_ring"))
    )

    # shell address: an address where shell_address_min_entities or more operating firms sit on T
    at_address = (
        edges.where(F.col("node_type") == "address")
        .select("entity_id", "snapshot_date", "node_id")
        .distinct()
        .join(known.where("_operating").select(*SNAPSHOT_KEY), list(SNAPSHOT_KEY))
    )
    crowded = (
        at_address.groupBy("snapshot_date", "node_id")
        .agg(F.count("*").alias("_n"))
        .where(F.col("_n") >= s.shell_address_min_entities)
    )
    shell = (
        at_address.join(crowded, ["snapshot_date", "node_id"])
        .select(*SNAPSHOT_KEY)
        .distinct()
        .withColumn("graph_shell_address", F.lit(1))
    )

    hubs = edges.where(F.col("is_hub") & (day == F.lit(max(graph_days)))).select("node_id").distinct()
    phoenix = _phoenix_on(attributes, entities, risk_events, hubs, days, graph_days, as_of, s)
    propagated = _propagated_on(paths, members, s.propagation_damping, s.networkx_max_entities)

    def own_in(col: str, arr: str) -> Column:
        return F.array_contains(arr, F.col(col)).cast("int")

    features = (
        members.join(stats, ["snapshot_date", "component_id"])
        .join(pairs, list(SNAPSHOT_KEY), "left")
        .join(propagated, list(SNAPSHOT_KEY), "left")
        .join(hub_links, list(SNAPSHOT_KEY), "left")
        .join(phoenix, list(SNAPSHOT_KEY), "left")
        .join(rings, list(SNAPSHOT_KEY), "left")
        .join(shell, list(SNAPSHOT_KEY), "left")
        .select(
            *SNAPSHOT_KEY,
            F.col("_size").cast("long").alias("graph_component_size"),
            F.col("_n_districts").cast("long").alias("graph_n_districts"),
            F.col("_n_industries").cast("long").alias("graph_n_industries"),
            (F.col("_n_risky") - F.col("_risky")).cast("long").alias("graph_component_risky"),
            F.coalesce("_n_nb", F.lit(0)).cast("long").alias("graph_n_neighbours"),
            F.coalesce("_n_risky_nb", F.lit(0)).cast("long").alias("graph_risky_neighbours"),
            F.coalesce(F.col("_n_risky_nb") / F.col("_n_nb"), F.lit(0.0)).alias("graph_risky_share"),
            F.coalesce("propagated_risk", F.lit(0.0)).cast("double").alias("graph_propagated_risk"),
            F.coalesce("graph_n_hub_links", F.lit(0)).cast("long").alias("graph_n_hub_links"),
            F.coalesce("graph_is_phoenix", F.lit(0)).cast("int").alias("graph_is_phoenix"),
            F.coalesce("graph_in_ring", F.lit(0)).cast("int").alias("graph_in_ring"),
            F.coalesce("graph_shell_address", F.lit(0)).cast("int").alias("graph_shell_address"),
            # risk from another district (industry) of the component reaches the entity
            F.when(
                F.col("district_code").isNotNull(),
                (F.size("_risky_districts") - own_in("district_code", "_risky_districts") > 0).cast("int"),
            )
            .otherwise(0)
            .alias("graph_cross_region"),
            F.when(
                F.col("industry_section").isNotNull(),
                (F.size("_risky_industries") - own_in("industry_section", "_risky_industries") > 0).cast(
                    "int"
                ),
            )
            .otherwise(0)
            .alias("graph_cross_industry"),
        )
    )
    # every snapshot date takes the graph of its chosen date (itself unless ``every`` > 1)
    mapping = spark.createDataFrame(
        [(d, g) for d, g in chosen.items()], "snapshot_date date, _graph_date date"
    )
    return (
        features.withColumnRenamed("snapshot_date", "_graph_date")
        .join(F.broadcast(mapping), "_graph_date")
        .select(*SNAPSHOT_KEY, *GRAPH_FEATURES)
    )


def _phoenix_on(
    attributes: DataFrame,
    entities: DataFrame,
    risk_events: DataFrame,
    hubs: DataFrame,
    days: DataFrame,
    graph_days: list[date],
    as_of: date,
    s: GraphSettings,
) -> DataFrame:
    """entity_id, snapshot_date, graph_is_phoenix = 1 for successors flagged on each date (hubs: as of)."""
    span = (as_of.year - graph_days[0].year) * 12 + as_of.month - graph_days[0].month + 1
    pairs = phoenix_pairs(
        attributes,
        entities,
        risk_events,
        hubs,
        as_of,
        s.new_entity_months + span,
        s.phoenix_months,
        link_types=[t for t in PHOENIX_LINK_TYPES if t in s.link_types],
        max_sharing=s.phoenix_max_sharing,
        max_name_entities=s.phoenix_name_max_entities,
    )
    day = F.col("snapshot_date")
    return (
        pairs.select("s_id", "s_established", "s_since")
        .crossJoin(F.broadcast(days))
        .where(
            (F.col("s_established") <= day)
            & (F.col("s_established") > F.add_months(day, -s.new_entity_months))
            & (F.col("s_since").isNull() | (F.col("s_since") <= day))
        )
        .select(F.col("s_id").alias("entity_id"), "snapshot_date", F.lit(1).alias("graph_is_phoenix"))
        .distinct()
    )


def _propagated_on(
    paths: DataFrame, members: DataFrame, damping: float, networkx_max_entities: int
) -> DataFrame:
    """entity_id, snapshot_date, propagated_risk: personalised PageRank per (date, component) with seeds."""
    eligible = (
        members.groupBy("snapshot_date", "component_id")
        .agg(F.count("*").alias("_size"), F.sum("_risky").alias("_seeds"))
        .where((F.col("_size") > 1) & (F.col("_seeds") > 0))
        .select("snapshot_date", "component_id")
    )
    rows = (
        paths.select("entity_id", "snapshot_date", "node_id")
        .distinct()
        .join(
            members.select(*SNAPSHOT_KEY, "component_id", F.col("_risky").cast("double").alias("seed")),
            list(SNAPSHOT_KEY),
        )
        .join(eligible, ["snapshot_date", "component_id"], "left_semi")
        .select(
            "component_id",
            _tag("snapshot_date", "entity_id").alias("entity_id"),
            "node_id",
            "seed",
        )
    )
    schema = T.StructType(
        [
            T.StructField("component_id", T.StringType()),
            T.StructField("entity_id", T.StringType()),
            T.StructField("propagated_risk", T.DoubleType()),
        ]
    )
    scored = rows.groupBy("component_id").applyInPandas(
        lambda pdf: propagate_component(pdf, damping, networkx_max_entities), schema=schema
    )
    day, entity = _untag("entity_id")
    return scored.select(entity.alias("entity_id"), day.alias("snapshot_date"), "propagated_risk")
