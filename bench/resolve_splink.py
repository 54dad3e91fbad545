"""Splink (DuckDB backend) against radar's own matcher (rapidfuzz features + calibrated logistic model), on the
records the exact identifier rules leave to the probabilistic stage.

Both matchers see the same normalised records (radar's ``prepare``: name core, address core and key, legal
representative, phone, district) and the same entity master (registry names and former names). Splink is
set up the way its documentation does a link job: Jaro-Winkler levels on the name core, Levenshtein levels on
the address, exact district / legal representative / phone; predictions blocked on the exact core, the
core's first and last two characters and the address key; lambda from a deterministic rule, u by random
sampling, m by expectation maximisation (unsupervised, as Splink is used without labels). A record is linked
to its most likely entity when that probability reaches ``resolve.match.accept`` of conf/policy.yaml, the
threshold radar uses. Speed: Splink's training + prediction on the records left, against radar's whole resolve stage
(entity master, exact rules, blocking, comparison, model fit and scoring, attributes, for every record): an
upper bound of radar's matching time.

Why DuckDB and not Splink's Spark backend: radar's SparkSession is built by ``radar.spark.spark_session``
without Splink's similarity-UDF JAR; the wheel bundles the JAR (``splink/internals/files/spark_jars``), but it
must be on the class path when the session starts, and nothing may be fetched at run time. The DuckDB
backend needs nothing beyond ``pip install '.[splink]'``.

Run through ``bench/resolve.py --splink``.
"""

from __future__ import annotations

import logging
import time
from functools import reduce
from pathlib import Path
from typing import Any

EXACT_RULES = ("uscc", "org_code", "reg_no", "written_code", "near_code")


def matcher_inputs(ctx: Any) -> tuple[Any, Any, Any]:
    """(records, entity names, published links) as pandas: the records left to the probabilistic stage (not
    linked by an identifier rule, not a natural person, with a name core), and every name of every entity."""
    from pyspark.sql import DataFrame
    from pyspark.sql import functions as F

    from radar.jobs.ingest import records_table
    from radar.jobs.resolve import ENTITIES, IDENTIFIERS, LINKED_TYPES_EXCLUDED, LINKS
    from radar.resolve.link import mentions, prepare
    from radar.resolve.match import former_names
    from radar.resolve.normalize import name_rules

    spark, lake, pol = ctx.spark, ctx.lake, ctx.policy.resolve

    def table(rt: str) -> DataFrame:
        return lake.read_spark(spark, records_table(rt), ctx.as_of)

    rtypes = [rt for rt in ctx.sources.record_types if rt not in LINKED_TYPES_EXCLUDED]
    ment = reduce(DataFrame.unionByName, [mentions(table(rt), rt, pol) for rt in rtypes])
    links = lake.read_spark(spark, LINKS, ctx.as_of)
    left = links.where(F.col("rule").isNull() | ~F.col("rule").isin(*EXACT_RULES)).select(
        "source_type", "record_key"
    )
    rec = (
        prepare(ment, pol)
        .join(left, ["source_type", "record_key"])
        .where(~F.col("natural_person") & F.col("r_core").isNotNull())
        .select(
            F.col("rid").alias("uid"), "source_type", "record_key",
            F.col("r_core").alias("core"), F.col("r_addr").alias("addr"), F.col("r_addr_key").alias("addr_key"),
            F.coalesce(F.when(F.length("r_region") == 6, F.col("r_region")), "r_addr_district", "r_code_district",
                       "r_hint_district").alias("district"),
            F.col("r_rep").alias("rep"), F.col("r_phone").alias("phone"),
        )
    )
    entities = lake.read_spark(spark, ENTITIES, ctx.as_of)
    identifiers = lake.read_spark(spark, IDENTIFIERS, ctx.as_of)
    rules = name_rules(pol)
    ent = entities.select(
        "entity_id", F.col("name_core").alias("core"), F.col("address_core").alias("addr"),
        F.col("address_key").alias("addr_key"), F.col("district_code").alias("district"),
        F.col("legal_rep_name").alias("rep"), F.col("phone_digits").alias("phone"),
    )
    former = former_names(table("change"), identifiers).select(
        "entity_id", F.expr(rules.name_sql("name")).alias("_fcore")
    ).where(F.col("_fcore").isNotNull())
    former_rows = ent.drop("core").join(former, "entity_id").withColumnRenamed("_fcore", "core")
    names = ent.unionByName(former_rows.select(*ent.columns)).dropDuplicates(["entity_id", "core"])
    names = names.withColumn("uid", F.concat_ws("#", "entity_id", F.xxhash64("core").cast("string")))
    return rec.toPandas(), names.toPandas(), links.select("source_type", "record_key", "entity_id", "method").toPandas()


def splink_links(records: Any, names: Any, accept: float, seed: int) -> tuple[Any, dict[str, Any]]:
    """The entity Splink links each record to (None below ``accept``), and Splink's timings and settings."""
    import pandas as pd
    import splink.comparison_library as cl
    from splink import DuckDBAPI, Linker, SettingsCreator, block_on

    logging.getLogger("splink").setLevel(logging.WARNING)
    cols = ["uid", "core", "addr", "addr_key", "district", "rep", "phone"]
    t0 = time.perf_counter()
    db = DuckDBAPI()
    r = db.register(records[cols], dataset_display_name="records")
    e = db.register(names[[*cols, "entity_id"]].drop(columns="entity_id"), dataset_display_name="entities")
    settings = SettingsCreator(
        link_type="link_only",
        unique_id_column_name="uid",
        comparisons=[
            cl.JaroWinklerAtThresholds("core", [0.95, 0.88, 0.75]),
            cl.LevenshteinAtThresholds("addr", [1, 3]),
            cl.ExactMatch("district"),
            cl.ExactMatch("rep"),
            cl.ExactMatch("phone"),
        ],
        blocking_rules_to_generate_predictions=[
            block_on("core"),
            block_on("substr(core, 1, 2)"),
            block_on("substr(core, -2, 2)"),
            block_on("addr_key"),
        ],
        retain_intermediate_calculation_columns=False,
    )
    linker = Linker([r, e], settings)
    linker.training.estimate_probability_two_random_records_match([block_on("core", "district")], recall=0.8)
    linker.training.estimate_u_using_random_sampling(max_pairs=2e6, seed=seed)
    trained = []
    for rule in (block_on("core"), block_on("addr_key")):
        try:
            linker.training.estimate_parameters_using_expectation_maximisation(rule)
            trained.append(str(rule.get_blocking_rule("duckdb").blocking_rule_sql))
        except Exception as err:  # EM on a block too small to learn from: keep the other's estimates
            trained.append(f"failed: {err}")
    t_train = time.perf_counter() - t0
    pred = linker.inference.predict(threshold_match_probability=0.01).as_pandas_dataframe()
    seconds = time.perf_counter() - t0
    # orient each pair record -> entity name, then the entity of the most likely name
    is_rec_l = pred["source_dataset_l"] == "records"
    pairs = pd.DataFrame({
        "uid": pred["uid_l"].where(is_rec_l, pred["uid_r"]),
        "ename": pred["uid_r"].where(is_rec_l, pred["uid_l"]),
        "p": pred["match_probability"],
    })
    pairs["entity_id"] = pairs["ename"].str.split("#").str[0]
    best = pairs.sort_values(["uid", "p", "entity_id"], ascending=[True, False, True]).drop_duplicates("uid")
    out = records[["uid", "source_type", "record_key"]].merge(best[["uid", "entity_id", "p"]], on="uid", how="left")
    out["entity_id"] = out["entity_id"].where(out["p"].fillna(0) >= accept)
    out["method"] = out["entity_id"].map(lambda v: "unlinked" if v is None or pd.isna(v) else "splink")
    info = {"train_seconds": round(t_train, 1), "seconds": round(seconds, 1), "pairs_scored": len(pred),
            "em_blocks": trained}
    return out, info


def compare_matchers(ctx: Any, lake_dir: Path, truth: Path, seed: int, our_seconds: float | None) -> dict[str, Any]:
    """Precision / recall / F1 (overall and complaints) and speed of radar's matcher and Splink on the records
    left to the probabilistic stage; ``winner`` by F1, then speed. ``our_seconds``: the resolve stage's median
    (entity master, exact rules, probabilistic stage and attributes, every record)."""
    import pandas as pd
    import polars as pl

    from radar.lake import Lake
    from radar.resolve.evaluate import prf, score_links, truth_targets

    try:
        import splink
    except ImportError as err:
        return {"error": f"splink is not installed ({err}); pip install '.[splink]'"}
    records, names, links = matcher_inputs(ctx)
    entities = Lake(lake_dir).open().read_polars("resolve/entities", ctx.as_of)
    targets = truth_targets(truth, entities)
    accept = ctx.policy.resolve.match.accept
    ours = records[["source_type", "record_key"]].merge(links, on=["source_type", "record_key"], how="left")
    try:
        theirs, info = splink_links(records, names, accept, seed)
    except Exception as err:  # record precisely why Splink could not run
        return {"splink_version": splink.__version__, "error": f"{type(err).__name__}: {err}"}
    our_s = float(our_seconds or 0.0)

    def scores(df: pd.DataFrame) -> dict[str, Any]:
        s = score_links(pl.from_pandas(df[["source_type", "record_key", "entity_id", "method"]].astype(
            {"entity_id": object})), targets)
        return {"all": prf(s), "complaint": prf(s.filter(pl.col("source_type") == "complaint"))}

    ours_q, theirs_q = scores(ours), scores(theirs)
    n = len(records)
    f_ours, f_theirs = ours_q["all"]["f1"], theirs_q["all"]["f1"]
    winner = "radar" if (f_ours, -our_s) >= (f_theirs, -info["seconds"]) else "splink"
    return {
        "records_compared": n,
        "entity_names": len(names),
        "accept_threshold": accept,
        "radar": {**ours_q, "resolve_stage_seconds_all_records": round(our_s, 1)},
        "splink": {**theirs_q, **info, "version": splink.__version__, "backend": "duckdb"},
        "summary": {
            "winner": winner,
            "f1_radar": f_ours, "f1_splink": f_theirs, "f1_gain_radar_minus_splink": round(f_ours - f_theirs, 4),
            "complaint_f1_radar": ours_q["complaint"]["f1"], "complaint_f1_splink": theirs_q["complaint"]["f1"],
            "seconds_radar_all_records": round(our_s, 1), "seconds_splink_left_records": info["seconds"],
        },
    }
