"""Related-party patterns regulators look for, each flag with the evidence path behind it.

Every ``*_flags`` function returns the same shape, so they union into the ``flags`` table:
entity_id, uscc, flag (phoenix / ring / shell_address / cross_region / cross_industry), evidence
(JSON text, see :mod:`radar.graph.evidence`), component_id.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date
from typing import Any

import networkx as nx
import numpy as np
import pandas as pd
from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
from pyspark.sql import types as T
from pyspark.sql.window import Window

from radar.graph.edges import ROLE_PRIORITY, attribute_nodes, operating_on, path_edges
from radar.graph.evidence import (
    BASIS_ORDER,
    MAX_EVIDENCE_STEPS,
    ComponentBook,
    SourceTree,
    evidence_json,
    merge_steps,
    nearest_sources,
)
from radar.graph.risk import risky_members

FLAGS: tuple[str, ...] = ("phoenix", "ring", "shell_address", "cross_region", "cross_industry")
FLAG_COLUMNS = ("entity_id", "uscc", "flag", "evidence", "component_id")
# a successor is tied to its predecessor through who runs or owns it, where it sits, or its phone
PHOENIX_LINK_TYPES: tuple[str, ...] = ("legal_rep", "shareholder", "address", "phone")
# how a predecessor ends: deregistration, revocation of its licence, the serious-violation blacklist
CLOSURE_EVENTS: tuple[str, ...] = ("deregistered", "revoked", "serious_violation")
# an address precise enough to be one place: a house number, building or room
SPECIFIC_ADDRESS = "[号室栋]"
RING_PATHS = 3  # evidence of a ring member: paths from its nearest other risky members
SHELL_NEIGHBOURS = 10  # evidence of a shell address: this many other entities registered there


def _day_text(col: str | Column) -> Column:
    return F.date_format(col, "yyyy-MM-dd")


def _display_id(entities: DataFrame) -> DataFrame:
    """entity_id, uscc, display_id (the USCC, or the entity_id when there is none)."""
    return entities.select(
        "entity_id", "uscc", F.coalesce(F.col("uscc"), F.col("entity_id").cast("string")).alias("display_id")
    )


def _finish(flags: DataFrame, entities: DataFrame, components: DataFrame) -> DataFrame:
    """Add uscc and component_id to entity_id, flag, evidence."""
    return (
        flags.join(entities.select("entity_id", "uscc"), "entity_id", "left")
        .join(components.select("entity_id", "component_id"), "entity_id", "left")
        .select(*FLAG_COLUMNS)
    )


def _steps_json(steps: Column) -> Column:
    """JSON text of an array of step structs, capped like the pandas-built evidence."""
    return F.to_json(F.slice(steps, 1, MAX_EVIDENCE_STEPS))


def _weaker_basis(a: Column, b: Column) -> Column:
    """The weaker of two key bases (see :mod:`radar.graph.evidence`), null when both are firm facts."""

    def rank(c: Column) -> Column:
        r = F.lit(-1)
        for i, basis in enumerate(BASIS_ORDER):
            r = F.when(c == basis, F.lit(i)).otherwise(r)
        return r

    worst = F.greatest(
        F.struct(rank(a).alias("r"), a.alias("basis")), F.struct(rank(b).alias("r"), b.alias("basis"))
    )
    return F.when(worst["r"] >= BASIS_ORDER.index("name+registry"), worst["basis"])


def _role_rank(col: str) -> Column:
    rank = F.lit(99)
    for role, priority in ROLE_PRIORITY.items():
        rank = F.when(F.col(col) == role, F.lit(priority)).otherwise(rank)
    return rank


# ---------------------------------------------------------------- phoenix
def _closures(entities: DataFrame, risk_events: DataFrame, day: Column) -> DataFrame:
    """entity_id, event_type, event_date: deregistrations, revocations and blacklistings by ``day``."""
    return (
        entities.where(F.col("deregistered_date").isNotNull())
        .select(
            "entity_id",
            F.lit("deregistered").alias("event_type"),
            F.col("deregistered_date").alias("event_date"),
        )
        .unionByName(
            risk_events.where(F.col("event_type").isin(*CLOSURE_EVENTS)).select(
                "entity_id", "event_type", "event_date"
            )
        )
        .where(F.col("event_date") <= day)
        .distinct()
    )


def _one_to_one(pairs: DataFrame, s_key: str, p_key: str, among: Column | None = None) -> DataFrame:
    """Keep the pairs in which S has one predecessor through ``s_key`` and P one successor through ``p_key``.

    With ``among``, the predecessors and successors counted (and the pairs held to the rule) are only the
    rows where it holds; the others pass as they are.
    """
    p = F.col("p_id") if among is None else F.when(among, F.col("p_id"))
    s = F.col("s_id") if among is None else F.when(among, F.col("s_id"))
    one = (F.size(F.collect_set(p).over(Window.partitionBy("s_id", s_key))) == 1) & (
        F.size(F.collect_set(s).over(Window.partitionBy("p_id", p_key))) == 1
    )
    return pairs.withColumn("_one", one if among is None else ~among | one).where("_one").drop("_one")


def phoenix_pairs(
    attributes: DataFrame,
    entities: DataFrame,
    risk_events: DataFrame,
    hubs: DataFrame,
    as_of: date,
    new_entity_months: int,
    phoenix_months: int,
    link_types: Sequence[str] = PHOENIX_LINK_TYPES,
    max_sharing: int | None = None,
    max_name_entities: float = 1.0,
    trade_name_similarity: float | None = None,
    trade_name_factor: float = 1.0,
    carries_on: Mapping[str, Sequence[str]] | None = None,
    corroboration: bool = False,
) -> DataFrame:
    """Pairs (successor, predecessor): a new entity tied to one that closed or was blacklisted just before.

    A successor S was established within ``new_entity_months`` before ``as_of``. A predecessor P was
    deregistered (``entities.deregistered_date`` or a ``deregistered`` event), revoked, or put on the
    serious-violation list on a day ``d`` with ``S.established - phoenix_months <= d <= S.established``
    (and ``d <= as_of``). They are tied through a legal representative / shareholder (one person or
    corporate owner, whatever the role on each side), an address or a phone, excluding hubs:

    * S's tie held at some time between its establishment and ``as_of``;
    * P's tie held at some time in the ``phoenix_months`` before ``d`` (a legal representative who is
      swapped out just before the firm is closed still counts);
    * an address only when it is specific (a house number, building or room: a village is no place);
    * a person, address or phone is a tie on its own when at most ``max_sharing`` entities ever held it
      (the two firms alone, at 2). One held by more (a shop front re-let over the years, an accountant's
      phone, a group controller's ID number) ties S to P only when S carries on P's business and it ties
      them one to one: P is S's only predecessor through it and S P's only successor through it. What
      counts as carrying on is ``carries_on``, per node type (person, phone, address) a list of
      ``section`` (the same industry section), ``district`` (the same district) and ``trade_name`` (S's
      trade name resembles P's, see below); by default the same section for a person or phone and, for an
      address, where the next tenant of a shop front is often in the same trade, a resembling trade name
      (the same section when ``trade_name_similarity`` is None). A pair whose trade names resemble needs no
      one to one: the name tells which firm S carries on. ``None``: no limit;
    * a person is the same node on both sides (one ID number, or one name within a shared context, see
      :mod:`radar.resolve.attributes`), or, for people known by name only, the same name when P's side is
      its legal representative (the one who ran it) and the name is uncommon where both firms are: the
      name's holders across the city (entities, at any time) times the share of the city's entities in the
      context both firms share (their district and industry section, else their district, else their
      section; none: no match) expects at most ``max_name_entities`` holders besides S and P there. One to
      one as well: S is the only successor of P with that name and P the only predecessor of S with it
      (``via.basis`` = ``name+district``, or ``name+section`` when only the section is shared). Being
      relative to the city's size, the bar holds as a city grows: a name as frequent in a city ten times as
      large is expected ten times as often in each district. When S's trade name resembles P's, the name
      may be ``trade_name_factor`` times as common: two namesakes' firms rarely have similar trade names
      by chance. Two different ID numbers are never the same person; corporate owners are control, not
      succession, and are not ties here;
    * with ``corroboration``, S and P sharing both a specific address and a person (the same node, or the
      same name as P's legal representative, however common either is, hubs excepted) are tied: two
      independent ties rarely coincide by chance. Such a pair's steps say ``corroborated``;
    * trade names resemble when the Levenshtein similarity of the name cores (``entities.name_core``: the
      name without region, organisation form and branch, see :mod:`radar.resolve.names`), one minus the
      edit distance over the longer core's length, is at least ``trade_name_similarity`` (None: never).
      A pair whose tie needed it says so in ``trade_name`` (the similarity, else null).

    The ties are read from the dated ``attributes`` rows, not the as-of edges, because the
    predecessor's ties have usually ended by ``as_of``.

    Inputs: attributes (entity_id, attr_type, attr_key, attr_label, since, until[, basis]); entities
    (entity_id, uscc, established_date, deregistered_date, district_code[, industry_section]: without it
    no firms share a section[, name_core]: without it no trade names resemble); risk_events; hubs (node_id, from :func:`radar.graph.edges.attribute_hubs`).
    Output (one row per successor, predecessor, tie and closure): s_id, s_display, s_established,
    p_id, p_display, node_id, basis, event_type, event_date, p_type, p_label, p_since, p_until, s_type,
    s_label, s_since, s_until, trade_name, corroborated (true only on the steps of a pair no single tie
    would have tied). :func:`phoenix_flags` turns them into flags with evidence.
    """
    day = F.lit(as_of).cast("date")
    section = (
        F.col("industry_section") if "industry_section" in entities.columns else F.lit(None).cast("string")
    )
    core = F.col("name_core") if "name_core" in entities.columns else F.lit(None).cast("string")
    places = entities.select(
        "entity_id", "district_code", section.alias("industry_section"), core.alias("name_core")
    )
    people = _display_id(entities).join(
        entities.select("entity_id", "established_date").join(places, "entity_id"), "entity_id"
    )
    closures = _closures(entities, risk_events, day)
    ties = (
        attribute_nodes(attributes, link_types)
        .join(hubs.select("node_id"), "node_id", "left_anti")
        # a corporate owner is control, not succession; a village or a street without a number is no place
        .where(F.col("node_type") != "org")
        .where((F.col("node_type") != "address") | F.col("attr_label").rlike(SPECIFIC_ADDRESS))
    )
    ever = ties.groupBy("node_id").agg(F.countDistinct("entity_id").alias("n_ever"))
    ties = ties.join(ever, "node_id")
    successors = (
        ties.join(
            people.where(
                (F.col("established_date") > F.add_months(day, -new_entity_months))
                & (F.col("established_date") <= day)
            ),
            "entity_id",
        )
        .where(
            (F.col("since").isNull() | (F.col("since") <= day))
            & (F.col("until").isNull() | (F.col("until") > F.col("established_date")))
        )
        .select(
            F.col("entity_id").alias("s_id"),
            F.col("display_id").alias("s_display"),
            F.col("established_date").alias("s_established"),
            F.col("district_code").alias("s_district"),
            F.col("industry_section").alias("s_section"),
            F.col("name_core").alias("s_core"),
            "node_id",
            "node_type",
            "attr_key",
            "n_ever",
            F.col("attr_type").alias("s_type"),
            F.col("attr_label").alias("s_label"),
            F.col("since").alias("s_since"),
            F.col("until").alias("s_until"),
            F.col("basis").alias("s_basis"),
        )
    )
    predecessors = (
        ties.join(closures, "entity_id")
        .where(
            (F.col("since").isNull() | (F.col("since") <= F.col("event_date")))
            & (F.col("until").isNull() | (F.col("until") > F.add_months("event_date", -phoenix_months)))
        )
        .join(
            people.select("entity_id", "display_id", "district_code", "industry_section", "name_core"),
            "entity_id",
        )
        .select(
            F.col("entity_id").alias("p_id"),
            F.col("display_id").alias("p_display"),
            F.col("district_code").alias("p_district"),
            F.col("industry_section").alias("p_section"),
            F.col("name_core").alias("p_core"),
            "node_id",
            "node_type",
            "attr_key",
            F.col("attr_type").alias("p_type"),
            F.col("attr_label").alias("p_label"),
            F.col("since").alias("p_since"),
            F.col("until").alias("p_until"),
            F.col("basis").alias("p_basis"),
            "event_type",
            "event_date",
        )
    )
    in_window = (
        (F.col("p_id") != F.col("s_id"))
        & (F.col("event_date") <= F.col("s_established"))
        & (F.col("event_date") >= F.add_months("s_established", -phoenix_months))
    )
    same_district = F.coalesce(F.col("s_district") == F.col("p_district"), F.lit(False))
    same_section = F.coalesce(F.col("s_section") == F.col("p_section"), F.lit(False))
    if trade_name_similarity is None:
        similarity = F.lit(None).cast("double")
    else:
        longer = F.greatest(F.length("s_core"), F.length("p_core"))
        similarity = F.when(longer > 0, 1 - F.levenshtein("s_core", "p_core") / longer)
    similar = F.coalesce(similarity >= F.lit(trade_name_similarity), F.lit(False))
    shown = F.round(similarity, 2)
    same_node = (
        successors.join(predecessors.drop("node_type", "attr_key"), "node_id")
        .where(in_window)
        .withColumn("basis", _weaker_basis(F.col("s_basis"), F.col("p_basis")))
        .withColumn("trade_name", F.lit(None).cast("double"))
    )
    node_pairs = same_node
    if max_sharing is not None:
        # a node more entities held: S carries on P's business, one to one unless the trade names resemble
        shared = F.col("n_ever") > max_sharing
        if carries_on is None:
            by_name = ["trade_name"] if trade_name_similarity is not None else ["section"]
            carries_on = {"person": ["section"], "phone": ["section"], "address": by_name}
        signs = {"section": same_section, "district": same_district, "trade_name": similar}
        carrying = F.lit(False)
        for node_type, ways in carries_on.items():
            way = F.lit(False)
            for w in ways:
                way = way | signs[w]
            carrying = F.when(F.col("node_type") == node_type, way).otherwise(carrying)
        same_node = same_node.where(~shared | carrying).withColumn("trade_name", F.when(shared & similar, shown))
        # where S's trade name resembles a predecessor's through a node, the others through it are not S's
        picked = F.max((shared & similar).cast("int")).over(Window.partitionBy("s_id", "node_id")) == 1
        same_node = _one_to_one(
            same_node.withColumn("_picked", picked).where(~shared | similar | ~F.col("_picked")).drop("_picked"),
            "node_id",
            "node_id",
            among=shared & ~similar,
        )
    # people known by name only: an uncommon name where both firms are, P's legal representative, one to one
    n_all = places.agg(F.count("*").alias("n_all"))
    in_both = places.groupBy(
        F.col("district_code").alias("s_district"), F.col("industry_section").alias("s_section")
    ).agg(F.count("*").alias("n_ds"))
    in_district = places.groupBy(F.col("district_code").alias("s_district")).agg(F.count("*").alias("n_d"))
    in_section = places.groupBy(F.col("industry_section").alias("s_section")).agg(
        F.count("*").alias("n_sec")
    )
    holders = (
        ties.where(F.col("node_type") == "person")
        .groupBy(F.col("attr_label").alias("s_label"))
        .agg(F.countDistinct("entity_id").alias("_holders"))
    )
    # expected holders besides S and P in a context of n entities: (holders - 2) * n / n_all; a similar
    # trade name allows trade_name_factor times as many
    others = F.col("_holders") - 2
    widest = max_name_entities * (trade_name_factor if trade_name_similarity is not None else 1.0)
    s_people = (
        successors.where(F.col("node_type") == "person")
        .withColumnRenamed("node_id", "s_node")
        .join(holders, "s_label")
        .join(in_both, ["s_district", "s_section"], "left")
        .join(in_district, "s_district", "left")
        .join(in_section, "s_section", "left")
        .crossJoin(F.broadcast(n_all))
        # the narrowest context S can share with anyone: a name too common there matches no one
        .where(others * F.least("n_ds", "n_d", "n_sec") <= F.lit(widest) * F.col("n_all"))
    )
    p_people = (
        predecessors.where((F.col("node_type") == "person") & (F.col("p_type") == "legal_rep"))
        .withColumnRenamed("node_id", "p_node")
        .withColumnRenamed("attr_key", "p_key")
    )
    context = (
        F.when(same_district & same_section, F.col("n_ds"))
        .when(same_district, F.col("n_d"))
        .when(same_section, F.col("n_sec"))
    )
    plain = others * context <= F.lit(max_name_entities) * F.col("n_all")
    name_pairs = (
        s_people.join(p_people.drop("node_type"), F.col("s_label") == F.col("p_label"))
        .where(
            in_window
            & (F.col("s_node") != F.col("p_node"))
            & ~(F.col("attr_key").startswith("id:") & F.col("p_key").startswith("id:"))
        )
        .withColumn(
            "node_id",
            F.concat(
                F.lit("name:"),
                "s_label",
                F.lit("@"),
                F.when(same_district, F.col("s_district")).otherwise(F.concat(F.lit("section:"), "s_section")),
            ),
        )
        .withColumn("basis", F.when(same_district, F.lit("name+district")).otherwise(F.lit("name+section")))
    )
    by_name = (
        name_pairs.where(plain | (similar & (others * context <= F.lit(widest) * F.col("n_all"))))
        .withColumn("trade_name", F.when(~plain, shown))
        .transform(lambda df: _one_to_one(df, "s_label", "p_label"))
    )
    cols = [
        "s_id",
        "s_display",
        "s_established",
        "p_id",
        "p_display",
        "node_id",
        "basis",
        "event_type",
        "event_date",
        "p_type",
        "p_label",
        "p_since",
        "p_until",
        "s_type",
        "s_label",
        "s_since",
        "s_until",
        "trade_name",
    ]
    tied = same_node.select(*cols).unionByName(by_name.select(*cols)).withColumn("corroborated", F.lit(False))
    if not corroboration:
        return tied.withColumn("corroborated", F.lit(None).cast("boolean"))
    # an address and a person on the same pair, neither enough alone: both ties are its evidence
    pair = Window.partitionBy("s_id", "p_id")
    corroborated = (
        node_pairs.where(F.col("node_type").isin("address", "person"))
        .select(*cols[:-1], F.col("node_type").alias("_tie"))
        .unionByName(name_pairs.select(*cols[:-1], F.lit("person").alias("_tie")))
        .withColumn("_ties", F.size(F.collect_set("_tie").over(pair)))
        .where(F.col("_ties") == 2)
        .select(*cols[:-1], F.lit(None).cast("double").alias("trade_name"), F.lit(True).alias("corroborated"))
    )
    # a pair a single tie already ties keeps only those ties
    return (
        tied.unionByName(corroborated)
        .withColumn("_alone", ~F.min("corroborated").over(pair))
        .where(~F.col("corroborated") | ~F.col("_alone"))
        .select(*cols, F.when(F.col("corroborated"), F.lit(True)).alias("corroborated"))
    )


def phoenix_flags(
    attributes: DataFrame,
    entities: DataFrame,
    risk_events: DataFrame,
    components: DataFrame,
    hubs: DataFrame,
    as_of: date,
    new_entity_months: int,
    phoenix_months: int,
    link_types: Sequence[str] = PHOENIX_LINK_TYPES,
    max_sharing: int | None = None,
    max_name_entities: float = 1.0,
    trade_name_similarity: float | None = None,
    trade_name_factor: float = 1.0,
    carries_on: Mapping[str, Sequence[str]] | None = None,
    corroboration: bool = False,
    pairs: DataFrame | None = None,
) -> DataFrame:
    """Phoenix flags with evidence: the pairs of :func:`phoenix_pairs`, one flag per successor.

    ``pairs``: pairs :func:`phoenix_pairs` already built as of ``as_of`` with the same rules, perhaps for
    successors of a longer look-back (the graph snapshots'); only those established within
    ``new_entity_months`` before ``as_of`` are flagged.

    Output: entity_id, uscc, flag = ``phoenix``, evidence (steps from each predecessor to S, newest
    closure first; ``via.trade_name_similarity`` when the tie needed the trade names to resemble,
    ``via.corroborated`` when it needed the other tie), component_id.
    """
    if pairs is None:
        pairs = phoenix_pairs(
            attributes,
            entities,
            risk_events,
            hubs,
            as_of,
            new_entity_months,
            phoenix_months,
            link_types,
            max_sharing,
            max_name_entities,
            trade_name_similarity,
            trade_name_factor,
            carries_on,
            corroboration,
        )
    pairs = (
        pairs.where(F.col("s_established") > F.add_months(F.lit(as_of).cast("date"), -new_entity_months))
        .withColumn("p_rank", _role_rank("p_type"))
        .withColumn("s_rank", _role_rank("s_type"))
    )
    # one step per (successor, predecessor, attribute): the strongest role on each side, all events
    steps = pairs.groupBy("s_id", "s_display", "p_id", "p_display", "node_id").agg(
        F.min(F.struct("p_rank", "p_type", "p_label", "p_since", "p_until")).alias("p"),
        F.min(F.struct("s_rank", "s_type", "s_label", "s_since", "s_until")).alias("s"),
        F.max("basis").alias("basis"),
        F.max("trade_name").alias("trade_name"),
        F.max("corroborated").alias("corroborated"),
        F.max("event_date").alias("last_event_date"),
        F.array_join(
            F.sort_array(F.collect_set(F.concat_ws(" ", "event_type", _day_text("event_date"))), asc=False),
            "; ",
        ).alias("event"),
    )
    step = F.struct(
        F.col("p_display").alias("from"),
        F.struct(
            F.col("p.p_type").alias("type"),
            F.coalesce("p.p_label", "s.s_label").alias("label"),
            _day_text("p.p_since").alias("since"),
            _day_text("p.p_until").alias("until"),
            F.col("s.s_type").alias("to_type"),
            _day_text("s.s_since").alias("to_since"),
            _day_text("s.s_until").alias("to_until"),
            F.col("basis").alias("basis"),
            F.col("trade_name").alias("trade_name_similarity"),
            F.col("corroborated").alias("corroborated"),
        ).alias("via"),
        F.col("s_display").alias("to"),
        F.col("event"),
    )
    flags = (
        steps.groupBy("s_id")
        .agg(
            F.sort_array(
                F.collect_list(
                    F.struct(
                        F.col("last_event_date"), F.col("p_display"), F.col("node_id"), step.alias("step")
                    )
                ),
                asc=False,
            ).alias("ordered")
        )
        .select(
            F.col("s_id").alias("entity_id"),
            F.lit("phoenix").alias("flag"),
            _steps_json(F.transform("ordered", lambda x: x["step"])).alias("evidence"),
        )
    )
    return _finish(flags, entities, components)


# ---------------------------------------------------------------- shell address
def shell_address_flags(
    edges: DataFrame,
    entities: DataFrame,
    components: DataFrame,
    as_of: date,
    shell_address_min_entities: int,
) -> DataFrame:
    """Entities registered at an address hosting ``shell_address_min_entities`` or more operating firms.

    The Shandong screen (DOMAIN.md §5): an address with >= 10 registered firms is sampled at 10 %.
    Counted over the as-of edges of type address, hubs included (a hub address is the strongest case),
    among entities operating at ``as_of``; only operating entities are flagged.

    Inputs: edges (from :func:`radar.graph.edges.active_attribute_edges`); entities (entity_id, uscc,
    established_date, deregistered_date); components (entity_id, component_id).
    Output: entity_id, uscc, flag = ``shell_address``, evidence (steps from the entity via the address
    to up to 10 other firms there, ``via.n_entities`` giving the count), component_id.
    """
    day = F.lit(as_of).cast("date")
    operating = _display_id(entities.where(operating_on(day)))
    at_address = (
        edges.where(F.col("node_type") == "address")
        .select("entity_id", "node_id", "attr_label", "since", "until")
        .dropDuplicates(["entity_id", "node_id"])
        .join(operating, "entity_id")
    )
    addresses = (
        at_address.groupBy("node_id")
        .agg(
            F.count("*").alias("n_entities"),
            F.sort_array(
                F.collect_list(
                    F.struct(
                        "display_id", _day_text("since").alias("since"), _day_text("until").alias("until")
                    )
                )
            ).alias("tenants"),
        )
        .where(F.col("n_entities") >= shell_address_min_entities)
    )
    flagged = at_address.join(addresses, "node_id")
    others = F.slice(
        F.filter("tenants", lambda t: t["display_id"] != F.col("display_id")), 1, SHELL_NEIGHBOURS
    )
    steps = F.transform(
        others,
        lambda t: F.struct(
            F.col("display_id").alias("from"),
            F.struct(
                F.lit("address").alias("type"),
                F.col("attr_label").alias("label"),
                _day_text("since").alias("since"),
                _day_text("until").alias("until"),
                F.lit("address").alias("to_type"),
                t["since"].alias("to_since"),
                t["until"].alias("to_until"),
                F.col("n_entities").alias("n_entities"),
            ).alias("via"),
            t["display_id"].alias("to"),
        ),
    )
    flags = (
        flagged.select(
            "entity_id", F.lit("shell_address").alias("flag"), _steps_json(steps).alias("evidence")
        )
        # an entity at two shell addresses gets one flag: the first address's evidence
        .dropDuplicates(["entity_id"])
    )
    return _finish(flags, entities, components)


# ---------------------------------------------------------------- ring and cross-region / cross-industry
def ring_component(pdf: pd.DataFrame) -> pd.DataFrame:
    """Rings inside one component (pandas group of its edges, see :class:`ComponentBook`).

    A ring is a set of entities under common control: connected through persons (legal
    representatives, shareholders, officers) and corporate owners alone, addresses and phones aside, with adverse events in
    two or more members. Every member of the ring is flagged; its evidence shows the paths from its
    nearest other risky members (up to RING_PATHS) to it.

    Output: entity_id, flag, evidence.
    """
    book = ComponentBook(pdf)
    graph = nx.Graph(book.person_links)
    rows: list[tuple[Any, str, str]] = []
    risky = {("e", r) for r in book.risky}  # once: the largest component holds ~27k person groups
    for nodes in nx.connected_components(graph):
        # set intersection walks the smaller side; sources in book.risky's order
        sources = sorted(nodes & risky, key=lambda n: str(n[1]))
        if len(sources) < 2:
            continue
        # a risky member reaches itself first: keep one more path and drop its own
        members = [n for n in sorted(nodes, key=str) if n[0] == "e"]
        reach = nearest_sources(graph.subgraph(nodes).adj, sources, RING_PATHS + 1, targets=members)
        for _, member in members:
            paths = [p for p in reach[("e", member)] if p[0] != ("e", member)][:RING_PATHS]
            steps = merge_steps(book.steps(p) for p in paths)
            rows.append((member, "ring", evidence_json(steps)))
    return pd.DataFrame(rows, columns=["entity_id", "flag", "evidence"])


def cross_component(pdf: pd.DataFrame) -> pd.DataFrame:
    """Cross-region and cross-industry risk inside one component (pandas group of its edges).

    An entity is flagged ``cross_region`` when a risky member of its component sits in another
    district, and ``cross_industry`` when one is in another industry section. The evidence is the
    shortest path from the nearest such risky member to the entity, each step showing both ends'
    district (industry). Entities without a district (industry) are not flagged for it.

    Output: entity_id, flag, evidence.
    """
    book = ComponentBook(pdf)
    graph, nodes = book.sparse_graph()
    entities = [n for kind, n in nodes if kind == "e"]  # numbered first, 0 .. len - 1
    position = {e: i for i, e in enumerate(entities)}
    rows: list[tuple[Any, str, str]] = []
    for fact, flag in (("district", "cross_region"), ("industry", "cross_industry")):
        own = np.array([getattr(book.members[e], fact) for e in entities], dtype=object)
        known = np.array([v is not None for v in own], dtype=bool)
        sources: dict[str, list[int]] = {}
        for r in book.risky:
            if own[position[r]] is not None:
                sources.setdefault(own[position[r]], []).append(position[r])
        if len(set(own[known])) < 2 or not sources:
            continue
        # one multi-source search per district (industry) holding risk: nearest risky member from there;
        # ties between districts go to the one first by name; only the chosen path of each member is built
        held = sorted(sources, key=str)
        trees = [SourceTree.search(graph, sorted(sources[v])) for v in held]
        depth = np.vstack([t.depth[: len(entities)] for t in trees])
        for j, v in enumerate(held):
            depth[j, own == v] = np.inf  # risk from the entity's own district does not count
        nearest = depth.argmin(axis=0)
        for i in np.flatnonzero(np.isfinite(depth[nearest, np.arange(len(entities))]) & known):
            path = [nodes[k] for k in trees[nearest[i]].path(i)]
            rows.append((entities[i], flag, evidence_json(book.steps(path, show=(fact,)))))
    return pd.DataFrame(rows, columns=["entity_id", "flag", "evidence"])


def _component_rows(
    edges: DataFrame,
    components: DataFrame,
    entities: DataFrame,
    risky: DataFrame,
    keep: DataFrame,
) -> DataFrame:
    """One row per path edge of the components in ``keep``, with what evidence shows of each member."""
    return (
        path_edges(edges)
        .select("entity_id", "node_id", "node_type", "attr_type", "attr_label", "since", "until", "basis")
        .join(components, "entity_id")
        .join(keep, "component_id", "left_semi")
        .join(
            _display_id(entities).join(
                entities.select("entity_id", "district_code", "industry_section"), "entity_id"
            ),
            "entity_id",
            "left",
        )
        .join(risky.select("entity_id", "events"), "entity_id", "left")
        .select(
            "component_id",
            "entity_id",
            F.coalesce("display_id", F.col("entity_id").cast("string")).alias("display_id"),
            "node_id",
            "node_type",
            "attr_type",
            "attr_label",
            _day_text("since").alias("since"),
            _day_text("until").alias("until"),
            "basis",
            "district_code",
            "industry_section",
            "events",
        )
    )


def _members_with_risk(components: DataFrame, entities: DataFrame, risky: DataFrame) -> DataFrame:
    return components.join(
        entities.select("entity_id", "district_code", "industry_section"), "entity_id", "left"
    ).join(risky.select("entity_id", F.lit(1).alias("is_risky")), "entity_id", "left")


def _flag_schema(components: DataFrame) -> T.StructType:
    return T.StructType(
        [
            T.StructField("entity_id", components.schema["entity_id"].dataType),
            T.StructField("flag", T.StringType()),
            T.StructField("evidence", T.StringType()),
        ]
    )


def ring_flags(
    edges: DataFrame,
    components: DataFrame,
    entities: DataFrame,
    risk_events: DataFrame,
    as_of: date,
    risk_window_days: int,
) -> DataFrame:
    """Rings of entities under common control with adverse events in more than one member.

    Only components with two or more risky members (:func:`radar.graph.risk.risky_members`) are
    examined, per component with ``applyInPandas`` (:func:`ring_component`), which keeps the person
    links alone: a ring held together only by a shared address or phone is not common control.

    Inputs: edges (as-of edges, hubs are not paths); components; entities (entity_id, uscc,
    district_code, industry_section); risk_events.
    Output: entity_id, uscc, flag = ``ring``, evidence, component_id.
    """
    risky = risky_members(risk_events, as_of, risk_window_days)
    keep = (
        _members_with_risk(components, entities, risky)
        .groupBy("component_id")
        .agg(F.count("is_risky").alias("n_risky"))
        .where(F.col("n_risky") >= 2)
        .select("component_id")
    )
    flags = (
        _component_rows(edges, components, entities, risky, keep)
        .groupBy("component_id")
        .applyInPandas(ring_component, schema=_flag_schema(components))
    )
    return _finish(flags, entities, components)


def cross_flags(
    edges: DataFrame,
    components: DataFrame,
    entities: DataFrame,
    risk_events: DataFrame,
    as_of: date,
    risk_window_days: int,
) -> DataFrame:
    """``cross_region`` / ``cross_industry``: risk reaching an entity from another district / industry.

    Examined: components spanning two or more districts or industry sections that hold a risky member
    (the component-level flags of :func:`radar.graph.risk.component_stats`); per component with
    ``applyInPandas`` (:func:`cross_component`).

    Output: entity_id, uscc, flag (``cross_region`` or ``cross_industry``), evidence, component_id.
    """
    risky = risky_members(risk_events, as_of, risk_window_days)
    keep = (
        _members_with_risk(components, entities, risky)
        .groupBy("component_id")
        .agg(
            F.count("is_risky").alias("n_risky"),
            F.countDistinct("district_code").alias("n_districts"),
            F.countDistinct("industry_section").alias("n_industries"),
        )
        .where((F.col("n_risky") > 0) & ((F.col("n_districts") > 1) | (F.col("n_industries") > 1)))
        .select("component_id")
    )
    flags = (
        _component_rows(edges, components, entities, risky, keep)
        .groupBy("component_id")
        .applyInPandas(cross_component, schema=_flag_schema(components))
    )
    return _finish(flags, entities, components)
