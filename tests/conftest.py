"""Shared fixtures: one SparkSession for the whole test run, tiny generated data."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")

TEST_JVM_OPTION = "-Dradar.session=tests"  # a profile's JVM option, to see that it reaches the driver JVM


@pytest.fixture(scope="session")
def spark() -> Iterator[object]:
    """The one SparkSession of the test run (local, 2 threads, few shuffle partitions)."""
    from radar.config import Profile, SparkSettings, profile
    from radar.spark import spark_session

    prof = Profile(  # the local profile's JVM, smaller
        spark=SparkSettings(master="local[2]", driver_memory="2g", shuffle_partitions=4,
                            driver_java_options=[*profile("local").spark.driver_java_options, TEST_JVM_OPTION]),
        store_url="sqlite://",
        mlflow_tracking_uri="sqlite://",
        mlflow_artifact_location="/tmp",
    )
    session = spark_session(prof, app_name="radar-tests")
    yield session
    session.stop()
