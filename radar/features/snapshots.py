"""Point-in-time entity features for many snapshot dates in one Spark pass, and their labels.

Features at date T use only what was known by T: an event counts from ``max(event_date, known_date)``; a
record stops counting from its ``stop_date`` (repair, or the end of its publicity where policy says so); a
list entry is current until its removal (``end_date``). All snapshot dates are computed together.

**How (a sweep over the snapshot index, not a loop and not an events x dates cross join).** With the dates
T_0 < ... < T_{n-1}, every condition a feature puts on an event (``T >= event_date``, ``T >= known_date``,
``T < event_date + window``, ``T < stop_date`` ...) holds on a contiguous range of snapshot indices. So each
event becomes a few boundary rows ``(entity, i, +weight)`` / ``(entity, j, -weight)`` for each feature it
counts in, and one running sum per entity over the index gives every feature at every snapshot (a window
``sum ... over (partition by entity order by i)``). The same window carries the annual reports: the latest
report known by T (a running ``max`` of a struct ordered by report year) and the years filed by T and filed
late (running ``bit_or`` of year bits). Rows: events x (distinct boundaries) instead of events x dates.
``days_since`` (a maximum, not a sum) uses a small cross join of only the events it needs; related parties
and industry x district cells are joins on the swept table.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date

from pyspark.sql import Column, DataFrame, SparkSession, Window
from pyspark.sql import functions as F

from radar.config import FeatureCatalog, FeatureDef, FeaturePolicy, LabelPolicy
from radar.errors import ConfigError
from radar.reference import industry_sections

CLASS_CODES = {"enterprise": 0, "individual": 1, "cooperative": 2, "other": 3}
SLICE_COLUMNS = ["district_code", "industry_section", "entity_class"]
REPORT_BASE_YEAR = 2000  # bit k of the report-year masks is the year 2000 + k
_SUM_KINDS = ("count", "ever", "amount", "current", "current_amount", "trend", "share", "related", "cell_trend")


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
    return spark.createDataFrame([(i, d) for i, d in enumerate(dates)], "snap_i int, snapshot_date date")


def date_index(x: Column, dates: list[date]) -> Column:
    """The number of snapshot dates before ``x`` (a date column): snapshot i has ``T_i >= x`` exactly when
    ``i >= date_index(x)``. A null ``x`` (an open end) gives ``len(dates)``: never reached."""

    def search(lo: int, hi: int) -> Column:  # the first index in [lo, hi] with x <= T_i (hi: none)
        if lo == hi:
            return F.lit(lo)
        mid = (lo + hi) // 2
        return F.when(x <= F.lit(dates[mid]), search(lo, mid)).otherwise(search(mid + 1, hi))

    return F.when(x.isNull(), F.lit(len(dates))).otherwise(search(0, len(dates)))


# ---------------------------------------------------------------- the sweep's terms
@dataclass(frozen=True)
class _Term:
    """One running sum: events matching ``events``/``tags`` add ``weight`` on [max(lo), min(hi))."""

    name: str
    events: tuple[str, ...]
    tags: tuple[str, ...]
    lo: tuple[str, ...]
    hi: tuple[str, ...]
    cents: bool = False  # weight: the amount in cents (exact sums), else 1


def _count_bounds(window: int | None) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Counting at T: known and dated by T, inside the window, not stopped."""
    return ("i_start",), ((f"i_w{window}",) if window else ()) + ("i_stop",)


def _terms(f: FeatureDef) -> list[_Term]:
    """The running sums a feature needs (helpers are named ``_<feature>_<part>``)."""
    ev, tg = tuple(f.events), tuple(f.tags)
    k = f.kind
    if k in ("count", "ever", "amount"):
        lo, hi = _count_bounds(f.window_days if k != "ever" else None)
        return [_Term(f.name, ev, tg, lo, hi, cents=k == "amount")]
    if k in ("current", "current_amount"):
        return [_Term(f"_{f.name}_n" if k == "current" else f.name, ev, tg, ("i_start",), ("i_end", "i_stop"),
                      cents=k == "current_amount")]
    if k in ("trend", "cell_trend"):
        w, b = f.window_days, f.base_days
        return [
            _Term(f"_{f.name}_recent", ev, tg, ("i_start",), (f"i_w{w}",)),
            _Term(f"_{f.name}_base", ev, tg, (f"i_wk{w}",), (f"i_wb{w}_{b}",)),
        ]
    if k == "share":
        lo, hi = _count_bounds(f.window_days)
        return [
            _Term(f"_{f.name}_num", ev, tg, lo, hi),
            _Term(f"_{f.name}_den", tuple(f.of_events), tuple(f.of_tags), lo, hi),
        ]
    if k == "related" and f.events:
        lo, hi = _count_bounds(f.window_days)
        return [_Term(f"_{f.name}_flag", ev, tg, lo, hi)]
    return []


def _index_columns(terms: list[_Term], dates: list[date], horizon: int) -> dict[str, Column]:
    """The snapshot-index columns the terms' bounds name, computed once per event."""
    d, known = F.col("event_date"), F.col("known_date")
    cols: dict[str, Column] = {}
    for name in sorted({c for t in terms for c in (*t.lo, *t.hi)}):
        if name == "i_start":
            x = F.greatest(d, known)
        elif name == "i_stop":
            x = F.col("stop_date")
        elif name == "i_end":
            x = F.col("end_date")
        elif name == "i_lab0":  # labels look ahead: T >= event_date - horizon ...
            x = F.date_sub(d, horizon)
        elif name == "i_lab1":  # ... and T < event_date
            x = d
        elif name.startswith("i_wk"):
            x = F.greatest(F.date_add(d, int(name[4:])), known)
        elif name.startswith("i_wb"):
            w, b = name[4:].split("_")
            x = F.date_add(d, int(w) + int(b))
        elif name.startswith("i_w"):
            x = F.date_add(d, int(name[3:]))
        else:  # pragma: no cover - every name above is generated by _terms
            raise ValueError(name)
        cols[name] = date_index(x, dates)
    return cols


def _match(events: tuple[str, ...], tags: tuple[str, ...]) -> Column:
    m = F.col("event_type").isin(list(events))
    if tags:
        m = m & F.arrays_overlap(F.col("tags"), F.array(*[F.lit(t) for t in tags]))
    return m


def _sweep_rows(events: DataFrame, terms: list[_Term], dates: list[date], horizon: int) -> DataFrame:
    """The boundary rows of every event: (entity_id, snap_i, one delta column per term)."""
    n = len(dates)
    idx = _index_columns(terms, dates, horizon)
    combos = sorted({(t.events, t.tags) for t in terms})
    mcol = {c: f"_m{i}" for i, c in enumerate(combos)}
    # only the event types some term counts (a plain filter: a big OR of the match columns would make the
    # optimizer's constraint propagation blow up)
    ev = events.where(F.col("event_type").isin(sorted({e for t in terms for e in t.events}))).select(
        "entity_id",
        F.coalesce(F.round(F.col("amount_yuan") * 100), F.lit(0)).cast("long").alias("_cents"),
        *[_match(*c).alias(mcol[c]) for c in combos],
        *[v.alias(k) for k, v in idx.items()],
    )
    bounds = F.array_distinct(F.filter(F.array(*[F.col(k) for k in idx]), lambda b: b < F.lit(n)))
    ev = ev.withColumn("snap_i", F.explode(bounds))
    b = F.col("snap_i")
    deltas = []
    for t in terms:
        lo = F.greatest(*[F.col(c) for c in t.lo]) if len(t.lo) > 1 else F.col(t.lo[0])
        hi = F.least(*[F.col(c) for c in t.hi]) if len(t.hi) > 1 else F.col(t.hi[0])
        w = F.col("_cents") if t.cents else F.lit(1).cast("long")
        live = F.col(mcol[(t.events, t.tags)]) & (lo < hi)
        delta = F.when(b == lo, w).otherwise(F.lit(0)) - F.when(b == hi, w).otherwise(F.lit(0))
        deltas.append(F.when(live, delta).otherwise(F.lit(0).cast("long")).alias(t.name))
    return ev.select("entity_id", "snap_i", *deltas)


def _capital_rows(events: DataFrame, dates: list[date]) -> DataFrame:
    """Capital changes at the snapshot index of their date, with the capital before them (yuan): at T, the
    capital was the amount before the first change after T (none: the registry's current capital)."""
    return events.where((F.col("event_type") == "change_capital") & F.col("amount_yuan").isNotNull()).select(
        "entity_id",
        date_index(F.col("event_date"), dates).alias("snap_i"),
        F.struct(F.col("event_date"), F.col("amount_yuan").alias("before")).alias("_cap"),
    )


def _report_rows(reports: DataFrame, dates: list[date], due: str) -> DataFrame:
    """Annual reports at the snapshot index of their filing day: the report as a struct ordered by year, and
    the bits of its year (and, if filed after the deadline, of its late year)."""
    n = len(dates)
    year = F.col("report_year")
    bit = F.when((year >= REPORT_BASE_YEAR) & (year < REPORT_BASE_YEAR + 63),
                 F.call_function("shiftleft", F.lit(1).cast("long"), year - REPORT_BASE_YEAR)).otherwise(
        F.lit(0).cast("long"))
    late = F.col("filed_date") > F.to_date(F.concat((year + 1).cast("string"), F.lit("-" + due)))
    return reports.select(
        "entity_id",
        date_index(F.col("filed_date"), dates).alias("snap_i"),
        F.struct(
            year.alias("report_year"), F.col("filed_date"), F.col("staff_count").cast("double").alias("staff_count"),
            "revenue_yuan", "tax_yuan", "assets_yuan",
        ).alias("_rep"),
        bit.alias("_rep_bits"),
        F.when(late, bit).otherwise(F.lit(0).cast("long")).alias("_late_bits"),
    ).where(F.col("snap_i") < n)


# ---------------------------------------------------------------- annual reports at T
def _report_year_bit(bits: Column, year: Column) -> Column:
    """1 when ``year``'s bit is set in ``bits`` (0 for years outside the mask)."""
    k = year - REPORT_BASE_YEAR
    shifted = F.call_function("shiftright", F.coalesce(bits, F.lit(0).cast("long")), k)
    return F.when((k >= 0) & (k < 63), shifted.bitwiseAND(F.lit(1).cast("long"))).otherwise(0)


def _report_feature(f: FeatureDef, policy: FeaturePolicy) -> Column:
    """An annual-report feature from the swept ``_rep`` / ``_rep_bits`` / ``_late_bits`` at T."""
    T = F.col("snapshot_date")
    y = F.year(T)
    due_this_year = F.to_date(F.concat(y.cast("string"), F.lit("-" + policy.annual_report_due)))
    # the latest report year due by T: last year's once this year's deadline has passed
    D = F.when(due_this_year < T, y - 1).otherwise(y - 2)
    est = F.col("established_date")

    def required(year: Column) -> Column:
        return est.isNull() | (est <= F.to_date(F.concat(year.cast("string"), F.lit("-12-31"))))

    rep = F.col("_rep")
    m = f.measure
    if m == "missing":
        out = F.lit(0)
        for k in range(f.years):
            yk = D - k
            out = out + F.when(required(yk) & (_report_year_bit(F.col("_rep_bits"), yk) == 0), 1).otherwise(0)
        return out
    if m == "late":
        out = F.lit(0)
        for k in range(f.years):
            out = out + _report_year_bit(F.col("_late_bits"), D - k)
        return out
    if m == "pending":  # inside the filing window, last year's report not filed yet
        return F.when(
            (due_this_year >= T) & required(y - 1) & (_report_year_bit(F.col("_rep_bits"), y - 1) == 0), 1
        ).otherwise(0)
    if m == "value":
        v = rep[f.field]
        return F.when(v.isNotNull(), F.log1p(F.greatest(v, F.lit(0.0)))) if f.log else v
    if m == "zero":
        return F.when(rep[f.field] == 0, 1).otherwise(0)
    if m == "shell_screen":
        big = F.coalesce(F.col("_capital_t"), F.lit(0.0)) >= policy.shell_screen_min_capital_yuan
        empty = (
            (rep["tax_yuan"] == 0)
            | (rep["revenue_yuan"] < policy.shell_screen_max_revenue_yuan)
            | (rep["staff_count"] == 0)
        )
        return F.when(big & rep.isNotNull() & F.coalesce(empty, F.lit(False)), 1).otherwise(0)
    raise ValueError(f"unknown annual-report measure {m}")


def _attribute(f: FeatureDef, district_codes: list[str], policy: FeaturePolicy) -> Column:
    T = F.col("snapshot_date")
    a = f.attribute
    if a == "age_years":
        return F.datediff(T, F.col("established_date")) / 365.25
    if a == "log_capital":
        return F.log1p(F.greatest(F.coalesce("_capital_t", F.lit(0.0)), F.lit(0.0)))
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
        return _is_new(policy)
    if a == "address_entity_count":
        return F.coalesce(F.col("_address_n"), F.lit(1))
    if a == "shared_address":
        return F.when(F.coalesce(F.col("_address_n"), F.lit(1)) >= policy.shell_address_min_entities, 1).otherwise(0)
    raise ValueError(f"unknown attribute {a}")


def _is_new(policy: FeaturePolicy) -> Column:
    return F.when(F.datediff(F.col("snapshot_date"), F.col("established_date")) < policy.new_entity_days, 1).otherwise(0)


# ---------------------------------------------------------------- related parties
def _held(attributes: DataFrame, entities: DataFrame, dates: list[date]) -> DataFrame:
    """(attr_type, attr_key, entity_id, snap_i): the attribute ties that hold at each snapshot, for attributes
    ever held by two entities or more (a tie of one entity links nothing and counts one).

    A tie holds at T when ``since <= T`` (or unknown), ``until > T`` (or open) and its entity was established
    by T."""
    a = attributes.where(F.col("attr_key").isNotNull()).select("attr_type", "attr_key", "entity_id", "since", "until")
    multi = a.groupBy("attr_key").agg(F.countDistinct("entity_id").alias("_k")).where(F.col("_k") > 1)
    founded = entities.select("entity_id", F.col("established_date").alias("_est"))
    a = a.join(multi.select("attr_key"), "attr_key").join(founded, "entity_id")
    lo = date_index(F.greatest(F.col("since"), F.col("_est")), dates)  # greatest ignores nulls; both null: 0
    lo = F.when(F.col("since").isNull() & F.col("_est").isNull(), F.lit(0)).otherwise(lo)
    hi = date_index(F.col("until"), dates)
    return (
        a.select("attr_type", "attr_key", "entity_id", lo.alias("_lo"), hi.alias("_hi"))
        .where(F.col("_lo") < F.col("_hi"))
        .select("attr_type", "attr_key", "entity_id", F.explode(F.sequence("_lo", F.col("_hi") - 1)).alias("snap_i"))
        .distinct()
    )


def related_pairs(attributes: DataFrame, hub_cap: int, dates: list[date], entities: DataFrame) -> DataFrame:
    """Pairs of distinct entities sharing an attribute at each snapshot date, hubs at that date excluded.

    An attribute row holds at T when ``since <= T`` (or unknown) and ``until > T`` (or open), and its entity
    was established by T (``entities``: entity_id, established_date). An attribute held by more than
    ``hub_cap`` entities at T is a hub and links nothing at T. Sizes are counted at each date, so a tie that
    begins after T (a new firm at a shared address, a later shareholder) never changes the pairs at T.
    Output: entity_id, nb_id, snap_i (distinct).
    """
    return _pairs(_held(attributes, entities, dates), hub_cap)


def _pairs(held: DataFrame, hub_cap: int) -> DataFrame:
    h = held.select("attr_key", "entity_id", "snap_i").distinct()
    sizes = h.groupBy("attr_key", "snap_i").agg(F.count(F.lit(1)).alias("_n"))
    a = h.join(sizes.where((F.col("_n") > 1) & (F.col("_n") <= hub_cap)), ["attr_key", "snap_i"]).select(
        "attr_key", "snap_i", "entity_id"
    )
    b = a.select("attr_key", "snap_i", F.col("entity_id").alias("nb_id"))
    return (
        a.join(b, ["attr_key", "snap_i"])
        .where(F.col("entity_id") != F.col("nb_id"))
        .select("entity_id", "nb_id", "snap_i")
        .distinct()
    )


def _address_sizes(held: DataFrame) -> DataFrame:
    """(entity_id, snap_i, _address_n): the most entities registered at one of the entity's addresses at T."""
    h = held.where(F.col("attr_type") == "address").select("attr_key", "entity_id", "snap_i").distinct()
    sizes = h.groupBy("attr_key", "snap_i").agg(F.count(F.lit(1)).alias("_n"))
    return h.join(sizes, ["attr_key", "snap_i"]).groupBy("entity_id", "snap_i").agg(F.max("_n").alias("_address_n"))


# ---------------------------------------------------------------- the build
def check_catalog(catalog: FeatureCatalog, features: FeaturePolicy) -> None:
    """Every tag a feature filters by is one the policy can set (else a ConfigError naming the feature)."""
    known = features.tags()
    for f in catalog.features:
        bad = sorted((set(f.tags) | set(f.of_tags)) - known)
        if bad:
            raise ConfigError(
                f"conf/features.yaml: {f.name}: unknown tags {', '.join(bad)} (conf/policy.yaml features sets: "
                f"{', '.join(sorted(known))})"
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
    reports: DataFrame | None = None,
) -> DataFrame:
    """One row per alive entity and snapshot date: every catalog feature, the label and its completeness.

    ``label`` = 1 when an adverse event (labels.adverse_event_types) happens in (T, T + horizon] and by the
    as-of date; ``label_complete`` says whether T + horizon <= as_of (only those rows may train a model).
    ``reports``: the linked annual reports (radar.features.events.REPORT_COLUMNS); without them the
    annual-report features are empty (null or 0).
    """
    check_catalog(catalog, features)
    spark = entities.sparkSession
    dl = snapshot_dates(as_of, features.snapshot_months)
    dates = _dates_frame(spark, dl)
    built = catalog.built()
    H = labels.horizon_days
    terms = [t for f in built for t in _terms(f)]
    terms.append(_Term("_label_n", tuple(labels.adverse_event_types), (), ("i_lab0",), ("i_lab1",)))
    T = F.col("snapshot_date")

    # key rows: every entity at every snapshot by which it was established (alive or not: a closed
    # neighbour's events still count for its related parties); _alive marks the rows that are output
    ent = entities.select(
        "entity_id", "established_date", "deregistered_date", "registered_capital_yuan", *SLICE_COLUMNS
    )
    keys = ent.crossJoin(F.broadcast(dates)).where(
        F.col("established_date").isNull() | (F.col("established_date") <= T)
    ).withColumn("_alive", F.col("deregistered_date").isNull() | (F.col("deregistered_date") > T)).withColumn(
        "_key", F.lit(True)
    )
    ev = events.where(F.col("event_date") <= F.lit(as_of))
    parts = [keys, _sweep_rows(ev, terms, dl, H), _capital_rows(ev, dl)]
    if reports is not None:
        parts.append(_report_rows(reports, dl, features.annual_report_due))
    union = parts[0]
    for p in parts[1:]:
        union = union.unionByName(p, allowMissingColumns=True)
    w = Window.partitionBy("entity_id").orderBy("snap_i").rangeBetween(Window.unboundedPreceding, Window.currentRow)
    after = Window.partitionBy("entity_id").orderBy("snap_i").rangeBetween(1, Window.unboundedFollowing)
    swept_cols = [F.sum(t.name).over(w).alias(t.name) for t in terms]
    # the registered capital at T (the registry's is today's): before the first capital change after T
    swept_cols.append(
        F.coalesce(F.min("_cap").over(after)["before"], F.col("registered_capital_yuan")).alias("_capital_t")
    )
    if reports is not None:
        swept_cols += [
            F.max("_rep").over(w).alias("_rep"),
            F.bit_or("_rep_bits").over(w).alias("_rep_bits"),
            F.bit_or("_late_bits").over(w).alias("_late_bits"),
        ]
    else:
        swept_cols += [
            F.lit(None).cast("struct<report_year:int,filed_date:date,staff_count:double,revenue_yuan:double,"
                             "tax_yuan:double,assets_yuan:double>").alias("_rep"),
            F.lit(None).cast("long").alias("_rep_bits"),
            F.lit(None).cast("long").alias("_late_bits"),
        ]
    key_cols = ["entity_id", "snap_i", "snapshot_date", "established_date", "deregistered_date",
                "registered_capital_yuan", *SLICE_COLUMNS, "_alive", "_key"]
    swept = (
        union.select(*key_cols, *swept_cols)
        .where(F.col("_key"))
        .drop("_key")
        .fillna({t.name: 0 for t in terms})
        .localCheckpoint()
    )

    out = swept.where("_alive")
    days_since = [f for f in built if f.kind == "days_since"]
    if days_since:
        out = out.join(_days_since(ev, days_since, dates), ["entity_id", "snap_i"], "left")
    related = [f for f in built if f.kind == "related"]
    held = None
    if related or any(f.kind == "attribute" and f.attribute in ("address_entity_count", "shared_address") for f in built):
        held = _held(attributes, entities, dl).localCheckpoint()
        out = out.join(_address_sizes(held), ["entity_id", "snap_i"], "left")
    if related:
        out = _add_related(out, swept, _pairs(held, hub_cap), related)
    for f in [f for f in built if f.kind == "cell_trend"]:
        out = _add_cell_trend(out, f)

    for f in built:
        out = out.withColumn(f.name, _value(f, district_codes, features))
    return out.select(
        "entity_id", "snapshot_date", *SLICE_COLUMNS,
        *[F.col(f.name).cast("double").alias(f.name) for f in built],
        F.when(F.col("_label_n") > 0, 1).otherwise(0).cast("int").alias("label"),
        (F.date_add(T, H) <= F.lit(as_of)).alias("label_complete"),
    )


def _value(f: FeatureDef, district_codes: list[str], policy: FeaturePolicy) -> Column:
    """A feature's value from the swept columns of its row."""
    k = f.kind
    if k in ("count", "ever"):
        return F.col(f.name)
    if k in ("amount", "current_amount"):
        return F.col(f.name) / 100.0
    if k == "current":
        return F.when(F.col(f"_{f.name}_n") > 0, 1).otherwise(0)
    if k in ("trend", "cell_trend"):
        return F.col(f.name) if k == "cell_trend" else _ratio(
            F.col(f"_{f.name}_recent"), F.col(f"_{f.name}_base"), f)
    if k == "share":
        den = F.col(f"_{f.name}_den")
        return F.when(den > 0, F.col(f"_{f.name}_num") / den).otherwise(F.lit(0.0))
    if k == "attribute":
        return _attribute(f, district_codes, policy)
    if k == "annual_report":
        return _report_feature(f, policy)
    if k == "when_new":
        return F.when(_is_new(policy) == 1, F.col(f.of)).otherwise(F.lit(0))
    return F.col(f.name)  # days_since and related: joined under their own name


def _ratio(recent: Column, base: Column, f: FeatureDef) -> Column:
    """Recent count against the base period's average over a window of the same length (+1 smoothing)."""
    assert f.window_days and f.base_days
    return (recent + 1) / (base * f.window_days / f.base_days + 1)


def _days_since(ev: DataFrame, feats: list[FeatureDef], dates: DataFrame) -> DataFrame:
    """Days from the latest counting event to T (a maximum: only the events these features name are joined
    to the dates)."""
    T = F.col("snapshot_date")
    types = sorted({e for f in feats for e in f.events})
    x = ev.where(F.col("event_type").isin(types)).select(
        "entity_id", "event_type", "tags", "event_date", "known_date", "stop_date"
    ).crossJoin(F.broadcast(dates))
    counting = (
        (F.col("event_date") <= T) & (F.col("known_date") <= T)
        & (F.col("stop_date").isNull() | (F.col("stop_date") > T))
    )
    aggs = [
        F.datediff(F.max("snapshot_date"), F.max(F.when(_match(tuple(f.events), tuple(f.tags)) & counting,
                                                        F.col("event_date")))).alias(f.name)
        for f in feats
    ]
    return x.where(F.col("event_date") <= T).groupBy("entity_id", "snap_i").agg(*aggs)


def _add_related(out: DataFrame, swept: DataFrame, pairs: DataFrame, related: list[FeatureDef]) -> DataFrame:
    """Related-party counts and shares at each snapshot from the neighbours' own flags at that date.

    A neighbour is an entity established by T sharing a non-hub attribute with the (alive) entity at T.
    Its flags come from its own events, whether or not it is still operating at T: a neighbour deregistered
    or revoked within the window is exactly what ``related_closed_count_365d`` counts.
    """
    flagged = [f for f in related if f.events]
    nb = swept.select(
        F.col("entity_id").alias("nb_id"), "snap_i",
        *[(F.col(f"_{f.name}_flag") > 0).cast("int").alias(f"_{f.name}_nb") for f in flagged],
    )
    active = pairs.join(out.select("entity_id", "snap_i"), ["entity_id", "snap_i"])
    joined = active.join(nb, ["nb_id", "snap_i"], "left")
    aggs = [F.countDistinct("nb_id").alias("_related_n")]
    for f in flagged:
        aggs.append(F.countDistinct(F.when(F.col(f"_{f.name}_nb") > 0, F.col("nb_id"))).alias(f"_{f.name}_count"))
    per_related = joined.groupBy("entity_id", "snap_i").agg(*aggs)
    out = out.join(per_related, ["entity_id", "snap_i"], "left")
    n = F.coalesce(F.col("_related_n"), F.lit(0))
    for f in related:
        if not f.events:
            out = out.withColumn(f.name, n)
        else:
            c = F.coalesce(F.col(f"_{f.name}_count"), F.lit(0))
            out = out.withColumn(f.name, F.when(n > 0, c / n).otherwise(F.lit(0.0)) if f.share else c)
    return out


def _add_cell_trend(out: DataFrame, f: FeatureDef) -> DataFrame:
    """The cell's (e.g. industry section x district) recent count of the events against its own base period,
    over the entities alive in the cell at T; 1.0 (no change) where the entity's cell is unknown."""
    cell = list(f.cell)
    known = F.lit(True)
    for c in cell:
        known = known & F.col(c).isNotNull()
    sums = out.where(known).groupBy(*cell, "snap_i").agg(
        F.sum(f"_{f.name}_recent").alias("_cr"), F.sum(f"_{f.name}_base").alias("_cb")
    )
    sums = sums.select(*cell, "snap_i", _ratio(F.col("_cr"), F.col("_cb"), f).alias(f.name))
    return out.join(sums, [*cell, "snap_i"], "left").withColumn(f.name, F.coalesce(F.col(f.name), F.lit(1.0)))


def value_labels(district_codes: list[str], district_names: dict[str, str]) -> dict[str, dict[int, str]]:
    """Names of the codes of the categorical attribute features (for reasons shown to people)."""
    sections = industry_sections()
    return {
        "industry_section_code": {i: f"{s} {sections[s]}" for i, s in enumerate(sorted(sections))},
        "district_index": {i: district_names.get(c, c) for i, c in enumerate(district_codes)},
        "entity_class_code": {v: {"enterprise": "企业", "individual": "个体工商户", "cooperative": "农民专业合作社",
                                  "other": "其他"}[k] for k, v in CLASS_CODES.items()},
    }

