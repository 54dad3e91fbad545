"""Entity resolution against the simulated city's truth: link quality, review share, speed.

For each scale: simulate the city once (kept in ``--work`` and reused), ingest it once into a lake, then run
the resolve stage ``--repeats`` times on one SparkSession and report, from the last run's links and
``truth/records.parquet`` (the product never reads it; see :mod:`radar.resolve.evaluate`):

* precision / recall / F1 of record-to-entity links overall, for complaints, and per record type;
* precision of the links accepted automatically (methods uscc, reg_no, name, name+address) and of the
  probabilistic ones alone (name, name+address);
* the share of records sent to the review queue; the run's duplicate-code and wrong-code rates, and how
  well the wrong-code flag finds the records the simulator gave another entity's code;
* errors by the simulator's dirt type (which kinds of dirty records end up wrong or unlinked);
* records linked per second (records / median resolve seconds).

With ``--splink`` the same records are also matched by Splink (DuckDB backend, ``bench/resolve_splink.py``)
and both matchers are compared on the records left to the probabilistic stage.

    .venv/bin/python bench/resolve.py --scales small --repeats 3
    .venv/bin/python bench/resolve.py --scales small city --repeats 3 --splink
    .venv/bin/python bench/resolve.py --scales small --repeats 0 --splink   # Splink on the lake already resolved

Results merge into ``--out`` by scale, so scales can be run one at a time.

``--city CITY --lake LAKE`` only scores a lake that already exists (e.g. the one ``bench/city.py`` builds)
against that city's ``truth/``: no stage, no Spark (polars; the lake is opened read-only), the same
:func:`quality` as above; the entry goes to ``results.<the city's scale>`` with the command and date, and
without timings (the resolve run that wrote the lake was timed elsewhere).

    .venv/bin/python bench/resolve.py --city /tmp/resolve_bench/city-city-7 --lake /tmp/city-lake
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")

AUTO_METHODS = ("uscc", "reg_no", "name", "name+address")
MATCH_METHODS = ("name", "name+address")
EXACT_RULES = ("uscc", "org_code", "reg_no", "written_code", "near_code")


def dirt_errors(scored: Any) -> dict[str, dict[str, int]]:
    """Records, false positives and false negatives per dirt type of the simulator (a record may have several)."""
    import polars as pl

    tokens = scored.with_columns(pl.col("dirt").fill_null("").str.split(",").alias("_d")).explode("_d")
    tokens = tokens.with_columns(pl.when(pl.col("_d") == "").then(pl.lit("clean")).otherwise(pl.col("_d")).alias("_d"))
    out = (
        tokens.group_by("_d")
        .agg(
            pl.len().alias("records"),
            pl.col("fp").sum().alias("fp"),
            (pl.col("pos") & ~pl.col("tp")).sum().alias("fn"),
        )
        .sort("records", descending=True)
    )
    return {r["_d"]: {"records": r["records"], "fp": r["fp"], "fn": r["fn"]} for r in out.iter_rows(named=True)}


def quality(lake_dir: Path, truth: Path, as_of: date) -> dict[str, Any]:
    """Link quality of the lake's resolve outputs against the truth (see the module docstring)."""
    import polars as pl

    from radar.lake import Lake
    from radar.resolve.evaluate import evaluate, prf, score_links, truth_targets

    lake = Lake(lake_dir).open(recover=False)  # a reader: never touch a lake another job may be writing
    links = lake.read_polars("resolve/links", as_of)
    entities = lake.read_polars("resolve/entities", as_of)
    out = evaluate(links, entities, truth)
    targets = truth_targets(truth, entities)
    scored = score_links(links, targets)
    linked = scored.filter(pl.col("entity_id").is_not_null())
    out["auto_accepted"] = prf(linked.filter(pl.col("method").is_in(AUTO_METHODS)))
    out["probabilistic_accepted"] = prf(linked.filter(pl.col("method").is_in(MATCH_METHODS)))
    n = links.height
    pending = links.filter(pl.col("rule") == "pending_review")
    out["review_share"] = round(pending.height / max(1, n), 4)
    out["review_pending"] = pending.height
    # of the records in review, how many would have been right if accepted
    pend = score_links(
        pending.with_columns(pl.col("candidate_entity_id").alias("entity_id")), targets
    )
    out["review_candidates_right"] = int(pend["tp"].sum())
    # the wrong-code flag against the simulator's wrong_uscc dirt
    wrong_truth = scored["dirt"].fill_null("").str.contains("wrong_uscc")
    flagged = scored["wrong_code"].fill_null(False)
    out["wrong_code"] = {
        "flagged_rate": round(float(flagged.mean() or 0.0), 4),
        "true_rate": round(float(wrong_truth.mean() or 0.0), 4),
        "flag_precision": round(int((flagged & wrong_truth).sum()) / max(1, int(flagged.sum())), 4),
        "flag_recall": round(int((flagged & wrong_truth).sum()) / max(1, int(wrong_truth.sum())), 4),
    }
    # registry rows of one true entity that became several entities (split), or one entity of several (merged)
    reg = pl.read_parquet(truth / "records.parquet").filter(pl.col("source_type") == "registry").select(
        pl.col("file").alias("source_file"), pl.col("row").alias("source_row"), "true_entity_id"
    )
    m = entities.select("entity_id", "source_file", "source_row").join(reg, on=["source_file", "source_row"])
    per_true = m.group_by("true_entity_id").agg(pl.col("entity_id").n_unique().alias("n"))
    per_ent = m.group_by("entity_id").agg(pl.col("true_entity_id").n_unique().alias("n"))
    out["duplicates"] = {
        "true_entities": per_true.height,
        "split_rate": round(per_true.filter(pl.col("n") > 1).height / max(1, per_true.height), 4),
        "merged_rate": round(per_ent.filter(pl.col("n") > 1).height / max(1, per_ent.height), 4),
    }
    out["by_dirt"] = dirt_errors(scored)
    out["by_dirt_complaint"] = dirt_errors(scored.filter(pl.col("source_type") == "complaint"))
    return out


def bench_scale(
    scale: str, seed: int, repeats: int, work: Path, splink: bool, earlier: dict[str, Any] | None = None
) -> dict[str, Any]:
    """Simulate (once), ingest (once), resolve ``repeats`` times; quality of the last run. ``repeats`` 0 reuses
    the lake's resolve outputs and the timings of ``earlier`` (a result of this scale in ``--out``)."""
    from radar.jobs import ingest
    from radar.jobs.pipeline import make_context, release_memory
    from radar.simulate import simulate_city

    city = work / f"city-{scale}-{seed}"
    scenario_file = city / "truth" / "scenario.json"
    if not scenario_file.exists():
        t0 = time.perf_counter()
        simulate_city(scale, seed, city)
        print(f"[{scale}] simulated in {time.perf_counter() - t0:.0f}s", flush=True)
    scenario = json.loads(scenario_file.read_text())
    as_of = date.fromisoformat(scenario["as_of"])
    lake = work / f"lake-{scale}-{seed}"
    ctx = make_context(lake, as_of, city / "raw", create=True)
    prepared = lake / ".bench-ingested"
    if not prepared.exists():
        t0 = time.perf_counter()
        ingest.run(ctx)
        release_memory(ctx.spark)
        prepared.write_text("ingest\n")
        print(f"[{scale}] ingest in {time.perf_counter() - t0:.0f}s", flush=True)
    if repeats == 0:
        if earlier is None or not (lake / "resolve").exists():
            raise SystemExit(f"--repeats 0 needs an earlier result of {scale} in --out and its lake in --work")
        result = dict(earlier)
    else:
        result = _resolve_runs(ctx, scale, seed, repeats, scenario)
        result["quality"] = quality(lake, city / "truth", as_of)
    if splink:
        from resolve_splink import compare_matchers

        result["splink_comparison"] = compare_matchers(
            ctx, lake, city / "truth", seed, result["resolve_seconds"]["median"]
        )
    ctx.spark.stop()
    return result


def score_existing(city: Path, lake_dir: Path, out: Path) -> dict[str, Any]:
    """Score an existing lake's resolve outputs against its city's truth (no stage, no Spark); merge into ``out``."""
    from radar.lake import Lake

    scenario = json.loads((city / "truth" / "scenario.json").read_text())
    as_of = date.fromisoformat(scenario["as_of"])
    lake = Lake(lake_dir).open(recover=False)
    links_at = lake.require("resolve/links", as_of).stat().st_mtime
    entities_at = lake.require("resolve/entities", as_of).stat().st_mtime
    q = quality(lake_dir, city / "truth", as_of)
    doc: dict[str, Any] = json.loads(out.read_text()) if out.exists() else {}
    scale = scenario["scale"]
    entry = {
        "scale": scale,
        "seed": scenario["seed"],
        "entities": scenario["entity_count"],
        "records": q["all"]["records"],
        "as_of": scenario["as_of"],
        "quality": q,
        "command": ".venv/bin/python bench/resolve.py " + " ".join(sys.argv[1:]),
        "date": date.today().isoformat(),
        "note": "scored the resolve outputs of an existing lake (its resolve stage run elsewhere, e.g. bench/city.py); "
        "no stage run here, so the timing is not part of this entry",
        "source": {
            "lake": str(lake_dir),
            "city": str(city),
            "links_published": datetime.fromtimestamp(links_at, UTC).isoformat(timespec="seconds"),
            "entities_published": datetime.fromtimestamp(entities_at, UTC).isoformat(timespec="seconds"),
        },
    }
    doc.setdefault("results", {})[scale] = entry
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(doc, indent=2, ensure_ascii=False, default=str), encoding="utf-8")
    return entry


def _resolve_runs(ctx: Any, scale: str, seed: int, repeats: int, scenario: dict[str, Any]) -> dict[str, Any]:
    """Run the resolve stage ``repeats`` times; its timings and figures."""
    from radar.jobs import resolve
    from radar.jobs.pipeline import release_memory

    runs: list[float] = []
    figures: dict[str, Any] = {}
    for r in range(repeats):
        t0 = time.perf_counter()
        figures = resolve.run(ctx)
        runs.append(round(time.perf_counter() - t0, 1))
        release_memory(ctx.spark)
        print(f"[{scale}] resolve run {r + 1}: {runs[-1]:.1f}s", flush=True)
    seconds = statistics.median(runs)
    records = figures["totals"]["records"]
    return {
        "scale": scale,
        "seed": seed,
        "entities": figures["entities"],
        "records": records,
        "as_of": scenario["as_of"],
        "resolve_seconds": {"median": seconds, "runs": runs},
        "records_linked_per_second": round(records / seconds) if seconds else None,
        "run_figures": {
            k: figures["totals"][k]
            for k in ("linked_rate", "wrong_code_rate", "duplicate_code_rate", "review_queue", "match_model",
                      "match_second_stage")
            if k in figures["totals"]
        },
    }


def _print(res: dict[str, Any]) -> None:
    q = res["quality"]
    timing = (f"; resolve median {res['resolve_seconds']['median']}s ({res['records_linked_per_second']} records/s)"
              if "resolve_seconds" in res else " (scored an existing lake: no timing)")
    print(f"\n{res['scale']}: {res['entities']} entities, {res['records']} records{timing}")
    for name, m in (("all", q["all"]), ("complaints", q["complaint"]), ("auto accepted", q["auto_accepted"]),
                    ("name / name+address", q["probabilistic_accepted"])):
        print(f"  {name:<22} P {m['precision']:.4f}  R {m['recall']:.4f}  F1 {m['f1']:.4f}  "
              f"(tp {m['tp']}, fp {m['fp']}, fn {m['fn']})")
    for st, m in q["by_source"].items():
        print(f"    {st:<20} P {m['precision']:.4f}  R {m['recall']:.4f}  F1 {m['f1']:.4f}  n={m['records']}")
    print(f"  review share {q['review_share']:.4f} ({q['review_pending']} pending, "
          f"{q['review_candidates_right']} with the right candidate)")
    run = res.get("run_figures", {})
    print(f"  wrong code {q['wrong_code']}; duplicates {q['duplicates']}; "
          f"run: wrong_code_rate {run.get('wrong_code_rate')}, "
          f"duplicate_code_rate {run.get('duplicate_code_rate')}")
    worst = sorted(q["by_dirt"].items(), key=lambda kv: -(kv[1]["fp"] + kv[1]["fn"]))[:8]
    print("  errors by dirt type: " + "; ".join(f"{d} fp {v['fp']} fn {v['fn']} / {v['records']}" for d, v in worst))
    if "splink_comparison" in res:
        print("  matcher comparison:", json.dumps(res["splink_comparison"].get("summary"), ensure_ascii=False))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scales", nargs="+", default=["small"])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--work", type=Path, default=Path("/tmp/radar-bench-resolve"))
    ap.add_argument("--splink", action="store_true", help="also match with Splink (pip install '.[splink]')")
    ap.add_argument("--out", type=Path, default=Path("bench/results/resolve.json"))
    ap.add_argument("--city", type=Path, help="score an existing lake against this city's truth/ (with --lake)")
    ap.add_argument("--lake", type=Path, help="the existing lake to score (with --city); no stage is run")
    args = ap.parse_args()
    if (args.city is None) != (args.lake is None):
        ap.error("--city and --lake go together")
    if args.city is not None:
        _print(score_existing(args.city, args.lake, args.out))
        print(f"written {args.out}", flush=True)
        return
    args.work.mkdir(parents=True, exist_ok=True)
    doc: dict[str, Any] = json.loads(args.out.read_text()) if args.out.exists() else {}
    doc.setdefault("results", {})
    for scale in args.scales:
        res = bench_scale(scale, args.seed, args.repeats, args.work, args.splink, doc["results"].get(scale))
        _print(res)
        doc["results"][scale] = res
        doc["machine"] = {"cpus": os.cpu_count(), "python": platform.python_version(),
                          "platform": platform.platform()}
        doc["date"] = time.strftime("%Y-%m-%d %H:%M")
        command = ".venv/bin/python bench/resolve.py " + " ".join(
            ["--scales", scale, "--repeats", str(args.repeats), "--seed", str(args.seed)]
            + (["--splink"] if args.splink else [])
        )
        if args.repeats:
            res["command"] = command
        if args.splink:
            res["splink_comparison"]["command"] = command
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(doc, indent=2, ensure_ascii=False, default=str), encoding="utf-8")
        print(f"written {args.out}", flush=True)


if __name__ == "__main__":
    main()
