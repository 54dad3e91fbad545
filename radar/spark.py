"""One place that builds the SparkSession from a deployment profile."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from pyspark.sql import SparkSession

from radar.config import Profile, SparkSettings
from radar.errors import RadarError


def check_java() -> None:
    """Fail with a clear message when no Java 17+ runtime is on the PATH (Spark needs one)."""
    java = shutil.which("java") or (
        os.path.join(os.environ["JAVA_HOME"], "bin", "java") if os.environ.get("JAVA_HOME") else None
    )
    if not java or not os.path.exists(java):
        raise RadarError(
            "Java 17 or newer is required by Spark but no 'java' was found (install OpenJDK 17)."
        )
    out = subprocess.run([java, "-version"], capture_output=True, text=True).stderr
    for token in out.replace('"', " ").split():
        if token[:2].isdigit() or token[:1].isdigit():
            major = int(token.split(".")[0])
            if major < 17:
                raise RadarError(f"Spark needs Java 17 or newer; found {token} at {java}.")
            return


def driver_java_options(settings: SparkSettings) -> str:
    """The driver JVM's options: our logging configuration, then the profile's ``driver_java_options``."""
    log4j = Path(__file__).with_name("log4j2.properties")
    return " ".join([f"-Dlog4j2.configurationFile=file:{log4j}", *settings.driver_java_options])


def spark_session(profile: Profile, app_name: str = "radar") -> SparkSession:
    """Get or create the SparkSession described by ``profile``."""
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    os.environ.setdefault("PYARROW_IGNORE_TIMEZONE", "1")
    # Python workers must run the same interpreter (and packages) as the driver
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    check_java()
    s = profile.spark
    b = (
        SparkSession.builder.appName(app_name)
        .master(s.master)
        .config("spark.driver.memory", s.driver_memory)
        .config("spark.sql.shuffle.partitions", str(s.shuffle_partitions))
        .config("spark.sql.session.timeZone", "UTC")
        # Spark 4 refuses GB18030 in the CSV reader without the legacy charset switch.
        .config("spark.sql.legacy.javaCharsets", "true")
        .config("spark.sql.execution.arrow.pyspark.enabled", "true")
        # Spark 4 case-maps with ICU by default: loading its tables took the small city's ingest some 0.7 s
        # of a core at its first upper() (a JFR profile). The JVM's own mapping gives the same result on the
        # identifiers and codes we case-fold.
        .config("spark.sql.icu.caseMappings.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.driver.host", os.environ.get("SPARK_LOCAL_IP", "127.0.0.1"))
    )
    b = b.config("spark.driver.extraJavaOptions", driver_java_options(s))
    if s.master.startswith("local"):
        b = b.config("spark.ui.enabled", "false")
    for k, v in s.conf.items():
        b = b.config(k, v)
    spark = b.getOrCreate()
    # errors reach the caller as exceptions; the JVM log would only repeat them as long traces
    spark.sparkContext.setLogLevel("FATAL")
    return spark
