"""The bipartite related-party graph: entity -> attribute edges valid at an as-of date, and hubs.

An attribute node is a person (legal representative, shareholder or officer: one person is one node
whatever his role, so the legal representative of A who holds shares in B links A and B; keyed by ID
number or by name within a shared context, see :mod:`radar.resolve.attributes`), a corporate owner (the
node ``org:<entity>`` ties the owner itself and the entities it holds shares in), an address or a phone.
Entities are never joined to each other directly: the graph stays bipartite, so an attribute shared by n
entities costs n edges, not n^2.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

LINK_TYPES: tuple[str, ...] = ("legal_rep", "shareholder", "officer", "address", "phone")
PERSON_ROLES: tuple[str, ...] = ("legal_rep", "shareholder", "officer")
# a corporate owner's own tie to its ``org:`` node: linked whenever shareholders are
OWNER_TYPE = "entity"
# when an entity is tied to one person in several roles, evidence names the strongest role
ROLE_PRIORITY: dict[str, int] = {
    "legal_rep": 0,
    "shareholder": 1,
    "officer": 2,
    "entity": 3,
    "address": 4,
    "phone": 5,
}

EDGE_COLUMNS = (
    "entity_id",
    "attr_type",
    "node_type",
    "attr_key",
    "node_id",
    "attr_label",
    "since",
    "until",
    "n_entities",
    "is_hub",
    "basis",
)


def node_type_of(attr_type: Column, attr_key: Column | None = None) -> Column:
    """The kind of attribute node: ``org`` for a corporate owner (key ``org:...``), ``person`` for the
    three person roles, else the attribute type (address, phone)."""
    person = F.when(attr_type.isin(*PERSON_ROLES), F.lit("person")).otherwise(attr_type)
    if attr_key is None:
        return person
    return F.when(attr_key.startswith("org:") | (attr_type == OWNER_TYPE), F.lit("org")).otherwise(person)


def attribute_nodes(attributes: DataFrame, link_types: Sequence[str] = LINK_TYPES) -> DataFrame:
    """Attribute rows of the linking types, with their graph node (``node_type``, ``node_id``).

    ``basis`` (how the key was found, see :mod:`radar.resolve.attributes`) is kept, null when absent.
    Keys are trimmed; rows without a key are dropped. ``node_id`` is ``<node_type>:<attr_key>``, e.g.
    ``person:id:210102...``, ``person:name:张三@E01``, ``org:org:E07``, ``address:addr:双塔区...``,
    ``phone:tel:13800000000``. A corporate owner's own ``entity`` tie comes with ``shareholder``. No
    date filter here.
    """
    key = F.trim(F.col("attr_key"))
    types = [*link_types, OWNER_TYPE] if "shareholder" in link_types else list(link_types)
    return (
        attributes.where(F.col("attr_type").isin(*types))
        .withColumn("attr_key", key)
        .where(F.col("attr_key").isNotNull() & (F.length("attr_key") > 0))
        .withColumn("node_type", node_type_of(F.col("attr_type"), F.col("attr_key")))
        .withColumn("node_id", F.concat_ws(":", "node_type", "attr_key"))
        .withColumn("basis", F.col("basis") if "basis" in attributes.columns else F.lit(None).cast("string"))
        .select(
            "entity_id",
            "attr_type",
            "node_type",
            "attr_key",
            "node_id",
            "attr_label",
            "since",
            "until",
            "basis",
        )
    )


def valid_on(day: Column) -> Column:
    """An attribute row holds on ``day``: it began on or before it and had not ended (until is exclusive)."""
    return (F.col("since").isNull() | (F.col("since") <= day)) & (
        F.col("until").isNull() | (F.col("until") > day)
    )


def operating_on(day: Column) -> Column:
    """An entity exists and is not deregistered on ``day`` (point in time, unlike ``is_active`` today)."""
    return (F.col("established_date").isNull() | (F.col("established_date") <= day)) & (
        F.col("deregistered_date").isNull() | (F.col("deregistered_date") > day)
    )


def active_attribute_edges(
    attributes: DataFrame,
    as_of: date,
    hub_cap: int,
    link_types: Sequence[str] = LINK_TYPES,
) -> DataFrame:
    """Entity -> attribute edges valid at ``as_of``, one per (entity, role, attribute), with hub marks.

    Input ``attributes``: entity_id, attr_type, attr_key, attr_label, since (nullable), until (nullable).
    A row is valid when ``since <= as_of`` (or unknown) and ``until`` is null or after ``as_of``: a
    person who left before the as-of date no longer links. Duplicate rows collapse to one edge with the
    earliest ``since`` and the latest ``until`` (null when any copy is open-ended).

    ``n_entities`` counts the entities holding the attribute node at ``as_of`` (a person across all his
    roles). An attribute shared by more than ``hub_cap`` entities is a hub (``is_hub``): it is not a path
    for components (an address hosting hundreds of firms is a signal, not a link) but is reported by
    :func:`attribute_hubs`.

    Output: entity_id, attr_type, node_type, attr_key, node_id, attr_label, since, until, n_entities, is_hub,
    basis.
    """
    day = F.lit(as_of).cast("date")
    edges = (
        attribute_nodes(attributes, link_types)
        .where(valid_on(day))
        .groupBy("entity_id", "attr_type", "node_type", "attr_key", "node_id")
        .agg(
            F.min(F.when(F.length(F.trim("attr_label")) > 0, F.trim("attr_label"))).alias("attr_label"),
            F.min("since").alias("since"),
            F.when(F.count(F.when(F.col("until").isNull(), 1)) > 0, F.lit(None).cast("date"))
            .otherwise(F.max("until"))
            .alias("until"),
            F.min("basis").alias("basis"),
        )
    )
    counts = edges.groupBy("node_id").agg(F.countDistinct("entity_id").alias("n_entities"))
    return (
        edges.join(counts, "node_id")
        .withColumn("attr_label", F.coalesce("attr_label", "attr_key"))
        .withColumn("is_hub", F.col("n_entities") > F.lit(hub_cap))
        .select(*EDGE_COLUMNS)
    )


def path_edges(edges: DataFrame) -> DataFrame:
    """The edges that may carry a path: everything but hubs."""
    return edges.where(~F.col("is_hub")) if "is_hub" in edges.columns else edges


def attribute_hubs(edges: DataFrame) -> DataFrame:
    """Hub attributes of :func:`active_attribute_edges`, for the shell-address and agent screens.

    ``attr_type`` is the node type (``person``, ``address`` or ``phone``: a person is one node whatever
    his roles) and ``roles`` lists the roles seen (e.g. ``[legal_rep, shareholder]``).

    Output: attr_type, attr_key, node_id, attr_label, n_entities, roles.
    """
    return (
        edges.where(F.col("is_hub"))
        .groupBy("node_type", "attr_key", "node_id", "n_entities")
        .agg(F.min("attr_label").alias("attr_label"), F.sort_array(F.collect_set("attr_type")).alias("roles"))
        .select(
            F.col("node_type").alias("attr_type"), "attr_key", "node_id", "attr_label", "n_entities", "roles"
        )
    )
