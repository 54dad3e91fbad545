"""Entity attributes that link related parties: people (by ID number), addresses, phones, corporate owners.

A person is keyed by an unmasked ID number only: a name alone is never a key across the city (two people
may share a name). Masked IDs (``****``) are never join keys.
"""

from __future__ import annotations

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from radar.ingest.parse import ident
from radar.resolve.normalize import phone_sql

ATTRIBUTE_COLUMNS = ["entity_id", "attr_type", "attr_key", "attr_label", "since", "until"]
_ID_NO = r"^[1-9]\d{5}(19|20)\d{2}(0[1-9]|1[0-2])\d{2}\d{3}[\dX]$"


def person_key(id_no: Column) -> Column:
    """``id:<ID number>`` for an unmasked 18-character resident ID, else null."""
    clean = F.upper(F.regexp_replace(F.coalesce(id_no, F.lit("")), r"\s", ""))
    return F.when(clean.rlike(_ID_NO), F.concat(F.lit("id:"), clean))


def registry_attributes(entities: DataFrame) -> DataFrame:
    """Legal representative, address and phone of each entity, from the registry."""
    base = entities.select("entity_id", "legal_rep_name", "legal_rep_id_no", "address_core", "phone",
                           "established_date")
    legal = base.select(
        "entity_id", F.lit("legal_rep").alias("attr_type"), person_key(F.col("legal_rep_id_no")).alias("attr_key"),
        F.col("legal_rep_name").alias("attr_label"), F.col("established_date").alias("since"),
        F.lit(None).cast("date").alias("until"),
    )
    address = base.select(
        "entity_id", F.lit("address").alias("attr_type"), F.concat(F.lit("addr:"), "address_core").alias("attr_key"),
        F.col("address_core").alias("attr_label"), F.col("established_date").alias("since"),
        F.lit(None).cast("date").alias("until"),
    )
    phone = base.select(
        "entity_id", F.lit("phone").alias("attr_type"),
        F.concat(F.lit("tel:"), F.expr(phone_sql(ident("phone")))).alias("attr_key"),
        F.col("phone").alias("attr_label"), F.col("established_date").alias("since"),
        F.lit(None).cast("date").alias("until"),
    )
    return legal.unionByName(address).unionByName(phone).where(F.col("attr_key").isNotNull())


def _linked(table: DataFrame, entities: DataFrame) -> DataFrame:
    """Current rows joined to their entity by the record's USCC (registry sub-tables carry the owner's code)."""
    ents = entities.select(F.col("uscc").alias("_owner"), "entity_id")
    return table.where("is_current").join(ents, F.col("party_uscc_raw") == F.col("_owner"))


def shareholder_attributes(shareholders: DataFrame, entities: DataFrame) -> DataFrame:
    """Shareholders: persons by ID number, companies by their USCC (``org:<uscc>``)."""
    s = _linked(shareholders, entities)
    idn = F.upper(F.regexp_replace(F.coalesce(F.col("shareholder_id_no"), F.lit("")), r"\s", ""))
    key = F.coalesce(
        person_key(F.col("shareholder_id_no")),
        F.when(idn.rlike(r"^[0-9A-HJ-NP-RTUW-Y]{2}\d{6}[0-9A-HJ-NP-RTUW-Y]{10}$"), F.concat(F.lit("org:"), idn)),
    )
    return s.select(
        "entity_id", F.lit("shareholder").alias("attr_type"), key.alias("attr_key"),
        F.col("shareholder_name").alias("attr_label"), F.col("subscribed_date").alias("since"),
        F.col("exit_date").alias("until"),
    ).where(F.col("attr_key").isNotNull())


def officer_attributes(personnel: DataFrame, entities: DataFrame) -> DataFrame:
    """Key personnel (directors, supervisors, managers) by ID number."""
    p = _linked(personnel, entities)
    return p.select(
        "entity_id", F.lit("officer").alias("attr_type"), person_key(F.col("person_id_no")).alias("attr_key"),
        F.col("person_name").alias("attr_label"), F.col("appointed_date").alias("since"),
        F.col("left_date").alias("until"),
    ).where(F.col("attr_key").isNotNull())


def build_attributes(entities: DataFrame, shareholders: DataFrame, personnel: DataFrame) -> DataFrame:
    """Every linking attribute of every entity, one row per (entity, type, key, since).

    Copies that differ only in ``until`` (one person in two positions from the same day, one of which he has
    left) collapse to the longest tie: open-ended when any copy is, else the latest ``until``.
    """
    rows = (
        registry_attributes(entities)
        .unionByName(shareholder_attributes(shareholders, entities))
        .unionByName(officer_attributes(personnel, entities))
    )
    return (
        rows.groupBy("entity_id", "attr_type", "attr_key", "since")
        .agg(
            F.min("attr_label").alias("attr_label"),
            F.when(F.count(F.when(F.col("until").isNull(), 1)) > 0, F.lit(None).cast("date"))
            .otherwise(F.max("until"))
            .alias("until"),
        )
        .select(*ATTRIBUTE_COLUMNS)
    )
