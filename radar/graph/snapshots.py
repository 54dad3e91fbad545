"""Graph features at every snapshot date at once, point in time, for the model (``graph/snapshots``).

The model trains on monthly snapshots T: a graph feature joined to T must describe the graph as it stood
on T, or the model learns from the future (a ring member's later penalty, a successor founded after T).
The graph of date T is the edges valid on T (:func:`radar.graph.edges.valid_on`) between entities
established by T, with hubs counted on T. Building it in Spark once per date (or once for all dates,
tagged by date) shuffles every edge once per date and runs an iterative components job over 24 times
the graph; here Spark does the work whose size does not grow with the number of dates, and numpy does
the rest, bucket by bucket:

* **hubs** (only a node more than ``hub_cap`` entities ever held can be one on some date): those few
  nodes are counted date by date in Spark, which gives their hub dates, ``graph_n_hub_links`` and their
  shell-address marks; a node that is a hub on every date is dropped from the paths;
* **buckets**: one components run on the union of all dates' paths (every edge, whatever its dates)
  groups entities that are ever connected; the graph of any date splits these groups but never joins
  two of them, so each bucket of groups (hashed) is complete for every date;
* **per bucket** (``cogroup.applyInPandas``, :func:`bucket_snapshot_features`): the edges of each date
  are laid side by side in one sparse matrix (a node of date T is a different vertex from the same node
  of date T'), and scipy finds the components of every date at once, the rings (components of the
  control edges: people and corporate owners) in the same way, the direct neighbours as the matrix
  product of the incidence with itself, and the propagated risk as one personalised-PageRank power
  iteration over all components (linear, so every component gets what its own walk would give);
* **phoenix**: pairs found once (:func:`radar.graph.patterns.phoenix_pairs`) over the whole span, then a
  successor is flagged on T when it was established in the ``new_entity_months`` before T and its tie
  held by T (its predecessor closed before it was born, so before T). The commonness of a name and the
  one-to-one test of the name-only rule use every record up to the as-of date (an approximation: they
  do not say what happened, only how ambiguous a name is).

At the as-of date the features equal those of :func:`radar.graph.features.graph_features` (tested).
``every`` computes the graph on every ``every``-th date only (the as-of date and every ``every`` dates
back, and the oldest); the other dates take the latest computed date before them: staler, never later.
"""

from __future__ import annotations

import math
from datetime import date

import numpy as np
import pandas as pd
from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from pyspark.sql import types as T
from scipy import sparse
from scipy.sparse.csgraph import connected_components as sparse_components

from radar.graph.build import GraphSettings
from radar.graph.components import connected_components
from radar.graph.edges import attribute_nodes, valid_on
from radar.graph.features import FLAG_FEATURES, GRAPH_FEATURES
from radar.graph.patterns import phoenix_pairs
from radar.graph.risk import ADVERSE_EVENTS, LISTINGS, personalised_pagerank

SNAPSHOT_KEY = ("entity_id", "snapshot_date")
CONTROL_NODES = ("person", "org")
# entities per bucket handed to numpy at once (memory grows with it times the number of dates)
BUCKET_ENTITIES = 5000
# the features a bucket computes (the others come from Spark: hub links, phoenix; big shell addresses are added)
FROM_SPARK = ("graph_n_hub_links", "graph_is_phoenix")
BUCKET_FEATURES: tuple[str, ...] = tuple(f for f in GRAPH_FEATURES if f not in FROM_SPARK)
_DOUBLE = {"graph_risky_share", "graph_propagated_risk"}


def _bucket_type(feature: str) -> T.DataType:
    """A flag is an int, a share or a risk a double, a count a long (as GRAPH_FEATURES come out)."""
    if feature in FLAG_FEATURES.values():
        return T.IntegerType()
    return T.DoubleType() if feature in _DOUBLE else T.LongType()


BUCKET_SCHEMA = T.StructType(
    [T.StructField("entity_id", T.StringType()), T.StructField("snapshot_date", T.DateType())]
    + [T.StructField(c, _bucket_type(c)) for c in BUCKET_FEATURES]
)


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


def _months_between(first: date, as_of: date) -> int:
    """Calendar months from ``first``'s month to ``as_of``'s, both counted."""
    return (as_of.year - first.year) * 12 + as_of.month - first.month + 1


def phoenix_lookback_months(dates: list[date], as_of: date, every: int, new_entity_months: int) -> int:
    """How far back successors must be founded for the phoenix flags of every graph date of the snapshots:
    the flag's ``new_entity_months`` before the oldest graph date, in months before ``as_of``."""
    return new_entity_months + _months_between(min(graph_dates(dates, every).values()), as_of)


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


def dated_edges(nodes: DataFrame, dates: DataFrame, hub_cap: int) -> DataFrame:
    """Edges of every date: entity_id, snapshot_date, attr_type, node_type, node_id, is_hub (distinct).

    ``nodes``: attribute rows with their node (:func:`radar.graph.edges.attribute_nodes`) and the
    entity's ``established_date``. An edge of date T holds on T and its entity was established by T;
    ``is_hub`` counts the entities holding the node on T (:func:`radar.graph.edges.active_attribute_edges`
    on each date).
    """
    day = F.col("snapshot_date")
    edges = (
        nodes.crossJoin(F.broadcast(dates))
        .where(valid_on(day))
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


def graph_snapshots(
    entities: DataFrame,
    attributes: DataFrame,
    risk_events: DataFrame,
    dates: list[date],
    as_of: date,
    settings: GraphSettings,
    every: int = 1,
    phoenix_pairs: DataFrame | None = None,
) -> DataFrame:
    """Graph features of every entity established by T, for every snapshot date T (see the module doc).

    Inputs as :func:`radar.graph.build.related_party_graph`; ``dates`` the snapshot dates (the as-of
    date among them). Runs one connected-components job eagerly (the buckets). ``phoenix_pairs``: the
    as-of graph's phoenix pairs when it was built with ``phoenix_lookback_months`` of
    :func:`phoenix_lookback_months` (built here otherwise).

    Output: entity_id, snapshot_date, then GRAPH_FEATURES (no nulls).
    """
    s = settings
    spark = entities.sparkSession
    chosen = graph_dates(dates, every)
    graph_days = sorted(set(chosen.values()))
    days = spark.createDataFrame([(d,) for d in graph_days], "snapshot_date date")
    day = F.col("snapshot_date")

    nodes = attribute_nodes(attributes, s.link_types).join(
        entities.select("entity_id", "established_date"), "entity_id"
    )
    # nodes more than hub_cap entities ever held: the only ones that can be hubs on some date
    big = (
        nodes.groupBy("node_id")
        .agg(F.countDistinct("entity_id").alias("_n"))
        .where(F.col("_n") > s.hub_cap)
        .select("node_id")
    )
    big_edges = dated_edges(nodes.join(F.broadcast(big), "node_id"), days, s.hub_cap).cache()
    hub_days = (
        big_edges.where("is_hub").groupBy("node_id").agg(F.collect_set("snapshot_date").alias("hub_days"))
    )
    always_hub = (
        big_edges.groupBy("node_id")
        .agg(F.min(F.col("is_hub").cast("int")).alias("_h"))
        .where(F.col("_h") == 1)
        .select("node_id")
    )
    path_nodes = (
        nodes.join(F.broadcast(always_hub), "node_id", "left_anti")
        .join(F.broadcast(hub_days), "node_id", "left")
        .select("entity_id", "node_type", "node_id", "since", "until", "hub_days")
    )

    # buckets: groups of entities ever connected, hashed together
    n_entities = entities.count()
    n_buckets = max(1, math.ceil(n_entities / BUCKET_ENTITIES))
    ever = connected_components(
        path_nodes.select("entity_id", "node_id").distinct(),
        s.max_iterations,
        entities=entities.select("entity_id"),
        algorithm=s.components_algorithm,
    )
    bucket = ever.select(
        "entity_id", F.pmod(F.xxhash64("component_id"), F.lit(n_buckets)).alias("_bucket")
    ).cache()

    risky_days = (
        risky_on(risk_events, days, s.risk_window_days)
        .groupBy("entity_id")
        .agg(F.collect_list("snapshot_date").alias("risky_days"))
    )
    members = (
        entities.select(
            "entity_id", "established_date", "deregistered_date", "district_code", "industry_section"
        )
        .join(bucket, "entity_id")
        .join(risky_days, "entity_id", "left")
    )
    # (each side gets its own copy of the bucket column: a cogroup of two joins of one table is ambiguous)
    ties = path_nodes.join(bucket.withColumnRenamed("_bucket", "_tie_bucket"), "entity_id")

    def run_bucket(ties_pdf: pd.DataFrame, members_pdf: pd.DataFrame) -> pd.DataFrame:
        return bucket_snapshot_features(
            ties_pdf, members_pdf, graph_days, s.propagation_damping, s.shell_address_min_entities
        )

    in_buckets = (
        ties.groupBy("_tie_bucket")
        .cogroup(members.groupBy("_bucket"))
        .applyInPandas(run_bucket, schema=BUCKET_SCHEMA)
    )

    # the big nodes, date by date in Spark: hub links, and shell addresses among them
    hub_links = big_edges.where("is_hub").groupBy(*SNAPSHOT_KEY).agg(F.count("*").alias("graph_n_hub_links"))
    operating = entities.select("entity_id", "deregistered_date")
    at_big_address = (
        big_edges.where(F.col("node_type") == "address")
        .select("entity_id", "snapshot_date", "node_id")
        .distinct()
        .join(operating, "entity_id")
        .where(F.col("deregistered_date").isNull() | (F.col("deregistered_date") > day))
    )
    crowded = (
        at_big_address.groupBy("snapshot_date", "node_id")
        .agg(F.count("*").alias("_n"))
        .where(F.col("_n") >= s.shell_address_min_entities)
    )
    big_shell = (
        at_big_address.join(crowded, ["snapshot_date", "node_id"])
        .select(*SNAPSHOT_KEY)
        .distinct()
        .withColumn("_big_shell", F.lit(1))
    )
    hubs = big_edges.where(F.col("is_hub") & (day == F.lit(max(graph_days)))).select("node_id").distinct()
    phoenix = _phoenix_on(attributes, entities, risk_events, hubs, days, graph_days, as_of, s, phoenix_pairs)

    features = (
        in_buckets.join(hub_links, list(SNAPSHOT_KEY), "left")
        .join(phoenix, list(SNAPSHOT_KEY), "left")
        .join(big_shell, list(SNAPSHOT_KEY), "left")
        .withColumn("graph_n_hub_links", F.coalesce("graph_n_hub_links", F.lit(0)).cast("long"))
        .withColumn("graph_is_phoenix", F.coalesce("graph_is_phoenix", F.lit(0)).cast("int"))
        .withColumn(
            "graph_shell_address",
            F.greatest("graph_shell_address", F.coalesce("_big_shell", F.lit(0))).cast("int"),
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
    pairs: DataFrame | None = None,
) -> DataFrame:
    """entity_id, snapshot_date, graph_is_phoenix = 1 for successors flagged on each date (hubs: as of).

    ``pairs``: the phoenix pairs as of ``as_of`` for successors of the whole look-back
    (:func:`phoenix_lookback_months`), when the caller already built them (the as-of graph's).
    """
    if pairs is None:
        pairs = phoenix_pairs(
            attributes,
            entities,
            risk_events,
            hubs,
            as_of,
            s.new_entity_months + _months_between(graph_days[0], as_of),
            s.phoenix_months,
            **s.phoenix_rules(),
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


# ---------------------------------------------------------------- one bucket, every date, in numpy
def _days(values: pd.Series) -> np.ndarray:
    """Dates (or None) as numpy days (NaT for None)."""
    return pd.to_datetime(values).to_numpy().astype("datetime64[D]")


def _held_on(start: np.ndarray, end: np.ndarray | None, days: np.ndarray) -> np.ndarray:
    """rows x dates: began on or before the date (or unknown) and, with ``end``, not ended by it."""
    held = np.isnat(start)[:, None] | (start[:, None] <= days[None, :])
    if end is not None:
        held &= np.isnat(end)[:, None] | (end[:, None] > days[None, :])
    return held


def _date_flags(lists: pd.Series, days: np.ndarray) -> np.ndarray:
    """rows x dates: True where the row's list of dates holds the date."""
    out = np.zeros((len(lists), len(days)), dtype=bool)
    exploded = lists.reset_index(drop=True).explode().dropna()
    if len(exploded):
        position = pd.Series(np.arange(len(days)), index=pd.Index(days.astype("datetime64[ns]")))
        cols = position.reindex(pd.to_datetime(exploded.to_numpy()).to_numpy()).to_numpy()
        keep = ~np.isnan(cols)
        out[exploded.index.to_numpy()[keep], cols[keep].astype(int)] = True
    return out


def _distinct_per_group(groups: np.ndarray, values: np.ndarray, n_groups: int) -> np.ndarray:
    """How many distinct values (>= 0; -1 is missing) each group holds."""
    keep = values >= 0
    width = int(values.max(initial=0)) + 1
    pairs = np.unique(groups[keep].astype(np.int64) * width + values[keep])
    return np.bincount(pairs // width, minlength=n_groups)


def _others_in_group(groups: np.ndarray, values: np.ndarray, own: np.ndarray, n_groups: int) -> np.ndarray:
    """Per row: does the row's group hold a value (>= 0; -1 is missing) other than the row's ``own``?"""
    held = _distinct_per_group(groups, values, n_groups)[groups]
    keep = values >= 0
    width = int(max(values.max(initial=0), own.max(initial=0))) + 1
    present = np.unique(groups[keep].astype(np.int64) * width + values[keep])
    own_in = (own >= 0) & np.isin(groups.astype(np.int64) * width + np.maximum(own, 0), present)
    return (held - own_in.astype(np.int64)) > 0


def bucket_snapshot_features(
    ties: pd.DataFrame, members: pd.DataFrame, days: list[date], damping: float, shell_min: int
) -> pd.DataFrame:
    """The graph features of one bucket's entities on every date (see the module doc).

    ``ties``: entity_id, node_type, node_id, since, until, hub_days (the dates on which the node is a
    hub; empty or null for most); ``members``: entity_id, established_date, deregistered_date,
    district_code, industry_section, risky_days (dates on which the entity is risky). Every holder of a
    node in ``ties`` is in ``members``.

    Output: entity_id, snapshot_date and BUCKET_FEATURES, one row per (entity established by the date,
    date).
    """
    day = np.array(days, dtype="datetime64[D]")
    n_days = len(day)
    members = members.reset_index(drop=True)
    n_ent = len(members)
    if n_ent == 0:
        return pd.DataFrame({c.name: pd.Series(dtype=object) for c in BUCKET_SCHEMA.fields})
    known = _held_on(_days(members["established_date"]), None, day)
    closed = _days(members["deregistered_date"])
    operating = known & (np.isnat(closed)[:, None] | (closed[:, None] > day[None, :]))
    risky = _date_flags(members["risky_days"], day)

    # the edge rows of each date, as (date, entity, node) vertex pairs of one block-diagonal graph
    if "entity_id" not in ties.columns:  # a bucket whose entities hold no attribute at all
        ties = pd.DataFrame(columns=["entity_id", "node_type", "node_id", "since", "until", "hub_days"])
    index = pd.Index(members["entity_id"])
    ent = index.get_indexer(ties["entity_id"])
    ties = ties[ent >= 0]
    ent = ent[ent >= 0]
    node, node_names = pd.factorize(ties["node_id"])
    n_node = len(node_names)
    held = _held_on(_days(ties["since"]), _days(ties["until"]), day) & known[ent]
    hub = _date_flags(ties["hub_days"], day) if len(ties) else np.zeros_like(held)
    control = ties["node_type"].isin(CONTROL_NODES).to_numpy()
    is_address = (ties["node_type"] == "address").to_numpy()

    def vertex_pairs(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        rows, cols = np.nonzero(mask)
        e = cols.astype(np.int64) * n_ent + ent[rows]
        a = cols.astype(np.int64) * n_node + node[rows]
        pairs = np.unique(e * n_a + a)
        return pairs // n_a, pairs % n_a

    n_e, n_a = n_ent * n_days, max(n_node, 1) * n_days
    path_e, path_a = vertex_pairs(held & ~hub)

    def components_of(e: np.ndarray, a: np.ndarray) -> np.ndarray:
        graph = sparse.coo_matrix((np.ones(len(e)), (e, a + n_e)), shape=(n_e + n_a, n_e + n_a)).tocsr()
        return sparse_components(graph, directed=False)[1][:n_e]

    # rows of the output: (entity, date) with the entity established by the date; vertex = date * n + entity
    out_d, out_e = np.nonzero(known.T)
    vertex = out_d.astype(np.int64) * n_ent + out_e
    is_risky = risky.T.ravel()  # indexed by vertex
    own_risky = is_risky[vertex].astype(np.int64)

    label = components_of(path_e, path_a)[vertex]
    n_labels = int(label.max(initial=0)) + 1
    size = np.bincount(label, minlength=n_labels)
    n_risky = np.bincount(label, weights=own_risky, minlength=n_labels).astype(np.int64)
    district, _ = pd.factorize(members["district_code"])
    industry, _ = pd.factorize(members["industry_section"])
    own_district, own_industry = district[out_e], industry[out_e]
    n_districts = _distinct_per_group(label, own_district, n_labels)
    n_industries = _distinct_per_group(label, own_industry, n_labels)
    risky_rows = own_risky == 1
    risky_district = np.where(risky_rows, own_district, -1)
    risky_industry = np.where(risky_rows, own_industry, -1)
    cross_region = _others_in_group(label, risky_district, own_district, n_labels) & (own_district >= 0)
    cross_industry = _others_in_group(label, risky_industry, own_industry, n_labels) & (own_industry >= 0)

    # direct neighbours: entity-date vertices sharing a path node of the same date
    incidence = sparse.coo_matrix((np.ones(len(path_e)), (path_e, path_a)), shape=(n_e, n_a)).tocsr()
    incidence.data[:] = 1.0
    shared = (incidence @ incidence.T).tocsr()
    shared.setdiag(0)
    shared.eliminate_zeros()
    shared.data[:] = 1.0
    n_nb = np.diff(shared.indptr)[vertex]
    n_risky_nb = np.rint(shared @ is_risky.astype(float)).astype(np.int64)[vertex]

    # rings: components of the control edges alone with two or more risky members
    ring_e, ring_a = vertex_pairs(held & ~hub & control[:, None])
    ring_label = components_of(ring_e, ring_a)[vertex]
    ring_risky = np.bincount(ring_label, weights=own_risky, minlength=int(ring_label.max(initial=0)) + 1)
    in_ring = ring_risky[ring_label] >= 2

    # propagated risk: one power iteration over every component (see radar.graph.risk.personalised_pagerank)
    adjacency = sparse.coo_matrix(
        (np.ones(2 * len(path_e)), (np.r_[path_e, path_a + n_e], np.r_[path_a + n_e, path_e])),
        shape=(n_e + n_a, n_e + n_a),
    ).tocsr()
    adjacency.data[:] = 1.0
    seeds = np.zeros(n_e + n_a)
    seeds[:n_e] = is_risky
    score = personalised_pagerank(adjacency, seeds, damping)[:n_e][vertex]
    eligible = (size[label] > 1) & (n_risky[label] > 0)
    propagated = np.where(eligible, np.round(np.maximum(score - (1 - damping) * own_risky, 0.0), 9), 0.0)

    # shell address: an address held on the date by shell_min or more operating entities (hubs too)
    at_e, at_a = vertex_pairs(held & is_address[:, None] & operating[ent])
    crowded = np.bincount(at_a, minlength=n_a) >= shell_min
    shell = np.zeros(n_e, dtype=bool)
    shell[at_e[crowded[at_a]]] = True

    return pd.DataFrame(
        {
            "entity_id": members["entity_id"].to_numpy()[out_e],
            "snapshot_date": pd.to_datetime(day[out_d]).date,
            "graph_component_size": size[label],
            "graph_n_districts": n_districts[label],
            "graph_n_industries": n_industries[label],
            "graph_component_risky": n_risky[label] - own_risky,
            "graph_n_neighbours": n_nb,
            "graph_risky_neighbours": n_risky_nb,
            "graph_risky_share": np.divide(
                n_risky_nb, n_nb, out=np.zeros(len(n_nb), dtype=float), where=n_nb > 0
            ),
            "graph_propagated_risk": propagated,
            "graph_in_ring": in_ring.astype(np.int32),
            "graph_shell_address": shell[vertex].astype(np.int32),
            "graph_cross_region": cross_region.astype(np.int32),
            "graph_cross_industry": cross_industry.astype(np.int32),
        }
    )
