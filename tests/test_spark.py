"""The Spark session: the driver JVM starts with our logging settings, the profile's compiler directives and its
JVM options."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from conftest import TEST_JVM_OPTION

from radar.config import SparkSettings, profile
from radar.spark import driver_java_options


def test_profile_options_follow_the_logging_settings() -> None:
    opts = driver_java_options(SparkSettings(master="local[1]", driver_java_options=["-Xss4m", "-XX:+UseG1GC"]))
    words = opts.split(" ")
    assert words[0].startswith("-Dlog4j2.configurationFile=file:") and words[0].endswith("log4j2.properties")
    assert words[1:] == ["-Xss4m", "-XX:+UseG1GC"]
    assert driver_java_options(SparkSettings(master="local[1]")) == words[0]


def test_c1_only_patterns_become_a_compiler_directives_file() -> None:
    patterns = ["org/codehaus/*.*", "java/io/ObjectInputStream*.*"]
    words = driver_java_options(
        SparkSettings(master="local[1]", jit_c1_only=patterns, driver_java_options=["-Xss4m"])
    ).split(" ")
    assert words[1] == "-XX:+UnlockDiagnosticVMOptions"
    assert words[2].startswith("-XX:CompilerDirectivesFile=") and words[3:] == ["-Xss4m"]
    path = Path(words[2].split("=", 1)[1])
    assert json.loads(path.read_text()) == [{"match": patterns, "c2": {"Exclude": True}}]
    # the same patterns, the same file; others, another
    again = driver_java_options(SparkSettings(master="local[1]", jit_c1_only=patterns)).split(" ")
    assert again[2] == words[2]
    other = driver_java_options(SparkSettings(master="local[1]", jit_c1_only=patterns[:1])).split(" ")
    assert other[2] != words[2]


@pytest.mark.parametrize("bad", ["org.codehaus.janino", "org/code*haus/*.*", "org/codehaus/*.* -Xmx1g", ""])
def test_a_bad_method_pattern_is_refused(bad: str) -> None:
    with pytest.raises(ValueError, match="HotSpot method pattern"):
        SparkSettings(master="local[1]", jit_c1_only=["org/antlr/*.*", bad])


def _compiled_methods(spark: Any) -> list[tuple[int, str]]:
    """(tier, method) of every method the JIT has compiled, from the JVM's Compiler.codelist command (through
    the MBeanServer interface: its implementing class is not open to reflection)."""
    sc = spark.sparkContext
    jvm, gw = sc._jvm, sc._gateway
    cls = jvm.java.lang.Class.forName

    def array(kind: Any, items: list[Any]) -> Any:
        a = gw.new_array(kind, len(items))
        for i, x in enumerate(items):
            a[i] = x
        return a

    invoke = cls("javax.management.MBeanServer").getMethod("invoke", array(jvm.java.lang.Class, [
        cls("javax.management.ObjectName"), cls("java.lang.String"), cls("[Ljava.lang.Object;"),
        cls("[Ljava.lang.String;"),
    ]))
    out = invoke.invoke(jvm.java.lang.management.ManagementFactory.getPlatformMBeanServer(), array(jvm.java.lang.Object, [
        jvm.javax.management.ObjectName("com.sun.management:type=DiagnosticCommand"), "compilerCodelist",
        array(jvm.java.lang.Object, [gw.new_array(jvm.java.lang.String, 0)]),
        array(jvm.java.lang.String, ["[Ljava.lang.String;"]),
    ]))
    methods = []
    for line in str(out).splitlines():
        parts = line.split()
        if len(parts) >= 4 and parts[1].isdigit():
            methods.append((int(parts[1]), parts[3]))
    return methods


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


def test_the_profile_keeps_query_compilation_from_c2(spark: Any) -> None:
    """The local profile's ``jit_c1_only`` reaches the JIT: after queries enough to make janino's methods (which
    compile every generated class) hot, janino is compiled, and never at tier 4 (C2)."""
    patterns = profile("local").spark.jit_c1_only
    if not any(p.startswith("org/codehaus/") for p in patterns):
        pytest.skip("the local profile leaves janino to C2")
    for i in range(40):  # distinct expressions: each query's code is generated and compiled anew
        spark.range(50).selectExpr(f"id * {i + 2} + length(cast(id AS STRING)) AS v{i}").collect()
    janino = [(tier, m) for tier, m in _compiled_methods(spark) if m.startswith("org.codehaus.janino.")]
    assert janino, "janino was not compiled at all"
    assert all(tier < 4 for tier, _ in janino), [m for tier, m in janino if tier == 4][:5]
