"""Connected components with GraphX, through a small Java shim built from source in the repository.

pyspark's pip package ships ``spark-graphx_*.jar`` but no Python API for it. ``radar/graph/jvm/src`` holds
a Java class (``radar.graphx.Components``) that turns a DataFrame of edges into a GraphX graph, runs
``ConnectedComponents`` (Pregel label propagation) and returns a DataFrame. :func:`shim_jar` compiles it
with the installed ``javac`` against pyspark's own jars (nothing is downloaded) into a cache folder, once
per source and Spark version; :func:`graphx_components` loads it on the driver through a
``URLClassLoader`` and calls it through py4j. The shim ships no closures (its conversions use Spark's
built-in tuple encoders), so executors never need to load it.

The default algorithm of :func:`radar.graph.components.connected_components` is large-star/small-star
(bench/graph.py measures both on the same graphs; see bench/results/graph.json for why). GraphX's label
propagation needs as many supersteps as the graph's diameter, so long chains cost it dearly.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

from pyspark.sql import DataFrame, SparkSession

from radar.errors import RadarError

SOURCE_DIR = Path(__file__).parent / "jvm" / "src"
SHIM_CLASS = "radar.graphx.Components"


class GraphXUnavailable(RadarError):
    """The GraphX shim cannot be built here (no ``javac``, or pyspark ships no GraphX jar)."""


def _spark_jars() -> Path:
    import pyspark

    return Path(pyspark.__file__).parent / "jars"


def _cache_dir() -> Path:
    base = os.environ.get("RADAR_CACHE_DIR") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "radar"
    )
    return Path(base) / "jvm"


def _sources() -> list[Path]:
    return sorted(SOURCE_DIR.rglob("*.java"))


def _fingerprint(jars: Path) -> str:
    """Hash of the shim's sources and of the GraphX jar's name: a new source or Spark version rebuilds."""
    h = hashlib.sha256()
    for src in _sources():
        h.update(src.relative_to(SOURCE_DIR).as_posix().encode())
        h.update(src.read_bytes())
    h.update(" ".join(sorted(p.name for p in jars.glob("spark-graphx_*.jar"))).encode())
    return h.hexdigest()[:16]


def shim_jar(cache_dir: Path | None = None) -> Path:
    """The compiled shim jar, building it with ``javac`` and ``jar`` when the cached one is missing.

    Raises :class:`GraphXUnavailable` when the JDK tools or pyspark's GraphX jar are missing.
    """
    jars = _spark_jars()
    if not any(jars.glob("spark-graphx_*.jar")):
        raise GraphXUnavailable(f"{jars}: pyspark ships no spark-graphx jar")
    out_dir = cache_dir or _cache_dir()
    target = out_dir / f"radar-graphx-{_fingerprint(jars)}.jar"
    if target.exists():
        return target
    javac, jar = shutil.which("javac"), shutil.which("jar")
    if javac is None or jar is None:
        raise GraphXUnavailable("javac and jar (a JDK 17) are needed to build the GraphX shim")
    out_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=out_dir) as tmp:
        classes = Path(tmp) / "classes"
        cmd = [javac, "-nowarn", "--release", "17", "-cp", f"{jars}/*", "-d", str(classes)]
        _run([*cmd, *map(str, _sources())])
        built = Path(tmp) / target.name
        _run([jar, "cf", str(built), "-C", str(classes), "."])
        os.replace(built, target)  # atomic: a concurrent build never leaves half a jar
    return target


def _run(cmd: list[str]) -> None:
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise GraphXUnavailable(f"{Path(cmd[0]).name} failed: {done.stderr.strip()[-2000:]}")


def _shim(spark: SparkSession) -> Any:
    """The shim's ``Class`` object in the driver JVM (loaded once per session)."""
    cached = getattr(spark, "_radar_graphx_shim", None)
    if cached is not None:
        return cached
    jar = shim_jar()
    jvm, gateway = spark._jvm, spark.sparkContext._gateway
    urls = gateway.new_array(jvm.java.net.URL, 1)
    urls[0] = jvm.java.io.File(str(jar)).toURI().toURL()
    parent = jvm.java.lang.Thread.currentThread().getContextClassLoader()
    cls = jvm.java.net.URLClassLoader(urls, parent).loadClass(SHIM_CLASS)
    spark._radar_graphx_shim = cls  # type: ignore[attr-defined]
    return cls


def graphx_components(edges: DataFrame, max_iterations: int) -> DataFrame:
    """GraphX connected components of ``edges`` (src, dst: long vertex ids).

    Output: vid, cc (the smallest vertex id of the component), one row per vertex that has an edge.
    Label propagation stops after ``max_iterations`` supersteps whether or not it converged: the caller
    checks convergence (:func:`radar.graph.components.connected_components` does).
    """
    spark = edges.sparkSession
    cls = _shim(spark)
    jvm, gateway = spark._jvm, spark.sparkContext._gateway
    types = gateway.new_array(jvm.java.lang.Class, 2)
    types[0] = jvm.java.lang.Class.forName("org.apache.spark.sql.Dataset")
    types[1] = jvm.java.lang.Integer.TYPE
    args = gateway.new_array(jvm.java.lang.Object, 2)
    args[0] = edges.select("src", "dst")._jdf
    args[1] = jvm.java.lang.Integer.valueOf(int(max_iterations))
    jdf = cls.getMethod("run", types).invoke(None, args)
    return DataFrame(jdf, spark)
