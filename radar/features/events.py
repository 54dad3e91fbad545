"""Every linked record as a dated event of its entity: the spine of features, labels, alerts and evidence.

Columns: entity_id, source_type, record_key, event_type, event_date, known_date (when the record was
known: publication date where exported, else the decision date), end_date (removal from a list, end of
publicity or validity), repair_date (credit repair approved), amount_yuan, detail (Chinese text),
is_random_check and inclusion_probability (spot checks drawn at random), tags (what features count the event
by: penalty categories and severity, signal names, spot-check results, listing reasons, capital cuts, late
annual reports) and stop_date (from when the record stops counting: its repair, or the end of its publicity
where policy says so).

Policy (conf/policy.yaml ``features``): a penalty whose categories are all minor (警告, 通报批评) is
``penalty_minor``; a record retracted after an objection (处理结果 撤销) is dropped at every date; an approved
repair sets ``repair_date``; a penalty's publicity ends at its 公示截止期 (derived from the decision date when
the export has none); 12315 outcomes (调解成功, 终止调解, 立案) become events of their own, dated when the case
closed.
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
    "amount_yuan", "detail", "is_random_check", "inclusion_probability", "tags", "stop_date",
]
REPORT_COLUMNS = [
    "entity_id", "record_key", "report_year", "filed_date", "staff_count", "revenue_yuan", "tax_yuan", "assets_yuan",
]

CHANGE_KINDS = [
    ("change_legal_rep", "法定代表人|负责人|经营者|执行事务合伙人|投资人"),
    ("change_address", "住所|地址|经营场所"),
    ("change_name", "名称|字号"),
    ("change_capital", "注册资本|资金数额|出资"),
    ("change_scope", "经营范围"),
]
# a money amount in free text: 12345.6元, 1.2万元, 人民币80000元 (the first one found)
_MONEY = r"([0-9]+(?:\.[0-9]+)?)\s*(万)?元"


def _linked(table: DataFrame, links: DataFrame, source_type: str) -> DataFrame:
    """Current, active rows of a record type with the entity their link gives (unlinked rows drop out here;
    they are counted in the links table). Rows ingest marked as retracted after an objection drop out too."""
    lk = links.where(F.col("entity_id").isNotNull() & (F.col("source_type") == source_type)).select(
        "record_key", "entity_id"
    )
    keep = F.col("is_current") & (F.col("record_status") == "active")
    if "objection_status" in table.columns:
        keep = keep & F.coalesce(F.col("objection_status") != "retracted", F.lit(True))
    return table.where(keep).join(lk, "record_key").withColumn("source_type", F.lit(source_type))


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
    tags: Column | None = None,
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
        _tag_array(tags).alias("tags"),
        F.lit(None).cast("date").alias("stop_date"),
    ).where(F.col("event_date").isNotNull())


def _tag_array(tags: Column | None) -> Column:
    """A non-null array of distinct, non-null tags."""
    if tags is None:
        return F.array().cast("array<string>")
    return F.array_distinct(F.filter(F.coalesce(tags, F.array().cast("array<string>")), lambda t: t.isNotNull()))


def _keyword_in(c: Column, words: list[str]) -> Column:
    return c.rlike("|".join(words))


def keyword_tags(text: Column, table: Mapping[str, list[str]]) -> Column:
    """The tags of ``table`` (tag -> keywords) whose keywords occur in ``text`` (an array of tags)."""
    t = F.coalesce(text, F.lit(""))
    if not table:
        return F.array().cast("array<string>")
    return F.array(*[F.when(_keyword_in(t, words), F.lit(tag)) for tag, words in table.items()])


def money_in(text: Column) -> Column:
    """The first amount of money in a text, in yuan (万元 converted), or null."""
    num = F.regexp_extract(F.coalesce(text, F.lit("")), _MONEY, 1)
    wan = F.regexp_extract(F.coalesce(text, F.lit("")), _MONEY, 2) == "万"
    value = F.when(num != "", num.cast("double"))
    return F.when(wan, value * 10000).otherwise(value)


def penalty_events(pen: DataFrame, policy: FeaturePolicy, entities: DataFrame | None = None) -> DataFrame:
    """Penalties: ``penalty`` or ``penalty_minor`` (only warning / notice-of-criticism categories).

    Tags: the categories' tags (``penalty_category_tags``: fine, confiscation, suspension, revocation),
    ``large_amount`` when fine + confiscation reach the entity class's ``large_penalty_yuan``, and ``severe``
    with a severe category or a large amount. Publicity ends at 公示截止期, else the decision date plus the
    policy's ``derived_publicity_days`` of the event type.
    """
    cats = F.concat(F.coalesce("penalty_category", F.array()), F.coalesce("penalty_category_2", F.array()))
    minor_sql = ", ".join(lit(c) for c in policy.minor_penalty_categories)
    minor = F.expr(f"size(cats) > 0 AND forall(cats, c -> c IN ({minor_sql}))")
    df = pen.withColumn("cats", cats)
    if entities is not None and policy.large_penalty_yuan:
        df = df.join(F.broadcast(entities.select("entity_id", "entity_class")), "entity_id", "left")
    else:
        df = df.withColumn("entity_class", F.lit(None).cast("string"))
    amount = F.coalesce("fine_amount_yuan", F.lit(0.0)) + F.coalesce("confiscation_amount_yuan", F.lit(0.0))
    large = F.lit(None).cast("double")
    for cls, yuan in policy.large_penalty_yuan.items():
        large = F.when(F.col("entity_class") == cls, F.lit(float(yuan))).otherwise(large)
    if "other" in policy.large_penalty_yuan:
        large = F.coalesce(large, F.lit(float(policy.large_penalty_yuan["other"])))
    text = F.array_join(F.col("cats"), "、")
    cat_tags = keyword_tags(text, policy.penalty_category_tags)
    is_large = large.isNotNull() & (amount >= large)
    severe_words = [w for t in policy.severe_penalty_tags for w in policy.penalty_category_tags.get(t, [])]
    is_severe = is_large | (_keyword_in(F.coalesce(text, F.lit("")), severe_words) if severe_words else F.lit(False))
    tags = F.concat(
        cat_tags,
        F.array(F.when(is_large, F.lit("large_amount")), F.when(is_severe, F.lit("severe"))),
    )
    etype = F.when(minor, F.lit("penalty_minor")).otherwise(F.lit("penalty"))
    derived = F.lit(None).cast("date")
    for t, days in policy.derived_publicity_days.items():
        derived = F.when(etype == t, F.date_add(F.col("decision_date"), days)).otherwise(derived)
    return _event(
        df,
        etype,
        "decision_date",
        known_date=F.col("publish_date"),
        end_date=F.coalesce(F.col("publicity_end_date"), derived),
        amount=amount,
        detail=F.concat_ws("；", "violation_type", F.array_join("cats", "、"), "penalty_content"),
        tags=tags,
    )


def spot_check_events(sc: DataFrame, labels: LabelPolicy, policy: FeaturePolicy | None = None) -> DataFrame:
    """Spot checks: ``spot_check_problem`` when a result names a problem, else ``spot_check_ok``; tagged by
    the policy's ``spot_check_result_tags`` (uncooperative, unreachable, false disclosure)."""
    pattern = "|".join(labels.spot_check_problem_keywords)
    results = F.coalesce("check_result", F.array())
    problem = F.exists(results, lambda r: r.rlike(pattern))
    tags = keyword_tags(F.array_join(results, "、"), policy.spot_check_result_tags) if policy else None
    return _event(
        sc,
        F.when(problem, F.lit("spot_check_problem")).otherwise(F.lit("spot_check_ok")),
        "completed_date",
        detail=F.concat_ws("；", "task_name", F.array_join(results, "、")),
        random_check=F.coalesce(F.col("check_type").contains("不定向"), F.lit(False)),
        inclusion=F.col("inclusion_probability"),
        tags=tags,
    )


def capital_in(text: Column) -> Column:
    """A registered-capital amount in yuan from a change record's text: 亿 and 万 as written; a bare number is
    in 万元 (the registry's unit), a number followed by 元 alone is in yuan."""
    t = F.coalesce(text, F.lit(""))
    num = F.regexp_extract(t, r"([0-9]+(?:\.[0-9]+)?)", 1)
    value = F.when(num != "", num.cast("double"))
    return (
        F.when(t.contains("亿"), value * 1e8)
        .when(t.contains("万"), value * 1e4)
        .when(t.contains("元"), value)
        .otherwise(value * 1e4)
    )


def change_events(ch: DataFrame, policy: FeaturePolicy | None = None) -> DataFrame:
    """Registration changes by kind (legal representative, address, name, capital, scope, other); a capital
    change is tagged ``capital_cut`` (the amount after is smaller) or ``capital_increase`` (at least
    ``capital_increase_ratio`` times the amount before), and carries the capital before it (yuan) as its
    amount: the snapshots rebuild the capital at T from it (the registry shows today's)."""
    kind = F.lit("change_other")
    for name, pattern in reversed(CHANGE_KINDS):
        kind = F.when(F.coalesce(F.col("change_item"), F.lit("")).rlike(pattern), F.lit(name)).otherwise(kind)
    num = r"([0-9]+(?:\.[0-9]+)?)"
    before = F.regexp_extract(F.coalesce("before", F.lit("")), num, 1)
    after = F.regexp_extract(F.coalesce("after", F.lit("")), num, 1)
    b = F.when(before != "", before.cast("double"))
    a = F.when(after != "", after.cast("double"))
    ratio = policy.capital_increase_ratio if policy else 2.0
    is_capital = kind == "change_capital"
    tags = F.array(
        F.when(is_capital & (a < b), F.lit("capital_cut")),
        F.when(is_capital & (b > 0) & (a >= b * ratio), F.lit("capital_increase")),
    )
    before_yuan = F.when(is_capital, capital_in(F.col("before")))
    return _event(ch, kind, "change_date", detail=F.concat_ws("：", "change_item", "after"), tags=tags,
                  amount=before_yuan)


def complaint_events(cp: DataFrame, policy: FeaturePolicy | None = None) -> DataFrame:
    """Complaints (投诉) and reports (举报); enquiries and suggestions are not events. Each outcome the policy
    names (``complaint_outcomes``: 调解成功, 终止调解, 立案; a report marked 是否立案 counts as 立案) is an event of
    its own, dated when the case closed (办结时间), else ``complaint_outcome_lag_days`` after its acceptance
    or registration: an outcome is not known when the case is registered."""
    t = F.coalesce(F.col("appeal_type"), F.lit("投诉"))
    kind = F.when(t.contains("举报") | (t == "2"), F.lit("report")).when(
        t.contains("投诉") | (t == "1"), F.lit("complaint")
    )
    df = cp.where(kind.isNotNull())
    made = _event(
        df, kind, "registered_at",
        detail=F.concat_ws("；", "problem_class", "product_name", F.substring("description", 1, 60)),
        amount=F.col("amount_involved_yuan"),
    )
    if policy is None or not policy.complaint_outcomes:
        return made
    text = F.coalesce(F.col("outcome"), F.lit(""))
    outcome = F.lit(None).cast("string")
    for rule in reversed(policy.complaint_outcomes):
        outcome = F.when(_keyword_in(text, rule.keywords), F.lit(rule.event)).otherwise(outcome)
    filed_rule = [r for r in policy.complaint_outcomes if r.event == "report_case_filed"]
    if filed_rule:
        outcome = F.when(
            (text == "") & F.coalesce(F.col("case_filed"), F.lit(False)), F.lit("report_case_filed")
        ).otherwise(outcome)
    closed = F.coalesce(
        F.col("closed_at"),
        F.date_add(F.coalesce("accepted_at", "registered_at"), policy.complaint_outcome_lag_days),
    )
    out = df.withColumn("_outcome", outcome).withColumn("_closed", closed).where(F.col("_outcome").isNotNull())
    decided = _event(
        out, F.col("_outcome"), "_closed",
        detail=F.concat_ws("；", F.coalesce("outcome", F.lit("立案")), "problem_class"),
        amount=F.col("recovered_loss_yuan"),
    )
    return made.unionByName(decided)


def commitment_events(cm: DataFrame) -> DataFrame:
    """Commitments, and a ``commitment_breach`` event when one is found not (fully) fulfilled."""
    made = _event(cm, "commitment", "commitment_date", detail=F.col("matter"))
    status = F.coalesce(F.col("fulfillment_status"), F.lit(""))
    breached = cm.where(status.contains("未履行") | status.contains("部分履行")).withColumn(
        "_breach_date", F.coalesce("fulfillment_determined_date", "commitment_date")
    )
    breach = _event(breached, "commitment_breach", "_breach_date", detail=F.concat_ws("；", "matter", "unfulfilled_content"))
    return made.unionByName(breach)


def dishonest_events(dd: DataFrame, policy: FeaturePolicy | None = None) -> DataFrame:
    """Dishonest-debtor listings, with the unperformed amount (未履行部分 where it holds an amount; when all
    of it is unperformed, the obligation's amount if the policy says so)."""
    amount = money_in(F.col("unperformed_part"))
    if policy is None or policy.debtor_amount_from_obligation:
        whole = F.coalesce(F.col("performance_status"), F.lit("")).contains("全部未履行")
        amount = F.coalesce(amount, F.when(whole, money_in(F.col("obligation"))))
    return _event(
        dd, "dishonest_debtor", "publish_date", end_date=F.col("removed_date"), amount=amount,
        detail=F.concat_ws("；", "court_name", "performance_status",
                           F.array_join(F.coalesce("dishonest_behavior", F.array()), "、")),
    )


def signal_events(tp: DataFrame, policy: FeaturePolicy | None = None) -> DataFrame:
    """Third-party signals, tagged by name (``signal_tags``); the value is the amount."""
    tags = keyword_tags(F.col("signal_name"), policy.signal_tags) if policy else None
    return _event(
        tp, "signal", "signal_date", amount=F.col("signal_value"),
        detail=F.concat_ws("：", "signal_name", "provider"), tags=tags,
    )


def _due_date(year: Column, due: str) -> Column:
    """The filing deadline of a report year: ``due`` (MM-DD) of the year after it."""
    return F.to_date(F.concat((year + 1).cast("string"), F.lit("-" + due)))


def annual_report_rows(ar: DataFrame) -> DataFrame:
    """The linked annual reports as rows of REPORT_COLUMNS (report_year as an int; money in yuan)."""
    year = F.regexp_extract(F.coalesce(F.col("report_year"), F.lit("")), r"((?:19|20)[0-9]{2})", 1)
    return ar.select(
        "entity_id",
        "record_key",
        F.when(year != "", year.cast("int")).alias("report_year"),
        "filed_date",
        F.col("staff_count").cast("int").alias("staff_count"),
        F.col("total_revenue_yuan").alias("revenue_yuan"),
        F.col("total_tax_yuan").alias("tax_yuan"),
        F.col("total_assets_yuan").alias("assets_yuan"),
    ).where(F.col("report_year").isNotNull() & F.col("filed_date").isNotNull())


def annual_report_events(ar: DataFrame, policy: FeaturePolicy) -> DataFrame:
    """Annual reports as ``annual_report`` events on their filing day, ``late`` when filed after the deadline."""
    rows = annual_report_rows(ar).withColumn("source_type", F.lit("annual_report"))
    late = F.col("filed_date") > _due_date(F.col("report_year"), policy.annual_report_due)
    detail = F.concat_ws(
        "；",
        F.concat(F.col("report_year").cast("string"), F.lit("年度报告")),
        F.concat(F.lit("从业人数"), F.col("staff_count").cast("string")),
        F.concat(F.lit("营业总收入"), F.format_number(F.col("revenue_yuan") / 10000, 2), F.lit("万元")),
        F.concat(F.lit("纳税总额"), F.format_number(F.col("tax_yuan") / 10000, 2), F.lit("万元")),
    )
    return _event(
        rows, "annual_report", "filed_date", amount=F.col("revenue_yuan"), detail=detail,
        tags=F.array(F.when(late, F.lit("late"))),
    )


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
    """All events of all linked records, with objections, repairs and publicity ends applied."""
    t = {rt: _linked(df, links, rt) for rt, df in tables.items() if rt != "registry"}
    parts = [
        penalty_events(t["penalty"], features, entities),
        _event(t["license"], "license", "decision_date", end_date=F.col("valid_to"),
               detail=F.concat_ws("；", "license_cert_name", "license_content")),
        dishonest_events(t["dishonest_debtor"], features),
        _event(t["abnormal_list"], "abnormal_list", "listed_date", end_date=F.col("removed_date"),
               detail=F.col("listing_reason"), tags=keyword_tags(F.col("listing_reason"), features.abnormal_reason_tags)),
        _event(t["serious_violation"], "serious_violation", "listed_date", end_date=F.col("removed_date"),
               detail=F.col("serious_listing_reason")),
        complaint_events(t["complaint"], features),
        spot_check_events(t["spot_check"], labels, features),
        commitment_events(t["commitment"]),
        change_events(t["change"], features),
        signal_events(t["third_party"], features),
        registry_events(entities),
    ]
    if "annual_report" in t:
        parts.append(annual_report_events(t["annual_report"], features))
    events = reduce(DataFrame.unionByName, parts)
    events = apply_objections_and_repairs(
        events, t["penalty"], t["abnormal_list"], t["objection"], t["repair"], features
    )
    return apply_publicity(events, features)


def build_reports(tables: Mapping[str, DataFrame], links: DataFrame) -> DataFrame | None:
    """The linked annual reports (REPORT_COLUMNS), or None when the input has no annual-report table."""
    if "annual_report" not in tables:
        return None
    return annual_report_rows(_linked(tables["annual_report"], links, "annual_report")).select(*REPORT_COLUMNS)


def apply_publicity(events: DataFrame, policy: FeaturePolicy) -> DataFrame:
    """Set ``stop_date``: the repair date, or the end of publicity (``end_date``) for the event types whose
    publicity ends their use (``publicity_end_stops_counting``), whichever comes first."""
    ends = F.col("event_type").isin(policy.publicity_end_stops_counting) if policy.publicity_end_stops_counting \
        else F.lit(False)
    publicity = F.when(ends, F.col("end_date"))
    repair = F.col("repair_date") if policy.repair_stops_counting else F.lit(None).cast("date")
    return events.withColumn("stop_date", F.least(repair, publicity)).select(*EVENT_COLUMNS)


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
    out = out.join(repaired, ["entity_id", "record_key"], "left").withColumn(
        "repair_date", F.coalesce("repair_date", "_repair")
    ).drop("_repair")
    return out.select(*EVENT_COLUMNS)
