"""Writing the raw exports: files per record type with their own header style, encoding, date format,
multi-value separator, optional columns, platform columns and dirt; and the truth row of every data row.

Every record is one physical line (no value contains a line break), so a line-based reader sees each bad row
on its own. A file's data row number is its line number minus one (the header).
"""

from __future__ import annotations

import csv
import io
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from radar.config import Sources
from radar.ingest.headers import header_for
from radar.ingest.keys import KEY_SEPARATOR
from radar.simulate import ids
from radar.simulate.events import LIST_SEP, rng_for
from radar.simulate.timeline import LONG_TERM, NEVER, Timeline, ymd

HEADER_STYLES = ("label", "code", "code_lower", "snake")
ENCODINGS = ("utf-8", "utf-8-sig", "gb18030")
DATE_FORMATS = ("slash", "iso", "nopad", "cn", "compact")
PLATFORM_COLUMNS = ("ID", "数据导出时间", "RESOURCE_ID", "CHECK_FLAG", "CREATE_DEPT_NAME")
PLACEHOLDER_USCC = "00000000000000000X"
# optional fields every file of a record type carries (the risk story is unreadable without them)
ALWAYS = {
    "penalty": ["subject_category", "business_reg_no", "fine_amount", "legal_rep_name"],
    "license": ["subject_category", "business_reg_no"],
    "spot_check": ["check_type", "inclusion_probability"],
    "complaint": ["appeal_type", "case_filed"],
    "dishonest_debtor": ["debtor_type", "removed_date", "legal_rep_name"],
    "abnormal_list": ["removed_date", "removal_reason"],
    "serious_violation": ["removed_date"],
    "registry": ["registration_status", "deregistered_date", "district_code", "industry_code"],
    "repair": ["original_record_ref", "decision"],
    "objection": ["record_ref", "uscc"],
    "annual_report": ["staff_count", "total_revenue", "total_tax"],
}
EXPORT_TIME = "2024-07-01 08:30:00"

# a market-regulation system's own penalty export (新疆局-style keys; fines in yuan)
MARKET_PENALTY_HEADERS = {
    "subject_name": "entname",
    "subject_category": "当事人类型",
    "uscc": "uniscid",
    "business_reg_no": "工商注册号",
    "legal_rep_name": "lerep",
    "decision_no": "pendecno",
    "violation_type": "illegacttype",
    "legal_basis": "penbasis_cn",
    "violation_facts": "mainillegfact",
    "penalty_category": "pentype_cn",
    "penalty_content": "pencontent",
    "fine_amount": "penam|yuan",
    "confiscation_amount": "forfam|yuan",
    "authority_name": "penauth_cn",
    "authority_uscc": "处罚机关代码",
    "decision_date": "pendecissdate",
    "penalty_valid_until": "penperi",
    "publish_date": "publicdate",
    "publicity_end_date": "pubdeadline",
}
# fields whose values are codes in code-style files (text in label-style files)
CODED_VALUES = {
    ("penalty", "status"): {"正常": "0", "撤销": "1"},
    ("license", "status"): {"有效": "1", "无效": "2"},
    ("complaint", "appeal_type"): {"投诉": "1", "举报": "2"},
    ("dishonest_debtor", "debtor_type"): {"自然人": "580", "法人或其他组织": "581"},
}


@dataclass
class FilePlan:
    """One export file: which rows, and how they are written."""

    name: str
    record_type: str
    rows: pd.DataFrame
    style: str = "label"
    encoding: str = "utf-8"
    date_format: str = "iso"
    list_sep: str = ";"
    fields: list[str] = field(default_factory=list)
    headers: dict[str, str] = field(default_factory=dict)  # field -> "header" or "header|unit"
    extras: list[str] = field(default_factory=list)
    sentinel: str = "2099/12/31"
    money_fixed: bool = True
    truncate_last: bool = False


@dataclass
class Written:
    """What was written: the file list (for scenario.json) and the truth rows."""

    files: list[dict[str, object]]
    truth: pd.DataFrame


# ---------------------------------------------------------------- value formatting
def format_dates(
    days: np.ndarray, fmt: str, sentinel: str, rng: np.random.Generator | None = None
) -> np.ndarray:
    """Day numbers as text in a file's date format; NEVER is empty, LONG_TERM is the file's sentinel."""
    days = np.asarray(days, dtype=np.int64)
    out = np.full(len(days), "", dtype=object)
    ok = (days < NEVER) & (days != LONG_TERM)
    d = days[ok]
    if len(d):
        y, m, dd = ymd(d)
        ys, ms, ds = y.astype(str), ids.zfill(m, 2), ids.zfill(dd, 2)
        if fmt == "slash":
            s = np.char.add(np.char.add(np.char.add(np.char.add(ys, "/"), ms), "/"), ds)
        elif fmt == "iso":
            s = np.char.add(np.char.add(np.char.add(np.char.add(ys, "-"), ms), "-"), ds)
        elif fmt == "nopad":
            s = np.char.add(
                np.char.add(np.char.add(np.char.add(ys, "-"), m.astype(str)), "-"), dd.astype(str)
            )
        elif fmt == "cn":
            s = np.char.add(np.char.add(np.char.add(np.char.add(np.char.add(ys, "年"), ms), "月"), ds), "日")
        elif fmt == "compact":
            s = np.char.add(np.char.add(ys, ms), ds)
        elif fmt == "epoch_ms":
            # GSXT altDate: milliseconds at midnight Beijing time (UTC+8)
            s = ((d * 86400 - 8 * 3600) * 1000).astype(str)
        elif fmt == "datetime":
            secs = (
                rng.integers(8 * 3600, 18 * 3600, size=len(d))
                if rng is not None
                else np.full(len(d), 9 * 3600)
            )
            hh, mm, ss = ids.zfill(secs // 3600, 2), ids.zfill(secs // 60 % 60, 2), ids.zfill(secs % 60, 2)
            base = np.char.add(np.char.add(np.char.add(np.char.add(ys, "-"), ms), "-"), ds)
            s = np.char.add(
                np.char.add(np.char.add(np.char.add(np.char.add(np.char.add(base, " "), hh), ":"), mm), ":"),
                ss,
            )
        else:
            raise ValueError(f"unknown date format {fmt}")
        out[ok] = s.astype(object)
    out[days == LONG_TERM] = sentinel
    return out


def iso_dates(days: np.ndarray) -> np.ndarray:
    """Day numbers as YYYY-MM-DD (the form dates take in record keys); empty for NEVER."""
    return format_dates(days, "iso", "2099-12-31")


def format_money(values: np.ndarray, unit: str, fixed: bool) -> np.ndarray:
    """Yuan amounts written in ``unit`` (wan: up to 6 decimals; yuan: whole yuan or 2 decimals)."""
    v = np.asarray(values, dtype=float)
    out = np.full(len(v), "", dtype=object)
    ok = ~np.isnan(v)
    if not ok.any():
        return out
    if unit == "wan":
        x = pd.Series(v[ok] / 10000.0)
        s = x.map("{:.6f}".format)
        if not fixed:
            s = s.str.rstrip("0").str.rstrip(".")
    else:
        x = pd.Series(v[ok])
        s = x.map("{:.2f}".format) if fixed else x.map("{:.0f}".format)
    out[ok] = s.to_numpy(dtype=object)
    return out


def format_decimal(values: np.ndarray) -> np.ndarray:
    """Decimals with up to 6 significant decimals; NaN is empty."""
    v = np.asarray(values, dtype=float)
    out = np.full(len(v), "", dtype=object)
    ok = ~np.isnan(v)
    if not ok.any():
        return out
    out[ok] = pd.Series(v[ok]).map("{:.6f}".format).str.rstrip("0").str.rstrip(".").to_numpy(dtype=object)
    return out


def nfkc_strip(values: pd.Series) -> pd.Series:
    """``radar.ingest.keys.key_part`` for text, vectorised."""
    return values.fillna("").astype(str).str.normalize("NFKC").str.strip()


# ---------------------------------------------------------------- planning
class Exporter:
    """Plans, dirties and writes the export files of all record types."""

    def __init__(
        self,
        src: Sources,
        tl: Timeline,
        seed: int,
        dirt: dict[str, float],
        entity_ids: np.ndarray,
        person_ids: np.ndarray,
    ):
        self.src = src
        self.tl = tl
        self.seed = seed
        self.dirt = dirt
        self.rng = rng_for(seed, 401)
        self.entity_ids = entity_ids
        self.person_ids = person_ids
        self.plans: list[FilePlan] = []

    def _spec(self, rt: str):
        return self.src.record_types[rt]

    def _essential(self, rt: str) -> list[str]:
        spec = self._spec(rt)
        keep = set(spec.natural_key) | set(spec.detect) | {f for f, s in spec.fields.items() if s.required}
        keep |= {v for v in spec.subject.model_dump().values() if v}
        keep.add(spec.event_date)
        keep |= set(ALWAYS.get(rt, []))
        return [f for f in spec.fields if f in keep]

    def plan(self, rt: str, name: str, rows: pd.DataFrame, **kw: object) -> FilePlan:
        """Add a file of record type ``rt`` with randomly drawn (or given) writing choices."""
        rng = self.rng
        spec = self._spec(rt)
        cols = set(rows.columns)
        essential = self._essential(rt)
        optional = [f for f in spec.fields if f not in essential and f in cols]
        drop_p = kw.pop("drop_optional", 0.25)
        chosen = [f for f in optional if rng.random() >= drop_p]
        fields = [f for f in spec.fields if (f in essential and f in cols) or f in chosen]
        extras = [c for c in PLATFORM_COLUMNS if rng.random() < 0.25]
        p = FilePlan(
            name=name,
            record_type=rt,
            rows=rows,
            style=str(rng.choice(HEADER_STYLES, p=[0.45, 0.3, 0.1, 0.15])),
            encoding=str(rng.choice(ENCODINGS, p=[0.4, 0.3, 0.3])),
            date_format=str(rng.choice(DATE_FORMATS)),
            list_sep=str(rng.choice([";", "、", ","])),
            fields=fields,
            extras=extras,
            sentinel=str(rng.choice(["2099/12/31", "9999-9-9", "2099-12-31"])),
            money_fixed=bool(rng.random() < 0.5),
        )
        for k, v in kw.items():
            setattr(p, k, v)
        if p.headers:
            p.fields = [f for f in p.fields if f in p.headers]
        self.plans.append(p)
        return p

    # ---------------------------------------------------------------- writing one file
    def _header_and_unit(self, p: FilePlan, f: str) -> tuple[str, str | None]:
        spec = self._spec(p.record_type).fields[f]
        if f in p.headers:
            h, _, unit = p.headers[f].partition("|")
            return h, (unit or spec.unit)
        return header_for(p.record_type, f, p.style), spec.unit

    def _format(
        self, p: FilePlan, rows: pd.DataFrame, rng: np.random.Generator
    ) -> tuple[list[str], pd.DataFrame]:
        spec = self._spec(p.record_type)
        headers: list[str] = []
        out = pd.DataFrame(index=rows.index)
        coded = p.style in ("code", "code_lower") and not p.headers
        for f in p.fields:
            h, unit = self._header_and_unit(p, f)
            headers.append(h)
            t = spec.fields[f].type
            col = rows[f]
            if t == "date":
                fmt = p.date_format
                out[h] = format_dates(col.to_numpy(), fmt, p.sentinel, rng)
            elif t == "money":
                out[h] = format_money(col.to_numpy(dtype=float), unit or "yuan", p.money_fixed)
            elif t == "decimal":
                out[h] = format_decimal(col.to_numpy(dtype=float))
            elif t == "int":
                v = col.to_numpy(dtype=np.int64)
                out[h] = np.where(v >= 0, v.astype(str), "").astype(object)
            elif t == "bool":
                yes, no = ("1", "0") if coded else ("是", "否")
                out[h] = col.map({True: yes, False: no}).fillna("").to_numpy(dtype=object)
            elif t == "list":
                out[h] = (
                    col.fillna("")
                    .astype(str)
                    .str.replace(LIST_SEP, p.list_sep, regex=False)
                    .to_numpy(dtype=object)
                )
            else:
                v = col.fillna("").astype(str)
                codes = CODED_VALUES.get((p.record_type, f))
                if codes and coded:
                    v = v.map(lambda x, c=codes: c.get(x, x))
                out[h] = v.to_numpy(dtype=object)
        for x in p.extras:
            headers.append(x)
            if x == "ID":
                out[x] = (np.arange(len(rows)) + int(rng.integers(10**5, 10**6))).astype(str)
            elif x == "数据导出时间":
                out[x] = EXPORT_TIME
            elif x == "RESOURCE_ID":
                out[x] = ids.zfill(rng.integers(0, 10**12, size=len(rows)), 12)
            elif x == "CHECK_FLAG":
                out[x] = "1"
            else:
                out[x] = "朝阳市营商环境建设局"
        out.columns = headers
        return headers, out

    def record_keys(self, rt: str, rows: pd.DataFrame) -> np.ndarray:
        """Natural keys over the values as written (dates in ISO form)."""
        spec = self._spec(rt)
        parts = []
        for f in spec.natural_key:
            if spec.fields[f].type == "date":
                parts.append(pd.Series(iso_dates(rows[f].to_numpy()), index=rows.index))
            else:
                parts.append(nfkc_strip(rows[f]))
        key = parts[0]
        for s in parts[1:]:
            key = key + KEY_SEPARATOR + s
        return key.to_numpy(dtype=object)

    def write(self, raw: Path) -> Written:
        """Write every planned file; returns the file list and the truth rows."""
        files: list[dict[str, object]] = []
        truth = []
        malformed_rate = self.dirt.get("malformed_rows", 0.002)
        for i, p in enumerate(self.plans):
            rng = rng_for(self.seed, 500 + i)
            rows = p.rows
            headers, text = self._format(p, rows, rng)
            buf = io.StringIO()
            text.to_csv(buf, index=False, header=headers, lineterminator="\n", quoting=csv.QUOTE_MINIMAL)
            lines = buf.getvalue().split("\n")[:-1]
            n = len(rows)
            dirt = rows["_dirt"].to_numpy(dtype=object).copy()
            # malformed rows: a column too many or too few, or a quote that is never closed
            bad = np.flatnonzero(rng.random(n) < malformed_rate)
            for j in bad:
                line = lines[j + 1]
                how = rng.integers(0, 3)
                if how == 0:
                    lines[j + 1] = line + ",多余字段"
                elif how == 1 and not line.startswith('"') and "," in line:
                    lines[j + 1] = line.split(",", 1)[1]
                else:
                    k = line.find(",", line.find(",") + 1)
                    if k < 0 or line[k + 1 : k + 2] == '"':
                        lines[j + 1] = line + ",多余字段"
                    else:
                        lines[j + 1] = line[: k + 1] + '"' + line[k + 1 :]
                dirt[j] = _add(dirt[j], "malformed")
            body = "\n".join(lines) + "\n"
            if p.truncate_last and n > 1:
                last = lines[-1]
                body = "\n".join(lines[:-1]) + "\n" + last[: max(1, len(last) // 2)]
                dirt[n - 1] = _add(dirt[n - 1], "truncated")
            data = body.encode(p.encoding)
            (raw / p.name).write_bytes(data)
            keys = self.record_keys(p.record_type, rows)
            e = rows["_entity"].to_numpy()
            per = rows["_person"].to_numpy()
            truth.append(
                pd.DataFrame(
                    {
                        "source_type": p.record_type,
                        "record_key": keys,
                        "true_uscc": rows["_uscc"].fillna("").to_numpy(dtype=object),
                        "true_entity_id": np.where(e >= 0, self.entity_ids[np.maximum(e, 0)], ""),
                        "true_person_id": np.where(per >= 0, self.person_ids[np.maximum(per, 0)], ""),
                        "file": p.name,
                        "row": np.arange(1, n + 1),
                        "is_dirty_copy": rows["_copy"].to_numpy(dtype=bool),
                        "dirt": dirt,
                    }
                )
            )
            files.append(
                {
                    "file": p.name,
                    "record_type": p.record_type,
                    "rows": n,
                    "encoding": p.encoding,
                    "header_style": "alias" if p.headers else p.style,
                    "date_format": p.date_format,
                    "list_separator": p.list_sep,
                    "platform_columns": p.extras,
                }
            )
        t = pd.concat(truth, ignore_index=True)
        return Written(files=files, truth=t)


def _add(tags: str, tag: str) -> str:
    return f"{tags},{tag}" if tags else tag


# ---------------------------------------------------------------- dirt on values
def dirty_usccs(
    rng: np.random.Generator,
    rows: pd.DataFrame,
    field_name: str,
    dirt: dict[str, float],
    all_usccs: np.ndarray,
    missing: bool,
    placeholder: bool = False,
    missing_rate: float | None = None,
) -> pd.DataFrame:
    """Plant invalid, missing, placeholder and wrong-entity USCCs in an entity-identifying column."""
    rows = rows.copy()
    n = len(rows)
    has = (rows["_entity"].to_numpy() >= 0) & (
        rows[field_name].fillna("").astype(str).str.len().to_numpy() == 18
    )
    u = rng.random(n)
    val = rows[field_name].to_numpy(dtype=object).copy()
    tags = rows["_dirt"].to_numpy(dtype=object).copy()
    r_inv = dirt.get("invalid_uscc", 0.02)
    r_mis = (dirt.get("missing_uscc", 0.03) if missing_rate is None else missing_rate) if missing else 0.0
    r_wrong = dirt.get("wrong_uscc", 0.003)
    inv = has & (u < r_inv)
    if inv.any():
        val[inv] = ids.corrupt_uscc(rng, val[inv].astype(str))
    mis = has & (u >= r_inv) & (u < r_inv + r_mis)
    val[mis] = ""
    wrong = has & (u >= r_inv + r_mis) & (u < r_inv + r_mis + r_wrong)
    val[wrong] = all_usccs[rng.integers(0, len(all_usccs), size=int(wrong.sum()))]
    for m, t in ((inv, "invalid_uscc"), (mis, "missing_uscc"), (wrong, "wrong_uscc")):
        tags[m] = [_add(x, t) for x in tags[m]]
    if placeholder and "business_reg_no" in rows.columns:
        ind = (
            has
            & ~inv
            & ~mis
            & ~wrong
            & (rows["subject_category"].to_numpy() == "个体工商户")
            & (rows["business_reg_no"].fillna("").astype(str).str.len().to_numpy() == 15)
        )
        ph = ind & (rng.random(n) < dirt.get("placeholder_uscc", 0.3))
        val[ph] = PLACEHOLDER_USCC
        tags[ph] = [_add(x, "placeholder_uscc") for x in tags[ph]]
    rows[field_name] = val
    rows["_dirt"] = tags
    return rows


def copies(rng: np.random.Generator, rows: pd.DataFrame, rate: float) -> pd.DataFrame:
    """Re-sent copies of a share of the rows (flagged as dirty copies)."""
    pick = rng.random(len(rows)) < rate
    c = rows[pick].copy()
    c["_copy"] = True
    c["_dirt"] = [_add(x, "duplicate") for x in c["_dirt"]]
    return c


def nfkc(s: str) -> str:
    """NFKC form of one string."""
    return unicodedata.normalize("NFKC", s)
