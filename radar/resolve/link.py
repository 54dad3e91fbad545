"""Linking every record to a registry entity, or saying why it cannot be linked.

Exact rules first, by identifier; the first that names one entity wins:

1. ``uscc``: a valid USCC an entity trusts (see :mod:`radar.resolve.entities`), when the record's name
   agrees with one of the entity's names (a valid code of another entity is flagged ``wrong_code`` and not
   trusted);
2. ``uscc`` by organisation code: an enterprise's USCC whose positions 9-17 are an entity's organisation
   code (the registry wrote a wrong or invalid code for it), or an organisation code in the code column;
3. ``reg_no``: a legacy 15-digit registration number (from its column, or found in the code column);
4. ``uscc`` by the code as written: an invalid code the registry wrote the same way, or a code one
   character off an entity's (a typo), with an agreeing name (probability ``match.near_code_probability``).

Most records carry their entity's own code under its very registry name: rule 1 links them with nothing to
check (:func:`quick_links`), so only the others are prepared (names and addresses taken apart) and go
through the rules' lookups and the name check.

What they leave goes to the calibrated match of :mod:`radar.resolve.match`: blocking, comparison of name,
address, legal representative, phone and hints, a probability, then (``match.second_stage``) each candidate
weighed against the record's other candidates (:func:`radar.resolve.model.fit_rival_model`; with
``second_stage.kind: gbm``, gradient-boosted trees give that probability), each record's candidates scored
where they are compared (:mod:`radar.resolve.scoring`). At or above ``match.accept`` the record is
linked (method ``name``, or ``name+address`` when the address agrees); between ``match.review`` and
``match.accept`` it waits in the review queue (unlinked until a reviewer decides); below, it stays unlinked
with the reason. A reviewer's decision on a (record, entity) pair is reused by every later run: accepted is
linked with method ``review``; rejected is never proposed again.

A natural person (subject category 自然人, or a masked ID with a short name) is never linked by name.
"""

from __future__ import annotations

import contextlib
import os
import re
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from radar.config import MatchSettings, ResolvePolicy
from radar.ingest.parse import ident
from radar.reference import city_districts, industry_sections
from radar.resolve.compare import FEATURES, rivals
from radar.resolve.entities import USCC_ALPHABET, hamming_sql
from radar.resolve.match import candidate_pairs, compare, entity_names, entity_side
from radar.resolve.model import (
    GbmModel,
    MatchModel,
    calibration_table,
    fit_gbm_model,
    fit_match_model,
    fit_rival_model,
    out_of_fold_rivals,
)
from radar.resolve.normalize import clean_sql, name_rules, person_sql, phone_sql, with_steps
from radar.resolve.scoring import PairScoring

MENTION_COLUMNS = [
    "source_type", "record_key", "source_file", "source_row", "party_uscc", "party_uscc_raw", "uscc_status",
    "party_name", "party_address", "party_reg_no", "subject_category", "party_legal_rep", "party_phone",
    "party_org_code", "hint_district_text", "hint_entity_type", "hint_industry", "event_date",
]
PERSON_CATEGORIES = ["自然人"]
LINK_COLUMNS = [
    "source_type", "record_key", "source_file", "source_row", "entity_id", "method", "rule", "probability",
    "reason", "wrong_code", "uscc_status", "record_uscc", "record_name", "candidate_entity_id", "evidence",
]
REVIEW_COLUMNS = [
    "source_type", "record_key", "entity_id", "probability", "record_name", "record_address", "record_uscc",
    "evidence",
]


def _first_present(cols: set[str], names: list[str]) -> list[str]:
    return [c for c in names if c in cols]


def mentions(table: DataFrame, record_type: str, policy: ResolvePolicy | None = None) -> DataFrame:
    """The party of each current record of one record type, in the columns linking needs.

    Hint columns (``resolve.hint_columns``) the table has are carried: the units' names that tell the
    entity's district, the entity type, the industry.
    """
    cols = set(table.columns)
    hints = policy.hint_columns if policy is not None else None

    def text(names: list[str]) -> Column:
        present = _first_present(cols, names)
        if not present:
            return F.lit(None).cast("string")
        return F.concat_ws(" ", *[F.col(c).cast("string") for c in present])

    def one(name: str) -> Column:
        return F.col(name) if name in cols else F.lit(None).cast("string")

    return table.where(F.col("is_current") & (F.col("record_status") == "active")).select(
        F.lit(record_type).alias("source_type"),
        "record_key", "source_file", "source_row", "party_uscc", "party_uscc_raw", "uscc_status", "party_name",
        "party_address", "party_reg_no",
        (F.col("subject_category") if "subject_category" in cols else
         F.col("debtor_type") if "debtor_type" in cols else F.lit(None).cast("string")).alias("subject_category"),
        one("party_legal_rep").alias("party_legal_rep"),
        one("party_phone").alias("party_phone"),
        one("org_code").alias("party_org_code"),
        text(hints.district if hints else []).alias("hint_district_text"),
        text(hints.entity_type if hints else []).alias("hint_entity_type"),
        text(hints.industry if hints else []).alias("hint_industry"),
        (F.col("event_date") if "event_date" in cols else F.lit(None).cast("date")).alias("event_date"),
    )


def _by_text(
    df: DataFrame, column: str, derived: dict[str, Column], broadcast_max: int,
    steps: list[tuple[str, str]] | None = None,
) -> DataFrame:
    """``df`` with columns derived from one of its text columns, computed once per distinct text (names and
    addresses repeat across a firm's records; the regexes are the expensive part) and looked up.

    Up to ``broadcast_max`` distinct texts, the lookup is broadcast and the records stay where they are (a
    city's records are ten times its distinct names). More, and both are shuffled: then a row without the
    text joins on a key of its own that no text equals (a join sends every null key to one task, and most
    records of some sources carry no address, so one core would join a third of the records while the other
    waited, and every later step reading them would inherit the lopsided partitions).
    """
    # with the columns the derived ones read (NameRules.name_steps)
    texts = with_steps(df.select(column).where(F.col(column).isNotNull()).distinct(), steps or [])
    lookup = texts.select(F.col(column).alias("_text"), *[c.alias(n) for n, c in derived.items()]).localCheckpoint()
    if lookup.count() <= broadcast_max:
        return df.join(F.broadcast(lookup), F.col(column) == F.col("_text"), "left").drop("_text")
    own = F.concat(F.lit("\u0000"), F.col("source_type"), F.lit("\u0001"), F.col("record_key"))
    key = F.coalesce(F.col(column), own)
    return df.join(lookup, key == F.col("_text"), "left").drop("_text")


def _org_key() -> Column:
    """A mention's organisation code: positions 9-17 of an enterprise's or cooperative's valid USCC, the code
    column holding an organisation code, else the organisation-code column when it is one."""
    raw = F.col("party_uscc_raw")
    org_in_code = F.when(
        (F.col("uscc_status") == "valid") & raw.rlike("^9[13]"), F.substring(raw, 9, 9)
    ).when(F.col("uscc_status") == "org_code", raw)
    org_col = F.upper(F.regexp_replace(F.coalesce("party_org_code", F.lit("")), "[^0-9A-Za-z]", ""))
    return F.coalesce(org_in_code, F.when(org_col.rlike(f"^[{USCC_ALPHABET}]{{9}}$"), org_col))


def _natural_person() -> Column:
    """Whether a mention is about a natural person (subject category 自然人, or a masked ID with a short name)."""
    return F.coalesce(
        F.col("subject_category").isin(PERSON_CATEGORIES)
        | ((F.col("uscc_status") == "masked") & (F.length("party_name") <= 4)),
        F.lit(False),
    )


def _dated(mention: DataFrame) -> DataFrame:
    """``mention`` with a null ``event_date`` when it has none (mentions built before records were dated)."""
    if "event_date" in mention.columns:
        return mention
    return mention.withColumn("event_date", F.lit(None).cast("date"))


def _rid() -> Column:
    """A record's id across record types: its type and natural key."""
    return F.concat_ws("\u0001", "source_type", "record_key")


def prepare(mention: DataFrame, policy: ResolvePolicy, keep: tuple[str, ...] = ()) -> DataFrame:
    """The mentions with the record-side comparison columns (``rid``, ``r_*``) and their identifier keys
    (``keep``: more columns of ``mention`` carried along)."""
    rules = name_rules(policy)
    name_steps, parts = rules.name_steps(ident("party_name"))
    addr_steps, addr = rules.address_steps(ident("party_address"))
    dists = list(city_districts(policy.city_division, policy.extra_divisions))
    sections = {name: letter for letter, name in industry_sections().items()}
    section_case = "CASE " + " ".join(
        f"WHEN contains(coalesce(hint_industry, ''), '{n}') THEN '{c}'" for n, c in sorted(sections.items())
    ) + " END"
    raw = F.col("party_uscc_raw")
    code18 = F.when((F.length(raw) == 18) & raw.rlike(f"^[{USCC_ALPHABET}]+$"), raw)
    code_div = F.substring(code18, 3, 6)
    # the divisions a handling unit's district also serves, comma-joined (``resolve.units_also_serve``)
    served = sorted(policy.units_also_serve.items())
    also = F.create_map(*[F.lit(x) for d, ds in served for x in (d, ",".join(ds))]) if served else F.create_map(
        F.lit(""), F.lit(None).cast("string"))
    m = _dated(mention).select(*MENTION_COLUMNS, *keep)
    m = _by_text(m, "party_name", {
        "r_full": F.expr(parts["full"]), "r_core": F.expr(parts["core"]), "r_region": F.expr(parts["region"]),
        "r_form": F.expr(parts["form"]), "r_branch": F.expr(parts["branch"]),
        "_person": F.expr(person_sql(ident("party_name"))),
        "_unlicensed": _vendor(policy),
    }, policy.lookup_broadcast_max_texts, name_steps)
    m = _by_text(m, "party_address", {
        "r_addr": F.expr(addr["core"]),
        "r_addr_key": F.expr(addr["key"]),
        "r_road": F.expr(addr["road"]),
        "r_addr_district": F.expr(rules.district_of_text_sql(ident("party_address"))),
    }, policy.lookup_broadcast_max_texts, addr_steps)
    m = _by_text(m, "hint_district_text", {
        "r_hint_district": F.expr(rules.district_of_text_sql(ident("hint_district_text"))),
    }, policy.lookup_broadcast_max_texts)
    return m.select(
        *MENTION_COLUMNS, *keep,
        _rid().alias("rid"),
        "r_full", "r_core", "r_region", "r_form", "r_branch",
        F.coalesce(F.col("_person"), F.lit(False)).alias("r_person"),
        "r_addr", "r_addr_key", "r_road", "r_addr_district",
        F.when(code_div.isin(*dists), code_div).alias("r_code_district"),
        "r_hint_district",
        also[F.col("r_hint_district")].alias("r_hint_also"),
        F.col("hint_entity_type").alias("r_hint_type"),
        F.expr(section_case).alias("r_hint_section"),
        F.expr(f"nullif({clean_sql(ident('party_legal_rep'))}, '')").alias("r_rep"),
        F.expr(phone_sql(ident("party_phone"))).alias("r_phone"),
        F.col("event_date").alias("r_date"),
        # a 15-digit registration number also arrives in the code column (e.g. 被诉方注册号, spot-check 注册号)
        F.coalesce(
            F.col("party_reg_no"), F.when(F.col("uscc_status") == "reg_no", F.col("party_uscc_raw"))
        ).alias("reg_key"),
        _org_key().alias("org_key"),
        code18.alias("code18"),
        _natural_person().alias("natural_person"),
        F.coalesce(F.col("_unlicensed"), F.lit(False)).alias("unlicensed"),
    )


def _vendor(policy: ResolvePolicy) -> Column:
    """Whether a record's name describes an unlicensed vendor (``resolve.unlicensed_markers``: 无照, 流动商贩,
    早餐摊点): no registry name says so, and such a record must not be matched by its address alone."""
    words = policy.unlicensed_markers
    if not words:
        return F.lit(False)
    pattern = "|".join(re.escape(w) for w in words)
    return F.coalesce(F.expr(clean_sql(ident("party_name"))).rlike(pattern), F.lit(False))


def _unique(identifiers: DataFrame, id_type: str, trusted_only: bool = True) -> DataFrame:
    """Identifier values of one kind that name exactly one entity: (value, eid)."""
    ids = identifiers.where(F.col("id_type") == id_type)
    if trusted_only:
        ids = ids.where("trusted")
    return ids.groupBy(F.col("id_value").alias("value")).agg(
        F.min("entity_id").alias("eid"), F.max("entity_id").alias("_last")
    ).where(F.col("eid") == F.col("_last")).drop("_last")


# what a record linked by its code and very name carries to the output (see quick_links)
QUICK_COLUMNS = [
    "rid", "source_type", "record_key", "source_file", "source_row", "uscc_status", "party_uscc_raw", "party_name",
]


def quick_links(mention: DataFrame, identifiers: DataFrame, entities: DataFrame) -> DataFrame:
    """``mention`` with ``rid`` and, for a record the identifier rules settle at once, its entity (``_q_eid``)
    and that entity's name core (``_q_core``; both null for every other record).

    Such a record carries a USCC one entity trusts as its own, under that entity's very registry name; the
    organisation code it carries (see :func:`_org_key`) is no other entity's; it is not about a natural person.
    The first rule of :data:`IDENTIFIER_RULES` links it (the name is the entity's, so it agrees: its name core
    is the entity's), and no code of it names another entity as its owner, so the preparation of its name and
    address, the other rules' lookups and the name check would change nothing. Most records of an export
    are so (2,099,602 of the simulated city's 2,317,856): only the others are prepared and checked.
    """
    known = entities.select(F.col("entity_id").alias("eid"), F.col("name").alias("_q_name"),
                            F.col("name_core").alias("_q_entity_core"))
    # kept: every reading of the mentions looks them up
    by_code = _unique(identifiers, "uscc").join(known, "eid").select(
        F.col("value").alias("_q_code"), F.col("eid").alias("_q_hit"), "_q_name", "_q_entity_core"
    ).localCheckpoint()
    by_org = _unique(identifiers, "org_code").select(
        F.col("value").alias("_q_org"), F.col("eid").alias("_q_org_eid")
    ).localCheckpoint()
    quick = (
        F.col("_q_hit").isNotNull() & (F.col("party_name") == F.col("_q_name")) & ~_natural_person()
        & (F.col("_q_org_eid").isNull() | (F.col("_q_org_eid") == F.col("_q_hit")))
    )
    return (
        mention.join(F.broadcast(by_code), F.col("party_uscc") == F.col("_q_code"), "left")
        .join(F.broadcast(by_org), _org_key() == F.col("_q_org"), "left")
        .select(
            *mention.columns, _rid().alias("rid"),
            F.when(quick, F.col("_q_hit")).alias("_q_eid"), F.when(quick, F.col("_q_entity_core")).alias("_q_core"),
        )
    )


# what the name check reads of a record (carried along with its identifier hits)
NAME_CHECK_COLUMNS = ["r_core", "r_full", "r_form", "r_person"]
# the identifier rules in order of precedence: (rule, the record's key column, identifier type, trusted only)
IDENTIFIER_RULES = (
    ("uscc", "party_uscc", "uscc", True),
    ("org_code", "org_key", "org_code", True),
    ("reg_no", "reg_key", "reg_no", True),
    ("written_code", "code18", "written_code", False),
)
# the rules whose code, held by an entity the record's name disagrees with, makes that entity the code's owner
OWNER_RULES = ("uscc", "org_code")


def entity_name_book(names: DataFrame, ents: DataFrame) -> DataFrame:
    """(eid, v_cores, e_rep, e_person_named): what the name check reads of each entity, one row per entity
    (``v_cores`` null when the entity has no name core)."""
    cores = names.groupBy("eid").agg(F.collect_set("v_core").alias("v_cores"))
    return ents.select("eid", "e_rep", "e_person_named").join(cores, "eid", "left")


def name_agreement(policy: ResolvePolicy, v_cores: Column, rep: Column, person_named: Column) -> Column:
    """Whether the record's name (its ``NAME_CHECK_COLUMNS``) agrees with one of an entity's names: the entity's
    name cores ``v_cores``, its legal representative ``rep``, whether it is registered under its operator's
    name ``person_named`` (see :func:`names_agree`).

    The cheap tests come first (most records of a code bear its entity's very name core); the ones that do not
    depend on the entity's names are made once, not per name."""
    rc = F.col("r_core")
    named = F.coalesce(person_named, F.lit(False))
    sign = named & rep.isNotNull() & (
        rc.startswith(F.concat(F.lit("老"), F.substring(rep, 1, 1)))
        | rc.startswith(F.concat(F.lit("小"), F.substring(rep, 1, 1)))
        | rc.startswith(F.concat(F.substring(rep, 1, 1), F.lit("记")))
        | rc.startswith(F.concat(F.substring(rep, 1, 1), F.lit("氏")))
        | ((F.length(rep) == 3) & rc.contains(F.substring(rep, 2, 2)))
    )
    form = F.coalesce(F.col("r_form"), F.lit(""))
    company = form.contains("公司") | form.contains("企业") | form.contains("合作社")
    # an operator-named business is known by a shop sign the registry does not hold: a sign cannot contradict it
    any_sign = named & ~F.coalesce(F.col("r_person"), F.lit(False)) & ~company
    # the record names the entity's legal representative (an entity without one is not named so)
    names_rep = F.coalesce(F.col("r_full") == rep, F.lit(False))

    def agrees_with(vc: Column) -> Column:
        edits = F.least(
            F.lit(policy.uscc_name_max_edits), F.greatest(F.lit(1), F.floor(F.least(F.length(rc), F.length(vc)) / 2))
        )
        return F.coalesce(
            vc.isNull() | vc.contains(rc) | rc.contains(vc) | (F.levenshtein(rc, vc) <= edits), F.lit(True)
        )

    return (
        v_cores.isNull() | (F.size(v_cores) == 0) | rc.isNull() | F.array_contains(v_cores, rc)
        | F.coalesce(sign | any_sign, F.lit(False)) | names_rep | F.exists(v_cores, agrees_with)
    )


def names_agree(pairs: DataFrame, book: DataFrame, policy: ResolvePolicy) -> DataFrame:
    """``pairs`` (eid and the record's ``NAME_CHECK_COLUMNS``) with ``agree``: whether the record's name agrees
    with one of the entity's names (``book``: :func:`entity_name_book`).

    Agreeing: no name to disagree with; one core contains the other; few edits apart (at most
    ``uscc_name_max_edits``, and at most half the shorter core); or an operator-named individual business
    whose operator's surname or given name the record's shop sign carries, or whom the record names. A
    record without a name core, or an entity without names, agrees (nothing to compare); an entity without a
    legal representative is not named by the record.

    The entities' names are looked up per row from a broadcast book (an entity's names as one array).
    """
    p = pairs.join(F.broadcast(book), "eid", "left")
    agree = name_agreement(policy, F.col("v_cores"), F.col("e_rep"), F.col("e_person_named"))
    return p.withColumn("agree", agree).drop("v_cores", "e_rep", "e_person_named")


def identifier_links(
    rec: DataFrame, identifiers: DataFrame, names: DataFrame, ents: DataFrame, policy: ResolvePolicy
) -> DataFrame:
    """``rec`` with its identifier link (``eid``, ``rule``; null when no identifier settles the record) and the
    entity its code belongs to when that entity's name disagrees with the record's (``code_owner``).

    Each rule looks the record's key up in a broadcast table of the values that name one entity, and the
    entity's names in a broadcast book, row by row: the records are neither shuffled nor grouped. The first
    rule of :data:`IDENTIFIER_RULES` that finds an entity whose name agrees settles the record (an old
    registration number needs no agreeing name); a natural person's record has no identifier link. A record
    no rule settles may carry a code one character off an entity's code (trusted or as the registry wrote it,
    never the code itself): a typo, when exactly one such entity has an agreeing name (``near_code``).
    """
    book = entity_name_book(names, ents).localCheckpoint()
    out = rec
    links, owners = [], []
    settled_before = F.lit(False)
    for rule, key, id_type, trusted in IDENTIFIER_RULES:
        e, a = f"_e_{rule}", f"_a_{rule}"
        u = _unique(identifiers, id_type, trusted).select(F.col("value").alias("_value"), F.col("eid").alias(e))
        b = book.select(F.col("eid").alias(e), F.col("v_cores").alias("_vc"), F.col("e_rep").alias("_rep"),
                        F.col("e_person_named").alias("_pn"))
        # a natural person's key is not looked up, nor a later rule's key once an earlier rule settled the record
        # (its finding would be ignored) unless the rule can name a code's owner: a null key skips the lookups
        look = ~F.col("natural_person") if rule in OWNER_RULES else ~F.col("natural_person") & ~settled_before
        out = (
            out.join(F.broadcast(u), F.when(look, F.col(key)) == F.col("_value"), "left").drop("_value")
            .join(F.broadcast(b), e, "left")
            .withColumn(a, F.col(e).isNotNull() & name_agreement(policy, F.col("_vc"), F.col("_rep"), F.col("_pn")))
            .drop("_vc", "_rep", "_pn")
        )
        counts = F.col(e).isNotNull() if rule == "reg_no" else F.col(a)
        links.append((counts, F.col(e), rule))
        settled_before = settled_before | F.coalesce(counts, F.lit(False))
        if rule in OWNER_RULES:
            owners.append(F.when(F.col(e).isNotNull() & ~F.col(a), F.col(e)))
    eid = F.coalesce(*[F.when(c, x) for c, x, _ in links])
    rule_col = F.coalesce(*[F.when(c, F.lit(r)) for c, _, r in links])
    temp = [c for r, *_ in IDENTIFIER_RULES for c in (f"_e_{r}", f"_a_{r}")]
    settled = (
        out.withColumn("eid", eid).withColumn("rule", rule_col).withColumn("code_owner", F.least(*owners))
        .drop(*temp)
        .localCheckpoint()
    )

    # near codes, only where no identifier settles the record: the few codes written by those records are
    # broadcast against the entities' codes
    open_codes = settled.where(
        F.col("eid").isNull() & F.col("code18").isNotNull() & ~F.col("natural_person")
    ).select("rid", "code18", *NAME_CHECK_COLUMNS)
    codes = identifiers.where(F.col("id_type").isin("uscc", "written_code") & (F.length("id_value") == 18))
    codes = codes.select(F.col("id_value").alias("_code"), F.col("entity_id").alias("eid")).distinct()
    # two codes one character apart are equal outside one of six blocks of three: each code is keyed six
    # times, a block masked in turn (not 18 times, a character at a time), and a pair so found is kept when
    # exactly one character differs
    starts = F.array(*[F.lit(i) for i in range(1, 19, 3)])

    def masked(c: str) -> Column:
        return F.explode(F.transform(
            starts, lambda i: F.concat(F.substring(c, 1, i - 1), F.lit("___"), F.substring(c, i + 3, 18))
        ))

    rkeys = open_codes.select("code18").distinct().select("code18", masked("code18").alias("_m"))
    near_codes = (
        codes.select("_code", "eid", masked("_code").alias("_m"))
        .join(F.broadcast(rkeys), "_m")
        .where(F.expr(hamming_sql("code18", "_code")) == 1)
        .select("code18", "eid")
        .distinct()
    )
    near = names_agree(open_codes.join(near_codes, "code18"), book, policy)
    # a near code is a guess at a typo: only a name that is there and agrees confirms it (no name, no link),
    # and only when one entity is that near
    near_pick = (
        near.where(F.col("agree") & F.col("r_core").isNotNull())
        .groupBy("rid")
        .agg(F.min("eid").alias("_near"), F.max("eid").alias("_near_last"))
        .where(F.col("_near") == F.col("_near_last"))
        .select("rid", "_near")
        .localCheckpoint()
    )
    # joined where the records are read, not materialised again: the settled records are kept already
    return (
        settled.join(F.broadcast(near_pick), "rid", "left")
        .withColumn("rule", F.when(F.col("eid").isNull() & F.col("_near").isNotNull(), F.lit("near_code"))
                    .otherwise(F.col("rule")))
        .withColumn("eid", F.coalesce("eid", "_near"))
        .drop("_near")
    )


@dataclass
class LinkResult:
    """What linking produced: the links, the review queue, the match model and the run's figures."""

    links: DataFrame
    review: DataFrame
    model: MatchModel | None
    figures: dict[str, Any] = field(default_factory=dict)


def shipped_model() -> MatchModel:
    """The match model shipped with radar (fitted on a simulated city), used when a run has too few
    code-linked records to fit its own."""
    import json
    from pathlib import Path

    data = json.loads((Path(__file__).with_name("match_model.json")).read_text(encoding="utf-8"))
    coef = dict(zip(data["features"], data["coef"], strict=True))
    return MatchModel(tuple(FEATURES), tuple(float(coef.get(f, 0.0)) for f in FEATURES), float(data["intercept"]),
                      {"source": "shipped", **data.get("meta", {})})


def fit_models(
    train: pd.DataFrame, share: dict[str, float], m: MatchSettings, workers: int | None = None
) -> tuple[MatchModel, MatchModel | None, GbmModel | None]:
    """The first- and second-stage match models, fitted on labelled training pairs (``train``: rid, FEATURES,
    label, _held; the held-out records only show the calibration). ``share``: each record type's share of the
    records left to match, the weight its training records get together. A first stage that cannot be fitted
    falls back to the shipped model, without a second stage; a second stage that cannot be fitted is left out.

    Returns (first stage, logistic second stage, gradient-boosted second stage). The logistic second stage is
    fitted whenever the second stage is enabled (its weights give the reasons); the gradient-boosted one when
    ``second_stage.kind`` is ``gbm``, and it then gives the probability; when it cannot be fitted, the logistic
    one does.

    The fits that do not need each other's result (the first stage and the out-of-fold ones; the logistic and
    the gradient-boosted second stage) run side by side on ``workers`` threads (default: one per core; Spark's
    executors wait for the models meanwhile). Each fit is single-threaded, numerical libraries included, so
    the models are the same however many run at once."""
    from threadpoolctl import threadpool_limits

    fit_rows, held_rows = train[~train["_held"]], train[train["_held"]]
    st = fit_rows["rid"].str.split("\u0001", n=1).str[0]
    per_type = fit_rows.groupby(st)["rid"].transform("nunique").to_numpy(dtype=float)
    type_share = st.map(lambda t: share.get(t, 0.0)).to_numpy(dtype=float)
    n_recs = fit_rows["rid"].nunique()
    weights = np.maximum(np.where(per_type > 0, type_share * n_recs / np.maximum(per_type, 1), 0.0), 1e-3)
    y, y_held = fit_rows["label"].to_numpy(), held_rows["label"].to_numpy()
    s2 = m.second_stage
    with threadpool_limits(1), ThreadPoolExecutor(max(1, workers or os.cpu_count() or 1), "radar-fit") as pool:
        first = pool.submit(fit_match_model, fit_rows, y, m.regularization, m.seed, weights=weights)
        oof: pd.DataFrame | None = None
        if s2.enabled:
            with contextlib.suppress(ValueError):  # a fold of one class: no second stage
                oof = out_of_fold_rivals(fit_rows, y, m.regularization, m.seed, weights, folds=s2.folds,
                                         cap=s2.logit_cap, gap=s2.close_gap, pool=pool)
        try:
            model = first.result()
        except ValueError:
            return shipped_model(), None, None
        model.meta.update(source="fitted", train_records=int(n_recs),
                          held_out_records=int(held_rows["rid"].nunique()))
        if len(held_rows):
            model.meta["calibration"] = calibration_table(model.predict_proba(held_rows), y_held)
        if oof is None:
            return model, None, None
        rival = pool.submit(fit_rival_model, fit_rows, y, m.regularization, m.seed, weights, folds=s2.folds,
                            cap=s2.logit_cap, gap=s2.close_gap, oof=oof)
        gbm: GbmModel | None = None
        gbm_error: ValueError | None = None
        if s2.kind == "gbm":
            try:
                gbm = fit_gbm_model(oof, y, weights, s2.gbm, m.seed)
            except ValueError as e:
                gbm_error = e
        try:
            second = rival.result()
        except ValueError:
            return model, None, None
    second.meta["kind"] = "logistic"
    if gbm_error is not None:
        second.meta["gbm_fallback"] = str(gbm_error)
    held2 = rivals(held_rows, model.logit(held_rows), s2.logit_cap, s2.close_gap) if len(held_rows) else None
    if held2 is not None:
        second.meta["calibration"] = calibration_table(second.predict_proba(held2), y_held)
        second.meta["held_out"] = held_out_figures(second.predict_proba(held2), y_held)
    if gbm is not None:
        if held2 is not None:
            gbm.meta["calibration"] = calibration_table(gbm.predict_proba(held2), y_held)
            gbm.meta["held_out"] = held_out_figures(gbm.predict_proba(held2), y_held)
        second.meta["kind"] = "gbm"
    return model, second, gbm


def held_out_figures(p: np.ndarray, y: np.ndarray) -> dict[str, Any]:
    """How well probabilities ``p`` of held-out pairs separate their labels ``y``: log loss, Brier score, ROC AUC
    (None when the pairs are of one class)."""
    from sklearn.metrics import brier_score_loss, log_loss, roc_auc_score

    p, y = np.clip(np.asarray(p, dtype=float), 1e-12, 1 - 1e-12), np.asarray(y, dtype=int)
    if len(y) == 0 or y.min() == y.max():
        return {"pairs": len(y), "log_loss": None, "brier": None, "auc": None}
    return {"pairs": len(y), "log_loss": round(float(log_loss(y, p)), 5),
            "brier": round(float(brier_score_loss(y, p)), 5), "auc": round(float(roc_auc_score(y, p)), 5)}


def resolve_links(
    mention: DataFrame,
    entities: DataFrame,
    policy: ResolvePolicy,
    *,
    identifiers: DataFrame | None = None,
    former: DataFrame | None = None,
    decisions: DataFrame | None = None,
    partitions: int = 4,
    fit: bool = True,
    keep_pairs: bool = False,
) -> LinkResult:
    """Link every mention (see the module docstring).

    ``identifiers`` is the entity master's identifiers table (built from ``entities`` when None); ``former``
    has (entity_id, name) of former names; ``decisions`` has (source_type, record_key, entity_id, decision)
    with decision ``accepted`` or ``rejected``. ``fit`` False uses the shipped model. With ``keep_pairs``
    the scored candidate pairs are in ``figures['pairs']`` (a DataFrame, for benchmarks).
    """
    m = policy.match
    mention = _dated(mention)
    if identifiers is None:
        identifiers = entities.select(
            "entity_id", F.lit("uscc").alias("id_type"), F.col("uscc").alias("id_value"),
            F.col("uscc_status").isin("valid", "repaired").alias("trusted"),
        ).where(F.col("id_value").isNotNull())
    ents = entity_side(entities, policy).localCheckpoint()
    names = entity_names(entities, former, policy).localCheckpoint()

    # ---------------------------------------------------------------- exact rules, by identifier
    # the records their code and very name link (most of them) are kept in the few columns the output reads;
    # the mentions are read again for the others and for the training records drawn from them, each kept
    # (every text looked up by the preparation would read them again)
    marked = quick_links(mention, identifiers, entities)
    quick = marked.where(F.col("_q_eid").isNotNull()).select(
        *QUICK_COLUMNS, F.col("_q_eid").alias("eid"), F.col("_q_core").alias("r_core")
    ).localCheckpoint()
    # every other record with its identifier link and its code's owner: the training records, the records left
    # to match and the output all read it (kept by identifier_links)
    rec = prepare(marked.where(F.col("_q_eid").isNull()).select(*MENTION_COLUMNS).localCheckpoint(), policy)
    recx = identifier_links(rec, identifiers, names, ents, policy)

    # ---------------------------------------------------------------- the probabilistic stage
    linked_recs = recx.where(F.col("eid").isNotNull()).drop("code_owner")
    siblings = (
        linked_recs.where(F.col("r_core").isNotNull()).select("rid", "r_core", "eid")
        .unionByName(quick.where(F.col("r_core").isNotNull()).select("rid", "r_core", "eid"))
        .localCheckpoint()
    )
    rest = (
        recx.where(F.col("eid").isNull()).drop("eid", "rule")
        .where(~F.col("natural_person") & ~F.col("unlicensed") & F.col("r_core").isNotNull())
        # a code that belongs to another entity tells that entity's division, not the record's
        .withColumn("r_code_district", F.when(F.col("code_owner").isNull(), F.col("r_code_district")))
        .withColumn("_train", F.lit(False))
        .withColumn("t_eid", F.lit(None).cast("string"))
    )
    n_linked = siblings.count()
    use_fit = fit and n_linked >= m.min_train_records
    hashed = F.abs(F.xxhash64("rid", F.lit(m.seed))) % 1_000_000
    if use_fit:
        # training records are drawn per record type in the proportions of the records left to match, so the
        # model learns from complaints as much as complaints need it
        candidates = linked_recs.where(F.col("r_core").isNotNull() & (F.col("rule") != "near_code"))
        counted = candidates.select("source_type").unionByName(
            quick.where(F.col("r_core").isNotNull()).select("source_type")
        )
        have = {r[0]: r[1] for r in counted.groupBy("source_type").count().collect()}
        need = {r[0]: r[1] for r in rest.groupBy("source_type").count().collect()}
        total_need = max(1, sum(need.values()))
        quota = {
            st: min(1.0, max(m.train_records * need.get(st, 0) / total_need, min(n, 50)) / n)
            for st, n in have.items() if n
        }
        fraction = F.create_map(*[x for st, q in sorted(quota.items()) for x in (F.lit(st), F.lit(int(q * 1_000_000)))])
        drawn = hashed < F.coalesce(fraction[F.col("source_type")], F.lit(0))
        # the drawn records of those linked by code and very name are prepared now (their rule: uscc)
        quick_drawn = prepare(
            marked.where(F.col("_q_eid").isNotNull() & F.col("_q_core").isNotNull() & drawn)
            .select(*MENTION_COLUMNS, F.col("_q_eid").alias("eid")).localCheckpoint(),
            policy, keep=("eid",),
        ).where(F.col("r_core").isNotNull()).withColumn("rule", F.lit("uscc"))
        train = (
            candidates.unionByName(quick_drawn.select(*candidates.columns))
            .where(drawn)
            .withColumn("code_owner", F.lit(None).cast("string"))
            .withColumn("_train", F.lit(True))
            .withColumn("t_eid", F.col("eid"))
            # its code is set aside: the division it carries too
            .withColumn("r_code_district", F.lit(None).cast("string"))
            .drop("eid", "rule")
        )
        to_match = rest.unionByName(train)
    else:
        to_match = rest
    # in as many parts as the shuffles have: read as the mentions were (72 small parts at city scale), every block
    # joined to them would run that many tasks again
    to_match = to_match.coalesce(partitions).localCheckpoint()
    pairs = candidate_pairs(to_match, names, entities, siblings, policy).unionByName(
        to_match.where(F.col("code_owner").isNotNull()).select(
            "rid", F.col("code_owner").alias("eid"), F.lit("code_owner").alias("block")
        )
    )
    orphan = F.col("_train") & (
        (F.abs(F.xxhash64("rid", F.lit(m.seed + 1))) % 1_000_000) < F.lit(int(m.orphan_rate * 1_000_000))
    )
    pairs = (
        pairs.join(to_match.select("rid", "_train", "t_eid"), "rid")
        .where(~(orphan & (F.col("eid") == F.col("t_eid"))))
        .select("rid", "eid", "_train")
        .distinct()
    )
    if decisions is not None:
        rejected = decisions.where(F.col("decision") == "rejected").select(
            F.concat_ws("\u0001", "source_type", "record_key").alias("rid"), F.col("entity_id").alias("eid")
        )
        pairs = pairs.join(rejected, ["rid", "eid"], "left_anti")
    # blocked once: the training records are compared first (the models learn from them), the others after
    pairs = pairs.localCheckpoint()
    folds = tuple(tuple(f) for f in policy.homophone_folds)

    def compared(train: bool, scoring: PairScoring | None = None, **kw: Any) -> DataFrame:
        which = F.col("_train") if train else ~F.col("_train")
        return compare(pairs.where(which).select("rid", "eid"), to_match.where(which), ents, names, siblings,
                       partitions, folds, m.deregistered_grace_days, scoring, **kw)

    figures: dict[str, Any] = {"exact_linked": n_linked}
    s2 = m.second_stage
    second: MatchModel | None = None
    gbm: GbmModel | None = None
    if use_fit:
        labelled = compared(True).join(to_match.where("_train").select("rid", "t_eid"), "rid").withColumn(
            "label", (F.col("eid") == F.col("t_eid")).cast("int")
        )
        # a fifth of the training records (by hash) is held out to show the calibration
        held = (F.abs(F.xxhash64("rid", F.lit(m.seed + 2))) % 5 == 0).alias("_held")
        # in a fixed order: the fit (its folds, its float sums) must not depend on how Spark partitioned the pairs
        train_pd = (
            labelled.select("rid", "eid", *FEATURES, "label", held).toPandas()
            .sort_values(["rid", "eid"], kind="stable").drop(columns="eid").reset_index(drop=True)
        )
        model, second, gbm = fit_models(train_pd, {t: n / total_need for t, n in need.items()}, m)
    else:
        model = shipped_model()
    figures["model"] = model.to_dict()
    if second is not None:
        figures["second_stage"] = second.to_dict()
        if gbm is not None:
            figures["second_stage"]["gbm"] = gbm.to_dict()

    # each record's candidates scored where they are compared; only its best candidate comes back (with its
    # reasons, how many come close, and its probability as the decision reads it: see PairScoring.best)
    scoring = PairScoring(model, second, gbm, s2.logit_cap, s2.close_gap, m.accept, m.review, m.tie_margin)
    # what the scoring costs on the executors (read by the job once the links are written)
    figures["scoring_seconds"] = pairs.sparkSession.sparkContext.accumulator(0.0)
    if keep_pairs:
        figures["pairs"] = compared(False, scoring, every_pair=True)
    best = compared(False, scoring, seconds=figures["scoring_seconds"]).localCheckpoint()

    accepted = None
    if decisions is not None:
        accepted = decisions.where(F.col("decision") == "accepted").select(
            F.concat_ws("\u0001", "source_type", "record_key").alias("rid"), F.col("entity_id").alias("_rev_eid")
        ).dropDuplicates(["rid"])

    out = recx.withColumnRenamed("eid", "_x_eid").withColumnRenamed("rule", "_x_rule")
    # a record linked by its identifier needs nothing from the matching or the reviews: only the others are
    # joined to them (the city's identifier-linked half of the records is not shuffled for a join it ignores)
    by_code = out.where(F.col("_x_eid").isNotNull()).unionByName(
        quick.select(*QUICK_COLUMNS, F.col("eid").alias("_x_eid"), F.lit("uscc").alias("_x_rule")),
        allowMissingColumns=True,
    )
    rest_out = out.where(F.col("_x_eid").isNull()).join(best.withColumnRenamed("eid", "_m_eid"), "rid", "left")
    if accepted is not None:
        rest_out = rest_out.join(accepted, "rid", "left")
    else:
        rest_out = rest_out.withColumn("_rev_eid", F.lit(None).cast("string"))
    rest_out = rest_out.join(
        ents.select(F.col("eid").alias("_rev_eid"), F.lit(True).alias("_rev_ok")), "_rev_eid", "left"
    )
    out = rest_out.unionByName(by_code, allowMissingColumns=True)

    x = F.col("_x_eid").isNotNull()
    rev = ~x & F.col("_rev_ok").isNotNull()
    auto = ~x & ~rev & F.col("_m_eid").isNotNull() & (F.col("p") >= m.accept)
    pending = ~x & ~rev & ~auto & F.col("_m_eid").isNotNull() & (F.col("p") >= m.review)
    addr = (F.col("addr_exact") + F.col("addr_key")) > 0
    entity = F.when(x, F.col("_x_eid")).when(rev, F.col("_rev_eid")).when(auto, F.col("_m_eid"))
    method = (
        F.when(x & (F.col("_x_rule") == "reg_no"), F.lit("reg_no"))
        .when(x, F.lit("uscc"))
        .when(rev, F.lit("review"))
        .when(auto & addr, F.lit("name+address"))
        .when(auto, F.lit("name"))
        .otherwise(F.lit("unlinked"))
    )
    rule = (
        F.when(x, F.col("_x_rule"))
        .when(rev, F.lit("review"))
        .when(auto & F.col("owner_ok"), F.lit("code_and_name"))
        .when(auto, F.lit("match"))
        .when(pending, F.lit("pending_review"))
    )
    prob = (
        F.when(x & F.col("_x_rule").isin("uscc", "org_code"), F.lit(1.0))
        .when(x & (F.col("_x_rule") == "reg_no"), F.lit(0.99))
        .when(x, F.lit(m.near_code_probability))
        .when(rev, F.lit(1.0))
        .when(F.col("_m_eid").isNotNull(), F.round("p", 4))
        .otherwise(F.lit(0.0))
    )
    wrong = F.col("code_owner").isNotNull() & ~(entity.isNotNull() & (entity == F.col("code_owner")))
    no_name = F.coalesce(F.trim(F.col("party_name")), F.lit("")) == ""
    p_txt = F.format_number(F.coalesce("p", F.lit(0.0)), 2)
    reason = (
        F.when(entity.isNotNull(), F.lit(None).cast("string"))
        .when(F.col("natural_person"), F.lit("natural person: not a market entity"))
        .when(F.col("unlicensed") & F.col("party_uscc").isNull(),
              F.lit("name describes an unlicensed vendor, not a registered entity"))
        .when(no_name & F.col("party_uscc_raw").isNull() & F.col("reg_key").isNull(), F.lit("no identifier and no name"))
        .when(no_name, F.lit("no name and the identifier matches no entity"))
        .when(F.col("r_core").isNull(), F.lit("name is only a region or an organisation form"))
        # namesakes scoring alike: the reviewer is shown one, and learns here that another scores as well
        .when(pending & (F.col("ties") > 1), F.concat(
            F.lit("awaiting review: "), F.col("ties").cast("string"), F.lit(" entities tie at p="), p_txt))
        .when(pending, F.concat(F.lit("awaiting review: best candidate p="), p_txt))
        .when(F.col("code_owner").isNotNull() & F.col("_m_eid").isNotNull() & (F.col("p") > 0),
              F.concat(F.lit("USCC belongs to another entity; best name candidate below the review threshold: p="),
                       p_txt))
        .when(F.col("code_owner").isNotNull(), F.lit("USCC belongs to another entity and the name matches none"))
        .when(F.col("_m_eid").isNotNull() & (F.col("p") > 0) & (F.col("ties") > 1),
              F.concat(F.lit("ambiguous name: "), F.col("ties").cast("string"), F.lit(" entities")))
        .when(F.col("_m_eid").isNotNull() & (F.col("p") > 0),
              F.concat(F.lit("best candidate below the review threshold: p="), p_txt))
        .when(F.col("_m_eid").isNotNull() & (F.col("uscc_status") == "valid"),
              F.lit("valid USCC not in the registry; the similar names belong to entities with other codes"))
        .when(F.col("party_uscc").isNotNull(), F.lit("valid USCC not in the registry and name not found"))
        .when(F.col("r_person"), F.lit("name looks like a natural person's and matches no registered business"))
        .otherwise(F.lit("name not found in the registry"))
    )
    links = out.select(
        "source_type", "record_key", "source_file", "source_row",
        entity.alias("entity_id"),
        method.alias("method"),
        rule.alias("rule"),
        prob.alias("probability"),
        reason.alias("reason"),
        wrong.alias("wrong_code"),
        "uscc_status",
        F.col("party_uscc_raw").alias("record_uscc"),
        F.col("party_name").alias("record_name"),
        F.when(entity.isNull(), F.col("_m_eid")).alias("candidate_entity_id"),
        F.when(~x & ~rev, F.col("evidence")).alias("evidence"),
    )
    review = out.where(pending).select(
        "source_type", "record_key", F.col("_m_eid").alias("entity_id"), F.round("p", 4).alias("probability"),
        F.col("party_name").alias("record_name"), F.col("party_address").alias("record_address"),
        F.col("party_uscc_raw").alias("record_uscc"), "evidence",
    )
    return LinkResult(links, review, model, figures)


def link_records(mention: DataFrame, entities: DataFrame, policy: ResolvePolicy, **kw: Any) -> DataFrame:
    """One link per mention (see :func:`resolve_links`): entity_id, method, rule, probability, reason, wrong_code."""
    return resolve_links(mention, entities, policy, **kw).links
