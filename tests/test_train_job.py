"""The train job's Spark side: how many labelled snapshots reach the driver, and with which weights."""

from __future__ import annotations

import datetime as dt

import pytest


def test_training_rows_reaching_the_driver_are_capped_and_weighted(spark: object) -> None:
    """Above max_rows the labelled snapshots are sampled in Spark: about max_rows rows reach the driver, the
    class mix is kept once negatives are down to twice the ratio, and the weights restore the counts."""
    from radar.jobs.train import WEIGHT, sampling_rates, training_frame

    assert sampling_rates(100_000, 1_000, 1_000_000, 10.0) == (1.0, pytest.approx(20_000 / 99_000))
    pos_rate, neg_rate = sampling_rates(5_000, 500, 1_000, 10.0)
    assert pos_rate == neg_rate == pytest.approx(0.2)
    rows = [(f"E{i}", dt.date(2023, 1 + i % 6, 1), float(i % 7), int(i % 10 == 0), True) for i in range(5_000)]
    rows += [("E-open", dt.date(2024, 1, 1), 0.0, 0, False)]  # label not complete: never trained on
    df = spark.createDataFrame(rows, "entity_id string, snapshot_date date, x double, label int, label_complete boolean")
    pdf = training_frame(df, ["x"], max_rows=1_000, ratio=10.0, seed=3)
    assert 800 < len(pdf) < 1_200 and "E-open" not in set(pdf["entity_id"])
    assert pdf[WEIGHT].sum() == pytest.approx(5_000, rel=0.1)
    assert pdf["label"].mean() == pytest.approx(0.1, abs=0.03)
    small = training_frame(df, ["x"], max_rows=10_000, ratio=10.0, seed=3)
    assert len(small) == 5_000 and WEIGHT not in small.columns
