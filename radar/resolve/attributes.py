"""Entity attributes that link related parties: people, addresses, phones and corporate owners, dated.

**People** (legal representatives, shareholders, key personnel) are keyed, in this order:

1. by an unmasked 18-character ID number on the record (``id:<ID>``; masked IDs are never keys);
2. by name *within the same entity*: a name-only mention (shareholders and officers are published without
   ID numbers) with the name of an identified person of the same entity is that person;
3. by name *within a shared context*: entities that share an address, a phone, an ownership tie or an
   identified person, each shared by at most ``context_max_entities`` entities (a registered-agent address
   or an accountant's phone is no context), are related; same-name mentions connected through such
   contexts are one person: the identified one when exactly one ID number is among them, else a name-only
   node ``name:<name>@<anchor entity>``;
4. otherwise a name-only mention is a person of its own entity (``name:<name>@<entity>``), which links
   nothing: a name alone is never a key across the city.

The ``basis`` column says which rule keyed the row: ``id``, ``name+entity``, ``name+related``, ``name``,
and for the other attributes ``registry`` (address, phone), ``name+registry`` (a corporate shareholder
found by its registered name) or ``uscc``.

**Corporate owners**: a company holding shares in another is the node ``org:<its entity_id>``: the held
entity ties to it as ``shareholder`` and the holder itself as ``entity``.

**Dates**: ``since`` / ``until`` (exclusive) of each tie come from the records (a shareholder from its
earliest publication, payment or subscription date: 认缴出资日期 is often a deadline decades ahead; exit
and leaving dates) and from the change
records (变更信息): a legal representative, investor or officer named before a change and not after it stops
linking on the change date (and is added from the change when no other record names him), one named after
it and not before links from that date, the registry's legal representative links from the latest
legal-representative change, and a registered address is dated by the address changes (住所变更) the same
way.
"""

from __future__ import annotations

from collections.abc import Callable

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from radar.ingest.parse import ident
from radar.resolve.normalize import _FULL, _HALF, _SPACE, clean_sql, person_sql, phone_sql

ATTRIBUTE_COLUMNS = ["entity_id", "attr_type", "attr_key", "attr_label", "since", "until", "basis"]
PERSON_ROLES = ("legal_rep", "shareholder", "officer")
_ID_NO = r"^[1-9]\d{5}(19|20)\d{2}(0[1-9]|1[0-2])\d{2}\d{3}[\dX]$"
_USCC = r"^[0-9A-HJ-NP-RTUW-Y]{2}\d{6}[0-9A-HJ-NP-RTUW-Y]{10}$"
# what a change record is about, by its item (变更事项); the first match wins
CHANGE_ROLES: tuple[tuple[str, str], ...] = (
    ("legal_rep", "法定代表人|负责人|经营者|执行事务合伙人"),
    ("shareholder", "投资人|股东|出资"),
    ("officer", "高级管理人员|董事|监事|经理|主要人员"),
    ("address", "住所|经营场所|地址"),
)
_NAME_SEPARATORS = "[;；,，、/]"
# strength of a key, for collapsing copies of one tie
_BASIS_RANK = {
    "id": 0,
    "uscc": 0,
    "registry": 1,
    "name+registry": 1,
    "name+entity": 2,
    "name+related": 3,
    "name": 4,
}


def person_key(id_no: Column) -> Column:
    """``id:<ID number>`` for an unmasked 18-character resident ID, else null."""
    clean = F.upper(F.regexp_replace(F.coalesce(id_no, F.lit("")), r"\s", ""))
    return F.when(clean.rlike(_ID_NO), F.concat(F.lit("id:"), clean))


def person_name(name: Column) -> Column:
    """A comparable person name: half-width, no white space, no bracketed note (``张三(执行董事)`` -> 张三)."""
    text = F.regexp_replace(_clean_expr(name), r"\(.*?\)$", "")
    return F.when(F.length(text) > 0, text)


def _clean_expr(c: Column) -> Column:
    """``clean_sql`` on a Column: half-width, no white space."""
    return F.regexp_replace(F.translate(c, _FULL, _HALF), _SPACE, "")


def _role_of_item(item: Column) -> Column:
    role = F.lit(None).cast("string")
    for name, pattern in reversed(CHANGE_ROLES):
        role = F.when(item.rlike(pattern), F.lit(name)).otherwise(role)
    return role


def _names(text: Column) -> Column:
    """The distinct person names of a before/after text (``张三(自然人股东);李四``), as an array."""
    parts = F.split(F.coalesce(_clean_expr(text), F.lit("")), _NAME_SEPARATORS)
    cleaned = F.transform(parts, lambda p: F.regexp_replace(p, r"\(.*?\)$", ""))
    return F.array_distinct(F.filter(cleaned, lambda p: F.length(p) > 0))


# ---------------------------------------------------------------- records -> mentions
def _owned(table: DataFrame, source_type: str, links: DataFrame | None, entities: DataFrame) -> DataFrame:
    """Current rows with the entity they are about: by ``resolve/links`` when given, else by USCC."""
    rows = table.where("is_current")
    if links is not None:
        ids = links.where((F.col("source_type") == source_type) & F.col("entity_id").isNotNull()).select(
            "record_key", F.col("entity_id").alias("_owner_id")
        )
        return rows.join(ids, "record_key").withColumn("entity_id", F.col("_owner_id")).drop("_owner_id")
    ents = entities.select(F.col("uscc").alias("_owner"), "entity_id")
    return rows.join(ents, F.col("party_uscc_raw") == F.col("_owner")).drop("_owner")


def registry_mentions(entities: DataFrame) -> DataFrame:
    """The registry's legal representative of each entity (from its establishment; changes re-date it)."""
    return entities.select(
        "entity_id",
        F.lit("legal_rep").alias("attr_type"),
        person_name(F.col("legal_rep_name")).alias("pname"),
        person_key(F.col("legal_rep_id_no")).alias("id_key"),
        F.col("established_date").alias("since"),
        F.lit(None).cast("date").alias("until"),
        F.lit(True).alias("registry_rep"),
    )


def shareholder_rows(shareholders: DataFrame, entities: DataFrame, links: DataFrame | None) -> DataFrame:
    """Shareholders with their entity: entity_id, sh_name, sh_id_no, is_person, since, until.

    ``since`` is the earliest of the publication, payment and subscription dates (认缴出资日期 is usually
    a deadline, often decades ahead, not the start of the holding); ``until`` the exit date.
    """
    s = _owned(shareholders, "shareholder", links, entities)
    kind = F.coalesce(F.col("shareholder_type"), F.lit(""))
    org_kind = kind.rlike("企业|公司|法人|合伙|单位|组织|机构") & ~kind.contains("自然人")
    is_person = kind.contains("自然人") | (~org_kind & F.expr(person_sql(ident("shareholder_name"))))
    # the earliest of the dates the holding is known by (a subscription deadline in the future loses to
    # the publication date; alone it leaves the holding unknown until then)
    since = F.least(*(F.col(c) for c in ("publish_date", "paid_date", "subscribed_date") if c in s.columns))
    return s.select(
        "entity_id",
        F.col("shareholder_name").alias("sh_name"),
        F.col("shareholder_id_no").alias("sh_id_no")
        if "shareholder_id_no" in s.columns
        else F.lit(None).cast("string").alias("sh_id_no"),
        is_person.alias("is_person"),
        since.alias("since"),
        F.col("exit_date").alias("until"),
    )


def shareholder_mentions(rows: DataFrame) -> DataFrame:
    """Natural-person shareholders as person mentions."""
    return rows.where("is_person").select(
        "entity_id",
        F.lit("shareholder").alias("attr_type"),
        person_name(F.col("sh_name")).alias("pname"),
        person_key(F.col("sh_id_no")).alias("id_key"),
        "since",
        "until",
        F.lit(False).alias("registry_rep"),
    )


def officer_mentions(personnel: DataFrame, entities: DataFrame, links: DataFrame | None) -> DataFrame:
    """Key personnel (directors, supervisors, managers) as person mentions."""
    p = _owned(personnel, "key_personnel", links, entities)
    return p.select(
        "entity_id",
        F.lit("officer").alias("attr_type"),
        person_name(F.col("person_name")).alias("pname"),
        person_key(F.col("person_id_no")).alias("id_key"),
        F.col("appointed_date").alias("since"),
        F.col("left_date").alias("until"),
        F.lit(False).alias("registry_rep"),
    )


def org_attributes(rows: DataFrame, entities: DataFrame) -> DataFrame:
    """Corporate shareholders: the held entity -> ``org:<holder>`` (shareholder), the holder -> itself (entity).

    The holder is found by the USCC in the record's ID column, else by its exact registered name
    (normalised: half-width, no spaces). Holders outside the registry link nothing and are left out.
    """
    org = rows.where(~F.col("is_person"))
    code = F.upper(F.regexp_replace(F.coalesce(F.col("sh_id_no"), F.lit("")), r"\s", ""))
    by_code = entities.select(F.col("uscc").alias("_code"), F.col("entity_id").alias("_by_code"))
    by_name = (
        entities.select(_clean_expr(F.col("name")).alias("_name"), F.col("entity_id").alias("_holder"))
        .where(F.col("_name").isNotNull() & (F.length("_name") > 0))
        .groupBy("_name")
        .agg(F.min("_holder").alias("_by_name"), F.count("*").alias("_n"))
        .where(F.col("_n") == 1)  # a name two registered entities share identifies neither
        .drop("_n")
    )
    held = (
        org.withColumn("_code", F.when(code.rlike(_USCC), code))
        .withColumn("_name", _clean_expr(F.col("sh_name")))
        .join(by_code, "_code", "left")
        .join(by_name, "_name", "left")
        .withColumn("holder_id", F.coalesce("_by_code", "_by_name"))
        .where(F.col("holder_id").isNotNull() & (F.col("holder_id") != F.col("entity_id")))
        .withColumn(
            "basis", F.when(F.col("_by_code").isNotNull(), F.lit("uscc")).otherwise(F.lit("name+registry"))
        )
    )
    key = F.concat(F.lit("org:"), F.col("holder_id").cast("string"))
    as_held = held.select(
        "entity_id",
        F.lit("shareholder").alias("attr_type"),
        key.alias("attr_key"),
        F.col("sh_name").alias("attr_label"),
        "since",
        "until",
        "basis",
    )
    names = entities.select(F.col("entity_id").alias("holder_id"), F.col("name").alias("attr_label"))
    as_holder = (
        held.select("holder_id")
        .distinct()
        .join(names, "holder_id", "left")
        .select(
            F.col("holder_id").alias("entity_id"),
            F.lit("entity").alias("attr_type"),
            F.concat(F.lit("org:"), F.col("holder_id").cast("string")).alias("attr_key"),
            "attr_label",
            F.lit(None).cast("date").alias("since"),
            F.lit(None).cast("date").alias("until"),
            F.lit("registry").alias("basis"),
        )
    )
    return as_held.unionByName(as_holder)


# ---------------------------------------------------------------- change records -> dates
def role_changes(changes: DataFrame, entities: DataFrame, links: DataFrame | None) -> DataFrame:
    """Changes of people and addresses: entity_id, role, change_date, before, after, prev_date.

    ``before`` / ``after`` are arrays of person names (roles legal_rep, shareholder, officer) or the raw
    address text (role address, one element); ``prev_date`` is the entity's previous change of the same
    role (null for the first).
    """
    c = _owned(changes, "change", links, entities).withColumn("role", _role_of_item(F.col("change_item")))
    c = c.where(F.col("role").isNotNull() & F.col("change_date").isNotNull())
    is_address = F.col("role") == "address"
    out = c.select(
        "entity_id",
        "role",
        "change_date",
        F.when(is_address, F.array(F.col("before"))).otherwise(_names(F.col("before"))).alias("before"),
        F.when(is_address, F.array(F.col("after"))).otherwise(_names(F.col("after"))).alias("after"),
    )
    by_role = Window.partitionBy("entity_id", "role").orderBy("change_date")
    return out.withColumn("prev_date", F.lag("change_date").over(by_role))


def date_mentions(mentions: DataFrame, changes: DataFrame, entities: DataFrame) -> DataFrame:
    """Re-date person mentions with the change records and add the people only a change names.

    Input mentions: entity_id, attr_type, pname, id_key, since, until, registry_rep. A person named before
    a change of his role and not after it leaves on the change date (the earliest such date at or after his
    ``since``); one named after and not before joins on it (the latest such date up to his ``until``);
    the registry's legal representative joins on the entity's latest legal-representative change at the
    earliest. A person who left by a change and is named by no other record of that entity and role is
    added, from the role's previous change (or the establishment) to the change date.
    """
    people = changes.where(F.col("role").isin(*PERSON_ROLES))
    left = people.select(
        "entity_id",
        F.col("role").alias("attr_type"),
        F.explode(F.array_except("before", "after")).alias("pname"),
        F.col("change_date").alias("d"),
        "prev_date",
    )
    joined = people.select(
        "entity_id",
        F.col("role").alias("attr_type"),
        F.explode(F.array_except("after", "before")).alias("pname"),
        F.col("change_date").alias("d"),
    )
    latest_rep = (
        people.where(F.col("role") == "legal_rep")
        .groupBy("entity_id")
        .agg(F.max("change_date").alias("latest_rep"))
    )
    keys = ["entity_id", "attr_type", "pname"]
    # the row ids are fixed once (the frame is read by several joins below)
    m = mentions.withColumn("_row", F.monotonically_increasing_id()).localCheckpoint()
    # the changes, and the few mentions they re-date, are broadcast: a city's million mentions are never
    # shuffled for them (one sort-merge join each cost a shuffle of every mention)
    ends = (
        m.join(F.broadcast(left.drop("prev_date")), keys)
        .where(F.col("since").isNull() | (F.col("d") >= F.col("since")))
        .groupBy("_row")
        .agg(F.min("d").alias("_left"))
    )
    m = m.join(F.broadcast(ends), "_row", "left").withColumn("until", F.least("until", "_left"))
    starts = (
        m.join(F.broadcast(joined), keys)
        .where(F.col("until").isNull() | (F.col("d") < F.col("until")))
        .groupBy("_row")
        .agg(F.max("d").alias("_joined"))
    )
    m = (
        m.join(F.broadcast(starts), "_row", "left")
        .join(F.broadcast(latest_rep), "entity_id", "left")
        .withColumn(
            "since",
            F.greatest(
                "since",
                "_joined",
                F.when(F.col("registry_rep") & (F.col("attr_type") == "legal_rep"), F.col("latest_rep")),
            ),
        )
        .select(mentions.columns)
    )
    est = entities.select("entity_id", "established_date")
    # the mentions naming someone a change lets go (few), to tell the people only a change names
    named = mentions.select(*keys).join(F.broadcast(left.select(*keys).distinct()), keys, "left_semi").distinct()
    added = (
        left.join(F.broadcast(named), keys, "left_anti")
        .join(est, "entity_id", "left")
        .select(
            "entity_id",
            "attr_type",
            "pname",
            F.lit(None).cast("string").alias("id_key"),
            F.coalesce("prev_date", "established_date").alias("since"),
            F.col("d").alias("until"),
            F.lit(False).alias("registry_rep"),
        )
    )
    return m.unionByName(added)


def address_attributes(
    entities: DataFrame, changes: DataFrame | None, address_sql: Callable[[str], str] | None
) -> DataFrame:
    """Registered addresses, dated by the address changes: the current one from the latest change."""
    current = entities.select(
        "entity_id",
        F.lit("address").alias("attr_type"),
        F.concat(F.lit("addr:"), "address_core").alias("attr_key"),
        F.col("address_core").alias("attr_label"),
        F.col("established_date").alias("since"),
        F.lit(None).cast("date").alias("until"),
        F.lit("registry").alias("basis"),
    ).where(F.col("attr_key").isNotNull())
    if changes is None:
        return current
    moves = changes.where(F.col("role") == "address")
    latest = moves.groupBy("entity_id").agg(F.max("change_date").alias("_latest"))
    current = (
        current.join(latest, "entity_id", "left")
        .withColumn("since", F.greatest("since", "_latest"))
        .drop("_latest")
    )
    norm = address_sql or clean_sql
    old = (
        moves.select("entity_id", "change_date", "prev_date", F.col("before")[0].alias("_raw"))
        .withColumn("_core", F.expr(norm("_raw")))
        .where(F.col("_core").isNotNull() & (F.length("_core") > 0))
        .join(entities.select("entity_id", "established_date", "address_core"), "entity_id", "left")
        .where(F.col("_core") != F.coalesce(F.col("address_core"), F.lit("")))
        .select(
            "entity_id",
            F.lit("address").alias("attr_type"),
            F.concat(F.lit("addr:"), "_core").alias("attr_key"),
            F.col("_core").alias("attr_label"),
            F.coalesce("prev_date", "established_date").alias("since"),
            F.col("change_date").alias("until"),
            F.lit("registry").alias("basis"),
        )
    )
    return current.unionByName(old)


def phone_attributes(entities: DataFrame) -> DataFrame:
    """Registered phones (from the establishment: the registry keeps no phone history)."""
    return entities.select(
        "entity_id",
        F.lit("phone").alias("attr_type"),
        F.concat(F.lit("tel:"), F.expr(phone_sql(ident("phone")))).alias("attr_key"),
        F.col("phone").alias("attr_label"),
        F.col("established_date").alias("since"),
        F.lit(None).cast("date").alias("until"),
        F.lit("registry").alias("basis"),
    ).where(F.col("attr_key").isNotNull())


# ---------------------------------------------------------------- names -> people
LOCAL_COMPONENT_EDGES = 500_000


def _components(spokes: DataFrame, max_iterations: int) -> DataFrame:
    """(mention, cluster): the connected components of the mention-context graph (``spokes``: entity_id =
    mention, node_id), labelled by their smallest mention.

    Such graphs are small (only same-name mentions sharing a context): up to ``LOCAL_COMPONENT_EDGES``
    edges they are solved on the driver by union-find, which saves the Spark jobs of each round of
    :func:`radar.graph.components.connected_components` (used for larger ones).
    """
    schema = "mention string, cluster string"
    if spokes.limit(LOCAL_COMPONENT_EDGES + 1).count() > LOCAL_COMPONENT_EDGES:
        from radar.graph.components import connected_components

        return connected_components(spokes, max_iterations).select(
            F.col("entity_id").alias("mention"), F.col("component_id").alias("cluster")
        )
    parent: dict[str, str] = {}

    def find(x: str) -> str:
        root = x
        while parent[root] != root:
            root = parent[root]
        while parent[x] != root:
            parent[x], x = root, parent[x]
        return root

    node_of: dict[str, str] = {}
    for row in spokes.select("entity_id", "node_id").toLocalIterator():
        mention, node = row["entity_id"], "\u0000" + row["node_id"]  # contexts apart from mentions
        for v in (mention, node):
            parent.setdefault(v, v)
        a, b = find(mention), find(node)
        if a != b:
            parent[max(a, b)] = min(a, b)
        node_of[mention] = node
    # the label is the smallest mention of the component (context nodes sort first: find it per root)
    smallest: dict[str, str] = {}
    for mention in node_of:
        r = find(mention)
        if r not in smallest or mention < smallest[r]:
            smallest[r] = mention
    spark = spokes.sparkSession
    rows = [(mention, smallest[find(mention)]) for mention in node_of]
    return spark.createDataFrame(rows, schema) if rows else spark.createDataFrame([], schema)


def resolve_people(
    mentions: DataFrame, contexts: DataFrame, context_max_entities: int, max_iterations: int
) -> DataFrame:
    """Key every person mention (rules 1-4 of the module docstring).

    Inputs: mentions (entity_id, attr_type, pname, id_key, since, until); contexts (entity_id, ctx_key:
    addresses, phones, ownership nodes of any date). Output: entity_id, attr_type, attr_key, attr_label
    (the name), since, until, basis.
    """
    m = mentions.where(F.col("pname").isNotNull())
    # rule 2: one ID among the same-name mentions of an entity names them all
    in_entity = m.groupBy("entity_id", "pname").agg(
        F.collect_set("id_key").alias("_ids"),
    )
    m = (
        m.join(in_entity, ["entity_id", "pname"])
        .withColumn("_id", F.coalesce("id_key", F.when(F.size("_ids") == 1, F.col("_ids")[0])))
        .withColumn(
            "basis",
            F.when(F.col("id_key").isNotNull(), F.lit("id")).when(
                F.col("_id").isNotNull(), F.lit("name+entity")
            ),
        )
        .drop("_ids")
        .localCheckpoint()
    )
    # rule 3: same-name mentions connected through small shared contexts (identified people are contexts too)
    ctx = (
        contexts.select("entity_id", "ctx_key")
        .unionByName(m.where(F.col("_id").isNotNull()).select("entity_id", F.col("_id").alias("ctx_key")))
        .distinct()
    )
    sizes = ctx.groupBy("ctx_key").agg(F.count("*").alias("_n"))
    ctx = ctx.join(sizes.where((F.col("_n") >= 2) & (F.col("_n") <= context_max_entities)), "ctx_key").select(
        "entity_id", "ctx_key"
    )
    named = m.select("entity_id", "pname").distinct()
    spokes = named.join(ctx, "entity_id").select(
        F.concat_ws("|", F.col("entity_id").cast("string"), "pname").alias("mention"),
        F.concat_ws("|", "pname", "ctx_key").alias("node_id"),
    )
    shared = spokes.groupBy("node_id").agg(F.count("*").alias("_n")).where(F.col("_n") >= 2).select("node_id")
    spokes = spokes.join(shared, "node_id").select(F.col("mention").alias("entity_id"), "node_id")
    clusters = _components(spokes.localCheckpoint(), max_iterations)
    ids = (
        m.where(F.col("_id").isNotNull())
        .select(F.concat_ws("|", F.col("entity_id").cast("string"), "pname").alias("mention"), "_id")
        .join(clusters, "mention")
        .groupBy("cluster")
        .agg(F.collect_set("_id").alias("_cluster_ids"))
    )
    mention = F.concat_ws("|", F.col("entity_id").cast("string"), "pname")
    anchor = F.coalesce(F.substring_index("cluster", "|", 1), F.col("entity_id").cast("string"))
    out = (
        m.withColumn("mention", mention)
        .join(clusters, "mention", "left")
        .join(ids, "cluster", "left")
        .withColumn("_related", F.when(F.size("_cluster_ids") == 1, F.col("_cluster_ids")[0]))
        .select(
            "entity_id",
            "attr_type",
            F.coalesce("_id", "_related", F.concat(F.lit("name:"), "pname", F.lit("@"), anchor)).alias(
                "attr_key"
            ),
            F.col("pname").alias("attr_label"),
            "since",
            "until",
            F.coalesce(
                "basis",
                F.when(F.col("_related").isNotNull(), F.lit("name+related")),
                F.lit("name"),
            ).alias("basis"),
        )
    )
    return out


def collapse(rows: DataFrame) -> DataFrame:
    """One row per (entity, type, key, since): the longest tie (open-ended when any copy is), strongest basis.

    Copies that differ only in ``until`` (one person in two positions from the same day, one of which he
    has left) collapse to the longest tie.
    """
    rank = F.lit(9)
    for basis, r in _BASIS_RANK.items():
        rank = F.when(F.col("basis") == basis, F.lit(r)).otherwise(rank)
    return (
        rows.withColumn("_rank", rank)
        .groupBy("entity_id", "attr_type", "attr_key", "since")
        .agg(
            F.min("attr_label").alias("attr_label"),
            F.when(F.count(F.when(F.col("until").isNull(), 1)) > 0, F.lit(None).cast("date"))
            .otherwise(F.max("until"))
            .alias("until"),
            F.min(F.struct("_rank", "basis"))["basis"].alias("basis"),
        )
        .select(*ATTRIBUTE_COLUMNS)
    )


def build_attributes(
    entities: DataFrame,
    shareholders: DataFrame,
    personnel: DataFrame,
    changes: DataFrame | None = None,
    links: DataFrame | None = None,
    *,
    address_sql: Callable[[str], str] | None = None,
    context_max_entities: int = 10,
    max_iterations: int = 50,
) -> DataFrame:
    """Every linking attribute of every entity, keyed and dated (see the module docstring).

    Inputs: ``entities`` (resolve/entities); the ingest tables ``shareholders``, ``personnel`` and
    (optional) ``changes``; ``links`` (resolve/links: record -> entity; without it sub-table rows are
    joined to their entity by USCC). ``address_sql`` normalises an address text as the registry's
    ``address_core`` was (``NameRules.address_sql``). Runs a small connected-components job (names in
    shared contexts) eagerly.

    Output: entity_id, attr_type (legal_rep, shareholder, officer, entity, address, phone), attr_key,
    attr_label, since, until (exclusive; null = open), basis.
    """
    # the registry columns used here, cut from their lineage: every step below reads them again
    entities = entities.select(
        "entity_id", "uscc", "name", "legal_rep_name", "legal_rep_id_no", "address_core", "phone", "established_date"
    ).localCheckpoint()
    # each intermediate below is read by several later joins: materialised once, cut from its lineage
    sh = shareholder_rows(shareholders, entities, links).localCheckpoint()
    mentions = (
        registry_mentions(entities)
        .unionByName(shareholder_mentions(sh))
        .unionByName(officer_mentions(personnel, entities, links))
    ).localCheckpoint()
    moves = role_changes(changes, entities, links).localCheckpoint() if changes is not None else None
    if moves is not None:
        mentions = date_mentions(mentions, moves, entities).localCheckpoint()
    places = address_attributes(entities, moves, address_sql).unionByName(phone_attributes(entities)).localCheckpoint()
    orgs = org_attributes(sh, entities).localCheckpoint()
    contexts = places.unionByName(orgs).select("entity_id", F.col("attr_key").alias("ctx_key"))
    people = resolve_people(mentions, contexts, context_max_entities, max_iterations)
    return collapse(people.unionByName(places).unionByName(orgs))
