"""The ingest job's speed against its floor, and a file larger than the driver's memory.

For each scale: simulate the city once (kept in ``--work`` and reused), then ``--repeats`` times

* run the ingest job into a fresh lake (cold: no parse cache) and time it;
* copy the same files with plain Spark, CSV to Parquet, every column as text (the floor: the reading and
  writing any ingest pays, with none of the header mapping, typing, USCC checks, quarantine, natural keys
  or data-quality report);
* run the ingest job again into the same lake (warm: every file unchanged, so no file is parsed and no table
  is written: each is linked from the one already published);
* run it once more with one new file (a second 12315 complaints batch holding half the rows of the newest
  one): that file is parsed and only the tables it feeds (complaints, quarantine) are written.

It prints and writes medians, rows per second and ``cold / floor``.

``--big-gb G`` also writes one licence export of more than G GB (the small city's licences, repeated with
distinct decision numbers, in their original encoding and header style) and ingests it in a separate Spark
driver with ``--big-driver-memory`` of heap (default 1g, less than the file): the job must stream it, never
collect it, and reconcile its rows.

    .venv/bin/python bench/ingest.py --scales small city --repeats 3
    .venv/bin/python bench/ingest.py --scales small --repeats 3 --big-gb 1.1
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time
from datetime import date
from pathlib import Path
from typing import Any

os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))

from stages import csv_copy_floor  # noqa: E402


def _city(scale: str, seed: int, work: Path) -> tuple[Path, date]:
    from radar.simulate import simulate_city

    city = work / f"city-{scale}-{seed}"
    scenario_file = city / "truth" / "scenario.json"
    if not scenario_file.exists():
        t0 = time.perf_counter()
        simulate_city(scale, seed, city)
        print(f"[{scale}] simulated in {time.perf_counter() - t0:.0f}s", flush=True)
    return city, date.fromisoformat(json.loads(scenario_file.read_text())["as_of"])


def _context(spark: Any, lake_dir: Path, as_of: date, input_dir: Path) -> Any:
    from radar.config import policy, profile, resolve_paths, sources
    from radar.jobs.context import RunContext
    from radar.lake import Lake

    lake = Lake(lake_dir).open(create=True)
    return RunContext(spark, lake, as_of, policy(), sources(), resolve_paths(profile(), lake.root), input_dir=input_dir)


def _timed_ingest(spark: Any, lake_dir: Path, as_of: date, raw: Path) -> tuple[float, dict[str, Any]]:
    from radar.jobs import ingest

    ctx = _context(spark, lake_dir, as_of, raw)
    t0 = time.perf_counter()
    report = ingest.run(ctx)
    return time.perf_counter() - t0, report


def _rows(report: dict[str, Any]) -> tuple[int, int, int]:
    files = [f for f in report["files"].values() if f.get("loaded")]
    return (
        sum(f["rows_in"] for f in files),
        sum(f["accepted"] for f in files),
        sum(f["quarantined"] for f in files),
    )


def with_new_batch(raw: Path, out: Path) -> Path:
    """``out``: every file of ``raw`` (symbolic links) and a new complaints batch, the first half of the rows of
    the newest complaints file (records sent again)."""
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    for p in raw.iterdir():
        if p.is_file():
            (out / p.name).symlink_to(p.resolve())
    newest = sorted(p for p in raw.iterdir() if p.name.startswith("12315") and p.suffix == ".csv")[-1]
    lines = newest.read_bytes().splitlines(keepends=True)
    (out / "12315投诉举报_补充批次.csv").write_bytes(b"".join(lines[: 1 + (len(lines) - 1) // 2]))
    return out


def bench_scale(spark: Any, scale: str, seed: int, repeats: int, work: Path) -> dict[str, Any]:
    """Cold and warm ingest against the CSV-to-Parquet floor, medians of ``repeats`` runs."""
    from radar.config import sources

    city, as_of = _city(scale, seed, work)
    raw = city / "raw"
    plus = with_new_batch(raw, work / f"raw-plus-{scale}")
    cold, warm, floors, new_file = [], [], [], []
    phases: list[dict[str, float]] = []
    loads: list[float] = []  # the 1-minute load average after each run's floor (other work inflates timings)
    report: dict[str, Any] = {}
    for r in range(repeats):
        lake = work / f"lake-{scale}-{r}"
        shutil.rmtree(lake, ignore_errors=True)
        secs, report = _timed_ingest(spark, lake, as_of, raw)
        cold.append(secs)
        phases.append(report["phase_seconds"])
        floors.append(csv_copy_floor(spark, raw, work / f"floor-{scale}-{r}"))
        loads.append(round(os.getloadavg()[0], 2))
        secs_warm, again = _timed_ingest(spark, lake, as_of, raw)
        warm.append(secs_warm)
        assert again["parse_cache"]["sources_parsed"] == 0, "an unchanged file was parsed again"
        assert len(again["tables_reused"]) == len(sources().record_types) + 1, "an unchanged table was written again"
        secs_new, added = _timed_ingest(spark, lake, as_of, plus)
        new_file.append(secs_new)
        assert added["parse_cache"]["sources_parsed"] == 1, added["parse_cache"]
        print(f"[{scale}] run {r + 1}: cold {cold[-1]:.1f}s, floor {floors[-1]:.1f}s, warm {warm[-1]:.1f}s, "
              f"one new file {new_file[-1]:.1f}s ({len(added['tables_reused'])} tables linked)", flush=True)
        shutil.rmtree(lake, ignore_errors=True)
        shutil.rmtree(work / f"floor-{scale}-{r}", ignore_errors=True)
    rows_in, accepted, quarantined = _rows(report)
    c, f, w = statistics.median(cold), statistics.median(floors), statistics.median(warm)
    return {
        "scale": scale,
        "seed": seed,
        "raw_files": len([p for p in raw.iterdir() if p.is_file()]),
        "raw_bytes": sum(p.stat().st_size for p in raw.iterdir() if p.is_file()),
        "rows_in": rows_in,
        "accepted": accepted,
        "quarantined": quarantined,
        "reconciled": rows_in == accepted + quarantined,
        "repeats": repeats,
        "cold_seconds": {"median": round(c, 1), "runs": [round(x, 1) for x in cold]},
        "cold_phase_seconds": phases,
        "load_average_after_floor": loads,
        "floor_csv_to_parquet_seconds": {"median": round(f, 1), "runs": [round(x, 1) for x in floors]},
        "warm_seconds": {"median": round(w, 1), "runs": [round(x, 1) for x in warm]},
        "one_new_file_seconds": {"median": round(statistics.median(new_file), 1),
                                 "runs": [round(x, 1) for x in new_file]},
        "cold_to_floor_ratio": round(c / f, 2) if f else None,
        "rows_per_second_cold": round(rows_in / c) if c else None,
        "rows_per_second_floor": round(rows_in / f) if f else None,
    }


# ---------------------------------------------------------------- a file larger than the driver's memory
def write_big_licence_file(source: Path, out: Path, min_bytes: int) -> dict[str, Any]:
    """Repeat ``source``'s data rows (a licence export) into ``out`` until it holds ``min_bytes``, with the
    decision number (XK_WSH / 行政许可决定文书号 / decision_no) suffixed by the copy so every row is its own
    record; same encoding (UTF-8, BOM kept) and headers. Streams: never holds more than one copy."""
    raw = source.read_bytes()
    bom = raw.startswith(b"\xef\xbb\xbf")
    try:
        text, encoding = raw.decode("utf-8-sig"), "utf-8"
    except UnicodeDecodeError:
        text, encoding = raw.decode("gb18030"), "gb18030"
    lines = text.splitlines()
    header = next(csv.reader([lines[0]]))
    names = {"XK_WSH", "行政许可决定文书号", "decision_no"}
    col = next(i for i, h in enumerate(header) if h.strip() in names)
    # line by line: a dirty line (a stray quote, a wrong column count) is copied as it is, dirt and all
    body: list[list[str] | str] = []
    for line in lines[1:]:
        try:
            row = next(csv.reader([line]))
        except (csv.Error, StopIteration):
            row = []
        body.append(row if len(row) == len(header) and '"' not in line else line)
    out.parent.mkdir(parents=True, exist_ok=True)
    copies = written_rows = 0
    with out.open("wb") as fh:
        if bom:
            fh.write(b"\xef\xbb\xbf")
        buf = io.StringIO()
        csv.writer(buf, lineterminator="\n").writerow(header)
        fh.write(buf.getvalue().encode(encoding))
        while fh.tell() < min_bytes:
            copies += 1
            buf = io.StringIO()
            w = csv.writer(buf, lineterminator="\n")
            for row in body:
                if isinstance(row, str):
                    buf.write(row + "\n")
                    continue
                row = list(row)
                if row[col]:
                    row[col] = f"{row[col]}-{copies}"
                w.writerow(row)
            written_rows += len(body)
            fh.write(buf.getvalue().encode(encoding))
    return {"bytes": out.stat().st_size, "rows": written_rows, "copies": copies, "encoding": encoding}


BIG_CHILD = r"""
import json, sys, time
from datetime import date
from pathlib import Path
sys.path.insert(0, {bench!r})
from ingest import _context, _rows
from radar.config import profile
from radar.spark import spark_session
from radar.jobs import ingest

prof = profile()
prof = prof.model_copy(update={{"spark": prof.spark.model_copy(update={{"driver_memory": {mem!r}}})}})
spark = spark_session(prof, app_name="radar bench big file")
heap = spark.sparkContext._jvm.java.lang.Runtime.getRuntime().maxMemory()
ctx = _context(spark, Path({lake!r}), date.fromisoformat({as_of!r}), Path({raw!r}))
t0 = time.perf_counter()
report = ingest.run(ctx)
secs = time.perf_counter() - t0
rows_in, accepted, quarantined = _rows(report)
print("RESULT " + json.dumps({{"seconds": round(secs, 1), "driver_max_heap_bytes": heap, "rows_in": rows_in,
                              "accepted": accepted, "quarantined": quarantined}}))
"""


def bench_big_file(work: Path, seed: int, gigabytes: float, driver_memory: str) -> dict[str, Any]:
    """Write a licence file of more than ``gigabytes`` GB and ingest it with a driver heap smaller than it."""
    city, as_of = _city("small", seed, work)
    source = next(p for p in (city / "raw").iterdir() if "行政许可" in p.name and p.suffix == ".csv")
    raw = work / "big" / "raw"
    shutil.rmtree(work / "big", ignore_errors=True)
    t0 = time.perf_counter()
    made = write_big_licence_file(source, raw / "行政许可_大文件.csv", int(gigabytes * 1024**3))
    print(f"[big] wrote {made['bytes'] / 1024**3:.2f} GB ({made['rows']} rows) in "
          f"{time.perf_counter() - t0:.0f}s", flush=True)
    code = BIG_CHILD.format(bench=str(ROOT / "bench"), mem=driver_memory, lake=str(work / "big" / "lake"),
                            as_of=as_of.isoformat(), raw=str(raw))
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    line = next((x for x in proc.stdout.splitlines() if x.startswith("RESULT ")), None)
    if proc.returncode != 0 or line is None:
        return {"file": made, "driver_memory": driver_memory, "failed": proc.stderr[-2000:]}
    res = json.loads(line.removeprefix("RESULT "))
    shutil.rmtree(work / "big", ignore_errors=True)
    return {
        "file": made,
        "driver_memory": driver_memory,
        **res,
        "file_to_heap_ratio": round(made["bytes"] / res["driver_max_heap_bytes"], 2),
        "reconciled": res["rows_in"] == res["accepted"] + res["quarantined"] == made["rows"],
        "rows_per_second": round(res["rows_in"] / res["seconds"]) if res["seconds"] else None,
        "mb_per_second": round(made["bytes"] / 1024**2 / res["seconds"], 1) if res["seconds"] else None,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scales", nargs="*", default=["small"])
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--big-gb", type=float, default=0.0, help="also ingest one file of this many GB (0: skip)")
    ap.add_argument("--big-driver-memory", default="1g")
    ap.add_argument("--work", type=Path, default=Path("/tmp/radar-bench-ingest"))
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "ingest.json")
    args = ap.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    results = json.loads(args.out.read_text()) if args.out.exists() else {}
    results.setdefault("scales", {})
    meta = {
        "command": "bench/ingest.py " + " ".join(sys.argv[1:]),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()},
        "date": time.strftime("%Y-%m-%d %H:%M"),
        "load_average_at_start": round(os.getloadavg()[0], 2),
    }
    if args.scales:
        from radar.config import profile
        from radar.spark import spark_session

        spark = spark_session(profile(), app_name="radar bench ingest")
        for scale in args.scales:
            res = bench_scale(spark, scale, args.seed, args.repeats, args.work)
            results["scales"][scale] = {**res, **meta}
            print(json.dumps(res, indent=1), flush=True)
            args.out.parent.mkdir(parents=True, exist_ok=True)
            args.out.write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n")
        spark.stop()
    if args.big_gb > 0:
        results["big_file"] = {**bench_big_file(args.work, args.seed, args.big_gb, args.big_driver_memory), **meta}
        print(json.dumps(results["big_file"], indent=1), flush=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
