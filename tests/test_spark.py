"""The Spark session: the driver JVM starts with our logging settings and the profile's JVM options."""

from __future__ import annotations

from typing import Any

from conftest import TEST_JVM_OPTION

from radar.config import SparkSettings, profile
from radar.spark import driver_java_options


def test_profile_options_follow_the_logging_settings() -> None:
    opts = driver_java_options(SparkSettings(master="local[1]", driver_java_options=["-Xss4m", "-XX:+UseG1GC"]))
    words = opts.split(" ")
    assert words[0].startswith("-Dlog4j2.configurationFile=file:") and words[0].endswith("log4j2.properties")
    assert words[1:] == ["-Xss4m", "-XX:+UseG1GC"]
    assert driver_java_options(SparkSettings(master="local[1]")) == words[0]


def test_the_driver_jvm_gets_the_profile_options(spark: Any) -> None:
    """The test session runs the local profile's JVM options plus one of its own: the JVM got them all besides
    the logging settings (the collector it names is the one collecting), and case-maps without ICU."""
    jvm = spark.sparkContext._jvm
    management = jvm.java.lang.management.ManagementFactory
    args = list(management.getRuntimeMXBean().getInputArguments())
    assert any(a.startswith("-Dlog4j2.configurationFile=") for a in args)
    assert TEST_JVM_OPTION in args
    shipped = profile("local").spark.driver_java_options
    assert all(opt in args for opt in shipped)
    if "-XX:+UseParallelGC" in shipped:
        collectors = {b.getName() for b in management.getGarbageCollectorMXBeans()}
        assert collectors == {"PS Scavenge", "PS MarkSweep"}
    assert spark.conf.get("spark.sql.icu.caseMappings.enabled") == "false"
    assert spark.sql("SELECT upper('91110108ma01abcd2x') AS u").first()["u"] == "91110108MA01ABCD2X"
