"""The entity master from the registry: one row per market entity, with a stable ``entity_id``."""

from __future__ import annotations

from datetime import date

from pyspark.sql import Column, DataFrame, SparkSession, Window
from pyspark.sql import functions as F

from radar.config import ResolvePolicy
from radar.ingest.parse import ident, lit
from radar.reference import city_districts, industry_code_to_section, industry_names, industry_sections
from radar.resolve.normalize import name_rules

INACTIVE_STATUS_WORDS = ["注销", "吊销", "撤销", "迁出", "清算", "停业"]


def entity_id_of(uscc: Column) -> Column:
    """The stable entity id of a registry identifier: 'E' + 15 hex digits of its SHA-256."""
    return F.concat(F.lit("E"), F.upper(F.substring(F.sha2(uscc, 256), 1, 15)))


def _district_sql(policy: ResolvePolicy) -> tuple[str, dict[str, str]]:
    """SQL finding the district code in (district_code field, USCC division, address), and the code table."""
    dists = city_districts(policy.city_division, policy.extra_divisions)
    codes = ", ".join(lit(c) for c in dists)
    by_addr = " ".join(
        f"WHEN contains(address, {lit(n)}) THEN {lit(c)}" for c, n in sorted(dists.items(), key=lambda x: -len(x[1]))
    )
    field = "substring(regexp_replace(district_code, '[^0-9]', ''), 1, 6)"
    sql = (
        f"CASE WHEN {field} IN ({codes}) THEN {field} "
        f"WHEN division_code IN ({codes}) THEN division_code "
        f"{by_addr} END"
    )
    return sql, dists


def _lookup(spark: SparkSession, mapping: dict[str, str], key: str, value: str) -> DataFrame:
    return spark.createDataFrame(sorted(mapping.items()), f"{key} string, {value} string")


def build_entities(registry: DataFrame, policy: ResolvePolicy, as_of: date) -> DataFrame:
    """Entities from the current registry rows; the newest registry row of an identifier wins.

    Columns: entity_id, uscc, uscc_status, name, name_core, entity_class, entity_type, legal_rep_name,
    legal_rep_id_no, address, address_core, phone, district_code, district_name, industry_code,
    industry_section, industry_name, established_date, registration_status, deregistered_date, is_active,
    registered_capital_yuan, business_reg_no, source_file, source_row.
    """
    spark = registry.sparkSession
    rules = name_rules(policy)
    district_sql, dists = _district_sql(policy)
    reg = registry.where(F.col("is_current") & F.col("party_uscc_raw").isNotNull())
    newest = Window.partitionBy("party_uscc_raw").orderBy(
        F.col("approval_date").desc_nulls_last(), F.col("source_file").desc(), F.col("source_row").desc()
    )
    reg = reg.withColumn("_rn", F.row_number().over(newest)).where("_rn = 1")
    status = F.coalesce(F.col("registration_status"), F.lit(""))
    inactive_word = F.lit(False)
    for w in INACTIVE_STATUS_WORDS:
        inactive_word = inactive_word | status.contains(w)
    ic = F.upper(F.regexp_replace(F.coalesce(F.col("industry_code"), F.lit("")), r"[^0-9A-Za-z]", ""))
    ent = reg.select(
        entity_id_of(F.col("party_uscc_raw")).alias("entity_id"),
        F.col("party_uscc_raw").alias("uscc"),
        "uscc_status",
        F.col("name"),
        F.expr(rules.name_sql(ident("name"))).alias("name_core"),
        F.when(F.col("party_uscc_raw").startswith("92") | F.col("entity_type").contains("个体"), F.lit("individual"))
        .when(F.col("party_uscc_raw").startswith("93") | F.col("entity_type").contains("合作社"), F.lit("cooperative"))
        .when(F.col("party_uscc_raw").startswith("91") | F.col("entity_type").rlike("公司|企业"), F.lit("enterprise"))
        .otherwise(F.lit("other"))
        .alias("entity_class"),
        "entity_type",
        "legal_rep_name",
        "legal_rep_id_no",
        "address",
        F.expr(rules.address_sql(ident("address"))).alias("address_core"),
        "phone",
        F.expr(district_sql).alias("district_code"),
        F.when(ic.rlike("^[A-T]$"), ic).otherwise(F.when(ic != "", ic)).alias("industry_code"),
        F.when(ic.rlike("^[A-T]"), F.substring(ic, 1, 1)).alias("_section_letter"),
        "established_date",
        "registration_status",
        "deregistered_date",
        (~inactive_word & (F.col("deregistered_date").isNull() | (F.col("deregistered_date") > F.lit(as_of)))).alias(
            "is_active"
        ),
        "registered_capital_yuan",
        "business_reg_no",
        "source_file",
        "source_row",
    )
    sections = _lookup(spark, industry_code_to_section(), "_code", "_section")
    names = _lookup(spark, {**industry_names(), **industry_sections()}, "_icode", "industry_name")
    dnames = _lookup(spark, dists, "_dcode", "district_name")
    ent = (
        ent.join(F.broadcast(sections), F.regexp_replace(ent["industry_code"], "^[A-T]", "") == sections["_code"], "left")
        .withColumn("industry_section", F.coalesce("_section_letter", "_section"))
        .join(F.broadcast(names), F.regexp_replace(ent["industry_code"], "^[A-T](?=\\d)", "") == names["_icode"], "left")
        .join(F.broadcast(dnames), ent["district_code"] == dnames["_dcode"], "left")
        .drop("_code", "_section", "_section_letter", "_icode", "_dcode")
    )
    return ent
