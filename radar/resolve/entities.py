"""The entity master from the registry: one row per market entity, with a stable ``entity_id``.

A registry row names its entity by up to five identifiers: the USCC as written, the legacy 15-digit
registration number (注册号), the organisation code (组织机构代码, also positions 9-17 of an enterprise's
USCC) and the registry's internal id (主体身份代码). The written USCC is checked before it is trusted:

- ``valid``: a valid code that agrees with the row (its organisation code and entity class);
- ``repaired``: an invalid code one character away from the code rebuilt from the row's organisation code
  (``91211324548657X78G`` with organisation code ``548657278`` -> ``91211324548657278G``);
- ``inconsistent``: a valid code that contradicts the row (another organisation code, an individual
  business's ``92`` code on a company): the code of another entity, not trusted;
- ``duplicate``: a valid code carried by rows of different entities (their other identifiers differ), so
  nobody can tell whose it is: not trusted;
- otherwise the ingest status (``invalid_checksum``, ``invalid_format`` ...): not trusted.

Rows sharing a trusted identifier are one entity (connected components over identifiers, iterated to
convergence; an identifier claimed by two trusted USCCs joins nothing). The newest row describes it.

``entity_id`` is stable across runs and across new data: an entity keeps the id a previous run gave any of
its identifiers (``resolve/identifiers``); a new entity gets ``'E' + 15 hex digits of SHA-256`` of its
trusted USCC (as before), else of its written code (when no other row writes it), else of its registration
number, organisation code or internal id.
"""

from __future__ import annotations

from datetime import date

from pyspark.sql import Column, DataFrame, SparkSession, Window
from pyspark.sql import functions as F

from radar.config import ResolvePolicy
from radar.ingest.parse import ident, lit
from radar.reference import city_districts, industry_code_to_section, industry_names, industry_sections
from radar.resolve.normalize import name_rules, phone_sql, with_steps

INACTIVE_STATUS_WORDS = ["注销", "吊销", "撤销", "迁出", "清算", "停业"]
USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_USCC_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
TRUSTED_STATUSES = ("valid", "repaired")
IDENTIFIER_COLUMNS = ["entity_id", "id_type", "id_value", "trusted"]
# identifier kinds, as prefixes of the keys rows are joined on
ID_TYPES = {"U": "uscc", "W": "written_code", "R": "reg_no", "O": "org_code", "P": "internal_id"}


def entity_id_of(uscc: Column) -> Column:
    """The stable entity id of a registry identifier: 'E' + 15 hex digits of its SHA-256."""
    return F.concat(F.lit("E"), F.upper(F.substring(F.sha2(uscc, 256), 1, 15)))


def uscc_check_sql(first17: str) -> str:
    """The GB 32100-2015 check character of the 17 characters ``first17`` (Spark SQL)."""
    terms = " + ".join(
        f"(instr('{USCC_ALPHABET}', substring({first17}, {i + 1}, 1)) - 1) * {w}" for i, w in enumerate(_USCC_WEIGHTS)
    )
    return f"substring('{USCC_ALPHABET}', pmod(31 - pmod({terms}, 31), 31) + 1, 1)"


def hamming_sql(a: str, b: str, n: int = 18) -> str:
    """How many of the ``n`` positions of two codes differ (Spark SQL; null when either is null)."""
    return " + ".join(f"CASE WHEN substring({a}, {i}, 1) = substring({b}, {i}, 1) THEN 0 ELSE 1 END"
                      for i in range(1, n + 1))


def _district_sql(policy: ResolvePolicy) -> tuple[str, dict[str, str]]:
    """SQL finding the district code in (district_code field, USCC division, address), and the code table."""
    dists = city_districts(policy.city_division, policy.extra_divisions)
    codes = ", ".join(lit(c) for c in dists)
    by_addr = " ".join(
        f"WHEN contains(address, {lit(n)}) THEN {lit(c)}" for c, n in sorted(dists.items(), key=lambda x: -len(x[1]))
    )
    field = "substring(regexp_replace(district_code, '[^0-9]', ''), 1, 6)"
    sql = (
        f"CASE WHEN {field} IN ({codes}) THEN {field} "
        f"WHEN division_code IN ({codes}) THEN division_code "
        f"{by_addr} END"
    )
    return sql, dists


def _lookup(spark: SparkSession, mapping: dict[str, str], key: str, value: str) -> DataFrame:
    return spark.createDataFrame(sorted(mapping.items()), f"{key} string, {value} string")


def _clean_id(c: Column) -> Column:
    cleaned = F.upper(F.regexp_replace(F.coalesce(c, F.lit("")), r"[^0-9A-Za-z]", ""))
    return F.when(cleaned != "", cleaned)


def _differ(c: str) -> Column:
    """Aggregate: whether the group holds two different non-null values of column ``c``."""
    return F.coalesce(F.min(c) != F.max(c), F.lit(False))


def checked_registry(registry: DataFrame) -> DataFrame:
    """Current registry rows with their identifiers checked (see the module docstring).

    Adds: row_id, written (the USCC as written), code (the trusted USCC or null), code_status, reg_no,
    org, pripid.
    """
    cols = set(registry.columns)
    reg = registry.where(F.col("is_current"))
    org_src = F.col("org_code") if "org_code" in cols else F.lit(None).cast("string")
    pripid_src = F.col("internal_entity_id") if "internal_entity_id" in cols else F.lit(None).cast("string")
    reg = reg.select(
        "*",
        F.concat_ws(":", "source_file", F.col("source_row").cast("string")).alias("row_id"),
        F.col("party_uscc_raw").alias("written"),
        _clean_id(F.col("party_reg_no")).alias("reg_no"),
        _clean_id(org_src).alias("org"),
        _clean_id(pripid_src).alias("pripid"),
    ).where(F.col("written").isNotNull() | F.col("reg_no").isNotNull() | F.col("org").isNotNull())
    etype = F.coalesce(F.col("entity_type"), F.lit(""))
    cls_prefix = (
        F.when(etype.contains("个体"), F.lit("92"))
        .when(etype.contains("合作社"), F.lit("93"))
        .when(etype.rlike("公司|企业"), F.lit("91"))
    )
    valid = F.col("uscc_status") == "valid"
    agrees = (F.col("org").isNull() | (F.col("org") == F.substring("written", 9, 9))) & (
        cls_prefix.isNull() | (F.substring("written", 1, 2) == cls_prefix)
    )
    rebuilt17 = F.concat(F.substring("written", 1, 8), F.col("org"))
    rebuilt = F.concat(rebuilt17, F.expr(uscc_check_sql("concat(substring(written, 1, 8), org)")))
    repairable = (
        ~valid
        & F.col("written").rlike(f"^[{USCC_ALPHABET}]{{8}}")
        & (F.length("written") == 18)
        & F.col("org").rlike(f"^[{USCC_ALPHABET}]{{9}}$")
    )
    reg = reg.withColumn("_rebuilt", F.when(repairable, rebuilt))
    reg = reg.withColumn(
        "code",
        F.when(valid & agrees, F.col("written")).when(
            F.col("_rebuilt").isNotNull() & (F.expr(hamming_sql("_rebuilt", "written")) <= 1), F.col("_rebuilt")
        ),
    ).withColumn(
        "code_status",
        F.when(valid & agrees, F.lit("valid"))
        .when(F.col("code").isNotNull(), F.lit("repaired"))
        .when(valid, F.lit("inconsistent"))
        .otherwise(F.col("uscc_status")),
    )
    # rows of one code whose other identifiers, founding date or legal representative disagree are rows of
    # different entities: the code is the one whose district is the code's division, or nobody's we can tell
    lrid = F.upper(F.regexp_replace(F.coalesce(F.col("legal_rep_id_no"), F.lit("")), r"\s", ""))
    reg = reg.withColumn("_lrid", F.when((lrid != "") & ~lrid.contains("*"), lrid)).withColumn(
        "_home", F.substring(F.regexp_replace(F.coalesce(F.col("district_code"), F.lit("")), "[^0-9]", ""), 1, 6)
        == F.substring("code", 3, 6)
    )
    clash = (
        reg.where(F.col("code").isNotNull())
        .groupBy(F.col("code").alias("_dup_code"))
        .agg(
            # two different values of one of them (a smallest and a largest that differ: no distinct counts)
            (_differ("reg_no") | _differ("org") | _differ("pripid") | _differ("established_date") | _differ("_lrid"))
            .alias("_clash"),
            F.sum(F.col("_home").cast("int")).alias("_homes"),
        )
        .where("_clash")
    )
    reg = reg.join(F.broadcast(clash), reg["code"] == clash["_dup_code"], "left")
    in_clash = F.coalesce(F.col("_clash"), F.lit(False))
    owner = in_clash & (F.col("_homes") == 1) & F.col("_home")
    status = (
        F.when(owner | ~in_clash, F.col("code_status"))
        .when(F.col("_homes") == 1, F.lit("inconsistent"))
        .otherwise(F.lit("duplicate"))
    )
    return (
        reg.withColumn("code_status", status)
        .withColumn("code", F.when(in_clash & ~owner, F.lit(None).cast("string")).otherwise(F.col("code")))
        .drop("_rebuilt", "_dup_code", "_clash", "_homes", "_home", "_lrid")
    )


def row_keys(rows: DataFrame) -> DataFrame:
    """(row_id, key, trusted) for every identifier of every checked registry row; ``key`` is 'T:value'."""
    parts = [
        F.when(F.col("code").isNotNull(), F.struct(F.concat(F.lit("U:"), "code").alias("key"), F.lit(True).alias("t"))),
        F.when(
            F.col("code").isNotNull() & F.col("code").rlike(f"^9[13][0-9]{{6}}[{USCC_ALPHABET}]{{9}}"),
            F.struct(F.concat(F.lit("O:"), F.substring("code", 9, 9)).alias("key"), F.lit(True).alias("t")),
        ),
        F.when(F.col("written").isNotNull(), F.struct(F.concat(F.lit("W:"), "written").alias("key"), F.lit(False).alias("t"))),
        F.when(F.col("reg_no").isNotNull(), F.struct(F.concat(F.lit("R:"), "reg_no").alias("key"), F.lit(True).alias("t"))),
        F.when(F.col("org").isNotNull(), F.struct(F.concat(F.lit("O:"), "org").alias("key"), F.lit(True).alias("t"))),
        F.when(F.col("pripid").isNotNull(), F.struct(F.concat(F.lit("P:"), "pripid").alias("key"), F.lit(True).alias("t"))),
    ]
    return (
        rows.select("row_id", "code", F.explode(F.filter(F.array(*parts), lambda x: x.isNotNull())).alias("k"))
        .select("row_id", "code", F.col("k.key").alias("key"), F.col("k.t").alias("trusted"))
        .distinct()
    )


def connected_rows(keys: DataFrame, max_iterations: int) -> tuple[DataFrame, int]:
    """Component label (the smallest row_id) of every row, joining rows through shared merge keys.

    ``keys`` has (row_id, key); a key shared by rows joins them. Iterates min-label propagation until no
    label changes (or ``max_iterations``, which the caller reports); returns (row_id, component), iterations.
    """
    rows = keys.select("row_id").distinct()
    label = rows.select("row_id", F.col("row_id").alias("component")).localCheckpoint()
    for i in range(1, max_iterations + 1):
        per_key = keys.join(label, "row_id").groupBy("key").agg(F.min("component").alias("_k"))
        best = keys.join(per_key, "key").groupBy("row_id").agg(F.min("_k").alias("_best"))
        new = (
            label.join(best, "row_id", "left")
            .select("row_id", F.least("component", F.coalesce("_best", "component")).alias("component"))
            .localCheckpoint()
        )
        changed = new.join(label.withColumnRenamed("component", "_old"), "row_id").where(
            F.col("component") != F.col("_old")
        ).limit(1).count()
        label = new
        if changed == 0:
            return label, i
    return label, max_iterations


def _merge_keys(keys: DataFrame) -> DataFrame:
    """Keys that may join rows: trusted ones held by several rows and claimed by at most one trusted USCC
    (written codes never join; a key of one row joins nothing, and most keys are, so the components are
    found on a small graph). ``keys`` has the ``_shared`` flag of :func:`assign_entities`."""
    joining = keys.where(F.col("trusted") & F.col("_shared"))
    claim = joining.groupBy("key").agg(_differ("code").alias("_contested"))
    return joining.join(claim.where(~F.col("_contested")), "key").select("row_id", "key")


def assign_entities(
    rows: DataFrame, previous: DataFrame | None, max_iterations: int
) -> tuple[DataFrame, DataFrame, dict[str, int]]:
    """Entity id of every checked registry row, and the identifiers table.

    ``previous`` is the identifiers table of an earlier run (entity_id, id_type, id_value, trusted) or None.
    Returns (row_id -> entity_id, identifiers, figures).
    """
    # _shared: whether another row holds the key too
    by_key = Window.partitionBy("key")
    keys = (
        row_keys(rows)
        .withColumn("_shared", F.min("row_id").over(by_key) != F.max("row_id").over(by_key))
        .localCheckpoint()
    )
    comps, iterations = connected_rows(_merge_keys(keys), max_iterations)
    alone = rows.select("row_id").join(comps, "row_id", "left_anti").select("row_id", F.col("row_id").alias("component"))
    comps = comps.unionByName(alone)
    kc = keys.join(comps, "row_id")
    # a written code names its entity only when no other row writes it and nobody trusts it as theirs
    taken = keys.where(F.col("key").startswith("U:")).select(
        F.concat(F.lit("W:"), F.substring("key", 3, 64)).alias("key"), F.lit(True).alias("_taken")
    ).distinct()
    # read by the anchors, the previous ids and the identifiers table
    kc = kc.join(taken, "key", "left").localCheckpoint()
    own_written = F.col("key").startswith("W:") & ~F.col("_shared") & F.col("_taken").isNull()
    kc = kc.withColumn("_usable", F.col("trusted") | own_written)
    prio = (
        F.when(F.col("key").startswith("U:"), 0)
        .when(own_written, 1)
        .when(F.col("key").startswith("R:"), 2)
        .when(F.col("key").startswith("O:"), 3)
        .when(F.col("key").startswith("P:"), 4)
    )
    # USCCs (trusted or written) hash bare, as ids always have; other identifiers with their kind
    seed = F.when(F.col("_a.p") <= 1, F.substring(F.col("_a.k"), 3, 64)).otherwise(F.col("_a.k"))
    anchor = (
        kc.where(prio.isNotNull())
        .groupBy("component")
        .agg(F.min(F.struct(prio.alias("p"), F.col("key").alias("k"))).alias("_a"))
        .select("component", entity_id_of(seed).alias("_new_id"))
    )
    out = comps.join(anchor, "component", "left").withColumn(
        "_new_id", F.coalesce("_new_id", entity_id_of(F.concat(F.lit("ROW:"), "component")))
    )
    if previous is not None:
        prev = previous.select(
            F.concat(
                F.when(F.col("id_type") == "uscc", "U:")
                .when(F.col("id_type") == "written_code", "W:")
                .when(F.col("id_type") == "reg_no", "R:")
                .when(F.col("id_type") == "org_code", "O:")
                .otherwise("P:"),
                "id_value",
            ).alias("key"),
            F.col("entity_id").alias("_old"),
        ).distinct()
        old = (
            kc.where("_usable")
            .join(prev, "key")
            .groupBy("component")
            .agg(F.min(F.struct(F.when(F.col("key").startswith("U:"), 0).otherwise(1), F.col("_old"))).alias("_o"))
            .select("component", F.col("_o._old").alias("_old_id"))
        )
        out = out.join(old, "component", "left").withColumn("entity_id", F.coalesce("_old_id", "_new_id"))
    else:
        out = out.withColumn("entity_id", F.col("_new_id"))
    # read by the entities and the identifiers alike
    row_entity = out.select("row_id", "entity_id").localCheckpoint()
    idents = (
        kc.join(row_entity, "row_id")
        .select(
            "entity_id",
            F.substring("key", 1, 1).alias("_t"),
            F.substring("key", 3, 64).alias("id_value"),
            "trusted",
        )
        .groupBy("entity_id", "_t", "id_value")
        .agg(F.max("trusted").alias("trusted"))
    )
    type_map = F.create_map(*[x for k, v in ID_TYPES.items() for x in (F.lit(k), F.lit(v))])
    idents = idents.select("entity_id", type_map[F.col("_t")].alias("id_type"), "id_value", "trusted")
    return row_entity, idents, {"identifier_iterations": iterations}


def build_entities(
    registry: DataFrame,
    policy: ResolvePolicy,
    as_of: date,
    previous_identifiers: DataFrame | None = None,
    max_iterations: int = 10,
) -> DataFrame:
    """Entities from the current registry rows (see :func:`build_master` for the identifiers too)."""
    return build_master(registry, policy, as_of, previous_identifiers, max_iterations)[0]


def build_master(
    registry: DataFrame,
    policy: ResolvePolicy,
    as_of: date,
    previous_identifiers: DataFrame | None = None,
    max_iterations: int = 10,
) -> tuple[DataFrame, DataFrame, dict[str, int]]:
    """The entity master, its identifiers and figures; the newest registry row of an entity describes it.

    Entity columns: entity_id, uscc (the trusted USCC, else the written one when no other entity's), uscc_status
    (see the module docstring), registry_uscc (as written), name, name_core, name_region, name_form,
    name_branch, entity_class, entity_type, legal_rep_name, legal_rep_id_no, address, address_core,
    address_key, phone, phone_digits, district_code, district_name, industry_code, industry_section,
    industry_name, established_date, registration_status, deregistered_date, is_active,
    registered_capital_yuan, business_reg_no, org_code, registry_rows, source_file, source_row.
    """
    spark = registry.sparkSession
    rules = name_rules(policy)
    district_sql, dists = _district_sql(policy)
    rows = checked_registry(registry).localCheckpoint()
    row_entity, idents, figures = assign_entities(rows, previous_identifiers, max_iterations)
    reg = rows.join(row_entity, "row_id")
    newest = Window.partitionBy("entity_id").orderBy(
        F.col("approval_date").desc_nulls_last(), F.col("source_file").desc(), F.col("source_row").desc()
    )
    per_entity = Window.partitionBy("entity_id")
    reg = (
        reg.withColumn("_rn", F.row_number().over(newest))
        .withColumn("registry_rows", F.count(F.lit(1)).over(per_entity))
        .withColumn("_code", F.max("code").over(per_entity))
        .withColumn("_any_reg_no", F.max("reg_no").over(per_entity))
        .withColumn("_any_org", F.max("org").over(per_entity))
        .where("_rn = 1")
    )
    # the written code stands for an entity without a trusted one, unless it is someone else's
    others = rows.where(F.col("code").isNotNull()).select(F.col("code").alias("_taken")).distinct()
    written_count = rows.groupBy(F.col("written").alias("_w")).agg(_differ("row_id").alias("_w_shared"))
    reg = (
        reg.join(others, reg["written"] == others["_taken"], "left")
        .join(written_count, reg["written"] == written_count["_w"], "left")
    )
    shown_uscc = F.coalesce(
        F.col("_code"),
        F.when(F.col("_taken").isNull() & ~F.col("_w_shared"), F.col("written")),
    )
    status = F.coalesce(F.col("registration_status"), F.lit(""))
    inactive_word = F.lit(False)
    for w in INACTIVE_STATUS_WORDS:
        inactive_word = inactive_word | status.contains(w)
    ic = F.upper(F.regexp_replace(F.coalesce(F.col("industry_code"), F.lit("")), r"[^0-9A-Za-z]", ""))
    code_for_class = F.coalesce(F.col("_code"), F.col("written"), F.lit(""))
    name_steps, parts = rules.name_steps(ident("name"))
    addr_steps, addr = rules.address_steps(ident("address"))
    reg = with_steps(reg, name_steps + addr_steps)
    ent = reg.select(
        "entity_id",
        shown_uscc.alias("uscc"),
        F.when(F.col("_code").isNotNull() & (F.col("code_status").isin(*TRUSTED_STATUSES)), F.col("code_status"))
        .when(F.col("_code").isNotNull(), F.lit("valid"))
        .otherwise(F.col("code_status"))
        .alias("uscc_status"),
        F.col("written").alias("registry_uscc"),
        F.col("name"),
        F.expr(parts["core"]).alias("name_core"),
        F.expr(parts["region"]).alias("name_region"),
        F.expr(parts["form"]).alias("name_form"),
        F.expr(parts["branch"]).alias("name_branch"),
        F.when(code_for_class.startswith("92") | F.col("entity_type").contains("个体"), F.lit("individual"))
        .when(code_for_class.startswith("93") | F.col("entity_type").contains("合作社"), F.lit("cooperative"))
        .when(code_for_class.startswith("91") | F.col("entity_type").rlike("公司|企业"), F.lit("enterprise"))
        .otherwise(F.lit("other"))
        .alias("entity_class"),
        "entity_type",
        "legal_rep_name",
        "legal_rep_id_no",
        "address",
        F.expr(addr["core"]).alias("address_core"),
        F.expr(addr["key"]).alias("address_key"),
        "phone",
        F.expr(phone_sql(ident("phone"))).alias("phone_digits"),
        F.expr(district_sql).alias("district_code"),
        F.when(ic.rlike("^[A-T]$"), ic).otherwise(F.when(ic != "", ic)).alias("industry_code"),
        F.when(ic.rlike("^[A-T]"), F.substring(ic, 1, 1)).alias("_section_letter"),
        "established_date",
        "registration_status",
        "deregistered_date",
        (~inactive_word & (F.col("deregistered_date").isNull() | (F.col("deregistered_date") > F.lit(as_of)))).alias(
            "is_active"
        ),
        "registered_capital_yuan",
        F.coalesce("reg_no", "_any_reg_no").alias("business_reg_no"),
        F.coalesce("org", "_any_org").alias("org_code"),
        "registry_rows",
        "source_file",
        "source_row",
    )
    sections = _lookup(spark, industry_code_to_section(), "_code", "_section")
    names = _lookup(spark, {**industry_names(), **industry_sections()}, "_icode", "industry_name")
    dnames = _lookup(spark, dists, "_dcode", "district_name")
    ent = (
        ent.join(F.broadcast(sections), F.regexp_replace(ent["industry_code"], "^[A-T]", "") == sections["_code"], "left")
        .withColumn("industry_section", F.coalesce("_section_letter", "_section"))
        .join(F.broadcast(names), F.regexp_replace(ent["industry_code"], "^[A-T](?=\\d)", "") == names["_icode"], "left")
        .join(F.broadcast(dnames), ent["district_code"] == dnames["_dcode"], "left")
        .drop("_code", "_section", "_section_letter", "_icode", "_dcode")
    )
    return ent, idents.select(*IDENTIFIER_COLUMNS), figures
