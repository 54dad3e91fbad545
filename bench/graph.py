"""The related-party graph against the simulated city's truth, its job time, and GraphX vs large-star.

For each scale: simulate the city once (kept in ``--work`` and reused), run ingest, resolve and features
once into a lake, then run the graph stage ``--repeats`` times and report

* quality against ``truth/`` (the product never reads it): phoenix precision / recall (all simulated
  phoenix companies, and those founded in the last ``graph.new_entity_months``), ring-member precision /
  recall (all ring members, and members of rings with adverse events in two or more members at the as-of
  date, the rings the issue asks for);
* the graph stage's median wall time (seconds from the run report) against a floor: reading the stage's
  inputs and writing them back as Parquet, the I/O any graph job pays (``ratio_to_floor``);
* connected components by large-star/small-star and by GraphX (the Java shim of radar/graph/jvm) on the
  same graphs: the city's as-of graph, a random bipartite graph and a long chain; median seconds of
  ``--repeats`` runs, ``graphx_to_large_star`` ratio, and a check that both give the same partition.

    .venv/bin/python bench/graph.py --scales small --repeats 3
    .venv/bin/python bench/graph.py --scales small city --repeats 3 --out bench/results/graph.json

Results merge into the output JSON by scale, so scales can be run one at a time.

``--city CITY --lake LAKE`` only scores a lake that already exists (e.g. the one ``bench/city.py`` builds)
against that city's ``truth/``: no stage, no Spark (pandas and polars); the quality goes to
``scales.<the city's scale>.quality`` with the command and date beside it, the rest of the entry is kept.

    .venv/bin/python bench/graph.py --city /tmp/resolve_bench/city-city-7 --lake /tmp/city-lake
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import shutil
import statistics
import time
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")

ROOT = Path(__file__).resolve().parent.parent


def _pr(predicted: set[str], actual: set[str]) -> dict[str, Any]:
    tp = len(predicted & actual)
    return {
        "flagged": len(predicted),
        "actual": len(actual),
        "true_positives": tp,
        "precision": round(tp / len(predicted), 4) if predicted else None,
        "recall": round(tp / len(actual), 4) if actual else None,
    }


def truth_ids(entities: Any, truth_entities: Any) -> Any:
    """The truth's entity id of each lake entity (pandas Series indexed by the lake's entity_id).

    The lake knows an entity by the USCC its registry row carries: both spellings the truth holds (the
    code and the registry's, which may be wrong) map to the truth id.
    """
    import pandas as pd

    t = truth_entities
    by_code = (
        pd.concat([t[["uscc", "entity_id"]], t[["registry_uscc", "entity_id"]].rename(columns={"registry_uscc": "uscc"})])
        .dropna()
        .drop_duplicates("uscc")
    )
    return (
        entities[["entity_id", "uscc"]]
        .dropna(subset=["uscc"])
        .merge(by_code.rename(columns={"entity_id": "truth_id"}), on="uscc")
        .set_index("entity_id")["truth_id"]
    )


def evaluate(lake_dir: Path, truth: Path, as_of: date, new_entity_months: int) -> dict[str, Any]:
    """Phoenix and ring-member precision / recall of the lake's graph flags against the truth."""
    import pandas as pd

    from radar.lake import Lake

    lake = Lake(lake_dir).open(recover=False)  # a reader: never touch a lake another job may be writing
    flags = lake.read_polars("graph/flags", as_of).to_pandas()
    entities = lake.read_polars("resolve/entities", as_of).to_pandas()[["entity_id", "uscc"]]
    t_ent = pd.read_parquet(truth / "entities.parquet")
    lake_to_truth = truth_ids(entities, t_ent)

    def flagged(flag: str) -> set[str]:
        ids = flags.loc[flags["flag"] == flag, "entity_id"]
        return set(lake_to_truth.reindex(ids).dropna())

    phoenix = pd.read_parquet(truth / "phoenix.parquet")
    established = t_ent.set_index("entity_id")["established_date"]
    cutoff = pd.Timestamp(as_of) - pd.DateOffset(months=new_entity_months)
    all_phoenix = set(phoenix["entity_id"])
    recent = {e for e in all_phoenix if pd.Timestamp(established[e]) > cutoff}
    ph = flagged("phoenix")
    out: dict[str, Any] = {"phoenix": _pr(ph, all_phoenix)}
    out["phoenix_recent"] = _pr({e for e in ph if pd.Timestamp(established[e]) > cutoff}, recent)
    by_link = {}
    for link, grp in phoenix.groupby("link_type"):
        s = set(grp["entity_id"])
        by_link[link] = {"actual": len(s), "recall": round(len(s & ph) / len(s), 4)}
    out["phoenix_recall_by_link_type"] = by_link

    members = t_ent.dropna(subset=["ring_id"])
    members = members[members["ring_id"] != ""]
    ring_members = set(members["entity_id"])
    # rings with adverse events in two or more members at the as-of date (risky as the graph sees them)
    comps = lake.read_polars("graph/components", as_of).to_pandas()
    risky_lake = comps.loc[
        comps.get("is_risky", pd.Series(False, index=comps.index)).fillna(False), "entity_id"
    ]
    risky = set(lake_to_truth.reindex(risky_lake).dropna())
    n_risky = members.assign(r=members["entity_id"].isin(risky)).groupby("ring_id")["r"].sum()
    eligible_rings = set(n_risky[n_risky >= 2].index)
    eligible = set(members.loc[members["ring_id"].isin(eligible_rings), "entity_id"])
    rg = flagged("ring")
    out["ring"] = _pr(rg, ring_members)
    out["ring_eligible"] = {**_pr(rg & eligible, eligible), "rings": len(eligible_rings)}
    out["ring_eligible"]["precision"] = out["ring"]["precision"]
    out["flags"] = flags["flag"].value_counts().to_dict()
    return out


def score_existing(city: Path, lake_dir: Path, out: Path) -> dict[str, Any]:
    """Score an existing lake's graph flags against its city's truth (no stage, no Spark); merge into ``out``."""
    from radar.config import policy
    from radar.lake import Lake

    scenario = json.loads((city / "truth" / "scenario.json").read_text())
    as_of = date.fromisoformat(scenario["as_of"])
    lake = Lake(lake_dir).open(recover=False)
    flags_at = lake.require("graph/flags", as_of).stat().st_mtime
    resolved_at = lake.require("resolve/entities", as_of).stat().st_mtime
    source: dict[str, Any] = {}
    if resolved_at > flags_at:
        # ids map to the truth through resolve/entities: check the newer one still names the flagged entities
        import polars as pl

        flags = lake.read_polars("graph/flags", as_of).select("entity_id", "uscc")
        ents = lake.read_polars("resolve/entities", as_of).select("entity_id", pl.col("uscc").alias("_u"))
        j = flags.join(ents, on="entity_id", how="left")
        source["resolve_newer_than_flags"] = {
            "flag_ids_not_in_entities": flags.join(ents, on="entity_id", how="anti").height,
            "flag_uscc_differs": int((j["uscc"] != j["_u"]).sum()),
        }
        print(f"warning: resolve/entities was published after graph/flags: {source}", flush=True)
    quality = evaluate(lake_dir, city / "truth", as_of, policy().graph.new_entity_months)
    results = json.loads(out.read_text()) if out.exists() else {}
    entry = results.setdefault("scales", {}).setdefault(scenario["scale"], {})
    entry.update(
        {
            "scale": scenario["scale"],
            "seed": scenario["seed"],
            "entities": scenario["entity_count"],
            "as_of": scenario["as_of"],
            "quality": quality,
            "quality_source": {
                "command": "bench/graph.py " + " ".join(os.sys.argv[1:]),
                "date": date.today().isoformat(),
                "note": "scored the graph flags of an existing lake (its graph stage run elsewhere, e.g. bench/city.py); "
                "no stage run here, so no graph_stage timing or components comparison for this scale",
                "graph_flags_published": datetime.fromtimestamp(flags_at, UTC).isoformat(timespec="seconds"),
                **source,
            },
        }
    )
    _write(out, results)
    return quality


# ---------------------------------------------------------------- graph stage time
def _floor_seconds(spark: Any, lake_dir: Path, as_of: date, out: Path) -> float:
    """Read the graph stage's inputs and write them back as Parquet: the I/O floor of the job."""
    from radar.lake import Lake

    lake = Lake(lake_dir).open()
    t0 = time.perf_counter()
    for i, table in enumerate(("resolve/entities", "resolve/attributes", "features/events")):
        lake.read_spark(spark, table, as_of).write.mode("overwrite").parquet(str(out / f"t{i}"))
    return time.perf_counter() - t0


def bench_scale(scale: str, seed: int, repeats: int, work: Path, algorithms: list[str]) -> dict[str, Any]:
    from radar.config import policy
    from radar.jobs.pipeline import make_context, run_all
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
    prepared = lake / ".bench-prepared"
    if not prepared.exists():
        t0 = time.perf_counter()
        run_all(city / "raw", as_of, lake, stages=["ingest", "resolve", "features"])
        prepared.write_text("ingest resolve features\n")
        print(f"[{scale}] ingest+resolve+features in {time.perf_counter() - t0:.0f}s", flush=True)
    runs = []
    for r in range(repeats):
        report = run_all(city / "raw", as_of, lake, stages=["graph"])
        runs.append(report["stages"]["graph"]["seconds"])
        print(f"[{scale}] graph stage run {r + 1}: {runs[-1]:.1f}s", flush=True)
    ctx = make_context(lake, as_of)
    floors = []
    for _ in range(repeats):
        floors.append(_floor_seconds(ctx.spark, lake, as_of, work / f"floor-{scale}"))
        shutil.rmtree(work / f"floor-{scale}", ignore_errors=True)
    graph_s, floor_s = statistics.median(runs), statistics.median(floors)
    result: dict[str, Any] = {
        "scale": scale,
        "seed": seed,
        "entities": scenario["entity_count"],
        "as_of": scenario["as_of"],
        "graph_stage": {
            "median_seconds": round(graph_s, 1),
            "runs": runs,
            "floor_read_write_seconds": round(floor_s, 1),
            "ratio_to_floor": round(graph_s / floor_s, 2) if floor_s else None,
            "figures": report["stages"]["graph"],
        },
        "quality": evaluate(lake, city / "truth", as_of, policy().graph.new_entity_months),
    }
    if algorithms:
        result["components"] = {"pending": True}  # filled by main once the quality figures are saved
    return result


# ---------------------------------------------------------------- components: large-star vs GraphX
def _chain(n: int) -> list[tuple[str, str]]:
    """Entities e0 .. e(n-1) in a chain through shared attributes: e_i - a_i - e_(i+1)."""
    rows = [(f"e{i:07d}", f"a{i:07d}") for i in range(n - 1)]
    return rows + [(f"e{i + 1:07d}", f"a{i:07d}") for i in range(n - 1)]


def _random_bipartite(n_entities: int, n_attributes: int, degree: float, seed: int) -> list[tuple[str, str]]:
    rng = random.Random(seed)
    k = int(n_entities * degree)
    return list(
        {(f"e{rng.randrange(n_entities):07d}", f"a{rng.randrange(n_attributes):07d}") for _ in range(k)}
    )


def _partition(df: Any) -> frozenset[frozenset[str]]:
    groups: dict[str, set[str]] = {}
    for row in df.collect():
        groups.setdefault(row["component_id"], set()).add(row["entity_id"])
    return frozenset(frozenset(g) for g in groups.values())


def compare_algorithms(
    spark: Any, lake_dir: Path, as_of: date, repeats: int, algorithms: list[str]
) -> dict[str, Any]:
    """Median seconds of connected components per algorithm on the same graphs; same partitions?"""
    from radar.config import policy
    from radar.graph import active_attribute_edges, connected_components
    from radar.lake import Lake

    lake = Lake(lake_dir).open()
    g = policy().graph
    city_edges = (
        active_attribute_edges(
            lake.read_spark(spark, "resolve/attributes", as_of), as_of, g.hub_cap, g.link_types
        )
        .where("NOT is_hub")
        .select("entity_id", "node_id")
        .localCheckpoint()
    )
    schema = "entity_id string, node_id string"
    graphs = {
        "city_as_of_graph": city_edges,
        "random_bipartite_20k": spark.createDataFrame(_random_bipartite(20000, 15000, 1.2, 1), schema),
        "chain_100": spark.createDataFrame(_chain(100), schema),
    }
    out: dict[str, Any] = {}
    for name, edges in graphs.items():
        edges = edges.localCheckpoint()
        entry: dict[str, Any] = {"edges": edges.count()}
        parts = {}
        for algo in algorithms:
            secs = []
            try:
                for _ in range(repeats):
                    t0 = time.perf_counter()
                    comps = connected_components(edges, 1000, algorithm=algo).localCheckpoint()
                    secs.append(time.perf_counter() - t0)
            except Exception as e:  # e.g. GraphX running out of driver memory on a long chain
                entry[algo] = {"error": f"{type(e).__name__}: {str(e).splitlines()[0][:300]}"}
                print(f"  components {name} {algo}: failed ({entry[algo]['error']})", flush=True)
                continue
            parts[algo] = _partition(comps)
            entry[algo] = {
                "median_seconds": round(statistics.median(secs), 2),
                "runs": [round(s, 2) for s in secs],
            }
            print(f"  components {name} {algo}: {entry[algo]['median_seconds']}s", flush=True)
        if "large_star" in parts and "graphx" in parts:
            entry["graphx_to_large_star"] = round(
                entry["graphx"]["median_seconds"] / entry["large_star"]["median_seconds"], 2
            )
            entry["same_partition"] = parts["graphx"] == parts["large_star"]
        out[name] = entry
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scales", nargs="+", default=["small"])
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--work", type=Path, default=Path("/tmp/radar-bench-graph"))
    ap.add_argument(
        "--algorithms",
        nargs="*",
        default=["large_star", "graphx"],
        help="components algorithms to compare (none: skip the comparison)",
    )
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "graph.json")
    ap.add_argument(
        "--city", type=Path, help="score an existing lake against this city's truth/ (with --lake)"
    )
    ap.add_argument("--lake", type=Path, help="the existing lake to score (with --city); no stage is run")
    args = ap.parse_args()
    if (args.city is None) != (args.lake is None):
        ap.error("--city and --lake go together")
    if args.city is not None:
        quality = score_existing(args.city, args.lake, args.out)
        print(json.dumps(quality, indent=1), flush=True)
        print(f"wrote {args.out}")
        return
    args.work.mkdir(parents=True, exist_ok=True)
    results = json.loads(args.out.read_text()) if args.out.exists() else {}
    results.setdefault("scales", {})
    for scale in args.scales:
        res = bench_scale(scale, args.seed, args.repeats, args.work, args.algorithms)
        results["scales"][scale] = res
        print(json.dumps(res["quality"], indent=1), flush=True)
        _write(args.out, results)
        if args.algorithms:
            from radar.jobs.pipeline import make_context

            lake = args.work / f"lake-{scale}-{args.seed}"
            as_of = date.fromisoformat(res["as_of"])
            res["components"] = compare_algorithms(
                make_context(lake, as_of).spark, lake, as_of, args.repeats, args.algorithms
            )
        results.update(
            {
                "command": "bench/graph.py " + " ".join(os.sys.argv[1:]),
                "machine": {
                    "cpus": os.cpu_count(),
                    "python": platform.python_version(),
                    "platform": platform.platform(),
                },
                "date": date.today().isoformat(),
            }
        )
        _write(args.out, results)
    print(f"wrote {args.out}")


def _write(out: Path, results: dict[str, Any]) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()
