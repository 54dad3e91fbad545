"""Hand-made ingest-shaped tables for the resolve and features tests.

``ingest_table`` builds a DataFrame with the columns an ``ingest/<record_type>`` table has (every canonical
field of conf/sources.yaml, money as ``<field>_yuan``, dates as DateType, lists as arrays, plus the record
columns of ``radar.ingest.records.add_record_columns``) from a few rows given as dicts of canonical fields.
The record columns are derived in Python the way ingest derives them, so no Spark UDF runs.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import date
from typing import Any

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import types as T
from stdnum.cn.uscc import calc_check_digit

from radar.config import RecordTypeSpec, sources
from radar.ingest.parse import uscc_status_of
from radar.ingest.records import _KIND_TYPE as KIND_TYPES
from radar.ingest.records import RECORD_COLUMNS, field_column

D = date.fromisoformat

# the published record tables' shape, taken from the ingest job itself (never a copy to keep in step)
_SPARK_TYPES: dict[str, T.DataType] = KIND_TYPES
RECORD_FIELDS: list[tuple[str, T.DataType]] = [
    *RECORD_COLUMNS,
    ("is_current", T.BooleanType()),
    ("versions", T.IntegerType()),
]


def uscc(division: str, serial: int, kind: str = "91") -> str:
    """A valid USCC (GB 32100-2015 check character) of category ``kind`` registered in ``division``."""
    body = f"{kind}{division}{serial:09d}"
    return body + calc_check_digit(body)


def invalid_checksum(code: str) -> str:
    """The same USCC with a wrong check character."""
    alphabet = "0123456789ABCDEFGHJKLMNPQRTUWXY"
    return code[:17] + alphabet[(alphabet.index(code[17]) + 1) % len(alphabet)]


def _spec(record_type: str) -> RecordTypeSpec:
    return sources().record_types[record_type]


def table_schema(record_type: str) -> T.StructType:
    """The schema of ``ingest/<record_type>``: canonical fields, source columns and record columns."""
    rt = _spec(record_type)
    fields = [
        T.StructField("record_type", T.StringType()),
        T.StructField("source_file", T.StringType()),
        T.StructField("source_row", T.LongType()),
        T.StructField("source_sha256", T.StringType()),
    ]
    fields += [T.StructField(field_column(n, s), _SPARK_TYPES[s.type]) for n, s in rt.fields.items()]
    fields += [
        T.StructField("issues", T.ArrayType(T.StringType())),
        T.StructField("extra", T.MapType(T.StringType(), T.StringType())),
    ]
    fields += [T.StructField(n, t) for n, t in RECORD_FIELDS]
    return T.StructType(fields)


def _clean_code(v: Any) -> str | None:
    """``parse.clean_uscc`` in Python: upper case, no spaces or dashes, empty -> null."""
    if v is None:
        return None
    s = re.sub(r"[\s\-]", "", str(v)).upper()
    return s or None


def _key_part(v: Any) -> str:
    if v is None:
        return ""
    return v.isoformat() if isinstance(v, date) else str(v)


def record_row(record_type: str, values: Mapping[str, Any], index: int) -> dict[str, Any]:
    """One full row: the given canonical values (strings for dates are parsed), the rest null, and the
    record columns derived as ingest derives them. Record columns given in ``values`` win."""
    rt = _spec(record_type)
    src = sources()
    row: dict[str, Any] = {f.name: None for f in table_schema(record_type).fields}
    row.update(record_type=record_type, source_file=f"{record_type}.csv", source_row=index + 1,
               source_sha256="0" * 64, issues=[], extra=None)
    for k, v in values.items():
        if k not in row:
            raise KeyError(f"{record_type} has no column {k}")
        spec = rt.fields.get(k)
        if spec is not None and spec.type == "date" and isinstance(v, str):
            v = D(v)
        row[k] = v
    subj = rt.subject
    raw = _clean_code(row[subj.uscc]) if subj.uscc else None
    status = uscc_status_of(raw, src.placeholder_uscc)
    valid = status == "valid"
    derived = {
        "record_key": "|".join(_key_part(row[field_column(k, rt.fields[k])]) for k in rt.natural_key),
        "party_uscc_raw": raw,
        "party_name": row[subj.name] if subj.name else None,
        "party_address": row[subj.address] if subj.address else None,
        "party_legal_rep": row[subj.legal_rep] if subj.legal_rep else None,
        "party_phone": row[subj.phone] if subj.phone else None,
        "party_reg_no": _clean_code(row[subj.reg_no]) if subj.reg_no else None,
        "event_date": row[rt.event_date],
        "uscc_status": status,
        "party_uscc": raw if valid else None,
        "reg_dept_code": raw[0] if valid and raw else None,
        "org_category_code": raw[1] if valid and raw else None,
        "division_code": raw[2:8] if valid and raw else None,
        "record_status": "active",
        "is_current": True,
        "versions": 1,
    }
    for k, v in derived.items():
        if k not in values:
            row[k] = v
    return row


def ingest_table(spark: SparkSession, record_type: str, rows: Sequence[Mapping[str, Any]]) -> DataFrame:
    """A hand-made ``ingest/<record_type>`` table (possibly empty) with the real column set."""
    schema = table_schema(record_type)
    full = [record_row(record_type, r, i) for i, r in enumerate(rows)]
    return spark.createDataFrame([tuple(r[f.name] for f in schema.fields) for r in full], schema)


RECORD_TYPES_FOR_EVENTS = [
    "penalty", "license", "dishonest_debtor", "abnormal_list", "serious_violation", "complaint", "spot_check",
    "commitment", "change", "third_party", "objection", "repair", "annual_report",
]


def in_world(record_type: str, row: Mapping[str, Any], index: int, suffix: str) -> dict[str, Any]:
    """A copy of a row for a parallel world: its record key and its entity get ``suffix``, so the copy and the
    original can sit in one table without meeting (a copy of an unlinked row stays unlinked)."""
    plain = {k: v for k, v in row.items() if k != "_entity"}
    out = dict(row, record_key=record_row(record_type, plain, index)["record_key"] + suffix)
    if row.get("_entity") is not None:
        out["_entity"] = row["_entity"] + suffix
    return out


def event_tables(
    spark: SparkSession, rows: Mapping[str, Sequence[Mapping[str, Any]]]
) -> tuple[dict[str, DataFrame], DataFrame]:
    """Every record type ``build_events`` reads (empty unless ``rows`` gives some), and their links.

    A row's ``_entity`` names the entity its link gives (absent or None: unlinked).
    """
    tables, links = {}, []
    for rt in RECORD_TYPES_FOR_EVENTS:
        given = rows.get(rt, [])
        plain = [{k: v for k, v in r.items() if k != "_entity"} for r in given]
        tables[rt] = ingest_table(spark, rt, plain)
        for i, (r, p) in enumerate(zip(given, plain, strict=True)):
            links.append((rt, record_row(rt, p, i)["record_key"], r.get("_entity")))
    return tables, spark.createDataFrame(links, "source_type string, record_key string, entity_id string")
