"""Linking every record to a registry entity: by USCC, by registration number, by name (and address).

The first rule that gives one entity wins:

1. ``uscc``: a valid USCC of a registry entity whose name agrees with the record's (a valid code of another
   entity is flagged ``wrong_code`` and not trusted);
2. ``reg_no``: a legacy 15-digit registration number of a registry entity (from the registration-number
   column, or found in the code column);
3. ``name``: the normalised name matches exactly one entity;
4. ``name+address``: the name matches several entities and the normalised address settles it;
5. otherwise ``unlinked`` with the reason.

A natural person (subject category 自然人, or a masked ID with a short name) is never linked by name.
"""

from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from radar.config import ResolvePolicy
from radar.ingest.parse import ident
from radar.resolve.normalize import name_rules

MENTION_COLUMNS = [
    "source_type", "record_key", "source_file", "source_row", "party_uscc", "party_uscc_raw", "uscc_status",
    "party_name", "party_address", "party_reg_no", "subject_category",
]
PERSON_CATEGORIES = ["自然人"]


def mentions(table: DataFrame, record_type: str) -> DataFrame:
    """The party of each current record of one record type, in the columns linking needs."""
    cols = set(table.columns)
    return table.where(F.col("is_current") & (F.col("record_status") == "active")).select(
        F.lit(record_type).alias("source_type"),
        "record_key", "source_file", "source_row", "party_uscc", "party_uscc_raw", "uscc_status", "party_name",
        "party_address", "party_reg_no",
        (F.col("subject_category") if "subject_category" in cols else
         F.col("debtor_type") if "debtor_type" in cols else F.lit(None).cast("string")).alias("subject_category"),
    )


def link_records(mention: DataFrame, entities: DataFrame, policy: ResolvePolicy) -> DataFrame:
    """One link per mention: entity_id, uscc, method, probability, reason, wrong_code."""
    rules = name_rules(policy)
    m = mention.select(
        *MENTION_COLUMNS,
        F.expr(rules.name_sql(ident("party_name"))).alias("name_core"),
        F.expr(rules.address_sql(ident("party_address"))).alias("address_core"),
        # a 15-digit registration number also arrives in the code column (e.g. 被诉方注册号, spot-check 注册号)
        F.coalesce(
            F.col("party_reg_no"), F.when(F.col("uscc_status") == "reg_no", F.col("party_uscc_raw"))
        ).alias("reg_key"),
    )
    ents = entities.select("entity_id", "uscc", "name_core", "address_core", "business_reg_no")
    by_uscc = ents.select(
        F.col("uscc").alias("_u"), F.col("entity_id").alias("_u_eid"), F.col("name_core").alias("_u_name")
    )
    by_reg = (
        ents.where(F.col("business_reg_no").isNotNull())
        .groupBy(F.col("business_reg_no").alias("_r"))
        .agg(F.count(F.lit(1)).alias("_r_n"), F.min("entity_id").alias("_r_eid"))
        .where("_r_n = 1")
    )
    by_name = (
        ents.where(F.col("name_core").isNotNull())
        .groupBy(F.col("name_core").alias("_n"))
        .agg(F.count(F.lit(1)).alias("_n_count"), F.min("entity_id").alias("_n_eid"))
    )
    by_name_addr = (
        ents.where(F.col("name_core").isNotNull() & F.col("address_core").isNotNull())
        .groupBy(F.col("name_core").alias("_na"), F.col("address_core").alias("_aa"))
        .agg(F.count(F.lit(1)).alias("_na_n"), F.min("entity_id").alias("_na_eid"))
        .where("_na_n = 1")
    )
    j = (
        m.join(by_uscc, m["party_uscc"] == by_uscc["_u"], "left")
        .join(by_reg, m["reg_key"] == by_reg["_r"], "left")
        .join(by_name, m["name_core"] == by_name["_n"], "left")
        .join(by_name_addr, (m["name_core"] == by_name_addr["_na"]) & (m["address_core"] == by_name_addr["_aa"]), "left")
    )
    names_agree = (
        F.col("name_core").isNull()
        | F.col("_u_name").isNull()
        | F.col("_u_name").contains(F.col("name_core"))
        | F.col("name_core").contains(F.col("_u_name"))
        | (F.levenshtein(F.col("name_core"), F.col("_u_name")) <= policy.uscc_name_max_edits)
    )
    uscc_hit = F.col("_u_eid").isNotNull() & names_agree
    wrong_code = F.col("_u_eid").isNotNull() & ~names_agree
    name_unique = F.col("_n_count") == 1
    name_addr = (F.col("_n_count") > 1) & F.col("_na_eid").isNotNull()
    # null-safe: most record types have no subject category, and a null here must not block name links
    person = F.coalesce(
        F.col("subject_category").isin(PERSON_CATEGORIES)
        | ((F.col("uscc_status") == "masked") & (F.length("party_name") <= 4)),
        F.lit(False),
    )
    no_name = F.coalesce(F.trim(F.col("party_name")), F.lit("")) == ""
    method = (
        F.when(uscc_hit, F.lit("uscc"))
        .when(F.col("_r_eid").isNotNull(), F.lit("reg_no"))
        .when(name_unique & ~person, F.lit("name"))
        .when(name_addr & ~person, F.lit("name+address"))
        .otherwise(F.lit("unlinked"))
    )
    entity = (
        F.when(uscc_hit, F.col("_u_eid"))
        .when(F.col("_r_eid").isNotNull(), F.col("_r_eid"))
        .when(name_unique & ~person, F.col("_n_eid"))
        .when(name_addr & ~person, F.col("_na_eid"))
    )
    prob = (
        F.when(uscc_hit, F.lit(1.0))
        .when(F.col("_r_eid").isNotNull(), F.lit(0.99))
        .when(name_unique & ~person, F.lit(policy.name_match_probability))
        .when(name_addr & ~person, F.lit(policy.name_address_match_probability))
        .otherwise(F.lit(0.0))
    )
    reason = (
        F.when(entity.isNotNull(), F.lit(None).cast("string"))
        .when(person, F.lit("natural person: not a market entity"))
        .when(no_name & F.col("party_uscc_raw").isNull() & F.col("reg_key").isNull(), F.lit("no identifier and no name"))
        .when(no_name, F.lit("no name and the identifier matches no entity"))
        .when(F.col("name_core").isNull(), F.lit("name is only a region or an organisation form"))
        .when(wrong_code, F.lit("USCC belongs to another entity and the name matches none"))
        .when(F.col("_n_count") > 1, F.concat(F.lit("ambiguous name: "), F.col("_n_count"), F.lit(" entities")))
        .when(F.col("party_uscc").isNotNull(), F.lit("valid USCC not in the registry and name not found"))
        .otherwise(F.lit("name not found in the registry"))
    )
    return j.select(
        "source_type", "record_key", "source_file", "source_row",
        entity.alias("entity_id"),
        method.alias("method"),
        prob.alias("probability"),
        reason.alias("reason"),
        wrong_code.alias("wrong_code"),
        "uscc_status",
        F.col("party_uscc_raw").alias("record_uscc"),
        F.col("party_name").alias("record_name"),
    )
