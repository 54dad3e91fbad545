"""Every linked record as a dated event of its entity: the spine of features, labels, alerts and evidence.

Columns: entity_id, source_type, record_key, event_type, event_date, known_date (when the record was
known: publication date where exported, else the decision date), end_date (removal from a list, end of
publicity or validity), repair_date (credit repair approved), amount_yuan, detail (Chinese text),
is_random_check and inclusion_probability (spot checks drawn at random).

Policy (conf/policy.yaml ``features``): a penalty whose categories are all minor (警告, 通报批评) is
``penalty_minor``; a record retracted after an objection (处理结果 撤销) is dropped at every date; an approved
repair sets ``repair_date``.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import reduce

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from radar.config import FeaturePolicy, LabelPolicy
from radar.ingest.parse import lit

EVENT_COLUMNS = [
    "entity_id", "source_type", "record_key", "event_type", "event_date", "known_date", "end_date", "repair_date",
    "amount_yuan", "detail", "is_random_check", "inclusion_probability",
]

CHANGE_KINDS = [
    ("change_legal_rep", "法定代表人|负责人|经营者|执行事务合伙人|投资人"),
    ("change_address", "住所|地址|经营场所"),
    ("change_name", "名称|字号"),
    ("change_capital", "注册资本|资金数额|出资"),
    ("change_scope", "经营范围"),
]


def _linked(table: DataFrame, links: DataFrame, source_type: str) -> DataFrame:
    """Current, active rows of a record type with the entity their link gives (unlinked rows drop out here;
    they are counted in the links table)."""
    lk = links.where(F.col("entity_id").isNotNull() & (F.col("source_type") == source_type)).select(
        "record_key", "entity_id"
    )
    return (
        table.where(F.col("is_current") & (F.col("record_status") == "active"))
        .join(lk, "record_key")
        .withColumn("source_type", F.lit(source_type))
    )


def _event(
    df: DataFrame,
    event_type: Column | str,
    event_date: str,
    known_date: Column | None = None,
    end_date: Column | None = None,
    amount: Column | None = None,
    detail: Column | None = None,
    random_check: Column | None = None,
    inclusion: Column | None = None,
) -> DataFrame:
    et = F.lit(event_type) if isinstance(event_type, str) else event_type
    return df.select(
        "entity_id",
        "source_type",
        "record_key",
        et.alias("event_type"),
        F.col(event_date).alias("event_date"),
        F.coalesce(known_date if known_date is not None else F.lit(None).cast("date"), F.col(event_date)).alias(
            "known_date"
        ),
        (end_date if end_date is not None else F.lit(None).cast("date")).alias("end_date"),
        F.lit(None).cast("date").alias("repair_date"),
        (amount if amount is not None else F.lit(None).cast("double")).alias("amount_yuan"),
        (detail if detail is not None else F.lit(None).cast("string")).alias("detail"),
        (random_check if random_check is not None else F.lit(False)).alias("is_random_check"),
        (inclusion if inclusion is not None else F.lit(None).cast("double")).alias("inclusion_probability"),
    ).where(F.col("event_date").isNotNull())


def _keyword_in(c: Column, words: list[str]) -> Column:
    return c.rlike("|".join(words))


def penalty_events(pen: DataFrame, policy: FeaturePolicy) -> DataFrame:
    """Penalties: ``penalty`` or ``penalty_minor`` (only warning / notice-of-criticism categories)."""
    cats = F.concat(F.coalesce("penalty_category", F.array()), F.coalesce("penalty_category_2", F.array()))
    minor_sql = ", ".join(lit(c) for c in policy.minor_penalty_categories)
    minor = F.expr(f"size(cats) > 0 AND forall(cats, c -> c IN ({minor_sql}))")
    df = pen.withColumn("cats", cats)
    return _event(
        df,
        F.when(minor, F.lit("penalty_minor")).otherwise(F.lit("penalty")),
        "decision_date",
        known_date=F.col("publish_date"),
        end_date=F.col("publicity_end_date"),
        amount=F.coalesce("fine_amount_yuan", F.lit(0.0)) + F.coalesce("confiscation_amount_yuan", F.lit(0.0)),
        detail=F.concat_ws("；", "violation_type", F.array_join("cats", "、"), "penalty_content"),
    )


def spot_check_events(sc: DataFrame, labels: LabelPolicy) -> DataFrame:
    """Spot checks: ``spot_check_problem`` when a result names a problem, else ``spot_check_ok``."""
    pattern = "|".join(labels.spot_check_problem_keywords)
    problem = F.exists(F.coalesce("check_result", F.array()), lambda r: r.rlike(pattern))
    return _event(
        sc,
        F.when(problem, F.lit("spot_check_problem")).otherwise(F.lit("spot_check_ok")),
        "completed_date",
        detail=F.concat_ws("；", "task_name", F.array_join(F.coalesce("check_result", F.array()), "、")),
        random_check=F.coalesce(F.col("check_type").contains("不定向"), F.lit(False)),
        inclusion=F.col("inclusion_probability"),
    )


def change_events(ch: DataFrame) -> DataFrame:
    """Registration changes by kind (legal representative, address, name, capital, scope, other)."""
    kind = F.lit("change_other")
    for name, pattern in reversed(CHANGE_KINDS):
        kind = F.when(F.coalesce(F.col("change_item"), F.lit("")).rlike(pattern), F.lit(name)).otherwise(kind)
    return _event(ch, kind, "change_date", detail=F.concat_ws("：", "change_item", "after"))


def complaint_events(cp: DataFrame) -> DataFrame:
    """Complaints (投诉) and reports (举报); enquiries and suggestions are not events."""
    t = F.coalesce(F.col("appeal_type"), F.lit("投诉"))
    kind = F.when(t.contains("举报") | (t == "2"), F.lit("report")).when(
        t.contains("投诉") | (t == "1"), F.lit("complaint")
    )
    return _event(
        cp.where(kind.isNotNull()), kind, "registered_at",
        detail=F.concat_ws("；", "problem_class", "product_name", F.substring("description", 1, 60)),
        amount=F.col("amount_involved_yuan"),
    )


def commitment_events(cm: DataFrame) -> DataFrame:
    """Commitments, and a ``commitment_breach`` event when one is found not (fully) fulfilled."""
    made = _event(cm, "commitment", "commitment_date", detail=F.col("matter"))
    status = F.coalesce(F.col("fulfillment_status"), F.lit(""))
    breached = cm.where(status.contains("未履行") | status.contains("部分履行")).withColumn(
        "_breach_date", F.coalesce("fulfillment_determined_date", "commitment_date")
    )
    breach = _event(breached, "commitment_breach", "_breach_date", detail=F.concat_ws("；", "matter", "unfulfilled_content"))
    return made.unionByName(breach)


def registry_events(entities: DataFrame) -> DataFrame:
    """Deregistration (注销) and revocation (吊销) of registry entities."""
    st = F.coalesce(F.col("registration_status"), F.lit(""))
    df = entities.where(F.col("deregistered_date").isNotNull()).select(
        "entity_id", F.lit("registry").alias("source_type"), F.col("uscc").alias("record_key"),
        "deregistered_date", "registration_status",
    )
    return _event(
        df, F.when(st.contains("吊销"), F.lit("revoked")).otherwise(F.lit("deregistered")), "deregistered_date",
        detail=F.col("registration_status"),
    )


def build_events(
    tables: Mapping[str, DataFrame],
    links: DataFrame,
    entities: DataFrame,
    features: FeaturePolicy,
    labels: LabelPolicy,
) -> DataFrame:
    """All events of all linked records, with objections and repairs applied."""
    t = {rt: _linked(df, links, rt) for rt, df in tables.items() if rt != "registry"}
    parts = [
        penalty_events(t["penalty"], features),
        _event(t["license"], "license", "decision_date", end_date=F.col("valid_to"),
               detail=F.concat_ws("；", "license_cert_name", "license_content")),
        _event(t["dishonest_debtor"], "dishonest_debtor", "publish_date", end_date=F.col("removed_date"),
               detail=F.concat_ws("；", "court_name", "performance_status",
                                  F.array_join(F.coalesce("dishonest_behavior", F.array()), "、"))),
        _event(t["abnormal_list"], "abnormal_list", "listed_date", end_date=F.col("removed_date"),
               detail=F.col("listing_reason")),
        _event(t["serious_violation"], "serious_violation", "listed_date", end_date=F.col("removed_date"),
               detail=F.col("serious_listing_reason")),
        complaint_events(t["complaint"]),
        spot_check_events(t["spot_check"], labels),
        commitment_events(t["commitment"]),
        change_events(t["change"]),
        _event(t["third_party"], "signal", "signal_date", amount=F.col("signal_value"),
               detail=F.concat_ws("：", "signal_name", "provider")),
        registry_events(entities),
    ]
    events = reduce(DataFrame.unionByName, parts)
    return apply_objections_and_repairs(events, t["penalty"], t["abnormal_list"], t["objection"], t["repair"], features)


def apply_objections_and_repairs(
    events: DataFrame,
    penalties: DataFrame,
    abnormal: DataFrame,
    objections: DataFrame,
    repairs: DataFrame,
    policy: FeaturePolicy,
) -> DataFrame:
    """Drop records retracted after an objection; set the repair date of repaired records.

    An objection or repair names its record by document number (``record_ref``): the penalty's 决定书文号 or
    the listing's 文书号, for the same entity.
    """
    refs = penalties.select("entity_id", "record_key", F.col("decision_no").alias("ref")).unionByName(
        abnormal.select("entity_id", "record_key", F.col("listing_doc_no").alias("ref"))
    ).where(F.col("ref").isNotNull())
    outcome = F.coalesce(F.col("outcome"), F.lit(""))
    retracted = (
        # 撤销 retracts, 不予撤销 (objection rejected) does not
        objections.where(_keyword_in(outcome, policy.objection_retracts) & ~outcome.contains("不予"))
        .select("entity_id", F.col("record_ref").alias("ref"))
        .join(refs, ["entity_id", "ref"])
        .select("entity_id", "record_key")
        .distinct()
    )
    approved = F.col("decision").isNull() | _keyword_in(F.coalesce(F.col("decision"), F.lit("")), policy.repair_approved)
    repaired = (
        repairs.where(approved & ~F.coalesce(F.col("decision"), F.lit("")).contains("不予"))
        .select("entity_id", F.col("original_record_ref").alias("ref"), F.col("decision_date").alias("_repair"))
        .join(refs, ["entity_id", "ref"])
        .groupBy("entity_id", "record_key")
        .agg(F.min("_repair").alias("_repair"))
    )
    out = events.join(retracted, ["entity_id", "record_key"], "left_anti")
    if policy.repair_stops_counting:
        out = out.join(repaired, ["entity_id", "record_key"], "left").withColumn(
            "repair_date", F.coalesce("repair_date", "_repair")
        ).drop("_repair")
    return out.select(*EVENT_COLUMNS)
