"""The whole pipeline on a tiny simulated city: every stage publishes, a second run changes nothing, exports
and the plan work, and bad input ends in one clear message."""

from __future__ import annotations

import csv
import json
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from radar.errors import InputError, LakeError
from radar.lake import Lake

AS_OF = date(2024, 6, 30)
ENTITIES = 700  # a small city keeps the end-to-end test quick on two cores


@pytest.fixture(scope="module")
def city(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A simulated city, written once for the module."""
    from radar.simulate import simulate_city

    out = tmp_path_factory.mktemp("city")
    scenario = simulate_city("tiny", 11, out, entities=ENTITIES)
    assert scenario["as_of"] == AS_OF.isoformat()
    return out


@pytest.fixture(scope="module")
def runs(spark: Any, city: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Two runs of every stage into the same lake, with the content digests after each."""
    from radar.jobs.pipeline import run_all

    lake_dir = tmp_path_factory.mktemp("lake")
    first = run_all(city / "raw", AS_OF, lake_dir)
    lake = Lake(lake_dir).open()
    digests1 = {t: lake.digest(t, AS_OF) for t in lake.tables() if t != "reports/run"}
    second = run_all(city / "raw", AS_OF, lake_dir)
    digests2 = {t: lake.digest(t, AS_OF) for t in lake.tables() if t != "reports/run"}
    return {"lake": lake_dir, "first": first, "second": second, "d1": digests1, "d2": digests2}


def test_every_stage_publishes(runs: dict[str, Any]) -> None:
    lake = Lake(runs["lake"]).open()
    stages = runs["first"]["stages"]
    assert list(stages) == ["ingest", "resolve", "features", "graph", "train", "score", "alerts"]
    for table in ["ingest/penalty", "ingest/complaint", "ingest/quarantine", "resolve/entities", "resolve/links",
                  "features/snapshots", "features/catalog", "graph/components", "graph/flags", "score/scores",
                  "alerts/raised", "reports/dq", "reports/run"]:
        assert lake.exists(table, AS_OF), table
    # nothing half-written stays visible
    assert not any((runs["lake"] / "_staging").glob("*/data"))


def test_rows_reconcile_and_quarantine_has_reasons(runs: dict[str, Any]) -> None:
    lake = Lake(runs["lake"]).open()
    dq = lake.read_json("reports/dq", AS_OF)
    loaded = [f for f in dq["files"].values() if f["loaded"]]
    assert loaded and all(f["reconciled"] for f in loaded)
    assert sum(f["quarantined"] for f in loaded) > 0  # the simulator plants malformed rows
    q = lake.read_polars("ingest/quarantine", AS_OF)
    assert q["reason"].null_count() == 0 and (q["source_row"] >= 0).all()


def test_scores_grades_and_reasons(runs: dict[str, Any]) -> None:
    lake = Lake(runs["lake"]).open()
    scores = lake.read_polars("score/scores", AS_OF)
    assert scores.height > 0.5 * ENTITIES
    assert scores["entity_id"].n_unique() == scores.height
    assert set(scores["grade"].unique()) <= {"A", "B", "C", "D"}
    assert scores["risk_score"].is_between(0, 1).all()
    # the grade mix follows the policy shares, floors can only add to the riskier grades
    share_a = (scores["grade"] == "A").mean()
    assert 0.45 < share_a <= 0.66
    assert scores["reasons_text"].null_count() == 0
    first = json.loads(scores.sort("risk_score", descending=True)["reasons"][0])
    assert first and {"feature", "label", "value", "contribution"} <= set(first[0])
    # the anomaly score ranks every scored entity, apart from the risk score
    assert scores["anomaly_score"].null_count() == 0 and scores["anomaly_score"].is_between(0, 1).all()
    assert scores["anomaly_score"].n_unique() > 0.5 * scores.height


def test_drift_is_checked_against_the_champions_training_reference(runs: dict[str, Any]) -> None:
    from radar.config import profile, resolve_paths
    from radar.store import Store

    lake = Lake(runs["lake"]).open()
    drift = lake.read_polars("score/drift", AS_OF)
    assert {"kind", "feature", "psi", "threshold", "drifted", "n_reference", "n_current"} <= set(drift.columns)
    feats = drift.filter(drift["kind"] == "feature")
    assert feats.height > 20 and (feats["psi"] >= 0).all() and (feats["threshold"] >= 0.25).all()
    assert drift.filter(drift["kind"] == "score").height == 0  # no earlier scoring run to compare with
    summary = runs["first"]["stages"]["score"]["drift"]
    assert summary["reference"] == "stored" and summary["features_checked"] == feats.height
    with Store(resolve_paths(profile(), lake.root).store_url) as store:
        ops = store.operations_alerts()
        assert len(ops) == (1 if summary["alert"] else 0)
        assert summary["alert"] == bool(feats["drifted"].any())


def test_second_run_changes_nothing(runs: dict[str, Any]) -> None:
    assert runs["d1"] == runs["d2"]
    second = runs["second"]["stages"]
    ingested = sorted(t for t in runs["d1"] if t.startswith("ingest/"))
    assert runs["first"]["stages"]["ingest"]["tables_reused"] == []
    assert second["ingest"]["tables_reused"] == ingested  # linked, not written again
    assert second["train"]["trained"] is False
    assert second["alerts"]["store"]["inserted"] == 0
    assert second["alerts"]["store"]["unchanged"] == second["alerts"]["raised"]


def test_alerts_are_evidenced_in_the_store(runs: dict[str, Any]) -> None:
    from radar.config import profile, resolve_paths
    from radar.store import Store

    lake = Lake(runs["lake"]).open()
    store = Store(resolve_paths(profile(), lake.root).store_url)
    alerts = store.list_alerts()
    assert alerts, "a simulated city raises alerts"
    assert len({(a["entity_id"], a["rule"]) for a in alerts}) == len(alerts)
    ev = alerts[0]["evidence"]
    ev = json.loads(ev) if isinstance(ev, str) else ev
    assert ev["reasons"] and "model_version" in ev
    store.close()


def test_exports_and_plan(runs: dict[str, Any], city: Path, tmp_path: Path) -> None:
    from radar.cli import app

    runner = CliRunner()
    lake = str(runs["lake"])
    for kind, needed in [
        ("scores", {"uscc", "entity_id", "name", "district_code", "industry_section", "risk_score", "anomaly_score",
                    "grade", "reasons"}),
        ("links", {"source_type", "record_key", "entity_id", "uscc", "method", "probability"}),
        ("flags", {"uscc", "flag", "evidence"}),
    ]:
        out = tmp_path / f"{kind}.csv"
        res = runner.invoke(app, ["export", kind, "--lake", lake, "--out", str(out)])
        assert res.exit_code == 0, res.output
        with out.open(encoding="utf-8-sig") as f:
            header = next(csv.reader(f))
        assert needed <= set(header), (kind, header)
    plan = tmp_path / "plan.csv"
    res = runner.invoke(app, ["plan", "--lake", lake, "--seed", "3", "--out", str(plan),
                              "--inspectors", str(city / "inspectors.csv")])
    assert res.exit_code == 0, res.output
    with plan.open(encoding="utf-8-sig") as f:
        rows = list(csv.DictReader(f))
    assert rows and {"uscc", "grade", "inclusion_probability", "inspectors", "seed"} <= set(rows[0])
    assert all(r["seed"] == "3" for r in rows)
    res = runner.invoke(app, ["plan", "verify", "--lake", lake, "--plan", str(plan)])
    assert res.exit_code == 0, res.output


def test_missing_and_empty_input(tmp_path: Path) -> None:
    from radar.jobs.pipeline import run_all

    with pytest.raises(InputError, match="not found"):
        run_all(tmp_path / "nope", AS_OF, tmp_path / "lake")
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="empty"):
        run_all(tmp_path / "empty", AS_OF, tmp_path / "lake")


def test_as_of_outside_the_data() -> None:
    from radar.jobs.pipeline import check_as_of

    report = {"event_dates": {"penalty": ["2021-01-05", "2024-06-20"], "registry": ["1990-01-01", "2024-06-01"]}}
    check_as_of(report, AS_OF, 365, 180)  # inside: no error
    with pytest.raises(InputError, match="outside the data"):
        check_as_of(report, date(2021, 6, 1), 365, 180)  # too little history (the registry does not count)
    with pytest.raises(InputError, match="outside the data"):
        check_as_of(report, date(2026, 1, 1), 365, 180)  # long after the last record


def test_as_of_outside_the_data_end_to_end(spark: Any, city: Path, tmp_path: Path) -> None:
    """The run stops with the message before any later stage runs."""
    from radar.jobs.pipeline import run_all

    with pytest.raises(InputError, match="outside the data"):
        run_all(city / "raw", date(2030, 1, 1), tmp_path / "lake", stages=["ingest"])


def test_lake_of_another_version(tmp_path: Path) -> None:
    (tmp_path / "_lake.json").write_text(json.dumps({"format": 99, "created_by": "9.9.9"}), encoding="utf-8")
    with pytest.raises(LakeError, match="format 99"):
        Lake(tmp_path).open()


def test_one_writing_job_per_lake_and_a_killed_one_leaves_no_lock(city: Path, tmp_path: Path) -> None:
    import signal
    import subprocess
    import sys

    from radar.cli import app

    lake_dir = tmp_path / "lake"
    Lake(lake_dir).open(create=True)
    hold = ("import sys, time; from radar.lake import Lake\n"
            "with Lake(sys.argv[1]).open().run_lock('radar run --as-of 2024-06-30'):\n"
            "    print('held', flush=True); time.sleep(120)\n")
    holder = subprocess.Popen([sys.executable, "-c", hold, str(lake_dir)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        runner = CliRunner()
        for args in (["run", "--input", str(city / "raw"), "--as-of", "2024-06-30"],
                     ["retrain", "--as-of", "2024-06-30"], ["model", "rollback"]):
            res = runner.invoke(app, [*args, "--lake", str(lake_dir)])
            assert res.exit_code == 2, (args, res.output)
            out = " ".join(res.output.split())
            assert "another radar job is writing this lake" in out and f"process {holder.pid}" in out, out
            assert "radar run --as-of 2024-06-30" in out and "Traceback" not in out
        job = Lake(lake_dir).running_job()  # what the dashboard reads, without touching the lock
        assert job is not None and job["pid"] == holder.pid and job["command"] == "radar run --as-of 2024-06-30"
        # a reader is not refused: the report is the last finished run's, and says a job is running
        Lake(lake_dir).publish_json("reports/run", AS_OF, {"as_of": "2024-05-31"})
        res = runner.invoke(app, ["report", "--lake", str(lake_dir)])
        assert res.exit_code == 0 and json.loads(res.stdout) == {"as_of": "2024-05-31"}
        assert "radar run --as-of 2024-06-30 is writing this lake" in res.stderr
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait(timeout=30)
    # its holder file stays behind, but names a dead process: no job is running
    assert (lake_dir / "_run.json").exists() and Lake(lake_dir).running_job() is None
    # the operating system released the killed job's lock: the next job takes it, says who it is, and clears up
    lake = Lake(lake_dir).open()
    with lake.run_lock("radar run --as-of 2024-07-31"):
        info = json.loads((lake_dir / "_run.json").read_text(encoding="utf-8"))
        assert info["command"] == "radar run --as-of 2024-07-31" and info["pid"] != holder.pid
    assert not (lake_dir / "_run.json").exists()


def test_cli_rewrite_tables_writes_every_ingest_table_again(city: Path, tmp_path: Path) -> None:
    """``radar run`` links the ingest tables whose inputs are unchanged and says so; ``--rewrite-tables``
    writes them all again, with the same content."""
    from radar.cli import app

    runner = CliRunner()
    lake_dir = tmp_path / "lake"
    args = ["run", "--input", str(city / "raw"), "--as-of", AS_OF.isoformat(), "--lake", str(lake_dir),
            "--stage", "ingest"]
    digests = []
    for extra, unchanged in (([], False), ([], True), (["--rewrite-tables"], False)):
        res = runner.invoke(app, [*args, *extra])
        assert res.exit_code == 0, res.output
        assert ("tables unchanged" in res.output) is unchanged, res.output
        lake = Lake(lake_dir).open()
        digests.append({t: lake.digest(t, AS_OF) for t in lake.tables() if t.startswith("ingest/")})
    assert digests[0] == digests[1] == digests[2] and len(digests[0]) > 10


def test_cli_errors_are_one_clear_message(tmp_path: Path) -> None:
    from radar.cli import app

    runner = CliRunner()
    res = runner.invoke(app, ["run", "--input", str(tmp_path / "nope"), "--as-of", "2024-06-30",
                              "--lake", str(tmp_path / "lake")])
    assert res.exit_code == 2
    assert "input folder not found" in res.output and "Traceback" not in res.output
    res = runner.invoke(app, ["run", "--input", str(tmp_path), "--as-of", "30/06/2024", "--lake", str(tmp_path)])
    assert res.exit_code == 2 and "must be a date" in res.output
    res = runner.invoke(app, ["export", "scores", "--lake", str(tmp_path / "nolake"), "--out", str(tmp_path / "x.csv")])
    assert res.exit_code == 2 and "no such lake" in res.output


def test_analyst_notebook_runs_on_the_lake(runs: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    """The notebooks in notebooks/ run top to bottom on a real lake (what analysts start from)."""
    import nbformat
    from nbclient import NotebookClient

    monkeypatch.setenv("RADAR_LAKE", str(runs["lake"]))
    for path in sorted((Path(__file__).parents[1] / "notebooks").glob("*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        NotebookClient(nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}}).execute()
        outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])]
        assert not [o for o in outputs if o.get("output_type") == "error"], path.name


def test_a_champion_without_a_drift_reference_still_scores(runs: dict[str, Any], city: Path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """A champion trained before drift references were stored scores as before, with score drift only."""
    from radar.config import profile, resolve_paths
    from radar.jobs import score
    from radar.jobs.pipeline import run_all
    from radar.store import Store

    lake = Lake(runs["lake"]).open()
    before = lake.read_polars("score/scores", AS_OF)
    monkeypatch.setattr(score.reg, "load_reference", lambda *a, **k: None)
    report = run_all(city / "raw", AS_OF, runs["lake"], stages=["score"])
    summary = report["stages"]["score"]["drift"]
    assert summary["reference"] == "missing" and summary["features_checked"] == 0
    drift = lake.read_polars("score/drift", AS_OF)
    assert drift.filter(drift["kind"] == "feature").height == 0
    assert lake.read_polars("score/scores", AS_OF).equals(before)
    with Store(resolve_paths(profile(), lake.root).store_url) as store:
        assert len(store.operations_alerts()) == (1 if summary["alert"] else 0)
