"""Link quality once the review queue is worked: a simulated reviewer decides, the resolve stage re-runs.

The resolve stage links a record automatically at or above ``match.accept``, sends it to the store's review
queue between ``match.review`` and ``match.accept``, and reuses every decision a reviewer stored in later
runs (method ``review``). ``bench/resolve.py`` scores the lake as one run leaves it, with the queue still
pending; this benchmark measures what the product delivers once reviewers have worked it, and what that
costs them (the number of decisions).

On a lake that has been resolved (e.g. by ``bench/city.py --stages ingest resolve``), each round:

1. takes every pending review from the lake's store;
2. decides each the way a reviewer with the simulation's truth would: accepted when the proposed entity is
   the record's true entity, rejected otherwise; ``--reviewer-error E`` flips a seeded share E of the
   decisions (a reviewer who is sometimes wrong);
3. stores the decisions through the store's API (as the dashboard's review page does);
4. re-runs the resolve stage on the lake, which reuses them (a rejected pair is never proposed again, so
   the record's next candidate may be);
5. scores the lake with ``bench/resolve.py``'s ``quality``.

``--resolve-first`` re-runs the resolve stage before round 0, e.g. under another review band (``RADAR_CONF``).

The reviewer reads the truth: the figures are an upper bound for reviewers who decide every proposal right
(``--reviewer-error 0``), or for a given error rate. The lake is changed (decisions stored, resolve
re-published): run it on a copy. Policy comes from ``conf/`` (or ``RADAR_CONF``), as for every run.

    .venv/bin/python bench/review_loop.py --city CITY --lake LAKE_COPY --rounds 2 --out bench/results/review_loop.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from datetime import date, datetime
from pathlib import Path
from typing import Any

os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))

from resolve import quality  # noqa: E402

REVIEWER = "bench-reviewer"


def round_figures(q: dict[str, Any]) -> dict[str, Any]:
    """The figures of one round kept in the results: complaints, all links, automatic links, the queue."""
    return {
        "complaint": q["complaint"],
        "all": q["all"],
        "auto_accepted": q["auto_accepted"],
        "by_method": q["by_method"],
        "review_pending": q["review_pending"],
        "review_candidates_right": q["review_candidates_right"],
    }


def decide_pending(store: Any, targets: Any, error: float, rng: Any) -> dict[str, int]:
    """Decide every pending review of ``store`` against the truth ``targets`` (source_type, record_key,
    target); ``error``: the share of decisions flipped. Returns the counts of decisions."""
    pending = store.list_match_reviews(status="pending")
    right = {(t["source_type"], t["record_key"]): t["target"] for t in targets.iter_rows(named=True)}
    counts = {"decided": 0, "accepted": 0, "rejected": 0, "accepted_right": 0, "flipped": 0}
    for r in pending:
        correct = right.get((r["source_type"], r["record_key"])) == r["entity_id"]
        flip = bool(rng.random() < error)
        accept = correct != flip
        store.decide_match(r["review_id"], "accepted" if accept else "rejected", REVIEWER,
                           note="bench/review_loop.py: decided against the simulation's truth")
        counts["decided"] += 1
        counts["accepted" if accept else "rejected"] += 1
        counts["accepted_right"] += int(accept and correct)
        counts["flipped"] += int(flip)
    return counts


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--city", type=Path, required=True, help="the simulated city (raw/ and truth/) of the lake")
    ap.add_argument("--lake", type=Path, required=True, help="a resolved lake (changed: use a copy)")
    ap.add_argument("--rounds", type=int, default=2, help="review-and-resolve rounds (stops early when none wait)")
    ap.add_argument("--reviewer-error", type=float, default=0.0, help="share of decisions the reviewer gets wrong")
    ap.add_argument("--seed", type=int, default=7, help="seed of the reviewer's errors")
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "review_loop.json")
    ap.add_argument("--resolve-first", action="store_true",
                    help="re-run the resolve stage before round 0 (under the active policy, e.g. RADAR_CONF)")
    ap.add_argument("--label", default=None, help="the entry's name in --out (default: scale and error rate)")
    args = ap.parse_args()

    import numpy as np

    from radar.config import policy, profile, resolve_paths
    from radar.jobs.pipeline import run_all
    from radar.lake import Lake
    from radar.resolve.evaluate import truth_targets
    from radar.store import Store

    scenario = json.loads((args.city / "truth" / "scenario.json").read_text(encoding="utf-8"))
    as_of = date.fromisoformat(scenario["as_of"])
    truth = args.city / "truth"
    match = policy().resolve.match
    store_url = resolve_paths(profile(), args.lake.resolve()).store_url
    rng = np.random.default_rng(args.seed)
    resolved_first = None
    if args.resolve_first:  # the queue of this policy (a re-run also retires the pairs it no longer proposes)
        t0 = time.perf_counter()
        run_all(args.city / "raw", as_of, args.lake, stages=["resolve"])
        resolved_first = round(time.perf_counter() - t0, 1)

    rounds: list[dict[str, Any]] = [{"round": 0, **round_figures(quality(args.lake, truth, as_of))}]
    print("round 0:", json.dumps(rounds[0]["complaint"]), "pending", rounds[0]["review_pending"], flush=True)
    for n in range(1, args.rounds + 1):
        if rounds[-1]["review_pending"] == 0:
            break
        entities = Lake(args.lake).open(recover=False).read_polars("resolve/entities", as_of)
        targets = truth_targets(truth, entities)
        with Store(store_url) as store:
            decisions = decide_pending(store, targets, args.reviewer_error, rng)
        t0 = time.perf_counter()
        run_all(args.city / "raw", as_of, args.lake, stages=["resolve"])
        seconds = round(time.perf_counter() - t0, 1)
        rounds.append({"round": n, "decisions": decisions, "resolve_seconds": seconds,
                       **round_figures(quality(args.lake, truth, as_of))})
        print(f"round {n}: {decisions}; resolve {seconds}s;", json.dumps(rounds[-1]["complaint"]),
              "pending", rounds[-1]["review_pending"], flush=True)

    label = args.label or f"{scenario['scale']}_error_{args.reviewer_error:g}"
    doc: dict[str, Any] = json.loads(args.out.read_text(encoding="utf-8")) if args.out.exists() else {}
    doc[label] = {
        "city": str(args.city),
        "scale": scenario["scale"],
        "seed": scenario["seed"],
        "as_of": scenario["as_of"],
        "match_accept": match.accept,
        "match_review": match.review,
        "reviewer_error": args.reviewer_error,
        "resolve_first_seconds": resolved_first,
        "decisions_total": sum(r.get("decisions", {}).get("decided", 0) for r in rounds),
        "rounds": rounds,
        "command": "bench/review_loop.py " + " ".join(sys.argv[1:]),
        "date": datetime.now().strftime("%Y-%m-%d %H:%M"),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()},
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(doc, indent=2, ensure_ascii=False, default=str) + "\n", encoding="utf-8")
    print(f"written {args.out}")


if __name__ == "__main__":
    main()
