"""Point-in-time features of each food inspection, built from the raw files.

Every feature of an inspection dated ``t`` uses only records dated strictly before ``t`` (past inspections
and their results, 311 complaints, weather), or attributes fixed when the inspection was scheduled (the
licence in force, facility type, risk class, the inspector assigned). Each family is a pure function over
DataFrames, testable on a few hand-made rows; ``build_features`` composes them.

A query row may also carry ``known_before`` (a date on or before ``t``): then history is cut there
instead, which scores a whole period "as of" its first day (the strict variant of the benchmark).
The one exception is the city's prepared heat values (``heat_*``): their 90-day kernel window ends on the
inspection day itself, so they are used only when ``build_features(..., city_heat=True)``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
import pandas as pd
from scipy.spatial import cKDTree

from radar.chicago.data import ChicagoData

DATE = "date"
KNOWN = "known_before"
EARTH_M_PER_DEG = 111_320.0
CHICAGO_LAT = 41.84  # projection centre: metres per degree of longitude shrink with cos(latitude)

INSPECTORS = ("blue", "brown", "green", "orange", "purple", "yellow")
FACILITIES = {
    "restaurant": r"restaurant",
    "grocery": r"grocer",
    "school": r"school",
    "daycare": r"day ?care|children",
    "bakery": r"bakery",
}
GARBAGE_NATURES = ("Garbage in alley", "Garbage in yard", "Dumpster not being emptied", "Overflowing carts")
COMPLAINT_RADII_M = (100, 300, 1000)
COMPLAINT_WINDOWS_D = (30, 90, 365)


# ---------------------------------------------------------------------------------------------- generic
def _upper_bound(queries: pd.DataFrame) -> pd.Series:
    """The date before which history is known for each query row (its own date, or an earlier cut)."""
    if KNOWN in queries.columns:
        return pd.concat([queries[DATE], queries[KNOWN]], axis=1).min(axis=1)
    return queries[DATE]


def _key(series: pd.Series) -> pd.Series:
    return series.astype("string").fillna("").astype(str)


def _asof_before(
    queries: pd.DataFrame, at: pd.Series, table: pd.DataFrame, key: str, cols: list[str]
) -> pd.DataFrame:
    """For each query row, ``cols`` of the last ``table`` row of the same key dated strictly before ``at``."""
    left = pd.DataFrame(
        {
            key: _key(queries[key]).to_numpy(),
            "_at": pd.to_datetime(at).to_numpy(),
            "_row": np.arange(len(queries)),
        }
    )
    left = left.sort_values("_at", kind="stable")
    right = table.sort_values(DATE, kind="stable").rename(columns={DATE: "_event_date"})
    merged = pd.merge_asof(
        left,
        right,
        left_on="_at",
        right_on="_event_date",
        by=key,
        allow_exact_matches=False,
        direction="backward",
    )
    merged = merged.sort_values("_row")
    return merged[[*cols, "_event_date"]].reset_index(drop=True).set_axis(queries.index)


def prior_totals(
    events: pd.DataFrame,
    queries: pd.DataFrame,
    key: str,
    values: Sequence[str],
    windows: Iterable[int | None] = (None,),
    prefix: str = "",
) -> pd.DataFrame:
    """Sums of non-negative ``values`` over events of the query's ``key`` dated strictly before its date.

    ``events`` carry ``key``, ``date`` and the values; ``queries`` carry ``key`` and ``date`` (and
    optionally ``known_before``). Window ``w`` sums events dated in ``[date - w days, date)``; ``None`` is
    all history. Columns are named ``{prefix}{value}_{w}d`` (``_all`` for None), indexed like ``queries``.
    """
    values = list(values)
    ev = events.assign(**{key: _key(events[key])})
    ev = ev[ev[key] != ""]
    daily = ev.groupby([key, DATE], sort=True)[values].sum().reset_index()
    cum = daily[[key, DATE]].copy()
    cum[values] = daily.groupby(key)[values].cumsum()
    upper = _upper_bound(queries)
    at_upper = _asof_before(queries, upper, cum, key, values)[values].fillna(0.0)
    out = {}
    for w in windows:
        if w is None:
            part = at_upper
        else:
            start = queries[DATE] - pd.Timedelta(days=int(w))
            at_start = _asof_before(queries, start, cum, key, values)[values].fillna(0.0)
            part = (at_upper - at_start).clip(lower=0.0)
        suffix = "all" if w is None else f"{int(w)}d"
        for v in values:
            out[f"{prefix}{v}_{suffix}"] = part[v].to_numpy(dtype=float)
    return pd.DataFrame(out, index=queries.index)


def prior_last(
    events: pd.DataFrame, queries: pd.DataFrame, key: str, values: Sequence[str], prefix: str = "last_"
) -> pd.DataFrame:
    """The values of the latest event day of the same key strictly before each query, and days since it.

    Several events on that day are summed. NaN where there is no earlier event.
    """
    values = list(values)
    ev = events.assign(**{key: _key(events[key])})
    ev = ev[ev[key] != ""]
    daily = ev.groupby([key, DATE], sort=True)[values].sum().reset_index()
    last = _asof_before(queries, _upper_bound(queries), daily, key, values)
    out = pd.DataFrame({f"{prefix}{v}": last[v].to_numpy(dtype=float) for v in values}, index=queries.index)
    out[f"{prefix}days_since"] = (queries[DATE] - last["_event_date"]).dt.days.to_numpy(dtype=float)
    return out


def _xy(lat: pd.Series, lon: pd.Series) -> np.ndarray:
    """Local equirectangular projection to metres (accurate to well under 1 % across the city)."""
    y = lat.to_numpy(dtype=float) * EARTH_M_PER_DEG
    x = lon.to_numpy(dtype=float) * EARTH_M_PER_DEG * np.cos(np.radians(CHICAGO_LAT))
    return np.column_stack([x, y])


def nearby_counts(
    points: pd.DataFrame,
    events: pd.DataFrame,
    radii_m: Sequence[float],
    windows_d: Sequence[int],
    prefix: str,
) -> pd.DataFrame:
    """Events within each radius of each point, dated in ``[date - w days, date)`` for each window.

    ``points``: ``Latitude``, ``Longitude``, ``date`` (optionally ``known_before``); ``events``:
    ``Latitude``, ``Longitude``, ``date``. Points or events without coordinates count nothing (points get
    NaN). Columns ``{prefix}{radius}m_{w}d``.
    """
    n = len(points)
    out = {f"{prefix}{int(r)}m_{int(w)}d": np.zeros(n) for r in radii_m for w in windows_d}
    ev = events.dropna(subset=["Latitude", "Longitude", DATE])
    has_xy = points[["Latitude", "Longitude"]].notna().all(axis=1).to_numpy()
    if ev.empty or not has_xy.any():
        frame = pd.DataFrame(out, index=points.index)
        frame.loc[~has_xy, :] = np.nan
        return frame
    p_idx = np.flatnonzero(has_xy)
    p_tree = cKDTree(_xy(points["Latitude"].iloc[p_idx], points["Longitude"].iloc[p_idx]))
    e_tree = cKDTree(_xy(ev["Latitude"], ev["Longitude"]))
    pairs = p_tree.sparse_distance_matrix(e_tree, max_distance=float(max(radii_m)), output_type="ndarray")
    pi = p_idx[pairs["i"]]
    dist = pairs["v"]
    ev_day = ev[DATE].to_numpy(dtype="datetime64[D]")[pairs["j"]]
    day = points[DATE].to_numpy(dtype="datetime64[D]")
    upper = _upper_bound(points).to_numpy(dtype="datetime64[D]")
    before = ev_day < upper[pi]
    age = (day[pi] - ev_day).astype(int)
    for r in radii_m:
        near = before & (dist <= r)
        for w in windows_d:
            hit = near & (age <= int(w))
            out[f"{prefix}{int(r)}m_{int(w)}d"] = np.bincount(pi[hit], minlength=n).astype(float)
    frame = pd.DataFrame(out, index=points.index)
    frame.loc[~has_xy, :] = np.nan
    return frame


# ---------------------------------------------------------------------------------------------- families
def normalise_name(name: pd.Series) -> pd.Series:
    """Business name without punctuation, store numbers and legal suffixes: chains share one name."""
    s = name.fillna("").astype(str).str.upper()
    s = s.str.replace(r"#\s*\d+", " ", regex=True)
    s = s.str.replace(r"[^A-Z0-9 ]", "", regex=True)
    s = s.str.replace(r"\b(INC|LLC|CORP|CO|LTD)\b", " ", regex=True)
    s = s.str.replace(r"\b\d+\s*$", " ", regex=True)
    return s.str.replace(r"\s+", " ", regex=True).str.strip()


def normalise_address(address: pd.Series) -> pd.Series:
    """Upper case, single spaces: the same storefront across licences."""
    return address.fillna("").astype(str).str.upper().str.replace(r"\s+", " ", regex=True).str.strip()


def inspection_outcomes(inspections: pd.DataFrame) -> pd.DataFrame:
    """Per inspection: the counts and flags that later inspections see as history.

    Needs ``criticalCount``, ``seriousCount``, ``minorCount`` and ``Results``.
    """
    return pd.DataFrame(
        {
            "n": 1.0,
            "critical_found": (inspections["criticalCount"] > 0).astype(float),
            "critical": inspections["criticalCount"].astype(float),
            "serious_found": (inspections["seriousCount"] > 0).astype(float),
            "serious": inspections["seriousCount"].astype(float),
            "minor": inspections["minorCount"].astype(float),
            "fail": (inspections["Results"] == "Fail").astype(float),
            "conditions": (inspections["Results"] == "Pass w/ Conditions").astype(float),
        },
        index=inspections.index,
    )


def licence_history(insp: pd.DataFrame) -> pd.DataFrame:
    """Past results of the same licence: counts, rates, the last inspection, days since it.

    ``insp``: ``License``, ``date``, and the outcome columns of ``inspection_outcomes``.
    """
    vals = ["n", "critical_found", "critical", "serious", "minor", "fail", "conditions"]
    tot = prior_totals(insp, insp, "License", vals, (None, 365, 730), prefix="lic_")
    last = prior_last(
        insp, insp, "License", ["critical", "serious", "minor", "fail", "conditions"], prefix="lic_last_"
    )
    crit_events = insp[insp["critical_found"] > 0]
    since_crit = prior_last(crit_events, insp, "License", ["critical"], prefix="lic_lastcrit_")
    out = pd.concat([tot, last, since_crit[["lic_lastcrit_days_since"]]], axis=1)
    n = out["lic_n_all"].replace(0, np.nan)
    out["lic_critical_rate"] = out["lic_critical_found_all"] / n
    out["lic_fail_rate"] = out["lic_fail_all"] / n
    out["lic_mean_serious"] = out["lic_serious_all"] / n
    out["lic_first_record"] = (out["lic_n_all"] == 0).astype(float)
    return out


def place_history(insp: pd.DataFrame) -> pd.DataFrame:
    """Past results at the same address under other licences, of the same business name (chains), in the zip.

    ``insp``: ``License``, ``address_key``, ``name_key``, ``Zip``, ``date`` and the outcome columns.
    """
    vals = ["n", "critical_found"]
    insp = insp.assign(
        licence_address=_key(insp["License"]) + "|" + insp["address_key"],
        licence_name=_key(insp["License"]) + "|" + insp["name_key"],
    )
    # the same licence's own past at this address / under this name, to leave it out of the others'
    own_addr = prior_totals(insp, insp, "licence_address", vals, (None,), prefix="own_")
    own_name = prior_totals(insp, insp, "licence_name", vals, (None,), prefix="own_")
    addr = prior_totals(insp, insp, "address_key", vals, (None,), prefix="addr_")
    name = prior_totals(insp, insp, "name_key", vals, (None,), prefix="name_")
    zip_ = prior_totals(insp, insp, "Zip", vals, (365,), prefix="zip_")
    out = pd.DataFrame(index=insp.index)
    # other licences at this storefront: a new owner inherits the kitchen (and often its problems)
    out["addr_other_n"] = addr["addr_n_all"] - own_addr["own_n_all"]
    out["addr_other_critical_rate"] = (
        addr["addr_critical_found_all"] - own_addr["own_critical_found_all"]
    ) / out["addr_other_n"].replace(0, np.nan)
    first_seen = insp.sort_values(DATE, kind="stable").drop_duplicates(["name_key", "License"])
    licences = prior_totals(first_seen.assign(one=1.0), insp, "name_key", ["one"], (None,), prefix="name_")
    out["name_licences"] = licences["name_one_all"]
    out["name_other_n"] = name["name_n_all"] - own_name["own_n_all"]
    out["name_other_critical_rate"] = (
        name["name_critical_found_all"] - own_name["own_critical_found_all"]
    ) / out["name_other_n"].replace(0, np.nan)
    out["zip_n_365d"] = zip_["zip_n_365d"]
    out["zip_critical_rate_365d"] = zip_["zip_critical_found_365d"] / zip_["zip_n_365d"].replace(0, np.nan)
    return out


def inspector_features(insp: pd.DataFrame) -> pd.DataFrame:
    """The inspector assigned (one-hot) and their past critical-finding rate.

    ``insp``: ``Inspector`` (NaN when unknown), ``date`` and the outcome columns. The inspector is the
    strongest single predictor in the city's study; the benchmark reports results per inspector for that.
    No recent-window inspector figures (workload, 90-day rate): the folder has no inspector assignments
    for 2014-04-17..2014-09-01, so at the start of the test period those windows would be empty.
    """
    out = pd.DataFrame(
        {f"inspector_{c}": (insp["Inspector"] == c).astype(float) for c in INSPECTORS}, index=insp.index
    )
    out["inspector_known"] = insp["Inspector"].notna().astype(float)
    tot = prior_totals(insp, insp, "Inspector", ["n", "critical_found"], (None,), prefix="insp_")
    rate = tot["insp_critical_found_all"] / tot["insp_n_all"].replace(0, np.nan)
    out["inspector_critical_rate"] = rate.where(insp["Inspector"].notna())
    return out


def facility_features(insp: pd.DataFrame) -> pd.DataFrame:
    """Facility type (a few families, one-hot), risk class 1-3, weekday and month of the inspection."""
    ftype = insp["Facility_Type"].fillna("").astype(str).str.lower()
    out = pd.DataFrame(
        {f"facility_{k}": ftype.str.contains(p, regex=True).astype(float) for k, p in FACILITIES.items()},
        index=insp.index,
    )
    out["risk_class"] = pd.to_numeric(insp["Risk"].astype(str).str.extract(r"Risk (\d)")[0], errors="coerce")
    out["weekday"] = insp[DATE].dt.weekday.astype(float)
    out["month"] = insp[DATE].dt.month.astype(float)
    return out


def licence_features(insp: pd.DataFrame, licences: pd.DataFrame) -> pd.DataFrame:
    """The business licence in force at the inspection: its age, type, and the business's other licences.

    Uses the licence record the city matched to each inspection (its term covers the inspection date; the
    few matched terms that began after it count as no licence); ``minDate`` is the earliest term start of
    that licence number, so never after the inspection.
    The licence status is left out: it is the status at download time (a later cancellation would leak).
    The twelve other-licence flags (tobacco, tavern, ...) are the city's prepared columns: its matching
    by name and address does not check that the other licence had started, a small caveat kept as is.
    """
    lic = licences.drop_duplicates("Inspection_ID").set_index("Inspection_ID")
    lic = lic.reindex(insp["Inspection_ID"].to_numpy())
    day = insp[DATE].to_numpy()
    # a few matches are terms that began after the inspection: not yet known then, so no licence
    lic.loc[(lic["LICENSE_TERM_START_DATE"] > day).to_numpy(), :] = np.nan
    out = pd.DataFrame(index=insp.index)
    out["licence_found"] = lic["LICENSE_NUMBER"].notna().to_numpy(dtype=float)
    out["days_since_licence_term"] = (day - lic["LICENSE_TERM_START_DATE"].to_numpy()) / np.timedelta64(
        1, "D"
    )
    out["business_age_years"] = (day - lic["minDate"].to_numpy()) / np.timedelta64(365, "D")
    app = lic["APPLICATION_TYPE"].astype("string")
    out["licence_new_issue"] = (app == "ISSUE").astype(float).to_numpy()
    out["licence_change"] = app.str.startswith("C_").fillna(False).astype(float).to_numpy()
    out["licence_retail_food"] = (lic["LICENSE_DESCRIPTION"] == "Retail Food Establishment").to_numpy(
        dtype=float
    )
    activity = lic["BUSINESS_ACTIVITY"].fillna("")
    out["activity_perishable"] = activity.str.contains("Perishable").to_numpy(dtype=float)
    out["activity_dining"] = activity.str.contains("Dining").to_numpy(dtype=float)
    for col in (
        "consumption_on_premises_incidental_activity",
        "tobacco",
        "package_goods",
        "outdoor_patio",
        "public_place_of_amusement",
        "limited_business_license",
        "childrens_services_facility_license",
        "tavern",
        "regulated_business_license",
        "filling_station",
        "caterers_liquor_license",
        "mobile_food_license",
    ):
        out[f"licence_{col}"] = lic[col].to_numpy(dtype=float)
    out["ward"] = pd.to_numeric(lic["WARD"], errors="coerce").to_numpy()
    out["police_district"] = pd.to_numeric(lic["POLICE_DISTRICT"], errors="coerce").to_numpy()
    return out


def complaint_features(insp: pd.DataFrame, complaints: pd.DataFrame) -> pd.DataFrame:
    """311 sanitation-code complaints near the business before the inspection, from the raw complaint file.

    Duplicate requests (status "... - Dup") are dropped. Counts within 100 / 300 / 1,000 m over 30 / 90 /
    365 days; garbage complaints (alley, yard, dumpster, carts) within 300 m over 90 days; complaints at the
    storefront itself (within 40 m) over a year.
    """
    c = complaints[~complaints["Status"].fillna("").str.contains("Dup")].rename(columns={"Date": DATE})
    pts = insp[["Latitude", "Longitude", DATE, *([KNOWN] if KNOWN in insp.columns else [])]]
    out = [nearby_counts(pts, c, COMPLAINT_RADII_M, COMPLAINT_WINDOWS_D, prefix="complaints_")]
    garbage = c[c["Nature"].isin(GARBAGE_NATURES)]
    out.append(nearby_counts(pts, garbage, (300,), (90,), prefix="garbage_complaints_"))
    out.append(nearby_counts(pts, c, (40,), (365,), prefix="complaints_at_door_"))
    return pd.concat(out, axis=1)


def weather_features(insp: pd.DataFrame, weather: pd.DataFrame) -> pd.DataFrame:
    """Mean weather of the three days before the inspection (the day itself is not yet known).

    With ``known_before``, the three days before that cut instead (a persistence forecast).
    """
    cols = ["precipIntensity", "temperatureMax", "windSpeed", "humidity"]
    w = weather.drop_duplicates("Date").set_index("Date").sort_index()[cols]
    w = w.reindex(pd.date_range(w.index.min(), w.index.max(), freq="D"))
    three = w.rolling(3, min_periods=1).mean().shift(1)  # row t: mean of t-3 .. t-1
    got = three.reindex(_upper_bound(insp).dt.normalize().to_numpy())
    return pd.DataFrame({f"weather_{c}_3d": got[c].to_numpy() for c in cols}, index=insp.index)


def heat_features(insp: pd.DataFrame, heat: pd.DataFrame) -> pd.DataFrame:
    """The city's prepared kernel-density heat (burglary, garbage carts, sanitation) near each inspection.

    Prepared by the city over ``[date - 90, date]``: the window includes the inspection day.
    """
    h = heat.drop_duplicates("Inspection_ID").set_index("Inspection_ID")
    h = h.reindex(insp["Inspection_ID"].to_numpy())
    return pd.DataFrame(
        {c: h[c].to_numpy() for c in ("heat_burglary", "heat_garbage", "heat_sanitation")}, index=insp.index
    )


# ---------------------------------------------------------------------------------------------- compose
def inspection_table(data: ChicagoData) -> pd.DataFrame:
    """Inspections with their violation counts, inspector and matching keys, sorted by date then id."""
    insp = data.inspections.merge(data.violations, on="Inspection_ID", how="left", validate="1:1")
    for c in ("criticalCount", "seriousCount", "minorCount"):
        insp[c] = insp[c].fillna(0).astype(int)
    insp = insp.merge(
        data.inspectors[["Inspection_ID", "Inspector"]], on="Inspection_ID", how="left", validate="1:1"
    )
    insp = insp.rename(columns={"Inspection_Date": DATE})
    insp[DATE] = pd.to_datetime(insp[DATE]).dt.normalize()
    insp["address_key"] = normalise_address(insp["Address"])
    insp["name_key"] = normalise_name(insp["DBA_Name"])
    insp = insp.sort_values([DATE, "Inspection_ID"], kind="stable").reset_index(drop=True)
    return pd.concat([insp, inspection_outcomes(insp)], axis=1)


def feature_columns(frame: pd.DataFrame, city_heat: bool = True) -> list[str]:
    """The model's feature columns of a ``build_features`` frame."""
    skip = {"Inspection_ID", "License", DATE, KNOWN, "label", "critical_count", "Inspector"}
    cols = [c for c in frame.columns if c not in skip and pd.api.types.is_numeric_dtype(frame[c])]
    if not city_heat:
        cols = [c for c in cols if not c.startswith("heat_")]
    return cols


def build_features(
    data: ChicagoData, known_before: pd.Timestamp | str | None = None, city_heat: bool = True
) -> pd.DataFrame:
    """One row per inspection: ids, ``date``, ``label`` (a critical violation found) and every feature.

    ``known_before``: cut all history there for inspections on or after it (score a period as of its first
    day); by default each inspection sees everything strictly before its own date. ``city_heat=False``
    leaves out the city's prepared heat values (whose window includes the inspection day).
    """
    insp = inspection_table(data)
    if known_before is not None:
        cut = pd.Timestamp(known_before)
        insp[KNOWN] = insp[DATE].where(insp[DATE] < cut, cut)
    parts = [
        licence_history(insp),
        place_history(insp),
        inspector_features(insp),
        facility_features(insp),
        licence_features(insp, data.licences),
        complaint_features(insp, data.complaints),
        weather_features(insp, data.weather),
    ]
    if city_heat:
        parts.append(heat_features(insp, data.heat))
    ids = insp[["Inspection_ID", "License", "Inspector", DATE]].copy()
    ids["label"] = insp["critical_found"].astype(int)
    ids["critical_count"] = insp["criticalCount"]
    if KNOWN in insp.columns:
        ids[KNOWN] = insp[KNOWN]
    frame = pd.concat([ids, *parts], axis=1)
    dup = frame.columns[frame.columns.duplicated()].tolist()
    if dup:
        raise ValueError(f"feature families repeat columns: {dup}")
    return frame
