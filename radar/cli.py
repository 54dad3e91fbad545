"""The ``radar`` command line: simulate, run, export, plan, dashboard, users.

Every problem the user can act on ends with one clear message and a non-zero exit (never a bare Java
stack trace); ``--debug`` shows the full traceback.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

import typer
from rich.console import Console

from radar.errors import RadarError

app = typer.Typer(help="Credit Radar: risk monitoring and early warning for credit-based market supervision.",
                  no_args_is_help=True, pretty_exceptions_enable=False)
export_app = typer.Typer(help="Export lake tables as CSV.", no_args_is_help=True)
users_app = typer.Typer(help="Dashboard users.", no_args_is_help=True)
plan_app = typer.Typer(help="双随机 inspection plans: draw (default) and verify.")
bench_app = typer.Typer(help="Real-data benchmarks.", no_args_is_help=True)
app.add_typer(export_app, name="export")
app.add_typer(users_app, name="users")
app.add_typer(plan_app, name="plan")
app.add_typer(bench_app, name="bench")
model_app = typer.Typer(help="The risk model: history and rollback.", no_args_is_help=True)
app.add_typer(model_app, name="model")
features_app = typer.Typer(help="The feature catalog (conf/features.yaml).", no_args_is_help=True)
app.add_typer(features_app, name="features")

console = Console(stderr=True, soft_wrap=True)
DEBUG = {"on": False}


@app.callback()
def main(debug: bool = typer.Option(False, "--debug", help="Show full tracebacks on errors.")) -> None:
    """Credit Radar."""
    DEBUG["on"] = debug
    # library chatter (MLflow's database setup, Alembic) would bury the stage lines
    for name in ("mlflow", "alembic", "py4j"):
        logging.getLogger(name).setLevel(logging.WARNING)
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")


def _parse_date(text: str, option: str = "--as-of") -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise RadarError(f"{option} must be a date like 2024-06-30, not '{text}'") from None


def _guard(fn: Callable[[], Any]) -> Any:
    """Run a command body, turning known errors into one message and an exit code."""
    try:
        return fn()
    except RadarError as e:
        if DEBUG["on"]:
            raise
        console.print(f"[bold red]error:[/] {e}")
        raise typer.Exit(2) from None
    except Exception as e:  # Spark, Py4J and other failures: one line, the cause first
        if DEBUG["on"]:
            raise
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        console.print(f"[bold red]failed:[/] {type(e).__name__}: {first[:500]}\n(run with --debug for details)")
        raise typer.Exit(3) from None


# ---------------------------------------------------------------------------------------------- simulate
@app.command()
def simulate(
    scale: str = typer.Option("tiny", help="tiny (~2,000 entities), small (~20,000) or city (~300,000)."),
    seed: int = typer.Option(7, help="Random seed: the same seed gives the same city."),
    out: Path = typer.Option(..., help="Output folder (raw/ and truth/ are written inside)."),
) -> None:
    """Write a simulated Chaoyang: raw exports with real headers and dirt, and the ground truth."""

    def body() -> None:
        from radar.simulate import simulate_city

        t0 = time.perf_counter()
        scenario = simulate_city(scale, seed, out)
        console.print(
            f"simulated {scale} city (seed {seed}) in {time.perf_counter() - t0:.1f}s -> {out}\n"
            f"  run it with: radar run --input {out / 'raw'} --as-of {scenario['as_of']} --lake LAKE"
        )

    _guard(body)


# ---------------------------------------------------------------------------------------------- run
@app.command()
def run(
    input: Path = typer.Option(..., "--input", help="Folder of raw exports (CSV / JSON lines)."),
    as_of: str = typer.Option(..., "--as-of", help="The as-of date YYYY-MM-DD."),
    lake: Path = typer.Option(..., "--lake", help="Lake folder for every output."),
    profile: str = typer.Option(None, "--profile", help="Deployment profile from conf/radar.yaml (default local)."),
    stage: list[str] = typer.Option(None, "--stage", help="Run only these stages (repeatable)."),
    rewrite_tables: bool = typer.Option(
        False, "--rewrite-tables",
        help="Ingest: write every table again, even those whose inputs are unchanged (otherwise linked).",
    ),
) -> None:
    """Run every stage: ingest, resolve, features, graph, train, score, alerts."""

    def body() -> None:
        from radar.jobs.pipeline import STAGES, run_all

        d = _parse_date(as_of)
        unknown = [s for s in stage or [] if s not in STAGES]
        if unknown:
            raise RadarError(f"unknown stage(s) {', '.join(unknown)} (stages: {', '.join(STAGES)})")

        def progress(name: str, info: dict[str, Any]) -> None:
            console.print(f"  [green]✓[/] {name:<9} {info.get('seconds', 0):>7.1f}s  {_summary(name, info)}")

        console.print(f"radar run: as-of {d}, input {input}, lake {lake}")
        report = run_all(input, d, lake, profile, stage or None, progress, rewrite_tables=rewrite_tables)
        total = sum(s.get("seconds", 0) for s in report["stages"].values())
        console.print(f"done in {total:.1f}s; run report: {Path(lake) / 'reports/run' / f'as_of={d}'}")

    _guard(body)


def _summary(stage: str, info: dict[str, Any]) -> str:
    if stage == "ingest":
        rt = info.get("record_types", {})
        linked = len(info.get("tables_reused", []))
        return (f"{sum(v['accepted'] for v in rt.values())} rows accepted, "
                f"{sum(v['quarantined'] for v in rt.values())} quarantined, {len(info.get('files_rejected', []))} files rejected"
                + (f", {linked} tables unchanged" if linked else ""))
    if stage == "resolve":
        n = sum(v["records"] for v in info.get("links", {}).values())
        un = sum(v["by_method"].get("unlinked", 0) for v in info.get("links", {}).values())
        return f"{info.get('entities')} entities, {n} records linked ({un} unlinked)"
    if stage == "features":
        return f"{info.get('events')} events, {info.get('features')} features x {len(info.get('snapshots', []))} snapshots"
    if stage == "graph":
        return f"{info.get('components', '?')} components, flags {info.get('flags', {})}"
    if stage == "train":
        v = info.get("validation", {}).get("model", {})
        return (f"model v{info.get('version')} " + (f"AUC {v.get('auc')}, AUC-PR {v.get('auc_pr')}, lift@10% "
                f"{v.get('lift_at_10pct')}; {info.get('decision')}" if info.get("trained") else f"({info.get('reason')})"))
    if stage == "score":
        return f"{info.get('scored')} entities scored by v{info.get('model_version')}: {info.get('grades')}"
    if stage == "alerts":
        return f"{info.get('raised')} alerts {info.get('by_rule')}; store {info.get('store')}"
    return ""


# ---------------------------------------------------------------------------------------------- export
def _export(kind: str, lake: Path, out: Path, as_of: str | None) -> None:
    def body() -> None:
        from radar.exports import export

        path, n, used = export(kind, lake, out, as_of)
        console.print(f"{n} rows ({kind}, as-of {used}) -> {path}")

    _guard(body)


@export_app.command("scores")
def export_scores(lake: Path = typer.Option(..., "--lake"), out: Path = typer.Option(..., "--out"),
                  as_of: str = typer.Option(None, "--as-of", help="Default: the latest scoring run.")) -> None:
    """Risk scores, grades and reasons: one row per entity."""
    _export("scores", lake, out, as_of)


@export_app.command("links")
def export_links(lake: Path = typer.Option(..., "--lake"), out: Path = typer.Option(..., "--out"),
                 as_of: str = typer.Option(None, "--as-of")) -> None:
    """Record-to-entity links: one row per record with its method and probability."""
    _export("links", lake, out, as_of)


@export_app.command("flags")
def export_flags(lake: Path = typer.Option(..., "--lake"), out: Path = typer.Option(..., "--out"),
                 as_of: str = typer.Option(None, "--as-of")) -> None:
    """Graph flags (phoenix, ring, shell_address, cross_region, cross_industry) with their evidence."""
    _export("flags", lake, out, as_of)


# ---------------------------------------------------------------------------------------------- plan
@plan_app.callback(invoke_without_command=True)
def plan(
    ctx: typer.Context,
    lake: Path = typer.Option(None, "--lake"),
    as_of: str = typer.Option(None, "--as-of", help="Scores of this date (default: the latest)."),
    seed: int = typer.Option(None, "--seed", help="The published seed of the draw."),
    out: Path = typer.Option(None, "--out", help="Plan CSV (a .summary.json is written beside it)."),
    inspectors: Path = typer.Option(None, "--inspectors", help="Inspector library CSV (default: the lake's)."),
    district: list[str] = typer.Option(None, "--district", help="Limit to these district codes."),
    industry: list[str] = typer.Option(None, "--industry", help="Limit to these industry sections."),
    by_district: bool = typer.Option(False, "--by-district", help="Stratify by grade x district."),
    plan_id: str = typer.Option(None, "--plan-id"),
) -> None:
    """Draw a risk-stratified double-random plan: radar plan --lake LAKE --seed N --out FILE.csv."""
    if ctx.invoked_subcommand:
        return

    def body() -> None:
        from radar.plan import draw_and_publish, summary_path

        if lake is None or seed is None or out is None:
            raise RadarError("radar plan needs --lake, --seed and --out")
        p = draw_and_publish(lake, seed, out, as_of=as_of, inspectors=inspectors, plan_id=plan_id,
                             districts=district or None, industries=industry or None,
                             strata="grade_district" if by_district else "grade")
        console.print(f"{p.plan_id}: drew {len(p.rows)} of {p.summary['population']} entities with seed {seed} "
                      f"-> {out} ({summary_path(out)})")
        for w in p.summary.get("warnings", []):
            console.print(f"[yellow]warning:[/] {w}")

    _guard(body)


@plan_app.command("verify")
def plan_verify(lake: Path = typer.Option(..., "--lake"), plan: Path = typer.Option(..., "--plan"),
                inspectors: Path = typer.Option(None, "--inspectors")) -> None:
    """Redraw a published plan from its seed and compare every row."""

    def body() -> None:
        from radar.plan import verify_published

        result = verify_published(lake, plan, inspectors=inspectors)
        console.print(result.message())
        if not result.ok:
            raise typer.Exit(1)

    _guard(body)


# ---------------------------------------------------------------------------------------------- bench
@bench_app.command("chicago")
def bench_chicago(
    out: Path = typer.Option(..., "--out", help="CSV of Inspection_ID, score for the 1,637 test inspections."),
    data: Path = typer.Option(None, "--data", help="Chicago data folder (default: $RADAR_CHICAGO, else "
                              "../shared/data/chicago beside the repository, else /work/shared/data/chicago)."),
    seed: int = typer.Option(42, "--seed", help="Seed of the model's row and column subsampling."),
) -> None:
    """Chicago food inspections: fit before 2014-09-02, rank Sept-Oct 2014 once, compare with the city."""

    def body() -> None:
        from radar.chicago.benchmark import format_fairness, format_table, run_benchmark
        from radar.chicago.data import resolve_data_dir

        folder = resolve_data_dir(data)
        console.print(f"radar bench chicago: data {folder}, seed {seed}")
        result = run_benchmark(folder, seed=seed)
        path = result.write_scores(out)
        sys.stdout.write(format_table(result.metrics, f"test 2014-09-02..2014-10-31: {result.info['test_rows']} "
                                      f"inspections, {result.info['test_positives']} with a critical violation; "
                                      f"setting {result.setting.name} (chosen on validation before 2014-04-17)")
                         + "\n\nby inspector (DESIGN §6: the inspector was the city's strongest predictor)\n"
                         + format_fairness(result.fairness["inspector"], "Inspector") + "\n")
        console.print(f"{len(result.scores)} scores -> {path}")

    _guard(body)


# ---------------------------------------------------------------------------------------------- dashboard
@app.command()
def dashboard(lake: Path = typer.Option(..., "--lake"), port: int = typer.Option(8501, "--port"),
              profile: str = typer.Option(None, "--profile")) -> None:
    """Serve the dashboard on 127.0.0.1 (login required)."""

    def body() -> None:
        from radar.dashboard.launch import serve

        serve(Path(lake), port=port, profile=profile)

    _guard(body)


# ---------------------------------------------------------------------------------------------- users
def _store(lake: Path, profile: str | None, create: bool = True) -> Any:
    from radar.config import profile as load_profile
    from radar.config import resolve_paths
    from radar.lake import Lake
    from radar.store import Store

    lk = Lake(lake).open(create=create, recover=create)
    return Store(resolve_paths(load_profile(profile), lk.root).store_url)


@users_app.command("add")
def users_add(
    lake: Path = typer.Option(..., "--lake"),
    username: str = typer.Option(..., "--username"),
    role: str = typer.Option(..., "--role", help="admin, supervisor, planner or analyst."),
    districts: str = typer.Option("", "--districts", help="Comma-separated district codes (empty: all)."),
    display_name: str = typer.Option(None, "--display-name"),
    profile: str = typer.Option(None, "--profile"),
) -> None:
    """Add a dashboard user (the password is asked for, never passed on the command line)."""

    def body() -> None:
        password = typer.prompt("password", hide_input=True, confirmation_prompt=True)
        store = _store(lake, profile)
        ds = [d.strip() for d in districts.split(",") if d.strip()]
        store.add_user(username, password, role, ds, display_name or username)
        console.print(f"user {username} ({role}, districts: {', '.join(ds) or 'all'}) added")

    _guard(body)


@users_app.command("demo")
def users_demo(lake: Path = typer.Option(..., "--lake"), profile: str = typer.Option(None, "--profile")) -> None:
    """Create (or reset) the demo users with new random passwords, printed once, for a simulated city."""

    def body() -> None:
        from radar.store.users import create_demo_users

        store = _store(lake, profile)
        created = create_demo_users(store)
        for u in created:
            console.print(f"  user [bold]{u['username']}[/] ({u['role']}, districts: {u.get('districts') or 'all'}) "
                          f"password: [bold]{u['password']}[/]")
        creds = Path(lake) / "demo_users.txt"
        if created:
            creds.write_text("\n".join(f"{u['username']}\t{u['password']}\t{u['role']}" for u in created) + "\n",
                             encoding="utf-8")
            os.chmod(creds, 0o600)
            console.print(f"  (also written to {creds}, readable by you only)")

    _guard(body)


# ---------------------------------------------------------------------------------------------- models
@app.command()
def retrain(
    lake: Path = typer.Option(..., "--lake", help="A lake with features (from 'radar run')."),
    as_of: str = typer.Option(None, "--as-of", help="Snapshots of this date (default: the latest)."),
    profile: str = typer.Option(None, "--profile"),
    rescore: bool = typer.Option(True, "--rescore/--no-rescore", help="Score and raise alerts with the champion after."),
) -> None:
    """The retraining job: train a challenger on the latest snapshots, gate it against the champion, rescore."""

    def body() -> None:
        from radar.jobs import alerts, score, train
        from radar.jobs.features import SNAPSHOTS
        from radar.jobs.pipeline import make_context
        from radar.lake import Lake

        d = as_of or Lake(lake).open(recover=False).latest_as_of(SNAPSHOTS)
        if d is None:
            raise RadarError(f"{lake}: no feature snapshots yet (run 'radar run' first)")
        with Lake(lake).open().run_lock(f"radar retrain --as-of {d}"):
            ctx = make_context(Path(lake), _parse_date(d), profile_name=profile)
            stages = {"train": train.run} | ({"score": score.run, "alerts": alerts.run} if rescore else {})
            for name, job in stages.items():
                with ctx.stage(name) as info:
                    info.update(job(ctx))
                console.print(f"  [green]✓[/] {name:<9} {ctx.report['stages'][name]['seconds']:>7.1f}s  "
                              f"{_summary(name, ctx.report['stages'][name])}")

    _guard(body)


@model_app.command("rollback")
def model_rollback(lake: Path = typer.Option(..., "--lake"), to: str = typer.Option(None, "--to", help="Version."),
                   profile: str = typer.Option(None, "--profile")) -> None:
    """Restore the previous champion (or version --to); the next scoring run uses it."""

    def body() -> None:
        from radar.config import policy, resolve_paths
        from radar.config import profile as load_profile
        from radar.lake import Lake
        from radar.models.lifecycle import rollback

        with Lake(lake).open().run_lock("radar model rollback"):
            store = _store(lake, profile, create=False)
            prof = resolve_paths(load_profile(profile), Path(lake).resolve())
            try:
                frm, to_v = rollback(policy().train, prof.mlflow_tracking_uri, store, to)
            except LookupError as e:
                raise RadarError(str(e)) from None
            finally:
                store.close()
        console.print(f"champion: v{frm} -> v{to_v} (rescore with: radar retrain --lake {lake})")

    _guard(body)


@model_app.command("history")
def model_history(lake: Path = typer.Option(..., "--lake"), profile: str = typer.Option(None, "--profile")) -> None:
    """Every registration, promotion, refusal and rollback, newest first."""

    def body() -> None:
        store = _store(lake, profile, create=False)
        for e in store.model_history():
            console.print(f"{e['at']:%Y-%m-%d %H:%M}  v{e['version']:<4} {e['action']:<10} "
                          f"champion {e['champion_before']} -> {e['champion_after']}  {e['reason'] or ''}")
        store.close()

    _guard(body)


# ---------------------------------------------------------------------------------------------- features
@features_app.command("catalog")
def features_catalog(out: Path = typer.Option(None, "--out", help="Markdown file (default: standard output).")) -> None:
    """Write the feature catalog (every feature: dimension, definition, window, sources) as Markdown."""

    def body() -> None:
        from radar.config import feature_catalog, policy
        from radar.features.catalog import catalog_markdown

        text = catalog_markdown(feature_catalog(), policy().features)
        if out is None:
            sys.stdout.write(text)
            return
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text, encoding="utf-8")
        console.print(f"{len(feature_catalog().features)} features -> {out}")

    _guard(body)


# ---------------------------------------------------------------------------------------------- report
@app.command()
def report(lake: Path = typer.Option(..., "--lake"), as_of: str = typer.Option(None, "--as-of"),
           which: str = typer.Option("run", "--which", help="run or dq")) -> None:
    """Print the run report or the data-quality report as JSON."""

    def body() -> None:
        from radar.lake import Lake

        lk = Lake(lake).open(recover=False)  # a reader: never cleans up after a job that may be running
        table = {"run": "reports/run", "dq": "reports/dq"}.get(which)
        if table is None:
            raise RadarError("--which must be run or dq")
        job = lk.running_job()
        if job:  # on standard error: standard output stays one JSON document
            sys.stderr.write(f"note: {job.get('command')} is writing this lake (since {job.get('started')}); "
                             "this is the last finished run's report\n")
        d = as_of or lk.latest_as_of(table)
        if d is None:
            raise RadarError(f"no {which} report in {lake}")
        sys.stdout.write(json.dumps(lk.read_json(table, d), ensure_ascii=False, indent=2) + "\n")

    _guard(body)


if __name__ == "__main__":
    app()
