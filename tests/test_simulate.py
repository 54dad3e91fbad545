"""The simulated city: determinism, exports that ingest can read, truth that matches the files, the risk story."""

from __future__ import annotations

import csv
import hashlib
import json
import re
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from stdnum.cn import ric, uscc

from radar.config import simulation, sources
from radar.errors import RadarError
from radar.ingest.headers import detect_record_type, map_headers
from radar.ingest.keys import record_key
from radar.simulate import MARKER, simulate_city
from radar.simulate.ids import uscc_valid

N = 700  # entities: small enough to be quick, large enough for rings, phoenix companies and every list
SEED = 11


@pytest.fixture(scope="module")
def city(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("city")
    simulate_city("tiny", SEED, out, entities=N)
    return out


@pytest.fixture(scope="module")
def scenario(city: Path) -> dict:
    return json.loads((city / "truth" / "scenario.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def truth_records(city: Path) -> pd.DataFrame:
    return pd.read_parquet(city / "truth" / "records.parquet")


def _digest(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def _read(city: Path, f: dict) -> tuple[list[str], list[str]]:
    text = (city / "raw" / f["file"]).read_bytes().decode(f["encoding"])
    lines = text.split("\n")
    return next(csv.reader([lines[0]])), lines[1:]


def _files_of(city: Path, scenario: dict, record_type: str) -> list[tuple[dict[str, int], list[list[str]]]]:
    """Per export file of a record type: each canonical field's column index, and the well-formed rows (a
    planted malformed or truncated row, of another length, is left out)."""
    out = []
    for f in scenario["files"]:
        if f["record_type"] != record_type:
            continue
        headers, lines = _read(city, f)
        col = {c.field: headers.index(c.source) for c in map_headers(headers, record_type).columns}
        out.append((col, [r for r in csv.reader([x for x in lines if x.strip()]) if len(r) == len(headers)]))
    return out


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _iso(value: str) -> str:
    """Any date form the simulator writes, as YYYY-MM-DD (epoch milliseconds are Beijing time)."""
    v = value.strip()
    if not v:
        return ""
    if re.fullmatch(r"\d{12,14}", v):
        return (_EPOCH + timedelta(milliseconds=int(v)) + timedelta(hours=8)).date().isoformat()
    m = re.fullmatch(r"(\d{4})[-/年](\d{1,2})[-/月](\d{1,2})日?(?: \d\d:\d\d:\d\d)?", v)
    if m:
        return date(int(m[1]), int(m[2]), int(m[3])).isoformat()
    m = re.fullmatch(r"(\d{4})(\d{2})(\d{2})", v)
    assert m, f"unknown date form {v!r}"
    return date(int(m[1]), int(m[2]), int(m[3])).isoformat()


def test_same_seed_same_bytes_and_other_seed_differs(city: Path, tmp_path: Path) -> None:
    again = tmp_path / "again"
    simulate_city("tiny", SEED, again, entities=N)
    assert _digest(again) == _digest(city)
    # a folder written by simulate is overwritten in place, with the same result
    simulate_city("tiny", SEED, again, entities=N)
    assert _digest(again) == _digest(city)
    other = tmp_path / "other"
    simulate_city("tiny", SEED + 1, other, entities=N)
    assert _digest(other)["raw/登记基本信息_企业.csv"] != _digest(city)["raw/登记基本信息_企业.csv"]


def test_refuses_unknown_scale_and_foreign_folder(tmp_path: Path) -> None:
    with pytest.raises(RadarError, match="unknown scale"):
        simulate_city("galaxy", 1, tmp_path / "x")
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("mine", encoding="utf-8")
    with pytest.raises(RadarError, match="not empty"):
        simulate_city("tiny", 1, foreign, entities=60)
    assert (foreign / "notes.txt").exists() and not (foreign / MARKER).exists()


def test_every_record_type_present_and_detected_from_headers(city: Path, scenario: dict) -> None:
    types = set(sources().record_types)
    assert {f["record_type"] for f in scenario["files"]} == types
    assert all(scenario["counts"][rt] > 0 for rt in types)
    styles = {f["header_style"] for f in scenario["files"]}
    assert {"label", "code", "code_lower", "snake"} <= styles
    assert {f["encoding"] for f in scenario["files"]} == {"utf-8", "utf-8-sig", "gb18030"}
    unknown = set()
    for f in scenario["files"]:
        headers, _ = _read(city, f)
        m = detect_record_type(headers)
        assert m is not None and m.record_type == f["record_type"], f["file"]
        unknown |= set(m.unknown)
    assert unknown and unknown <= {"ID", "数据导出时间", "RESOURCE_ID", "CHECK_FLAG", "CREATE_DEPT_NAME"}


def test_gb18030_files_are_not_utf8(city: Path, scenario: dict) -> None:
    gb = [f for f in scenario["files"] if f["encoding"] == "gb18030"]
    assert gb
    for f in gb:
        data = (city / "raw" / f["file"]).read_bytes()
        data.decode("gb18030")
        with pytest.raises(UnicodeDecodeError):
            data.decode("utf-8")
    bom = [f for f in scenario["files"] if f["encoding"] == "utf-8-sig"]
    assert all((city / "raw" / f["file"]).read_bytes().startswith(b"\xef\xbb\xbf") for f in bom)


def test_truth_record_keys_match_the_file_rows(
    city: Path, scenario: dict, truth_records: pd.DataFrame
) -> None:
    src = sources()
    checked = 0
    for f in scenario["files"]:
        rt = f["record_type"]
        spec = src.record_types[rt]
        headers, lines = _read(city, f)
        mapping = map_headers(headers, rt)
        col = {c.field: headers.index(c.source) for c in mapping.columns}
        truth = truth_records[truth_records["file"] == f["file"]].sort_values("row")
        assert len(truth) == f["rows"] == len([x for x in lines if x]), f["file"]
        for (_, t), line in zip(truth.iterrows(), lines, strict=False):
            if t["dirt"] and ("malformed" in t["dirt"] or "truncated" in t["dirt"]):
                continue
            row = next(csv.reader([line]))
            assert len(row) == len(headers), (f["file"], t["row"])
            vals = [row[col[k]] if k in col else "" for k in spec.natural_key]
            vals = [
                _iso(v) if spec.fields[k].type == "date" else v
                for k, v in zip(spec.natural_key, vals, strict=True)
            ]
            assert record_key(vals) == t["record_key"], (f["file"], t["row"])
            checked += 1
    assert checked > 2000


def test_malformed_and_truncated_rows_are_planted(
    city: Path, scenario: dict, truth_records: pd.DataFrame
) -> None:
    bad = truth_records[truth_records["dirt"].str.contains("malformed")]
    assert len(bad) >= 1
    truncated = truth_records[truth_records["dirt"].str.contains("truncated")]
    assert len(truncated) == 1
    f = next(x for x in scenario["files"] if x["file"] == truncated["file"].iloc[0])
    assert not (city / "raw" / f["file"]).read_bytes().endswith(b"\n")


def test_registry_usccs_valid_except_planted(city: Path, truth_records: pd.DataFrame) -> None:
    ent = pd.read_parquet(city / "truth" / "entities.parquet")
    assert all(uscc.is_valid(x) for x in ent["uscc"])
    assert all(uscc.calc_check_digit(x[:17]) == x[17] for x in ent["uscc"])
    # the organisation code inside is valid under GB 11714 too
    weights = [3, 7, 9, 10, 5, 8, 4, 2]
    for code in ent["uscc"].str[8:17].head(300):
        s = sum(int(c, 36) * w for c, w in zip(code[:8], weights, strict=True))
        c = 11 - s % 11
        assert code[8] == {10: "X", 11: "0"}.get(c, str(c))
    reg = truth_records[truth_records["source_type"] == "registry"]
    written = ent.set_index("entity_id").loc[reg["true_entity_id"], "registry_uscc"].to_numpy()
    planted = reg["dirt"].str.contains("invalid_uscc").to_numpy()
    assert planted.any()
    valid = uscc_valid(written)
    assert not valid[planted].any()
    empty = written == ""
    assert valid[~planted & ~empty].all()
    # people: identity numbers unique and valid
    people = pd.read_parquet(city / "truth" / "people.parquet")
    assert people["id_no"].is_unique
    assert all(ric.calc_check_digit(x) == x[17] for x in people["id_no"].head(500))


def test_dirt_rates_roughly_as_configured(truth_records: pd.DataFrame) -> None:
    dirt = simulation().dirt
    t = truth_records[(truth_records["true_entity_id"] != "") & ~truth_records["is_dirty_copy"]]
    ext = t[
        t["source_type"].isin(["penalty", "license", "registry", "spot_check", "commitment", "third_party"])
    ]
    inv = ext["dirt"].str.contains("invalid_uscc").mean()
    assert 0.4 * dirt["invalid_uscc"] <= inv <= 2.0 * dirt["invalid_uscc"]
    c = t[(t["source_type"] == "complaint") & ~t["file"].str.contains("2022")]
    missing = c["dirt"].str.contains("missing_uscc").mean()
    assert abs(missing - dirt["complaint_missing_uscc"]) < 0.1
    variants = c["dirt"].str.contains("name_variant").mean()
    assert 0.1 < variants < 0.45
    dup = truth_records["is_dirty_copy"].sum()
    pool = (
        truth_records["source_type"]
        .isin(["penalty", "license", "complaint", "spot_check", "dishonest_debtor"])
        .sum()
    )
    assert 0.3 * dirt["duplicate_rows"] < dup / pool < 3 * dirt["duplicate_rows"]
    # duplicates carry the key of a row written before
    d = truth_records[truth_records["is_dirty_copy"]]
    first = truth_records[~truth_records["is_dirty_copy"]]
    assert (
        d.set_index(["source_type", "record_key"])
        .index.isin(first.set_index(["source_type", "record_key"]).index)
        .all()
    )
    assert truth_records["dirt"].str.contains("revoked").any()
    assert truth_records["dirt"].str.contains("natural_person").any()
    assert truth_records["dirt"].str.contains("placeholder_uscc").any()
    assert truth_records["dirt"].str.contains("outside_city").any()


def test_complaints_do_not_carry_complainant_data(city: Path, scenario: dict) -> None:
    for f in scenario["files"]:
        if f["record_type"] != "complaint":
            continue
        headers, lines = _read(city, f)
        assert not any(h in {"投诉人", "投诉人姓名", "投诉人电话", "联系电话", "证件号码"} for h in headers)
        assert not any(re.search(r"(?<![\d-])1[358]\d{9}(?!\d)", x) for x in lines[:200])


def test_complaints_precede_violations(city: Path) -> None:
    v = pd.read_parquet(city / "truth" / "violations.parquet")
    v = v[v["kind"] != "dormant"]
    recs = pd.read_parquet(city / "truth" / "records.parquet")
    # complaint dates come from the truth of the simulation: the file rows' entities and keys
    comp = recs[
        (recs["source_type"] == "complaint") & (recs["true_entity_id"] != "") & ~recs["is_dirty_copy"]
    ]
    day_of = comp["record_key"].str[6:14].map(lambda s: date(int(s[:4]), int(s[4:6]), int(s[6:])))
    c = pd.DataFrame({"entity_id": comp["true_entity_id"], "cday": pd.to_datetime(day_of)})
    m = v[["entity_id", "date"]].assign(date=pd.to_datetime(v["date"])).merge(c, on="entity_id")
    gap = (m["cday"] - m["date"]).dt.days
    before = ((gap >= -90) & (gap < 0)).sum()
    after = ((gap > 0) & (gap <= 90)).sum()
    assert before > after


def test_rings_span_districts_and_phoenix_share_an_attribute(city: Path, truth_records: pd.DataFrame) -> None:
    ent = pd.read_parquet(city / "truth" / "entities.parquet").set_index("entity_id")
    rings = pd.read_parquet(city / "truth" / "rings.parquet")
    assert rings["ring_id"].nunique() >= 2
    districts = (
        rings.assign(d=ent.loc[rings["entity_id"], "district_code"].to_numpy())
        .groupby("ring_id")["d"]
        .nunique()
    )
    assert (districts > 1).all()
    assert (rings.groupby("ring_id").size() >= 3).all()
    ph = pd.read_parquet(city / "truth" / "phoenix.parquet")
    assert len(ph) > 0
    people = pd.read_parquet(city / "truth" / "people.parquet").set_index("person_id")
    sh = truth_records[truth_records["source_type"] == "shareholder"]
    holders = set(zip(sh["true_entity_id"], sh["true_person_id"], strict=True))
    for _, r in ph.iterrows():
        new, old = ent.loc[r["entity_id"]], ent.loc[r["predecessor_entity_id"]]
        assert new["established_date"] > old["established_date"]
        if r["trigger"] != "blacklisted":  # founded within 12 months of the closure, as planted
            closed = pd.Timestamp(old["deregistered_date"])
            assert closed < pd.Timestamp(new["established_date"]) <= closed + pd.DateOffset(months=12)
        if r["link_type"] == "legal_rep":
            assert (
                new["legal_rep_person_id"] == old["controller_person_id"]
                or new["legal_rep_person_id"] == old["legal_rep_person_id"]
            )
        elif r["link_type"] == "shareholder":
            assert (r["entity_id"], old["controller_person_id"]) in holders
        elif r["link_type"] == "address":
            assert new["address"] == old["address"]
        else:
            assert new["phone"] == old["phone"]
    assert people.index.is_unique


def test_risk_story_volumes(city: Path, scenario: dict) -> None:
    per_1000 = {rt: n * 1000 / N for rt, n in scenario["counts"].items()}
    assert 40 < per_1000["penalty"] < 400
    assert 200 < per_1000["complaint"] < 1500
    assert 50 < per_1000["spot_check"] < 400
    assert per_1000["dishonest_debtor"] > 5 and per_1000["abnormal_list"] > 5
    ent = pd.read_parquet(city / "truth" / "entities.parquet")
    v = pd.read_parquet(city / "truth" / "violations.parquet")
    # riskier entities violate more
    top = ent["latent_risk"] >= ent["latent_risk"].quantile(0.8)
    count = v.groupby("entity_id").size()
    per = ent.set_index("entity_id").assign(v=count).fillna({"v": 0})["v"]
    assert per[top.to_numpy()].mean() > 2 * per[~top.to_numpy()].mean()
    assert v["future"].any() and (~v["detected"]).any()
    inspectors = pd.read_csv(city / "inspectors.csv", dtype=str)
    assert list(inspectors.columns) == ["inspector_id", "name", "cert_no", "department", "home_district_code"]
    assert len(inspectors) == simulation().scales["tiny"].inspectors


def test_spot_checks_record_inclusion_probabilities(city: Path, scenario: dict) -> None:
    for col, rows in _files_of(city, scenario, "spot_check"):
        kinds = {r[col["check_type"]] for r in rows}
        assert kinds <= {"定向", "不定向"}
        if "inclusion_probability" in col:
            p = np.array(
                [float(r[col["inclusion_probability"]]) for r in rows if r[col["check_type"]] == "不定向"]
            )
            assert ((p > 0) & (p <= 1)).all()


def test_truth_checks_carry_how_each_inspection_was_chosen_and_what_it_found(city: Path, scenario: dict) -> None:
    checks = pd.read_parquet(city / "truth" / "checks.parquet")
    rand = checks["random_draw"]
    assert rand.any() and (~rand).any()
    assert (checks.loc[rand, "check_type"] == "不定向").all() and (checks.loc[~rand, "check_type"] == "定向").all()
    p = checks.loc[rand, "inclusion_probability"]
    assert ((p > 0) & (p <= 1)).all() and checks.loc[~rand, "inclusion_probability"].isna().all()
    assert checks["future"].any() and (~checks["future"]).any()  # inspections after the as-of date to evaluate on
    assert (checks["date"].astype(str) > scenario["as_of"]).eq(checks["future"]).all()
    # a check that detected a violation found a problem; and the truth matches the violations' detecting checks
    assert not (checks["violation_found"] & ~checks["problem_found"]).any()
    v = pd.read_parquet(city / "truth" / "violations.parquet")
    assert checks["violation_found"].sum() > 0
    assert checks["violation_found"].sum() <= v["detected_by"].isin(["spot_check", "targeted_check"]).sum()


def test_some_penalties_are_published_late(city: Path, scenario: dict) -> None:
    """Penalties are put online within 6 days of the decision, except the configured share put online 12-45 days
    after (more than the 7 working days allowed), which the data-quality report counts as late."""
    gaps = []
    for col, rows in _files_of(city, scenario, "penalty"):
        if not {"decision_date", "publish_date"} <= set(col):
            continue
        for row in rows:
            if not row[col["decision_date"]] or not row[col["publish_date"]]:
                continue
            decided, published = (_iso(row[col[k]]) for k in ("decision_date", "publish_date"))
            gaps.append((date.fromisoformat(published) - date.fromisoformat(decided)).days)
    gaps_s = pd.Series(gaps)
    assert gaps_s.between(1, 6).sum() + gaps_s.between(12, 45).sum() == len(gaps_s) > 0
    share = gaps_s.between(12, 45).mean()
    assert 0.3 * simulation().dirt["late_publication"] < share < 3 * simulation().dirt["late_publication"], share
