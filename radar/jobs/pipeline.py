"""``radar run``: every stage in order, one Spark session, one run report.

ingest -> resolve -> features -> graph -> train -> score -> alerts. Each stage is its own job module that
reads its inputs from the lake and publishes its outputs atomically, so a stage can also run on its own.
"""

from __future__ import annotations

import gc
import json
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from pyspark.sql import SparkSession

from radar import __version__
from radar.config import Profile, policy, profile, resolve_paths, sources
from radar.errors import InputError
from radar.jobs import alerts, features, graph, ingest, resolve, score, train
from radar.jobs.context import RunContext
from radar.lake import Lake

RUN_REPORT = "reports/run"
STAGES: dict[str, Callable[..., dict[str, Any]]] = {  # each takes the RunContext (and its own options)
    "ingest": ingest.run,
    "resolve": resolve.run,
    "features": features.run,
    "graph": graph.run,
    "train": train.run,
    "score": score.run,
    "alerts": alerts.run,
}
# record types that describe the registry rather than dated events: they do not bound the data period
STATIC_TYPES = {"registry", "shareholder", "key_personnel"}


def check_as_of(report: dict[str, Any], as_of: date, min_history_days: int, max_days_after: int) -> None:
    """Refuse an as-of date outside the data: too early for any history, or long after the last record."""
    ranges = [v for k, v in report.get("event_dates", {}).items() if k not in STATIC_TYPES]
    if not ranges:
        raise InputError("the input holds no dated records (penalties, complaints, lists, checks ...)")
    first = min(date.fromisoformat(a) for a, _ in ranges)
    last = max(date.fromisoformat(b) for _, b in ranges)
    if as_of < first + timedelta(days=min_history_days):
        raise InputError(
            f"as-of date {as_of} is outside the data: records start {first}, and at least {min_history_days} "
            f"days of history are needed (earliest possible as-of: {first + timedelta(days=min_history_days)})"
        )
    if as_of > last + timedelta(days=max_days_after):
        raise InputError(
            f"as-of date {as_of} is outside the data: the last record is dated {last} "
            f"(latest possible as-of: {last + timedelta(days=max_days_after)})"
        )


def make_context(lake_dir: Path, as_of: date, input_dir: Path | None = None, profile_name: str | None = None,
                 create: bool = False) -> RunContext:
    """Open the lake and start Spark for a run (or one stage)."""
    from radar.spark import spark_session

    lake = Lake(lake_dir).open(create=create)
    prof: Profile = resolve_paths(profile(profile_name), lake.root)
    spark = spark_session(prof, app_name=f"radar {as_of}")
    return RunContext(spark, lake, as_of, policy(), sources(), prof, input_dir=input_dir)


def release_memory(spark: SparkSession) -> None:
    """Free what a finished stage kept: cached tables, and (through a Python and a JVM garbage collection,
    which let Spark's context cleaner see them as unreachable) the blocks of its local checkpoints. A stage
    leaves nothing the next one needs in memory: stages talk through the lake."""
    spark.catalog.clearCache()
    gc.collect()
    jvm = getattr(spark.sparkContext, "_jvm", None)
    if jvm is not None:
        jvm.System.gc()


def run_all(
    input_dir: Path,
    as_of: date,
    lake_dir: Path,
    profile_name: str | None = None,
    stages: list[str] | None = None,
    progress: Callable[[str, dict[str, Any]], None] | None = None,
    rewrite_tables: bool = False,
) -> dict[str, Any]:
    """Run the stages (all by default) and publish the run report; returns it. ``rewrite_tables``: the ingest
    stage writes every table again, even those whose inputs are unchanged (which it otherwise links)."""
    input_dir = Path(input_dir)
    if not input_dir.exists():
        raise InputError(f"{input_dir}: input folder not found")
    if not input_dir.is_dir() or not any(p.is_file() for p in input_dir.rglob("*")):
        raise InputError(f"{input_dir}: input folder is empty (expected export files)")
    # one writing job per lake: taken before Spark starts, so a second run is told at once
    with Lake(lake_dir).open(create=True).run_lock(f"radar run --as-of {as_of}"):
        ctx = make_context(lake_dir, as_of, input_dir, profile_name, create=True)
        ctx.report.update({"radar": __version__, "as_of": ctx.as_of_s, "input": str(input_dir.resolve())})
        chosen = stages or list(STAGES)
        options: dict[str, dict[str, Any]] = {"ingest": {"reuse_tables": not rewrite_tables}}
        for name in STAGES:
            if name not in chosen:
                continue
            with ctx.stage(name) as info:
                info.update(STAGES[name](ctx, **options.get(name, {})))
                if name == "ingest":
                    check_as_of(info, as_of, ctx.policy.run.min_history_days,
                                ctx.policy.run.max_days_after_last_record)
                    info.pop("files", None)  # per-file figures live in the data-quality report
            release_memory(ctx.spark)
            if progress:
                progress(name, ctx.report["stages"][name])
        ctx.lake.publish_json(RUN_REPORT, as_of, ctx.report)
    return json.loads(json.dumps(ctx.report, default=str))
