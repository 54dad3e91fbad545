"""Where the record-to-entity links of one record type go wrong: each missed or wrong link, the record's name
beside the name of the entity it should have linked to, and a guess at why (a diagnostic for the matcher).

Reads a lake that ``bench/resolve.py`` (or ``radar run``) resolved and the simulated city's ``truth/``:

    .venv/bin/python bench/resolve_misses.py --lake /tmp/radar-bench-resolve/lake-small-7 \
        --truth /tmp/radar-bench-resolve/city-small-7/truth --source complaint --show 40

Prints a count per (outcome, name relation) and ``--show`` examples of each; ``--csv`` writes every row.
Outcomes: ``missed`` (unlinked, the right entity exists), ``review`` (waiting for a reviewer), ``wrong``
(linked to another entity, or linked when there is none). The name relation compares the record's name core
with the right entity's (see :func:`relation`).
"""

from __future__ import annotations

import argparse
import json
import os
from datetime import date
from pathlib import Path
from typing import Any

os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")


def relation(rc: str, tc: str, rep: str, cls: str, person_named: bool) -> str:
    """How a record's name core ``rc`` relates to the right entity's core ``tc`` (operator ``rep``)."""
    from rapidfuzz.distance import Levenshtein

    from radar.resolve.normalize import pinyin_key

    if not rc:
        return "no_name"
    if not tc:
        return "no_target"
    if rc == tc:
        return "same_core"
    if rc in tc or tc in rc:
        return "contains"
    if cls == "individual" and rep and (rc == rep or tc == rep):
        return "operator_name" if rc == rep else "operator_named_entity"
    if cls == "individual" and person_named:
        return "shop_sign_vs_operator"
    d = Levenshtein.distance(rc, tc)
    if pinyin_key(rc) == pinyin_key(tc):
        return f"homophone_edit{d}"
    if d == 1:
        return "edit1"
    if cls == "individual":
        return "individual_other"
    return f"other_edit{min(d, 5)}"


def misses(lake_dir: Path, truth: Path, source: str, as_of: date | None = None) -> Any:
    """One row per wrong or missed link of ``source`` records, with both names side by side."""
    import polars as pl

    from radar.config import policy
    from radar.lake import Lake
    from radar.resolve.evaluate import score_links, truth_targets
    from radar.resolve.normalize import name_rules

    if as_of is None:
        as_of = date.fromisoformat(json.loads((truth / "scenario.json").read_text())["as_of"])
    rules = name_rules(policy().resolve)
    lake = Lake(lake_dir).open()
    links = lake.read_polars("resolve/links", as_of).filter(pl.col("source_type") == source)
    ents = lake.read_polars("resolve/entities", as_of)
    scored = score_links(links, truth_targets(truth, ents))
    bad = scored.filter(pl.col("fp") | (pl.col("pos") & ~pl.col("tp")))
    recs = lake.read_polars(f"ingest/{source}", as_of).select("record_key", "party_address").unique("record_key")
    e = ents.select(
        "entity_id", "name", "name_core", "legal_rep_name", "entity_class", "address", "district_code"
    )
    bad = (
        bad.join(recs, on="record_key", how="left")
        .join(e.rename({c: f"t_{c}" for c in e.columns if c != "entity_id"}), left_on="target", right_on="entity_id",
              how="left")
        .join(e.select("entity_id", pl.col("name").alias("got_name")), on="entity_id", how="left")
        .join(e.select(pl.col("entity_id").alias("candidate_entity_id"), pl.col("name").alias("cand_name")),
              on="candidate_entity_id", how="left")
    )
    rows = []
    for r in bad.iter_rows(named=True):
        rc = rules.name_py(r["record_name"]) or ""
        tc = r["t_name_core"] or ""
        rep = r["t_legal_rep_name"] or ""
        person_named = r["t_entity_class"] == "individual" and (r["t_name"] == rep or (rules.name_py(r["t_name"]) == rep))
        outcome = "wrong" if r["fp"] else ("review" if r["rule"] == "pending_review" else "missed")
        cand = r["entity_id"] or r["candidate_entity_id"]
        rows.append({
            "outcome": outcome,
            "relation": relation(rc, tc, rep, r["t_entity_class"] or "", person_named),
            "record_name": r["record_name"], "target_name": r["t_name"], "target_rep": rep,
            "target_class": r["t_entity_class"], "got_or_candidate": r["got_name"] or r["cand_name"],
            "candidate_right": cand is not None and cand == r["target"],
            "probability": r["probability"], "reason": r["reason"], "dirt": r["dirt"],
            "record_address": r["party_address"], "target_address": r["t_address"],
            "record_key": r["record_key"],
        })
    return pl.DataFrame(rows, infer_schema_length=None)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lake", type=Path, default=Path("/tmp/radar-bench-resolve/lake-small-7"))
    ap.add_argument("--truth", type=Path, default=Path("/tmp/radar-bench-resolve/city-small-7/truth"))
    ap.add_argument("--source", default="complaint")
    ap.add_argument("--show", type=int, default=8, help="examples per (outcome, relation)")
    ap.add_argument("--csv", type=Path)
    args = ap.parse_args()
    import polars as pl

    df = misses(args.lake, args.truth, args.source)
    if df.is_empty():
        print("no missed or wrong links")
        return
    counts = df.group_by("outcome", "relation").agg(
        pl.len().alias("n"), pl.col("candidate_right").sum().alias("right_candidate")
    ).sort("n", descending=True)
    pl.Config.set_tbl_rows(200)
    pl.Config.set_fmt_str_lengths(40)
    pl.Config.set_tbl_width_chars(250)
    print(counts)
    for (o, rel), g in df.group_by("outcome", "relation", maintain_order=True) if args.show else ():
        print(f"\n== {o} / {rel}: {g.height}")
        print(g.head(args.show).select(
            "record_name", "target_name", "target_rep", "got_or_candidate", "probability", "reason", "record_address"
        ))
    if args.csv:
        df.write_csv(args.csv)
        print(f"written {args.csv}")


if __name__ == "__main__":
    main()
