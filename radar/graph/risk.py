"""Risk on the related-party graph: risky members, component statistics, propagated risk.

Every function is point in time: an event dated after ``as_of`` does not exist yet.
"""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from pyspark.sql import types as T
from scipy import sparse

from radar.graph.edges import operating_on

# adverse events that make a member risky when dated within the window
ADVERSE_EVENTS: tuple[str, ...] = (
    "penalty",
    "abnormal_list",
    "serious_violation",
    "dishonest_debtor",
    "revoked",
)
# listings that make a member risky for as long as they last, however old
LISTINGS: tuple[str, ...] = ("abnormal_list", "serious_violation", "dishonest_debtor")
EVENT_SUMMARY_MAX = 3  # event types named in an evidence line


def risky_members(risk_events: DataFrame, as_of: date, risk_window_days: int) -> DataFrame:
    """Entities that carry risk at ``as_of``: an adverse event within the window, or a current listing.

    Adverse: penalty, abnormal_list, serious_violation, dishonest_debtor or revoked dated in
    ``(as_of - risk_window_days, as_of]``. Currently listed: an abnormal / serious-violation /
    dishonest-debtor listing that began on or before ``as_of`` and has not ended (``end_date`` null or
    after ``as_of``). Deregistration alone is not adverse.

    Input ``risk_events``: entity_id, event_type, event_date, end_date.
    Output: entity_id, n_adverse_events, currently_listed, last_event_date, events (text such as
    ``revoked 2022-05-01; penalty 2021-11-30``: the latest date of each type, newest first).
    """
    day = F.lit(as_of).cast("date")
    ev = risk_events.where(F.col("event_type").isin(*ADVERSE_EVENTS) & (F.col("event_date") <= day))
    in_window = F.col("event_date") > F.date_sub(day, risk_window_days)
    listed = F.col("event_type").isin(*LISTINGS) & (F.col("end_date").isNull() | (F.col("end_date") > day))
    risky = ev.where(in_window | listed)
    latest = risky.groupBy("entity_id", "event_type").agg(F.max("event_date").alias("event_date"))
    summary = latest.groupBy("entity_id").agg(
        F.slice(
            F.sort_array(F.collect_list(F.struct(F.col("event_date"), F.col("event_type"))), asc=False),
            1,
            EVENT_SUMMARY_MAX,
        ).alias("latest")
    )
    return (
        risky.groupBy("entity_id")
        .agg(
            F.count("*").alias("n_adverse_events"),
            F.max(listed).alias("currently_listed"),
            F.max("event_date").alias("last_event_date"),
        )
        .join(summary, "entity_id")
        .withColumn(
            "events",
            F.array_join(
                F.transform(
                    "latest",
                    lambda x: F.concat_ws(" ", x["event_type"], F.date_format(x["event_date"], "yyyy-MM-dd")),
                ),
                "; ",
            ),
        )
        .select("entity_id", "n_adverse_events", "currently_listed", "last_event_date", "events")
    )


def component_stats(
    components: DataFrame,
    entities: DataFrame,
    risk_events: DataFrame,
    as_of: date,
    risk_window_days: int,
) -> DataFrame:
    """Per component: size, districts and industries spanned, risky members, cross-region/industry.

    ``cross_region`` (``cross_industry``): the component spans two or more districts (industry
    sections) and holds at least one risky member (see :func:`risky_members`). ``n_active`` counts the
    members operating at ``as_of`` (established, not deregistered).

    Inputs: components (entity_id, component_id); entities (entity_id, district_code,
    industry_section, established_date, deregistered_date); risk_events.
    Output: component_id, size, n_active, n_districts, n_industries, districts, industries, n_risky,
    risky_share, cross_region, cross_industry.
    """
    risky = risky_members(risk_events, as_of, risk_window_days).select(
        "entity_id", F.lit(1).alias("is_risky")
    )
    members = (
        components.join(
            entities.select(
                "entity_id",
                "district_code",
                "industry_section",
                operating_on(F.lit(as_of).cast("date")).alias("is_operating"),
            ),
            "entity_id",
            "left",
        )
        .join(risky, "entity_id", "left")
        .fillna({"is_risky": 0})
    )
    return (
        members.groupBy("component_id")
        .agg(
            F.count("*").alias("size"),
            F.sum(F.col("is_operating").cast("int")).alias("n_active"),
            F.sort_array(F.collect_set("district_code")).alias("districts"),
            F.sort_array(F.collect_set("industry_section")).alias("industries"),
            F.sum("is_risky").cast("long").alias("n_risky"),
        )
        .withColumn("n_active", F.coalesce("n_active", F.lit(0)).cast("long"))
        .withColumn("n_districts", F.size("districts"))
        .withColumn("n_industries", F.size("industries"))
        .withColumn("risky_share", F.col("n_risky") / F.col("size"))
        .withColumn("cross_region", (F.col("n_districts") > 1) & (F.col("n_risky") > 0))
        .withColumn("cross_industry", (F.col("n_industries") > 1) & (F.col("n_risky") > 0))
        .select(
            "component_id",
            "size",
            "n_active",
            "n_districts",
            "n_industries",
            "districts",
            "industries",
            "n_risky",
            "risky_share",
            "cross_region",
            "cross_industry",
        )
    )


# ---------------------------------------------------------------- propagated risk (per component, in pandas)
def personalised_pagerank(
    adjacency: sparse.csr_matrix, seeds: np.ndarray, damping: float, tol: float = 1e-13
) -> np.ndarray:
    """Solve x = damping * W^T x + (1 - damping) * seeds, W the row-normalised adjacency.

    Linear in ``seeds``: on a graph of disjoint components each component gets its own personalised
    PageRank (networkx's, normalised) times the seeds it holds, which is what
    :func:`propagate_components` reports after subtracting the restart share.
    """
    degree = np.asarray(adjacency.sum(axis=1)).ravel()
    inverse = np.divide(1.0, degree, out=np.zeros_like(degree), where=degree > 0)
    walk_t = (sparse.diags(inverse) @ adjacency).T.tocsr()
    restart = (1 - damping) * seeds
    x = restart.copy()
    for _ in range(1000):
        previous = x
        x = damping * (walk_t @ x) + restart
        if np.abs(x - previous).max(initial=0.0) < tol:
            break
    return x


def propagate_components(pdf: pd.DataFrame, damping: float) -> pd.DataFrame:
    """Propagated risk inside whole components (a pandas group holding any number of them: a bucket).

    ``pdf``: component_id, entity_id, node_id, seed (1.0 for a risky member, else 0.0); one row per
    entity -> attribute edge (repeats count once). Personalised PageRank on the bipartite graph (entities and
    attribute nodes: no entity-entity clique) restarting at the risky members, networkx's per component
    (the tests compare), as one power iteration over the block-diagonal graph of all the bucket's components
    (:func:`personalised_pagerank`): a call per component cost milliseconds of pandas and networkx set-up,
    which a bucket of ten thousand small components multiplied into half a minute on one core. Scores add
    up rather than share out: each seed injects one unit of risk. An entity's ``propagated_risk`` is what
    reaches it through its links, its score minus its own restart share ``(1 - damping) * seed``.

    Output: component_id, entity_id, propagated_risk.
    """
    # Spark hands the rows over in shuffle order; node numbers (and the float sums) must not depend on it
    pdf = pdf.drop_duplicates(["entity_id", "node_id"]).sort_values(["entity_id", "node_id"], kind="stable")
    e_codes, e_ids = pd.factorize(pdf["entity_id"], sort=True)
    a_codes, a_ids = pd.factorize(pdf["node_id"], sort=True)
    n_e, n = len(e_ids), len(e_ids) + len(a_ids)
    links = sparse.coo_matrix((np.ones(len(e_codes)), (e_codes, a_codes + n_e)), shape=(n, n))
    adjacency = (links + links.T).tocsr()
    seeds = np.zeros(n)
    np.maximum.at(seeds, e_codes, pdf["seed"].to_numpy(dtype=float))
    score = personalised_pagerank(adjacency, seeds, damping)[:n_e]
    risk = np.round(np.maximum(score - (1 - damping) * seeds[:n_e], 0.0), 9)
    component = pdf.groupby(e_codes, sort=True)["component_id"].first().to_numpy()
    return pd.DataFrame({"component_id": component, "entity_id": e_ids, "propagated_risk": risk})


def propagated_risk(
    edges: DataFrame,
    components: DataFrame,
    risk_events: DataFrame,
    as_of: date,
    risk_window_days: int,
    damping: float,
) -> DataFrame:
    """Risk carried along the links from risky members, per entity (personalised PageRank with decay).

    Seeds are the risky members of :func:`risky_members`. Computed per bucket of whole components with
    ``applyInPandas`` (:func:`propagate_components`),
    only for components with two or more members and at least one seed; everyone else gets 0. Hub edges are not paths.
    ``damping`` is the probability of following a link at each step (the decay: risk loses
    ``1 - damping`` per hop, and an entity-to-entity hop is two steps, entity -> attribute -> entity).

    Inputs: edges (entity_id, node_id[, is_hub]); components (entity_id, component_id); risk_events.
    Output: entity_id, component_id, propagated_risk (one row per entity of ``components``).
    """
    if "is_hub" in edges.columns:
        edges = edges.where(~F.col("is_hub"))
    seeds = risky_members(risk_events, as_of, risk_window_days).select("entity_id", F.lit(1.0).alias("seed"))
    eligible = (
        components.join(seeds, "entity_id", "left")
        .groupBy("component_id")
        .agg(F.count("*").alias("size"), F.count("seed").alias("n_seeds"))
        .where((F.col("size") > 1) & (F.col("n_seeds") > 0))
        .select("component_id")
    )
    rows = (
        edges.select("entity_id", "node_id")
        .distinct()
        .join(components, "entity_id")
        .join(eligible, "component_id", "left_semi")
        .join(seeds, "entity_id", "left")
        .fillna({"seed": 0.0})
        .select("component_id", "entity_id", "node_id", "seed")
    )
    id_type = components.schema["entity_id"].dataType
    component_type = components.schema["component_id"].dataType
    schema = T.StructType(
        [
            T.StructField("component_id", component_type),
            T.StructField("entity_id", id_type),
            T.StructField("propagated_risk", T.DoubleType()),
        ]
    )
    # many small components per call (:func:`propagate_components`): whole components go to one bucket
    buckets = int(rows.sparkSession.conf.get("spark.sql.shuffle.partitions") or 8)
    scored = rows.groupBy(F.pmod(F.xxhash64("component_id"), F.lit(buckets)).alias("_bucket")).applyInPandas(
        lambda pdf: propagate_components(pdf, damping), schema=schema
    )
    return (
        components.join(scored.select("entity_id", "propagated_risk"), "entity_id", "left")
        .fillna({"propagated_risk": 0.0})
        .select("entity_id", "component_id", "propagated_risk")
    )
