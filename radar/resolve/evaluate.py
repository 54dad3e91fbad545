"""Evaluating record-to-entity links against the simulator's truth (``radar simulate``'s ``truth/``).

A record's right answer is the registry entity of its true entity, or no entity at all: natural persons,
unregistered and out-of-city parties, and entities whose registry row was refused at ingest have none.
Registry rows are matched to their true entity by source file and row, so the evaluation does not trust
any code. Counts per link:

- true positive: linked to the right entity;
- false positive: linked, but to another entity or when there is none;
- false negative: there is a right entity and the record is not linked to it.

Precision = TP / (TP + FP), recall = TP / (TP + FN), F1 their harmonic mean.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import polars as pl


def truth_targets(truth_dir: Path | str, entities: pl.DataFrame) -> pl.DataFrame:
    """(source_type, record_key, target): the entity_id each record should link to (null: none)."""
    truth = pl.read_parquet(Path(truth_dir) / "records.parquet")
    per_key = truth.group_by("source_type", "record_key").agg(
        pl.col("true_entity_id").first(), pl.col("dirt").first()
    )
    registry = truth.filter(pl.col("source_type") == "registry").select(
        pl.col("file").alias("source_file"), pl.col("row").alias("source_row"), "true_entity_id"
    )
    mapped = (
        entities.select("entity_id", "source_file", "source_row")
        .join(registry, on=["source_file", "source_row"], how="inner")
        .group_by("true_entity_id")
        .agg(pl.col("entity_id").min().alias("target"))
    )
    return per_key.join(mapped, on="true_entity_id", how="left").select("source_type", "record_key", "target", "dirt")


def score_links(links: pl.DataFrame, targets: pl.DataFrame) -> pl.DataFrame:
    """The links with their target and tp / fp / positive flags."""
    j = links.join(targets, on=["source_type", "record_key"], how="left")
    linked = pl.col("entity_id").is_not_null()
    return j.with_columns(
        tp=(linked & (pl.col("entity_id") == pl.col("target")).fill_null(False)),
        fp=(linked & (pl.col("entity_id") != pl.col("target")).fill_null(True)),
        pos=pl.col("target").is_not_null(),
    )


def prf(scored: pl.DataFrame) -> dict[str, Any]:
    """Precision, recall and F1 of scored links (see :func:`score_links`)."""
    tp = int(scored["tp"].sum())
    fp = int(scored["fp"].sum())
    pos = int(scored["pos"].sum())
    p = tp / (tp + fp) if tp + fp else 1.0
    r = tp / pos if pos else 1.0
    f1 = 2 * p * r / (p + r) if p + r else 0.0
    return {"records": scored.height, "tp": tp, "fp": fp, "fn": pos - tp, "precision": round(p, 4),
            "recall": round(r, 4), "f1": round(f1, 4)}


def evaluate(links: pl.DataFrame, entities: pl.DataFrame, truth_dir: Path | str) -> dict[str, Any]:
    """Precision, recall and F1 overall, for complaints, per record type, per method, and of the links
    accepted automatically (every method but review)."""
    scored = score_links(links, truth_targets(truth_dir, entities))
    out: dict[str, Any] = {"all": prf(scored), "complaint": prf(scored.filter(pl.col("source_type") == "complaint"))}
    auto = scored.filter(pl.col("entity_id").is_not_null() & (pl.col("method") != "review"))
    out["auto_accepted_precision"] = prf(auto)["precision"]
    out["by_source"] = {st: prf(scored.filter(pl.col("source_type") == st)) for st in sorted(scored["source_type"].unique())}
    out["by_method"] = {
        m: {"links": int(g.height), "tp": int(g["tp"].sum()), "fp": int(g["fp"].sum())}
        for (m,), g in scored.group_by("method")
    }
    return out
