"""Point-in-time entity features for many snapshot dates in one Spark pass, and their labels.

Features at date T use only events known by T (``known_date <= T``); a repaired record stops counting from
its repair date; a list entry counts as current until its removal. All snapshot dates are computed together:
events are joined to the (small, broadcast) set of dates and aggregated once per (entity, date).
"""

from __future__ import annotations

import calendar
from datetime import date

from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F

from radar.config import FeatureCatalog, FeatureDef, FeaturePolicy, LabelPolicy
from radar.reference import industry_sections

CLASS_CODES = {"enterprise": 0, "individual": 1, "cooperative": 2, "other": 3}
SLICE_COLUMNS = ["district_code", "industry_section", "entity_class"]


def snapshot_dates(as_of: date, months: int) -> list[date]:
    """The as-of date and the month ends before it, oldest first (``months`` dates in all)."""
    out = [as_of]
    y, m = as_of.year, as_of.month
    last = date(y, m, calendar.monthrange(y, m)[1])
    if last >= as_of:  # the month of as_of is not over: start at the month end before it
        m -= 1
        if m == 0:
            y, m = y - 1, 12
    while len(out) < months:
        d = date(y, m, calendar.monthrange(y, m)[1])
        if d < as_of:
            out.append(d)
        m -= 1
        if m == 0:
            y, m = y - 1, 12
    return sorted(out)


def _dates_frame(spark: SparkSession, dates: list[date]) -> DataFrame:
    return spark.createDataFrame([(d,) for d in dates], "snapshot_date date")


def alive_entities(entities: DataFrame, dates: DataFrame) -> DataFrame:
    """Entity x snapshot date for entities registered by T and not closed before T."""
    T = F.col("snapshot_date")
    return entities.crossJoin(F.broadcast(dates)).where(
        (F.col("established_date").isNull() | (F.col("established_date") <= T))
        & (F.col("deregistered_date").isNull() | (F.col("deregistered_date") > T))
    )


def _in_force(T: Column) -> Column:
    """A record in force at T: not removed, expired or repaired by T."""
    return (
        (F.col("known_date") <= T)
        & (F.col("end_date").isNull() | (F.col("end_date") > T))
        & (F.col("repair_date").isNull() | (F.col("repair_date") > T))
    )


def _counting(T: Column) -> Column:
    """A record that still counts at T: known by T and not repaired by T."""
    return (F.col("known_date") <= T) & (F.col("repair_date").isNull() | (F.col("repair_date") > T))


def _event_aggs(f: FeatureDef) -> list[Column]:
    """Aggregations over events x dates for one feature (or its helper columns)."""
    T = F.col("snapshot_date")
    typ = F.col("event_type").isin(f.events)
    d = F.col("event_date")
    if f.kind in ("count", "amount", "related") and f.window_days:
        win = (d > F.date_sub(T, f.window_days)) & (d <= T)
    else:
        win = d <= T
    if f.kind == "count" or f.kind == "ever":
        return [F.sum(F.when(typ & win & _counting(T), 1).otherwise(0)).alias(f.name)]
    if f.kind == "amount":
        return [F.sum(F.when(typ & win & _counting(T), F.coalesce("amount_yuan", F.lit(0.0))).otherwise(0.0)).alias(f.name)]
    if f.kind == "current":
        return [F.max(F.when(typ & (d <= T) & _in_force(T), 1).otherwise(0)).alias(f.name)]
    if f.kind == "days_since":
        return [F.datediff(T, F.max(F.when(typ & (d <= T) & _counting(T), d))).alias(f.name)]
    if f.kind == "trend":
        recent = typ & (d > F.date_sub(T, f.window_days)) & (d <= T) & (F.col("known_date") <= T)
        base_end = F.date_sub(T, f.window_days)
        base = typ & (d > F.date_sub(base_end, f.base_days)) & (d <= base_end) & (F.col("known_date") <= T)
        return [
            F.sum(F.when(recent, 1).otherwise(0)).alias(f"_{f.name}_recent"),
            F.sum(F.when(base, 1).otherwise(0)).alias(f"_{f.name}_base"),
        ]
    if f.kind == "related" and f.events:
        return [F.max(F.when(typ & win & _counting(T), 1).otherwise(0)).alias(f"_{f.name}_flag")]
    return []


def _attribute(f: FeatureDef, district_codes: list[str], new_days: int) -> Column:
    T = F.col("snapshot_date")
    a = f.attribute
    if a == "age_years":
        return F.datediff(T, F.col("established_date")) / 365.25
    if a == "log_capital":
        return F.log1p(F.greatest(F.coalesce("registered_capital_yuan", F.lit(0.0)), F.lit(0.0)))
    if a == "entity_class":
        m = F.create_map(*[x for k, v in CLASS_CODES.items() for x in (F.lit(k), F.lit(v))])
        return m[F.col("entity_class")]
    if a == "industry_section":
        letters = sorted(industry_sections())
        m = F.create_map(*[x for i, s in enumerate(letters) for x in (F.lit(s), F.lit(i))])
        return m[F.col("industry_section")]
    if a == "district":
        m = F.create_map(*[x for i, s in enumerate(district_codes) for x in (F.lit(s), F.lit(i))])
        return m[F.col("district_code")]
    if a == "is_new_entity":
        return F.when(F.datediff(T, F.col("established_date")) < new_days, 1).otherwise(0)
    raise ValueError(f"unknown attribute {a}")


def related_pairs(attributes: DataFrame, hub_cap: int, dates: DataFrame, entities: DataFrame) -> DataFrame:
    """Pairs of distinct entities sharing an attribute at each snapshot date, hubs at that date excluded.

    An attribute row holds at T when ``since <= T`` (or unknown) and ``until > T`` (or open), and its entity
    was established by T (``entities``: entity_id, established_date). An attribute held by more than
    ``hub_cap`` entities at T is a hub and links nothing at T. Sizes are counted at each date, so a tie that
    begins after T (a new firm at a shared address, a later shareholder) never changes the pairs at T.
    Output: entity_id, nb_id, snapshot_date (distinct).
    """
    T = F.col("snapshot_date")
    founded = entities.select("entity_id", F.col("established_date").alias("_est"))
    held = (
        attributes.where(F.col("attr_key").isNotNull())
        .select("attr_key", "entity_id", "since", "until")
        .join(founded, "entity_id")
        .crossJoin(F.broadcast(dates))
        .where((F.col("since").isNull() | (F.col("since") <= T)) & (F.col("until").isNull() | (F.col("until") > T)))
        .where(F.col("_est").isNull() | (F.col("_est") <= T))
        .select("attr_key", "entity_id", "snapshot_date")
        .distinct()
    )
    sizes = held.groupBy("attr_key", "snapshot_date").agg(F.countDistinct("entity_id").alias("_n"))
    a = held.join(sizes.where((F.col("_n") > 1) & (F.col("_n") <= hub_cap)), ["attr_key", "snapshot_date"]).select(
        "attr_key", "snapshot_date", "entity_id"
    )
    b = a.select("attr_key", "snapshot_date", F.col("entity_id").alias("nb_id"))
    return (
        a.join(b, ["attr_key", "snapshot_date"])
        .where(F.col("entity_id") != F.col("nb_id"))
        .select("entity_id", "nb_id", "snapshot_date")
        .distinct()
    )


def build_snapshots(
    entities: DataFrame,
    events: DataFrame,
    attributes: DataFrame,
    catalog: FeatureCatalog,
    features: FeaturePolicy,
    labels: LabelPolicy,
    as_of: date,
    district_codes: list[str],
    hub_cap: int,
) -> DataFrame:
    """One row per alive entity and snapshot date: every catalog feature, the label and its completeness.

    ``label`` = 1 when an adverse event (labels.adverse_event_types) happens in (T, T + horizon] and by the
    as-of date; ``label_complete`` says whether T + horizon <= as_of (only those rows may train a model).
    """
    spark = entities.sparkSession
    dates = _dates_frame(spark, snapshot_dates(as_of, features.snapshot_months))
    base = alive_entities(
        entities.select("entity_id", "established_date", "deregistered_date", "registered_capital_yuan",
                        *SLICE_COLUMNS),
        dates,
    )
    T = F.col("snapshot_date")
    ev = events.where(F.col("event_date") <= F.lit(as_of)).crossJoin(F.broadcast(dates))
    H = labels.horizon_days
    adverse = F.col("event_type").isin(labels.adverse_event_types)
    aggs = [a for f in catalog.features for a in _event_aggs(f)]
    aggs.append(
        F.max(F.when(adverse & (F.col("event_date") > T) & (F.col("event_date") <= F.date_add(T, H)), 1).otherwise(0))
        .alias("label")
    )
    # features look back from T, labels look ahead: keep only the event-date pairs either needs
    ev = ev.where((F.col("event_date") <= T) | (adverse & (F.col("event_date") <= F.date_add(T, H))))
    per = ev.groupBy("entity_id", "snapshot_date").agg(*aggs)
    out = base.join(per, ["entity_id", "snapshot_date"], "left")

    for f in catalog.features:
        if f.kind == "attribute":
            out = out.withColumn(f.name, _attribute(f, district_codes, features.new_entity_days))
        elif f.kind == "trend":
            recent, base_n = F.coalesce(F.col(f"_{f.name}_recent"), F.lit(0)), F.coalesce(F.col(f"_{f.name}_base"), F.lit(0))
            # recent count against the base period's average over a window of the same length (+1 smoothing)
            out = out.withColumn(f.name, (recent + 1) / (base_n * f.window_days / f.base_days + 1))

    related = [f for f in catalog.features if f.kind == "related"]
    if related:
        out = _add_related(out, per, entities, attributes, dates, related, hub_cap)

    fill = {f.name: 0 for f in catalog.features if f.kind in ("count", "ever", "amount", "current", "related")}
    fill["label"] = 0
    out = out.fillna(fill)
    return out.select(
        "entity_id", "snapshot_date", *SLICE_COLUMNS,
        *[F.col(f.name).cast("double").alias(f.name) for f in catalog.features],
        F.col("label").cast("int").alias("label"),
        (F.date_add(T, H) <= F.lit(as_of)).alias("label_complete"),
    )


def _add_related(
    out: DataFrame,
    per: DataFrame,
    entities: DataFrame,
    attributes: DataFrame,
    dates: DataFrame,
    related: list[FeatureDef],
    hub_cap: int,
) -> DataFrame:
    """Related-party counts and shares at each snapshot from the neighbours' own flags at that date.

    A neighbour is an entity established by T sharing a non-hub attribute with the (alive) entity at T.
    Its flags come from its own events (``per``), whether or not it is still operating at T: a neighbour
    deregistered or revoked within the window is exactly what ``related_closed_count_365d`` counts.
    """
    pairs = related_pairs(attributes, hub_cap, dates, entities)
    flagged = [f for f in related if f.events]
    nb = per.select(
        F.col("entity_id").alias("nb_id"), "snapshot_date",
        *[F.coalesce(F.col(f"_{f.name}_flag"), F.lit(0)).alias(f"_{f.name}_nb") for f in flagged],
    )
    active = pairs.join(out.select("entity_id", "snapshot_date"), ["entity_id", "snapshot_date"])
    joined = active.join(nb, ["nb_id", "snapshot_date"], "left")
    aggs = [F.countDistinct("nb_id").alias("_related_n")]
    for f in flagged:
        aggs.append(F.countDistinct(F.when(F.col(f"_{f.name}_nb") > 0, F.col("nb_id"))).alias(f"_{f.name}_count"))
    per_related = joined.groupBy("entity_id", "snapshot_date").agg(*aggs)
    out = out.join(per_related, ["entity_id", "snapshot_date"], "left")
    n = F.coalesce(F.col("_related_n"), F.lit(0))
    for f in related:
        if not f.events:
            out = out.withColumn(f.name, n)
        else:
            c = F.coalesce(F.col(f"_{f.name}_count"), F.lit(0))
            out = out.withColumn(f.name, F.when(n > 0, c / n).otherwise(F.lit(0.0)) if f.share else c)
    return out


def value_labels(district_codes: list[str], district_names: dict[str, str]) -> dict[str, dict[int, str]]:
    """Names of the codes of the categorical attribute features (for reasons shown to people)."""
    sections = industry_sections()
    return {
        "industry_section_code": {i: f"{s} {sections[s]}" for i, s in enumerate(sorted(sections))},
        "district_index": {i: district_names.get(c, c) for i, c in enumerate(district_codes)},
        "entity_class_code": {v: {"enterprise": "企业", "individual": "个体工商户", "cooperative": "农民专业合作社",
                                  "other": "其他"}[k] for k, v in CLASS_CODES.items()},
    }


def catalog_rows(catalog: FeatureCatalog) -> list[dict[str, object]]:
    """The feature catalog as rows (name, dimension, label, definition, window, sources)."""
    rows = []
    for f in catalog.features:
        rows.append(
            {
                "name": f.name,
                "dimension": f.dimension,
                "dimension_label": catalog.dimensions[f.dimension],
                "label": f.label,
                "kind": f.kind,
                "definition": describe(f),
                "window_days": f.window_days,
                "events": ", ".join(f.events),
                "sources": ", ".join(f.sources),
            }
        )
    return rows


def describe(f: FeatureDef) -> str:
    """A one-line English definition of a feature, generated from its declaration."""
    ev = "/".join(f.events) or "any"
    w = f"in the {f.window_days} days up to T" if f.window_days else "up to T"
    return {
        "count": f"number of {ev} events {w}, known by T, not repaired by T",
        "ever": f"number of {ev} events up to T",
        "amount": f"sum of amounts (yuan) of {ev} events {w}",
        "current": f"1 if a {ev} record is in force at T (not removed, expired or repaired), else 0",
        "days_since": f"days from the latest {ev} event to T (empty if none)",
        "trend": f"({ev} in the last {f.window_days} days + 1) / (their rate over the {f.base_days} days before, "
                 f"scaled to {f.window_days} days, + 1)",
        "attribute": f"registry attribute: {f.attribute}",
        "related": (
            f"{'share' if f.share else 'number'} of related entities (shared legal rep, shareholder, officer, "
            f"address or phone; hubs excluded)" + (f" with {ev} events {w}" if f.events else "")
        ),
    }[f.kind]
