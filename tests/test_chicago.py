"""The Chicago benchmark: its metrics on hand-computed examples, point-in-time features, and a real sample."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from radar.chicago.benchmark import (
    SETTINGS,
    TEST_START,
    format_table,
    prepare,
    run_benchmark,
    split_rows,
)
from radar.chicago.data import ENV_VAR, FILES, ChicagoData, load_data, resolve_data_dir
from radar.chicago.features import build_features, feature_columns, nearby_counts, prior_last, prior_totals
from radar.chicago.metrics import (
    days_earlier,
    first_half_days,
    first_half_share,
    simulated_dates,
    within_group_auc,
)
from radar.errors import InputError

D = pd.Timestamp


# ---------------------------------------------------------------------------------------------- metrics
def test_days_earlier_hand_computed() -> None:
    # slots: two inspections on 09-02, one on 09-04, one on 09-10; model order D, C, A, B
    dates = [D("2014-09-02"), D("2014-09-02"), D("2014-09-04"), D("2014-09-10")]  # A, B, C, D
    scores = [0.3, 0.1, 0.5, 0.9]
    positives = [1, 0, 0, 1]
    sim = simulated_dates(dates, scores)
    assert list(pd.to_datetime(sim)) == [D("2014-09-04"), D("2014-09-10"), D("2014-09-02"), D("2014-09-02")]
    # D: 09-10 -> 09-02 is 8 days earlier; A: 09-02 -> 09-04 is 2 days later; mean (8 - 2) / 2
    assert days_earlier(dates, scores, positives) == pytest.approx(3.0)


def test_days_earlier_real_order_is_zero_and_ties_follow_the_tie_key() -> None:
    dates = [D("2014-09-02"), D("2014-09-03"), D("2014-09-04")]
    assert days_earlier(dates, [3, 2, 1], [1, 1, 0]) == 0.0
    # all tied: the tie key decides who gets the first slot
    assert days_earlier(dates, [1, 1, 1], [0, 0, 1], tie_key=[2, 3, 1]) == pytest.approx(2.0)
    assert days_earlier(dates, [1, 1, 1], [0, 0, 1], tie_key=[1, 2, 3]) == pytest.approx(0.0)


def test_first_half_is_the_days_before_half_the_inspections() -> None:
    # per-day counts 3, 2, 4, 1 of 10: cumulative 3, 5, 9, 10; only day 1 stays below 5 (strictly)
    days = [D("2014-09-02")] * 3 + [D("2014-09-03")] * 2 + [D("2014-09-04")] * 4 + [D("2014-09-05")]
    assert first_half_days(days) == {D("2014-09-02")}
    positives = [1, 0, 0, 0, 0, 1, 0, 0, 0, 0]  # one found on day 1, one on day 3
    assert first_half_share(days, None, positives) == pytest.approx(0.5)
    # a score that puts both findings first moves both into the first half
    scores = [10, 1, 1, 1, 1, 9, 1, 1, 1, 1]
    assert first_half_share(days, scores, positives) == pytest.approx(1.0)
    assert first_half_share(days, [-x for x in scores], positives) == pytest.approx(0.0)


def test_metrics_reject_incomplete_input() -> None:
    with pytest.raises(ValueError):
        days_earlier([D("2014-09-02")], [np.nan], [1])
    with pytest.raises(ValueError):
        days_earlier([D("2014-09-02")], [0.5], [2])


def test_within_group_auc_ignores_the_ranking_of_groups() -> None:
    y = [1, 0, 1, 0]
    groups = ["a", "a", "b", "b"]
    # perfect inside each group, although group b's scores sit far below group a's
    assert within_group_auc(y, [0.9, 0.8, 0.2, 0.1], groups) == pytest.approx(1.0)
    assert within_group_auc(y, [0.8, 0.9, 0.2, 0.1], groups) == pytest.approx(0.5)


# ---------------------------------------------------------------------------------------------- features
def test_prior_totals_use_only_earlier_days_windows_and_cut() -> None:
    events = pd.DataFrame(
        {
            "k": ["a", "a", "a", "b"],
            "date": [D("2014-01-01"), D("2014-03-01"), D("2014-03-10"), D("2014-03-01")],
            "v": [1.0, 2.0, 4.0, 8.0],
        }
    )
    queries = pd.DataFrame(
        {
            "k": ["a", "a", "b", "c"],
            "date": [D("2014-03-10"), D("2014-03-11"), D("2014-03-01"), D("2014-03-11")],
        }
    )
    out = prior_totals(events, queries, "k", ["v"], (None, 30))
    # the same-day event (a on 03-10, b on 03-01) is not yet known; the 30-day window drops January
    assert out["v_all"].tolist() == [3.0, 7.0, 0.0, 0.0]
    assert out["v_30d"].tolist() == [2.0, 6.0, 0.0, 0.0]
    cut = queries.assign(known_before=D("2014-03-05"))
    assert prior_totals(events, cut, "k", ["v"], (None,))["v_all"].tolist() == [3.0, 3.0, 0.0, 0.0]
    last = prior_last(events, queries, "k", ["v"])
    assert last["last_v"].tolist()[:2] == [2.0, 4.0]
    assert last["last_days_since"].tolist()[:2] == [9.0, 1.0]
    assert np.isnan(last["last_v"].iloc[2])


def test_nearby_counts_radius_window_and_strictly_before() -> None:
    lat, lon = 41.88, -87.63
    metre = 1 / 111_320.0
    points = pd.DataFrame({"Latitude": [lat, np.nan], "Longitude": [lon, lon], "date": [D("2014-05-10")] * 2})
    events = pd.DataFrame(
        {
            "Latitude": [lat + 50 * metre, lat + 200 * metre, lat, lat, lat],
            "Longitude": [lon, lon, lon, lon, lon],
            "date": [D("2014-05-01"), D("2014-05-01"), D("2014-05-10"), D("2014-02-01"), D("2014-05-11")],
        }
    )
    out = nearby_counts(points, events, (100, 300), (30, 365), prefix="c_")
    # 50 m and 200 m away nine days before; the same-day and next-day events never count
    assert out.loc[0, "c_100m_30d"] == 1 and out.loc[0, "c_300m_30d"] == 2
    assert out.loc[0, "c_100m_365d"] == 2 and out.loc[0, "c_300m_365d"] == 3
    assert out.loc[1].isna().all()


def synthetic_data(seed: int = 3) -> ChicagoData:
    """A small city: 6 licences over 3 addresses, 60 inspections, 300 complaints, daily weather."""
    rng = np.random.default_rng(seed)
    n = 60
    dates = pd.to_datetime("2013-01-01") + pd.to_timedelta(np.sort(rng.integers(0, 700, n)), unit="D")
    licence = rng.integers(1, 7, n)
    lat = 41.88 + 0.002 * (licence % 3)
    insp = pd.DataFrame(
        {
            "Inspection_ID": np.arange(1000, 1000 + n),
            "DBA_Name": [f"CHAIN #{x}" for x in licence],
            "AKA_Name": "",
            "License": licence,
            "Facility_Type": rng.choice(["Restaurant", "Grocery Store"], n),
            "Risk": "Risk 1 (High)",
            "Address": [f"{x % 3} N STATE ST" for x in licence],
            "Zip": 60601,
            "Inspection_Date": dates,
            "Inspection_Type": "Canvass",
            "Results": rng.choice(["Pass", "Fail", "Pass w/ Conditions"], n),
            "Latitude": lat,
            "Longitude": -87.63,
        }
    )
    violations = pd.DataFrame(
        {
            "Inspection_ID": insp["Inspection_ID"],
            "criticalCount": rng.integers(0, 3, n),
            "seriousCount": rng.integers(0, 3, n),
            "minorCount": rng.integers(0, 5, n),
        }
    )
    licences = pd.DataFrame(
        {
            "Inspection_ID": insp["Inspection_ID"],
            "LICENSE_NUMBER": licence,
            "LICENSE_TERM_START_DATE": dates - pd.Timedelta(days=100),
            "minDate": dates - pd.Timedelta(days=900),
            "APPLICATION_TYPE": "RENEW",
            "LICENSE_DESCRIPTION": "Retail Food Establishment",
            "BUSINESS_ACTIVITY": "Retail Sales of Perishable Foods",
            "WARD": 42,
            "POLICE_DISTRICT": 1,
            **{
                c: 0
                for c in (
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
                )
            },
        }
    )
    m = 300
    complaints = pd.DataFrame(
        {
            "Date": pd.to_datetime("2012-06-01") + pd.to_timedelta(rng.integers(0, 900, m), unit="D"),
            "Status": rng.choice(["Completed", "Completed - Dup"], m, p=[0.9, 0.1]),
            "Nature": rng.choice(["Garbage in alley", "Other"], m),
            "Street_Address": "",
            "Latitude": 41.88 + rng.normal(0, 0.003, m),
            "Longitude": -87.63 + rng.normal(0, 0.003, m),
        }
    )
    inspectors = pd.DataFrame(
        {"Inspection_ID": insp["Inspection_ID"], "Inspector": rng.choice(["blue", "green", "purple"], n)}
    )
    days = pd.date_range("2012-12-01", "2015-01-01", freq="D")
    weather = pd.DataFrame(
        {
            "Date": days,
            "precipIntensity": rng.random(len(days)),
            "temperatureMax": rng.normal(60, 15, len(days)),
            "windSpeed": rng.random(len(days)),
            "humidity": rng.random(len(days)),
        }
    )
    heat = pd.DataFrame(
        {
            "Inspection_ID": insp["Inspection_ID"],
            "heat_burglary": 1.0,
            "heat_garbage": 1.0,
            "heat_sanitation": 1.0,
        }
    )
    matrix = pd.DataFrame(
        {
            "Inspection_ID": insp["Inspection_ID"],
            "Inspection_Date": dates,
            "Test": False,
            "score": 0.1,
            "criticalFound": 0,
            "Inspector_Assigned": inspectors["Inspector"],
        }
    )
    return ChicagoData(insp, violations, licences, complaints, inspectors, weather, heat, matrix)


def _scramble_from(data: ChicagoData, day: pd.Timestamp, seed: int) -> ChicagoData:
    """Change everything dated on or after ``day``: results, violation counts, complaints, weather."""
    rng = np.random.default_rng(seed)
    late_ids = data.inspections.loc[data.inspections["Inspection_Date"] >= day, "Inspection_ID"]
    insp = data.inspections.copy()
    late = insp["Inspection_ID"].isin(late_ids)
    insp.loc[late, "Results"] = rng.choice(["Pass", "Fail"], late.sum())
    viol = data.violations.copy()
    vl = viol["Inspection_ID"].isin(late_ids)
    for c in ("criticalCount", "seriousCount", "minorCount"):
        viol.loc[vl, c] = rng.integers(0, 9, vl.sum())
    comp = data.complaints.copy()
    cl = comp["Date"] >= day
    comp.loc[cl, "Latitude"] = 41.88 + rng.normal(0, 0.001, cl.sum())
    comp = pd.concat([comp, comp[cl]])  # and twice as many of them
    weather = data.weather.copy()
    wl = weather["Date"] >= day
    weather.loc[wl, "temperatureMax"] = rng.normal(0, 50, wl.sum())
    return ChicagoData(insp, viol, data.licences, comp, data.inspectors, weather, data.heat, data.matrix)


def test_no_feature_uses_anything_dated_on_or_after_the_inspection() -> None:
    data = synthetic_data()
    base = build_features(data, city_heat=False).set_index("Inspection_ID")
    cols = feature_columns(base.reset_index(), city_heat=False)
    checked = 0
    for iid in data.inspections["Inspection_ID"].iloc[10::7]:
        day = base.loc[iid, "date"]
        moved = build_features(_scramble_from(data, day, seed=int(iid)), city_heat=False).set_index(
            "Inspection_ID"
        )
        pd.testing.assert_series_equal(base.loc[iid, cols], moved.loc[iid, cols], check_names=False)
        checked += 1
    assert checked >= 5
    # and the scramble does reach the later rows' history, or this test would prove nothing
    day = base["date"].iloc[20]
    moved = build_features(_scramble_from(data, day, seed=1), city_heat=False).set_index("Inspection_ID")
    later = base.index[base["date"] > day + pd.Timedelta(days=30)]
    assert not base.loc[later, cols].equals(moved.loc[later, cols])


def test_strict_cut_hides_everything_from_the_cut_on() -> None:
    data = synthetic_data()
    cut = D("2014-03-01")
    base = build_features(data, known_before=cut, city_heat=False).set_index("Inspection_ID")
    moved = build_features(_scramble_from(data, cut, seed=5), known_before=cut, city_heat=False).set_index(
        "Inspection_ID"
    )
    cols = feature_columns(base.reset_index(), city_heat=False)
    after = base.index[base["date"] >= cut]
    assert len(after) > 5
    pd.testing.assert_frame_equal(base.loc[after, cols], moved.loc[after, cols])


def test_split_rows_keeps_training_before_the_test_period() -> None:
    frame = pd.DataFrame(
        {
            "Inspection_ID": [1, 2, 3, 4],
            "inspector_known": [1, 1, 0, 1],
            "date": [D("2014-04-01"), D("2014-09-01"), D("2014-05-01"), D("2014-09-03")],
        }
    )
    matrix = pd.DataFrame({"Inspection_ID": [1, 4], "Test": [False, True]})
    train, test = split_rows(frame, matrix, require_full=False)
    assert train["Inspection_ID"].tolist() == [1, 2] and test["Inspection_ID"].tolist() == [4]
    assert (train["date"] < TEST_START).all()
    with pytest.raises(ValueError, match="1637"):
        split_rows(frame, matrix)


# ---------------------------------------------------------------------------------------------- the folder
def test_data_folder_resolution(tmp_path, monkeypatch) -> None:
    with pytest.raises(InputError, match="not found"):
        resolve_data_dir(tmp_path / "nowhere")
    with pytest.raises(InputError, match="lacks"):
        resolve_data_dir(tmp_path)
    for name in FILES.values():
        (tmp_path / name).write_bytes(b"")
    monkeypatch.setenv(ENV_VAR, str(tmp_path))
    assert resolve_data_dir() == tmp_path


def test_cli_missing_folder_is_one_clear_error(tmp_path) -> None:
    from radar.cli import app

    result = CliRunner().invoke(
        app, ["bench", "chicago", "--data", str(tmp_path / "nope"), "--out", str(tmp_path / "s.csv")]
    )
    assert result.exit_code == 2
    assert "Chicago data folder not found" in result.output


def test_city_stored_score_reproduces_the_city_figures() -> None:
    """Our metrics on the city's own score give the city's own evaluation script's figures."""
    matrix = pd.read_csv(resolve_data_dir() / FILES["matrix"], parse_dates=["Inspection_Date"])
    t = matrix[matrix["Test"]]
    assert len(t) == 1637 and t["criticalFound"].sum() == 258
    from radar.chicago.metrics import benchmark_metrics

    m = benchmark_metrics(t["Inspection_Date"], t["score"], t["criticalFound"], t["Inspection_ID"])
    assert m["auc"] == pytest.approx(0.679, abs=5e-4)
    assert m["days_earlier"] == pytest.approx(7.79, abs=0.01)  # the city's script prints 7.790698
    assert m["first_half_share_real"] == pytest.approx(0.5465116)  # binsA POS share in the city's script
    assert m["first_half_share"] == pytest.approx(0.6821705)  # binsA POS_SIM share


def test_quick_run_on_a_sample_of_the_real_files() -> None:
    data = load_data(sample_licences=0.1, seed=7)
    result = run_benchmark(data=data, seed=7, settings=SETTINGS[:1], n_folds=2, strict=False)
    test_ids = set(data.matrix.loc[data.matrix["Test"], "Inspection_ID"])
    assert set(result.scores["Inspection_ID"]) == test_ids and len(result.scores) == len(test_ids)
    assert result.scores["score"].between(0, 1).all()
    assert result.scores["score"].is_monotonic_decreasing
    assert set(result.metrics["scorer"]) == {"model", "city", "simple", "real_order"}
    real = result.metrics.set_index("scorer").loc["real_order"]
    assert real["days_earlier"] == 0.0
    # validation stayed inside the training period
    assert (pd.to_datetime(result.validation["validation_end"]) < TEST_START).all()
    assert result.info["train_period"][1] < "2014-09-02"
    assert "model (ours)" in format_table(result.metrics)
    assert set(result.fairness) == {"inspector", "district"}


def test_prepare_builds_the_strict_frame_on_a_sample() -> None:
    frames = prepare(data=load_data(sample_licences=0.05, seed=2))
    assert frames.strict is not None and not any(c.startswith("heat_") for c in frames.strict.columns)
    late = frames.strict["date"] >= TEST_START
    # nothing learnt after the cut: history of test-period rows stops on 2014-09-01
    assert (frames.strict.loc[late, "known_before"] == TEST_START).all()
