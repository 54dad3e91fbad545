"""The model's input table for analysts, without Spark: the snapshots with the external features joined."""

from __future__ import annotations

from datetime import date

import polars as pl

from radar.config import FeatureCatalog, feature_catalog
from radar.lake import Lake

SNAPSHOTS = "features/snapshots"


def model_table(lake: Lake, as_of: date, catalog: FeatureCatalog | None = None) -> pl.DataFrame:
    """``features/snapshots`` with every ``kind: external`` feature of the catalog joined on
    (entity_id, snapshot_date), as the train and score jobs see them (radar/jobs/train.py,
    ``with_external_features``): an entity or date the external table does not cover, or a table not
    built, gives 0."""
    catalog = catalog or feature_catalog()
    snap = lake.read_polars(SNAPSHOTS, as_of)
    external = [f for f in catalog.features if f.kind == "external"]
    for table in dict.fromkeys(f.table for f in external):
        names = [f.name for f in external if f.table == table]
        snap = snap.drop([n for n in names if n in snap.columns])
        if lake.exists(table, as_of):
            cols = lake.read_polars(table, as_of).select("entity_id", "snapshot_date", *names)
            snap = snap.join(cols, on=["entity_id", "snapshot_date"], how="left")
        else:
            snap = snap.with_columns([pl.lit(0).alias(n) for n in names])
    return snap.with_columns([pl.col(f.name).fill_null(0) for f in external])
