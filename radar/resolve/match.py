"""The probabilistic stage: linking the records the exact rules leave, with a calibrated match probability.

1. **Names**: every entity is known by its registry name and its former names (名称变更 change records).
2. **Blocking**: candidates of a record are the entities whose names share its rarest character bigrams (the
   top ``blocking.name_top_k`` by summed inverse document frequency, ties broken by edit distance: a sparse
   matrix product against the broadcast entity names, :mod:`radar.resolve.bigrams`; bigrams of more than
   ``blocking.max_bigram_entities`` entities are too common to block on), every entity bearing the record's name core, or a name that reads the same (a name written by ear),
   when at most ``blocking.max_exact_entities`` do, the entities at its address
   (house number or building), the individual businesses registered under an operator's name whose surname
   or given name the shop sign carries (``老王饺子馆``, ``海燕麻辣烫``) in the record's district or that are at
   the record's address (a village, a market hall: too many entities for the address alone), and the
   entities other records with the same name were linked to by their code ("siblings").
3. **Comparison**: :mod:`radar.resolve.compare` in ``mapInPandas``, all candidates of a record at once
   (rapidfuzz, vectorised per batch): the closest name of each candidate, then how the candidate compares
   with the record's other candidates.
4. **Probability**: the models of :mod:`radar.resolve.model` (the first stage, then each candidate against the
   record's others), scored in the same ``mapInPandas`` call as the comparison (:mod:`radar.resolve.scoring`):
   only each record's best candidate comes out.

Training pairs come out of the same pipeline, compared first: records linked by identifier, their code set aside.
"""

from __future__ import annotations

from typing import Any

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from radar.config import BlockingSettings, ResolvePolicy
from radar.ingest.parse import ident
from radar.resolve.bigrams import build_index, closest
from radar.resolve.compare import (
    ENTITY_FIELDS,
    FEATURES,
    NAME_FIELDS,
    RECORD_FIELDS,
    compare_records,
)
from radar.resolve.normalize import name_rules, person_sql, pinyin_key, with_steps
from radar.resolve.scoring import BEST_SCHEMA, PairScoring

FEATURE_COLUMNS = ["rid", "eid", "v_kind", *FEATURES]
# the rows compared in one Python call at least (Arrow hands 10,000 at a time): the comparison's fixed pandas costs
# per frame are paid once per 40,000 rows (a sample of the city's pairs: 4.1 s of Python in frames of 10,000,
# 3.0 s in frames of 40,000 or 80,000)
COMPARE_ROWS = 40_000
FEATURE_SCHEMA = "rid string, eid string, v_kind string, " + ", ".join(f"{f} double" for f in FEATURES)


def grams(c: Column) -> Column:
    """Distinct character bigrams of a text (the text itself when shorter than three characters)."""
    n = F.length(c)
    return F.when(
        n <= 2, F.array(c)
    ).otherwise(F.array_distinct(F.transform(F.sequence(F.lit(1), n - 1), lambda i: F.substring(c, i, 2))))


def entity_side(entities: DataFrame, policy: ResolvePolicy) -> DataFrame:
    """The entity columns the comparison reads (``e_*``), with how common the entity's name core is."""
    rules = name_rules(policy)
    counts = entities.where(F.col("name_core").isNotNull()).groupBy(F.col("name_core").alias("_nc")).agg(
        F.count(F.lit(1)).alias("e_core_count")
    )
    e = entities.join(counts, entities["name_core"] == counts["_nc"], "left")
    return e.select(
        F.col("entity_id").alias("eid"),
        F.col("district_code").alias("e_district"),
        F.col("entity_class").alias("e_class"),
        F.col("legal_rep_name").alias("e_rep"),
        F.col("address_core").alias("e_addr"),
        F.col("address_key").alias("e_addr_key"),
        F.expr(rules.road_sql("address_core")).alias("e_road"),
        F.col("phone_digits").alias("e_phone"),
        F.col("industry_section").alias("e_section"),
        F.col("industry_name").alias("e_industry"),
        F.coalesce("e_core_count", F.lit(1)).alias("e_core_count"),
        (
            (F.col("entity_class") == "individual")
            & ((F.col("name") == F.col("legal_rep_name")) | F.expr(person_sql("name")))
        ).alias("e_person_named"),
        F.col("uscc_status").isin("valid", "repaired").alias("e_trusted_code"),
        F.col("established_date").alias("e_established"),
        F.col("deregistered_date").alias("e_deregistered"),
    )


def former_names(changes: DataFrame, identifiers: DataFrame) -> DataFrame:
    """(entity_id, name): names an entity had before a 名称变更 (name change) record, found by the record's code
    (a USCC the entity trusts, or the code as its registry row wrote it)."""
    ids = identifiers.where(F.col("id_type").isin("uscc", "written_code")).select(
        F.col("id_value").alias("_code"), "entity_id"
    ).distinct()
    unique = ids.groupBy("_code").agg(F.countDistinct("entity_id").alias("_n"), F.min("entity_id").alias("entity_id"))
    named = changes.where(
        F.col("is_current") & F.coalesce(F.col("change_item"), F.lit("")).contains("名称") & F.col("before").isNotNull()
    )
    return (
        named.join(unique.where("_n = 1"), F.col("party_uscc_raw") == F.col("_code"))
        .select("entity_id", F.col("before").alias("name"))
        .distinct()
    )


def entity_names(entities: DataFrame, former: DataFrame | None, policy: ResolvePolicy) -> DataFrame:
    """Every name an entity is known by (``v_*``): its registry name, and former names from change records.

    ``former`` has (entity_id, name) or is None.
    """
    rules = name_rules(policy)
    reg = entities.select(
        F.col("entity_id").alias("eid"), F.lit("registry").alias("v_kind"), F.col("name").alias("_name")
    )
    if former is not None:
        reg = reg.unionByName(
            former.select(F.col("entity_id").alias("eid"), F.lit("former").alias("v_kind"), F.col("name").alias("_name"))
        )
    steps, p = rules.name_steps(ident("_name"))
    reg = with_steps(reg, steps)
    named = reg.select(
        "eid", "v_kind",
        F.expr(p["full"]).alias("v_full"), F.expr(p["core"]).alias("v_core"), F.expr(p["region"]).alias("v_region"),
        F.expr(p["form"]).alias("v_form"), F.expr(p["branch"]).alias("v_branch"),
        F.lit(0).cast("long").alias("v_support"),
    ).where(F.col("v_core").isNotNull())
    # a former name equal to the current one adds nothing
    first = Window.partitionBy("eid", "v_full").orderBy(F.when(F.col("v_kind") == "registry", 0).otherwise(1))
    return named.withColumn("_r", F.row_number().over(first)).where("_r = 1").drop("_r")


def top_names(scores: DataFrame, names: DataFrame, k: int) -> DataFrame:
    """(r_core, eid): the ``k`` entities whose names are closest to each record's name core, from ``scores``
    (r_core, eid, _s: the share of the core's bigram weight the entity's names hold).

    The bigram score alone ties often: when the core's rare bigrams are too common to block on, every
    ``X记便利`` shares the one bigram left (``记便``) with ``赵记便利``, and a cut by entity id would keep ten
    arbitrary ones. Among the candidates scoring at least the ``k``-th best score, the edit distance of the
    closest name breaks the tie: the namesakes come first, then the names a character off (a homophone, a typo).
    """
    by_score = Window.partitionBy("r_core").orderBy(F.col("_s").desc())
    contenders = scores.withColumn("_rk", F.rank().over(by_score)).where(F.col("_rk") <= k).select("r_core", "eid", "_s")
    dist = (
        contenders.join(names.select("eid", "v_core"), "eid")
        .groupBy("r_core", "eid")
        .agg(F.max("_s").alias("_s"), F.min(F.levenshtein("r_core", "v_core")).alias("_d"))
    )
    ranked = Window.partitionBy("r_core").orderBy(F.col("_s").desc(), F.col("_d"), F.col("eid"))
    return dist.withColumn("_rk", F.row_number().over(ranked)).where(F.col("_rk") <= k).select("r_core", "eid")


def name_candidates(cores: DataFrame, names: DataFrame, entities: DataFrame, b: BlockingSettings) -> DataFrame:
    """(r_core, eid): the ``blocking.name_top_k`` entities whose names share most of each core's rarer bigrams
    (``cores`` has r_core). The entities' names are broadcast as a sparse bigram matrix and each batch of cores
    is scored against it at once (:mod:`radar.resolve.bigrams`); more names than
    ``blocking.broadcast_max_names`` and the bigrams are joined and summed in Spark instead (:func:`top_names`).
    """
    n_names = names.count()
    if n_names > b.broadcast_max_names:
        return _name_candidates_joined(cores, names, entities, b)
    spark = names.sparkSession
    index = build_index(
        names.select("eid", "v_core").toPandas(), entities.count(), b.max_bigram_entities
    )
    shared = spark.sparkContext.broadcast(index)
    k, floor = b.name_top_k, b.min_name_score

    def batches(it: Any) -> Any:
        idx = shared.value
        for pdf in it:
            yield closest(idx, pdf["r_core"].tolist(), k, floor)

    spread = cores.repartition(max(2, 2 * spark.sparkContext.defaultParallelism))
    return spread.mapInPandas(batches, "r_core string, eid string")


def _name_candidates_joined(cores: DataFrame, names: DataFrame, entities: DataFrame, b: BlockingSettings) -> DataFrame:
    """:func:`name_candidates` as joins and sums in Spark (for entity name tables too large to broadcast)."""
    index = names.select("eid", F.explode(grams(F.col("v_core"))).alias("g")).distinct()
    df = index.groupBy("g").agg(F.count(F.lit(1)).alias("df"))
    total = entities.select(F.count(F.lit(1)).alias("_n"))
    keep = df.where(F.col("df") <= b.max_bigram_entities).crossJoin(F.broadcast(total)).select(
        "g", F.log(F.col("_n") / F.col("df")).alias("idf")
    )
    rgrams = cores.select("r_core", F.explode(grams(F.col("r_core"))).alias("g"))
    weighted = rgrams.join(keep, "g")
    norm = weighted.groupBy("r_core").agg(F.sum("idf").alias("_tot"))
    by_core = (
        weighted.join(index, "g")
        .groupBy("r_core", "eid")
        .agg(F.sum("idf").alias("_s"))
        .join(norm, "r_core")
        # rounded, as the broadcast path does: equal bigram sets tie whatever order their weights were summed in
        .withColumn("_s", F.round(F.col("_s") / F.col("_tot"), 9))
        .where(F.col("_s") >= b.min_name_score)
    )
    return top_names(by_core, names, b.name_top_k)


def sound_keys(texts: DataFrame, column: str, folds: tuple[tuple[str, str], ...] = ()) -> DataFrame:
    """(``column``, _key): how each distinct text of ``column`` reads (:func:`radar.resolve.normalize.pinyin_key`,
    the commonest reading of each character, ``folds`` applied), computed once per text in ``mapInPandas``."""
    import pandas as pd

    def batches(it: Any) -> Any:
        for pdf in it:
            yield pd.DataFrame({column: pdf[column], "_key": [pinyin_key(t, folds) for t in pdf[column]]})

    distinct = texts.select(column).where(F.col(column).isNotNull()).distinct()
    return distinct.mapInPandas(batches, f"{column} string, _key string").where(F.col("_key").isNotNull())


def candidate_pairs(
    records: DataFrame, names: DataFrame, entities: DataFrame, siblings: DataFrame, policy: ResolvePolicy
) -> DataFrame:
    """(rid, eid, block) candidate pairs of the records (columns of ``prepare`` in :mod:`radar.resolve.link`).

    ``siblings`` has (rid, r_core, eid) of records linked by identifier.
    """
    b = policy.blocking
    cores = records.where(F.col("r_core").isNotNull()).select("r_core").distinct()
    by_name = records.join(name_candidates(cores, names, entities, b), "r_core").select(
        "rid", "eid", F.lit("name").alias("block")
    )
    # every entity bearing exactly the record's name core, when few do: the same shop sign in several
    # districts or trades (the bigrams of such template names are often all too common to block on)
    bearers = names.select("eid", "v_core").distinct()
    few = bearers.groupBy("v_core").agg(F.count(F.lit(1)).alias("_xn")).where(F.col("_xn") <= b.max_exact_entities)
    by_namesake = (
        records.where(F.col("r_core").isNotNull())
        .join(bearers.join(few, "v_core"), F.col("r_core") == F.col("v_core"))
        .select("rid", "eid", F.lit("namesake").alias("block"))
    )
    # and every entity whose name reads like it, when few do: a name written by ear (富满 for 福满, 长盛 for 昌盛)
    # differs from the registry's in a character, and so from many other names in one character too
    folds = tuple(tuple(f) for f in policy.homophone_folds)
    sounding = bearers.join(sound_keys(bearers, "v_core", folds), "v_core").select("eid", "_key")
    few_sounds = sounding.groupBy("_key").agg(F.count(F.lit(1)).alias("_kn")).where(
        F.col("_kn") <= b.max_exact_entities
    )
    by_sound = (
        records.where(F.col("r_core").isNotNull())
        .join(sound_keys(records, "r_core", folds), "r_core")
        .join(sounding.join(few_sounds, "_key"), "_key")
        .select("rid", "eid", F.lit("sound").alias("block"))
    )

    # the same house number or building
    ent_addr = entities.where(F.col("address_key").isNotNull()).select("entity_id", "address_key")
    addr_n = ent_addr.groupBy("address_key").agg(F.count(F.lit(1)).alias("_an")).where(
        F.col("_an") <= b.max_address_entities
    )
    by_addr = (
        records.where(F.col("r_addr_key").isNotNull())
        .join(ent_addr.join(addr_n, "address_key"), F.col("r_addr_key") == F.col("address_key"))
        .select("rid", F.col("entity_id").alias("eid"), F.lit("address").alias("block"))
    )

    # operators' names behind shop signs, within the record's district; and every business registered under
    # its operator's name at the record's address (a village or a market hall hosts too many entities for the
    # address alone to block on, but few operator-named ones, and the registry knows none of their signs)
    ent_side = entities.select(
        "entity_id", "district_code", "legal_rep_name", "entity_class", "name", "address_key"
    ).where(
        (F.col("entity_class") == "individual")
        & F.col("legal_rep_name").isNotNull()
        & ((F.col("name") == F.col("legal_rep_name")) | F.expr(person_sql("name")))
    )
    rep = F.col("legal_rep_name")
    ekeys = ent_side.select(
        "entity_id",
        F.explode(
            F.array_compact(
                F.array(
                    F.when(F.length(rep).between(2, 4) & F.col("district_code").isNotNull(),
                           F.concat_ws("|", F.lit("S"), "district_code", F.substring(rep, 1, 1))),
                    F.when(F.length(rep) == 3, F.concat_ws("|", F.lit("G"), F.substring(rep, 2, 2))),
                    F.when(F.col("address_key").isNotNull(), F.concat_ws("|", F.lit("A"), "address_key")),
                )
            )
        ).alias("hk"),
    )
    hk_n = ekeys.groupBy("hk").agg(F.count(F.lit(1)).alias("_hn")).where(F.col("_hn") <= b.max_hint_entities)
    lead = F.coalesce(
        F.nullif(F.regexp_extract("r_core", "^[老小](.)", 1), F.lit("")),
        F.nullif(F.regexp_extract("r_core", "^(.)[记氏]", 1), F.lit("")),
    )
    dists = F.array_distinct(F.array_compact(F.concat(
        F.array(F.when(F.length("r_region") == 6, F.col("r_region")), "r_addr_district", "r_code_district",
                "r_hint_district"),
        F.coalesce(F.split("r_hint_also", ","), F.array().cast("array<string>")),
    )))
    company = F.coalesce(F.col("r_form"), F.lit("")).rlike("公司|企业|合作社")
    rkeys = records.where(F.col("r_core").isNotNull() & ~F.col("r_person")).select(
        "rid",
        F.explode(F.array_compact(F.concat(
            F.transform(dists, lambda d: F.when(lead.isNotNull(), F.concat_ws("|", F.lit("S"), d, lead))),
            F.array(F.when(F.length("r_core") >= 4, F.concat_ws("|", F.lit("G"), F.substring("r_core", 1, 2)))),
            F.array(F.when(F.col("r_addr_key").isNotNull() & ~company,
                           F.concat_ws("|", F.lit("A"), "r_addr_key"))),
        ))).alias("hk"),
    )
    by_hint = rkeys.join(ekeys.join(hk_n, "hk"), "hk").select(
        "rid", F.col("entity_id").alias("eid"), F.lit("operator").alias("block")
    )

    # entities that other records of the same name were linked to by their code
    sib_n = siblings.groupBy("r_core").agg(F.countDistinct("eid").alias("_sn")).where(
        F.col("_sn") <= b.max_sibling_entities
    )
    by_sibling = (
        records.where(F.col("r_core").isNotNull())
        .select("rid", "r_core")
        .join(siblings.join(sib_n, "r_core").select(F.col("rid").alias("_srid"), "r_core", "eid"), "r_core")
        .where(F.col("_srid") != F.col("rid"))
        .select("rid", "eid", F.lit("sibling").alias("block"))
    )
    return by_name.unionByName(by_namesake).unionByName(by_sound).unionByName(by_addr).unionByName(by_hint).unionByName(by_sibling)


def sibling_counts(records: DataFrame, siblings: DataFrame) -> DataFrame:
    """(r_core, eid, _sib_n): how many records of each name core of ``records`` were linked to the entity by
    code (``siblings``: rid, r_core, eid); small enough to broadcast (only the cores of the records to match)."""
    cores = records.select("r_core").where(F.col("r_core").isNotNull()).distinct()
    return (
        siblings.join(F.broadcast(cores), "r_core", "left_semi")
        .groupBy("r_core", "eid")
        .agg(F.countDistinct("rid").alias("_sib_n"))
    )


def compare(
    pairs: DataFrame, records: DataFrame, ents: DataFrame, names: DataFrame, siblings: DataFrame, partitions: int,
    folds: tuple[tuple[str, str], ...] = (), grace_days: int = 0, scoring: PairScoring | None = None,
    seconds: Any = None, every_pair: bool = False,
) -> DataFrame:
    """Every feature of every (record, candidate) pair (:data:`radar.resolve.compare.FEATURES`): the pairs with
    every name of their entity, the sibling support and the record's columns are brought together by record,
    and :func:`radar.resolve.compare.compare_records` computes the features of each record's candidates at
    once (pair features per name, the closest name, the competition) in ``mapInPandas``. ``folds``: the pinyin
    sounds taken as one (``resolve.homophone_folds``); ``grace_days``: how long after its deregistration a
    record may still be about an entity (``resolve.match.deregistered_grace_days``).

    ``pairs`` (rid, eid) are distinct. The sibling support of a pair (``alias_n``) is how many *other* records
    of the record's name core were linked to the entity by code: the records of the core linked to it, less
    the record itself when it is one of them (a training record, whose own entity is ``t_eid``).

    With ``scoring`` the fitted models score each record's candidates in the same Python call and only the
    record's best candidate comes out (:meth:`radar.resolve.scoring.PairScoring.best`, in its ``BEST_SCHEMA``);
    ``seconds``: a Spark accumulator of the scoring's CPU seconds. With ``every_pair`` too, every candidate
    comes out scored (:meth:`radar.resolve.scoring.PairScoring.pairs`: for benchmarks and tests)."""
    own = F.col("t_eid") if "t_eid" in records.columns else F.lit(None).cast("string")
    scored = ("code_owner", "uscc_status") if scoring is not None else ()
    rec = records.select(*RECORD_FIELDS, own.alias("_own_eid"), *scored)
    ent = ents.select(*ENTITY_FIELDS, *(["e_trusted_code"] if scoring is not None else []))
    nm = names.select("eid", *NAME_FIELDS)
    support = F.col("_sib_n") - F.when(F.col("_own_eid") == F.col("eid"), 1).otherwise(0)
    # the entity's side first (by eid), then spread by record: the wide rows cross one shuffle, and the record
    # columns join where the pairs already are (only the records move), the sibling counts broadcast. The
    # spread is a repartition of its own, so adaptive execution never splits a record's rows between tasks (it
    # splits skewed join partitions only where the join asked for the shuffle); sorted by record, each
    # record's rows are consecutive
    wide = (
        pairs.select("rid", "eid")
        .join(ent.join(nm, "eid"), "eid")
        .repartition(partitions, "rid")
        .join(rec, "rid")
        .join(F.broadcast(sibling_counts(records, siblings)), ["r_core", "eid"], "left")
        .withColumn("alias_n", F.when(support > 0, support))
        .drop("_sib_n", "_own_eid")
        .sortWithinPartitions("rid")
    )

    def batches(it: Any) -> Any:
        for whole in whole_records(it, COMPARE_ROWS):
            features = compare_records(whole, folds, grace_days)[FEATURE_COLUMNS]
            if scoring is None or features.empty:
                yield features
                continue
            # the record's code and its status, the candidate's trusted code: what the scoring reads besides
            features = features.merge(whole[["rid", *scored]].drop_duplicates("rid"), on="rid", how="left").merge(
                whole[["eid", "e_trusted_code"]].drop_duplicates("eid"), on="eid", how="left"
            )
            yield scoring.pairs(features) if every_pair else scoring.best(features, seconds)

    if scoring is None:
        return wide.mapInPandas(batches, FEATURE_SCHEMA)
    return wide.mapInPandas(batches, scoring.pairs_schema() if every_pair else BEST_SCHEMA)


def whole_records(batches: Any, min_rows: int = 1) -> Any:
    """The frames of ``batches`` (rows sorted by rid) regrouped so that no record's rows are split between two
    frames (the rows of each frame's last record wait for the next frame), and each frame but the last holds
    at least ``min_rows`` rows (Arrow's batches are gathered until it does)."""
    import numpy as np
    import pandas as pd

    def joined(frames: list[Any]) -> Any:
        return frames[0] if len(frames) == 1 else pd.concat(frames, ignore_index=True)

    pending: list[Any] = []
    held = 0
    for pdf in batches:
        if pdf.empty:
            continue
        pending.append(pdf)
        held += len(pdf)
        if held < min_rows:
            continue
        whole = joined(pending)
        rid = whole["rid"].to_numpy()
        others = np.flatnonzero(rid != rid[-1])
        cut = int(others[-1]) + 1 if len(others) else 0
        if cut < min_rows:  # the last record holds most of them: it waits with them for its end
            pending = [whole]
            continue
        pending, held = [whole.iloc[cut:]], len(whole) - cut
        yield whole.iloc[:cut]
    if held:
        yield joined(pending)
