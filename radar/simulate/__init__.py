"""The simulated city: raw exports with real headers and real dirt, and the ground truth behind them.

``simulate_city(scale, seed, out)`` writes::

    OUT/raw/*.csv            the exports (one or more files per record type of conf/sources.yaml)
    OUT/truth/entities.parquet
    OUT/truth/records.parquet
    OUT/truth/violations.parquet
    OUT/truth/rings.parquet
    OUT/truth/phoenix.parquet
    OUT/truth/people.parquet
    OUT/truth/scenario.json
    OUT/inspectors.csv       the inspector library (UTF-8)
    OUT/.radar-simulate      marks the folder as written by this function (it may be overwritten)

Raw files: CSV, one record per physical line, in UTF-8, UTF-8 with BOM or GB18030; headers in the Chinese
label, standard code, lower-case code, snake_case or a publisher's own keys (always names that
``radar.ingest.headers`` knows, plus a few platform columns such as ``ID`` and ``数据导出时间`` that it does not);
dates as ``YYYY/MM/DD``, ``YYYY-MM-DD``, ``YYYY-M-D``, ``YYYY年MM月DD日``, ``YYYYMMDD``, ``YYYY-MM-DD HH:MM:SS``
(one complaint file) or epoch milliseconds at midnight Beijing time (one change file); long-term validity as
``2099/12/31``, ``2099-12-31`` or ``9999-9-9``; money in the unit its header implies; booleans 是/否 (label
files) or 1/0 (code files); multi-value cells joined with ``;``, ``、`` or ``,``.

Truth tables are Parquet (dates as date32):

* ``entities``: entity_id, uscc (the true, valid code), registry_uscc (as the registry export writes it),
  name (as of the as-of date), initial_name, class, district_code, industry_code (4-digit GB/T 4754 class),
  industry_section, established_date, deregistered_date (exit date, also after the as-of date), exit_kind
  (deregistered / revoked), status (as of the as-of date), latent_risk, ring_id, phoenix_of (predecessor's
  USCC), controller_person_id, legal_rep_person_id, address, phone, cluster_address, dormant_date,
  distress_date.
* ``records``: one row per exported data row: source_type, record_key (``radar.ingest.keys.record_key`` of
  the natural key as written, dates ISO), true_uscc (empty for natural persons and unregistered parties),
  true_entity_id, true_person_id, file, row (1-based data row = line number - 1), is_dirty_copy (a re-sent
  duplicate), dirt (comma-separated tags: invalid_uscc, missing_uscc, placeholder_uscc, wrong_uscc,
  name_variant, duplicate, revoked, malformed, truncated, natural_person, outside_city, unregistered).
* ``violations``: violation_id, entity_id, uscc, date, end_date, kind, severity, detected, detected_by
  (spot_check, targeted_check, report, inspection, administrative or empty), detected_date, penalty_decision_no,
  future (after the as-of date: for evaluating forecasts; simulated ``future_days`` beyond it).
* ``checks``: every inspection, also after the as-of date: check_id, entity_id, uscc, date, check_type (不定向 a
  double-random draw, 定向 targeted after complaints), random_draw, inclusion_probability (of the entity in its
  random draw; empty for targeted checks), plan_id, result, problem_found (the result is an adverse spot-check
  outcome), violation_found (the check detected a violation), future. Random draws with their inclusion
  probabilities are what an honest (Horvitz-Thompson) evaluation weights by.
* ``rings``: ring_id, entity_id, uscc, controller (person id), controller_name, crisis_date.
* ``phoenix``: entity_id, uscc, predecessor_entity_id, predecessor_uscc, link_type (legal_rep, shareholder,
  address, phone), months_after, trigger (deregistered, revoked, blacklisted).
* ``people``: person_id, name, gender, birth_date, id_no.
* ``scenario.json``: seed, scale, period_start, period_end, as_of, future_end, entity_count, counts (rows per
  record type), records (distinct record keys per record type), files (per file: record type, rows,
  encoding, header style, date format, list separator, platform columns), truth_format.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from radar.config import simulation, sources
from radar.errors import RadarError
from radar.simulate import ids, names
from radar.simulate.city import City, build_city
from radar.simulate.events import (
    CHECK_LABEL_CLEAN,
    CHECK_LABEL_NO_ACTIVITY,
    DORMANT_KIND,
    Story,
    rng_for,
    simulate_story,
)
from radar.simulate.exports import Exporter
from radar.simulate.layout import plan_files
from radar.simulate.records import History, authorities, build_records
from radar.simulate.timeline import NEVER, Timeline, day, to_date

__all__ = ["simulate_city"]

MARKER = ".radar-simulate"
_OURS = ("raw", "truth", "inspectors.csv", MARKER)


def _prepare_out(out: Path) -> None:
    """Refuse a non-empty folder that this function did not write; clear one it wrote."""
    if out.exists() and not out.is_dir():
        raise RadarError(f"{out}: exists and is not a directory")
    if out.exists() and any(out.iterdir()):
        if not (out / MARKER).exists():
            raise RadarError(
                f"{out}: the output folder exists and is not empty (and was not written by "
                "'radar simulate'); choose a new folder or empty it"
            )
        for name in _OURS:
            p = out / name
            if p.is_dir():
                shutil.rmtree(p)
            elif p.exists():
                p.unlink()
    (out / "raw").mkdir(parents=True, exist_ok=True)
    (out / "truth").mkdir(parents=True, exist_ok=True)


def simulate_city(scale: str, seed: int, out: Path, entities: int | None = None) -> dict:
    """Simulate the city at ``scale`` with ``seed`` into ``out``; returns the scenario (truth/scenario.json).

    ``entities`` overrides the scale's entity count (for tests). The same seed gives byte-identical files.
    """
    spec = simulation()
    if scale not in spec.scales:
        raise RadarError(f"unknown scale {scale!r} (conf/simulate.yaml has: {', '.join(spec.scales)})")
    n = int(entities if entities is not None else spec.scales[scale].entities)
    if n < 50:
        raise RadarError(f"a city needs at least 50 entities (got {n})")
    out = Path(out)
    _prepare_out(out)
    period = spec.period
    tl = Timeline(
        start=day(str(period["start"])),
        end=day(str(period["end"])),
        future_end=day(str(period["end"])) + int(period.get("future_days", 365)),
    )
    rates = dict(spec.rates)
    city = build_city(rates, dict(spec.mix), n, seed, tl, spec.development_zone_code)
    story = simulate_story(city, rates, seed)
    rec, hist, penalties = build_records(city, story, seed, dict(spec.dirt))
    src = sources()
    ex = Exporter(
        src,
        tl,
        seed,
        dict(spec.dirt),
        city.entities["entity_id"].to_numpy(dtype=object),
        city.people["person_id"]
        .reindex(range(int(city.people.index.max()) + 1))
        .fillna("")
        .to_numpy(dtype=object),
    )
    plan_files(ex, rec, city, seed)
    written = ex.write(out / "raw")
    registry_uscc = _registry_usccs(ex)
    _write_truth(out / "truth", city, story, hist, penalties, written.truth, registry_uscc)
    _write_inspectors(out / "inspectors.csv", city, seed, spec.scales[scale].inspectors)
    t = written.truth
    scenario = {
        "seed": seed,
        "scale": scale,
        "period_start": to_date(tl.start).isoformat(),
        "period_end": to_date(tl.end).isoformat(),
        "as_of": to_date(tl.end).isoformat(),
        "future_end": to_date(tl.future_end).isoformat(),
        "entity_count": n,
        "counts": {rt: int((t["source_type"] == rt).sum()) for rt in src.record_types},
        "records": {
            rt: int(t.loc[t["source_type"] == rt, "record_key"].nunique()) for rt in src.record_types
        },
        "files": written.files,
        "truth_format": "parquet",
    }
    (out / "truth" / "scenario.json").write_text(
        json.dumps(scenario, ensure_ascii=False, indent=2) + "\n", encoding="utf-8"
    )
    (out / MARKER).write_text("written by radar simulate\n", encoding="utf-8")
    return scenario


def _registry_usccs(ex: Exporter) -> pd.Series:
    rows = [p.rows for p in ex.plans if p.record_type == "registry"]
    reg = pd.concat(rows)
    return pd.Series(reg["uscc"].to_numpy(dtype=object), index=reg["_entity"].to_numpy())


def _dates(days: np.ndarray) -> pa.Array:
    d = np.asarray(days, dtype=np.int64)
    mask = d >= NEVER
    return pa.array(np.where(mask, 0, d).astype(np.int32), type=pa.date32(), mask=mask)


def _write(path: Path, table: pa.Table) -> None:
    pq.write_table(table, path, compression="zstd")


def _checks_truth(city: City, story: Story) -> pa.Table:
    """Every inspection with how it was chosen (random draw and its inclusion probability) and what it found."""
    ch = story.checks
    e = ch["entity"].to_numpy()
    found = set(story.violations.loc[story.violations["check_id"] >= 0, "check_id"].tolist())
    random_draw = (ch["check_type"] == "不定向").to_numpy()
    result = ch["result"].to_numpy(dtype=object)
    return pa.table(
        {
            "check_id": pa.array(ids.labels("K", ch["check_id"].to_numpy(), 7), pa.string()),
            "entity_id": pa.array(city.entities["entity_id"].to_numpy(dtype=object)[e], pa.string()),
            "uscc": pa.array(city.entities["uscc"].to_numpy(dtype=object)[e], pa.string()),
            "date": _dates(ch["day"].to_numpy()),
            "check_type": pa.array(ch["check_type"].to_numpy(dtype=object), pa.string()),
            "random_draw": pa.array(random_draw),
            "inclusion_probability": pa.array(
                np.where(random_draw, ch["inclusion_probability"].to_numpy(dtype=float), np.nan),
                pa.float64(), mask=~random_draw,
            ),
            "plan_id": pa.array(ch["plan_id"].to_numpy(dtype=object), pa.string()),
            "result": pa.array(result, pa.string()),
            "problem_found": pa.array(~np.isin(result, [CHECK_LABEL_CLEAN, CHECK_LABEL_NO_ACTIVITY])),
            "violation_found": pa.array(ch["check_id"].isin(found).to_numpy()),
            "future": pa.array(ch["day"].to_numpy() > city.timeline.end),
        }
    )


def _write_truth(
    truth: Path,
    city: City,
    story: Story,
    hist: History,
    penalties: pd.DataFrame,
    records: pd.DataFrame,
    registry_uscc: pd.Series,
) -> None:
    ent = city.entities
    tl = city.timeline
    people = city.people
    n = len(ent)
    idx = np.arange(n)
    uscc = ent["uscc"].to_numpy(dtype=object)
    eid = ent["entity_id"].to_numpy(dtype=object)
    pid = people["person_id"]
    current = hist.names_at(idx, np.full(n, tl.end))["full"].to_numpy(dtype=object)
    status = np.where(
        ent["established"].to_numpy() > tl.end,
        "未成立",
        np.where(
            ent["exit_day"].to_numpy() <= tl.end,
            np.where(ent["exit_kind"].to_numpy() == "revoked", "吊销", "注销"),
            "存续",
        ),
    )
    ring = ent["ring_id"].to_numpy()
    ph = ent["phoenix_of"].to_numpy()
    _write(
        truth / "entities.parquet",
        pa.table(
            {
                "entity_id": pa.array(eid, pa.string()),
                "uscc": pa.array(uscc, pa.string()),
                "registry_uscc": pa.array(
                    registry_uscc.reindex(idx).fillna("").to_numpy(dtype=object), pa.string()
                ),
                "name": pa.array(current, pa.string()),
                "initial_name": pa.array(ent["full"].to_numpy(dtype=object), pa.string()),
                "class": pa.array(ent["cls"].to_numpy(dtype=object), pa.string()),
                "district_code": pa.array(ent["district_code"].to_numpy(dtype=object), pa.string()),
                "industry_code": pa.array(ent["class"].to_numpy(dtype=object), pa.string()),
                "industry_section": pa.array(ent["section"].to_numpy(dtype=object), pa.string()),
                "established_date": _dates(ent["established"].to_numpy()),
                "deregistered_date": _dates(ent["exit_day"].to_numpy()),
                "exit_kind": pa.array(ent["exit_kind"].to_numpy(dtype=object), pa.string()),
                "status": pa.array(status, pa.string()),
                "latent_risk": pa.array(ent["latent_risk"].to_numpy(dtype=float)),
                "ring_id": pa.array(
                    np.where(ring >= 0, pd.Series(ring).map("R{:04d}".format).to_numpy(dtype=object), None),
                    pa.string(),
                ),
                "phoenix_of": pa.array(np.where(ph >= 0, uscc[np.maximum(ph, 0)], None), pa.string()),
                "controller_person_id": pa.array(
                    pid.loc[ent["controller"]].to_numpy(dtype=object), pa.string()
                ),
                "legal_rep_person_id": pa.array(
                    pid.loc[hist.rep_at(idx, np.full(n, tl.end))].to_numpy(dtype=object), pa.string()
                ),
                "address": pa.array(hist.address_at(idx, np.full(n, tl.end)), pa.string()),
                "phone": pa.array(ent["phone"].to_numpy(dtype=object), pa.string()),
                "cluster_address": pa.array(ent["cluster_address"].to_numpy(dtype=bool)),
                "dormant_date": _dates(ent["dormant"].to_numpy()),
                "distress_date": _dates(story.distress),
            }
        ),
    )
    _write(truth / "records.parquet", pa.Table.from_pandas(records, preserve_index=False))
    _write(truth / "checks.parquet", _checks_truth(city, story))
    v = story.violations
    e = v["entity"].to_numpy()
    pen_no = penalties.set_index("penalty_id")["decision_no"]
    dec = np.where(
        v["penalty_id"].to_numpy() >= 0,
        pen_no.reindex(v["penalty_id"].to_numpy()).to_numpy(dtype=object),
        None,
    )
    # revocations of dormant entities are recorded as violations detected administratively
    revp = penalties[penalties["origin"] == "revocation"]
    vdf = pd.DataFrame(
        {
            "violation_id": v["violation_id"].to_numpy(dtype=object),
            "entity_id": eid[e],
            "uscc": uscc[e],
            "date": v["day"].to_numpy(),
            "end_date": v["end_day"].to_numpy(),
            "kind": v["kind"].to_numpy(dtype=object),
            "severity": v["severity"].to_numpy(dtype=object),
            "detected": v["detected"].to_numpy(dtype=bool),
            "detected_by": v["detected_by"].to_numpy(dtype=object),
            "detected_date": v["detected_day"].to_numpy(),
            "penalty_decision_no": dec,
        }
    )
    re_ = revp["entity"].to_numpy()
    vdf = pd.concat(
        [
            vdf,
            pd.DataFrame(
                {
                    "violation_id": revp["violation_id"].to_numpy(dtype=object),
                    "entity_id": eid[re_],
                    "uscc": uscc[re_],
                    "date": revp["day"].to_numpy(),
                    "end_date": revp["day"].to_numpy(),
                    "kind": DORMANT_KIND[0],
                    "severity": "serious",
                    "detected": True,
                    "detected_by": "administrative",
                    "detected_date": revp["day"].to_numpy(),
                    "penalty_decision_no": revp["decision_no"].to_numpy(dtype=object),
                }
            ),
        ],
        ignore_index=True,
    )
    vdf = vdf.sort_values(["date", "violation_id"], kind="stable")
    _write(
        truth / "violations.parquet",
        pa.table(
            {
                "violation_id": pa.array(vdf["violation_id"].to_numpy(dtype=object), pa.string()),
                "entity_id": pa.array(vdf["entity_id"].to_numpy(dtype=object), pa.string()),
                "uscc": pa.array(vdf["uscc"].to_numpy(dtype=object), pa.string()),
                "date": _dates(vdf["date"].to_numpy()),
                "end_date": _dates(vdf["end_date"].to_numpy()),
                "kind": pa.array(vdf["kind"].to_numpy(dtype=object), pa.string()),
                "severity": pa.array(vdf["severity"].to_numpy(dtype=object), pa.string()),
                "detected": pa.array(vdf["detected"].to_numpy(dtype=bool)),
                "detected_by": pa.array(vdf["detected_by"].to_numpy(dtype=object), pa.string()),
                "detected_date": _dates(vdf["detected_date"].to_numpy()),
                "penalty_decision_no": pa.array(
                    vdf["penalty_decision_no"].to_numpy(dtype=object), pa.string()
                ),
                "future": pa.array(vdf["date"].to_numpy() > tl.end),
            }
        ),
    )
    r = city.rings
    re_ = r["entity"].to_numpy(dtype=np.int64)
    crisis = np.array([story.ring_crisis.get(int(x), int(NEVER)) for x in r["ring_id"]], dtype=np.int64)
    _write(
        truth / "rings.parquet",
        pa.table(
            {
                "ring_id": pa.array(r["ring_id"].map("R{:04d}".format).to_numpy(dtype=object), pa.string()),
                "entity_id": pa.array(eid[re_], pa.string()),
                "uscc": pa.array(uscc[re_], pa.string()),
                "controller": pa.array(pid.loc[r["controller"]].to_numpy(dtype=object), pa.string()),
                "controller_name": pa.array(
                    people.loc[r["controller"], "name"].to_numpy(dtype=object), pa.string()
                ),
                "crisis_date": _dates(crisis),
            }
        ),
    )
    p = city.phoenix
    pe = p["entity"].to_numpy(dtype=np.int64)
    pp = p["predecessor"].to_numpy(dtype=np.int64)
    _write(
        truth / "phoenix.parquet",
        pa.table(
            {
                "entity_id": pa.array(eid[pe], pa.string()),
                "uscc": pa.array(uscc[pe], pa.string()),
                "predecessor_entity_id": pa.array(eid[pp], pa.string()),
                "predecessor_uscc": pa.array(uscc[pp], pa.string()),
                "link_type": pa.array(p["link_type"].to_numpy(dtype=object), pa.string()),
                "months_after": pa.array(p["months_after"].to_numpy(dtype=np.int64)),
                "trigger": pa.array(p["trigger"].to_numpy(dtype=object), pa.string()),
            }
        ),
    )
    _write(
        truth / "people.parquet",
        pa.table(
            {
                "person_id": pa.array(people["person_id"].to_numpy(dtype=object), pa.string()),
                "name": pa.array(people["name"].to_numpy(dtype=object), pa.string()),
                "gender": pa.array(np.where(people["male"].to_numpy(dtype=bool), "男", "女"), pa.string()),
                "birth_date": _dates(people["birth"].to_numpy()),
                "id_no": pa.array(people["id_no"].to_numpy(dtype=object), pa.string()),
            }
        ),
    )


def _write_inspectors(path: Path, city: City, seed: int, count: int) -> None:
    """The inspector library: name, enforcement certificate number, department, home district."""
    rng = rng_for(seed, 601)
    auth = authorities(city, seed)
    market = auth[auth["dept"] == "market"].reset_index(drop=True)
    # the city bureau has a fifth of the inspectors; districts share the rest by size
    share = np.where(market["district_code"] == "211300", 0.2, 0.8 / (len(market) - 1))
    dept = rng.choice(len(market), size=count, p=share / share.sum())
    home = market["district_code"].to_numpy(dtype=object)[dept].copy()
    city_level = home == "211300"
    home[city_level] = np.where(rng.random(int(city_level.sum())) < 0.6, "211302", "211303")
    male = rng.random(count) < 0.65
    seq = pd.Series(home).groupby(home).cumcount().to_numpy() + 1 + rng.integers(0, 50, size=count)
    df = pd.DataFrame(
        {
            "inspector_id": ids.labels("INS", np.arange(1, count + 1), 4),
            "name": names.person_names(rng, male),
            "cert_no": pd.Series(home).astype(str).to_numpy(dtype=object)
            + pd.Series(seq).map("{:05d}".format).to_numpy(dtype=object),
            "department": market["name"].to_numpy(dtype=object)[dept],
            "home_district_code": home,
        }
    )
    df.to_csv(path, index=False, encoding="utf-8", lineterminator="\n")
