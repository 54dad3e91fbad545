"""The data-access layer of the dashboard and the analysts' notebooks.

Jurisdiction is enforced here, not in the pages: every method returns only rows of entities whose
``district_code`` is among the user's districts (a user without districts sees the whole city), and
every alert action first checks that the alert lies in the user's districts and that the user's role may
act. Personal data (legal representatives' names and ID numbers, phones, person names in evidence and
free text) is masked for roles that do not need it, as conf/dashboard.yaml says.

Example (in a notebook)::

    import getpass
    from radar.dashboard.access import LakeAccess
    acc = LakeAccess.login("demo/lake", "analyst", getpass.getpass())
    acc.scores().group_by("grade").len()
"""

from __future__ import annotations

import json
import os
from functools import lru_cache
from pathlib import Path
from typing import Any

import polars as pl

from radar.config import profile as load_profile
from radar.config import resolve_paths
from radar.dashboard.masking import collect_names, mask_evidence, mask_evidence_text, mask_frame, mask_text
from radar.dashboard.settings import DashboardSettings, RoleSettings, dashboard_settings
from radar.errors import LakeError, RadarError
from radar.lake import Lake, read_through_swaps
from radar.store import Store

SCORES = "score/scores"
DRIFT = "score/drift"
ENTITIES = "resolve/entities"
LINKS = "resolve/links"
EVENTS = "features/events"
SNAPSHOTS = "features/snapshots"
CATALOG = "features/catalog"
FLAGS = "graph/flags"
COMPONENTS = "graph/components"
PLANS = "plan/plans"
DQ_REPORT = "reports/dq"
RUN_REPORT = "reports/run"


class AccessDenied(RadarError):
    """The user may not see or change this (outside the jurisdiction, or not allowed for the role)."""


def open_lake_readonly(root: Path | str) -> Lake:
    """A lake checked for its format, with no recovery: a reader never cleans up after a run that may still
    be writing."""
    return Lake(root).open(recover=False)


# large per-record tables: read only the rows asked for, never cached whole
_SCANNED = frozenset({"resolve/links", "features/events"})


@lru_cache(maxsize=16)
def _read_partition(root: str, table: str, as_of: str, _stamp: tuple[int, int]) -> pl.DataFrame:
    # keyed on the partition directory's inode and mtime: a republished partition is read afresh
    return Lake(root).read_polars(table, as_of)


def parse_reasons(text: str | None) -> list[dict[str, Any]]:
    """The ``reasons`` JSON of a score row as a list of {feature, label, value, contribution}."""
    if not text:
        return []
    try:
        value = json.loads(text)
    except (TypeError, ValueError):
        return []
    return [r for r in value if isinstance(r, dict)] if isinstance(value, list) else []


def _report_rows(value: Any) -> list[dict[str, Any]] | None:
    """Records of a report section: a list of dicts, or a dict of dicts (its keys become ``key``)."""
    if isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
        return value
    if isinstance(value, dict) and value and all(isinstance(v, dict) for v in value.values()):
        return [{"key": k, **v} for k, v in value.items()]
    return None


class LakeAccess:
    """One user's view of a lake and of the alert store."""

    def __init__(
        self,
        lake: Path | str,
        user: dict[str, Any],
        store: Store | None = None,
        settings: DashboardSettings | None = None,
        profile: str | None = None,
    ) -> None:
        self.lake = open_lake_readonly(lake)
        self.settings = settings or dashboard_settings()
        role = user.get("role")
        if user.get("active") is False:
            raise AccessDenied(f"account {user.get('username')!r} is disabled")
        if role not in self.settings.roles:
            raise AccessDenied(f"unknown role {role!r} for user {user.get('username')!r}")
        self.user = dict(user)
        self.username: str = str(user.get("username") or "")
        self.role: str = str(role)
        self.districts: list[str] = sorted({str(d) for d in (user.get("districts") or [])})
        self._store = store
        self._profile = profile

    @classmethod
    def login(cls, lake: Path | str, username: str, password: str, profile: str | None = None) -> LakeAccess:
        """A user's access after checking the password against the store (for notebooks)."""
        store = Store(resolve_paths(load_profile(profile), Path(lake)).store_url)
        user = store.authenticate(username, password)
        if user is None:
            store.close()
            raise AccessDenied("用户名或密码错误，或账号已停用")
        return cls(lake, user, store=store, profile=profile)

    # ------------------------------------------------------------------ who the user is
    @property
    def role_settings(self) -> RoleSettings:
        """The settings of the user's role."""
        return self.settings.roles[self.role]

    @property
    def can_act(self) -> bool:
        """Whether the role may assign, review, decide and annotate alerts."""
        return self.role_settings.alert_actions

    @property
    def masked(self) -> bool:
        """Whether personal data is masked for this user."""
        return self.role_settings.personal_data == "masked"

    @property
    def store(self) -> Store:
        """The alert store of this lake's deployment profile (opened on first use)."""
        if self._store is None:
            url = resolve_paths(load_profile(self._profile), self.lake.root).store_url
            self._store = Store(url)
        return self._store

    def in_scope(self, district_code: object) -> bool:
        """Whether a district lies in the user's jurisdiction."""
        return not self.districts or (district_code is not None and str(district_code) in self.districts)

    def visible_districts(self) -> list[str]:
        """The district codes the user may choose from (the user's, or every configured one)."""
        return self.districts or list(self.settings.districts)

    # ------------------------------------------------------------------ lake tables
    def as_of_dates(self, table: str) -> list[str]:
        """Published as-of dates of a table, oldest first."""
        return self.lake.as_of_dates(table)

    def pick_as_of(self, table: str, as_of: str | None = None) -> str | None:
        """The partition to read: ``as_of`` itself, else the newest one before it, else the newest."""
        dates = self.as_of_dates(table)
        if not dates:
            return None
        if as_of is None or as_of in dates:
            return as_of or dates[-1]
        earlier = [d for d in dates if d <= as_of]
        return earlier[-1] if earlier else dates[-1]

    def has_table(self, table: str) -> bool:
        """Whether any partition of a table is published."""
        return bool(self.as_of_dates(table))

    def _raw(self, table: str, as_of: str | None) -> pl.DataFrame | None:
        """A whole partition, unscoped and unmasked (never returned to callers as is)."""
        chosen = self.pick_as_of(table, as_of)
        if chosen is None:
            return None
        path = self.lake.partition(table, chosen)
        try:
            st = os.stat(path)
        except FileNotFoundError:
            return None
        try:
            return _read_partition(str(self.lake.root), table, chosen, (st.st_ino, st.st_mtime_ns))
        except LakeError:
            return None

    def _rows(self, table: str, as_of: str | None, entity_id: str | None) -> pl.DataFrame | None:
        """A partition's rows (of one entity, if given); large tables are scanned, not loaded whole."""
        if table not in _SCANNED:
            df = self._raw(table, as_of)
            if df is not None and entity_id is not None and "entity_id" in df.columns:
                df = df.filter(pl.col("entity_id") == entity_id)
            return df
        chosen = self.pick_as_of(table, as_of)
        if chosen is None:
            return None
        path = self.lake.partition(table, chosen)
        if not any(path.glob("*.parquet")):
            return pl.DataFrame() if path.exists() else None
        ids = self._scope_ids(as_of)

        def read() -> pl.DataFrame:
            lf = pl.scan_parquet(str(path / "*.parquet"))
            if entity_id is not None:
                lf = lf.filter(pl.col("entity_id") == entity_id)
            if ids is not None:
                lf = lf.filter(pl.col("entity_id").is_in(ids.to_list()))
            return lf.collect()

        return read_through_swaps(read)

    def _by_district(self, df: pl.DataFrame) -> pl.DataFrame:
        if not self.districts:
            return df
        if "district_code" not in df.columns:
            return df.clear()  # cannot tell whose rows these are: show none
        return df.filter(pl.col("district_code").cast(pl.String).is_in(self.districts))

    def _scope_ids(self, as_of: str | None) -> pl.Series | None:
        """Entity ids in the jurisdiction (None: the user sees every district)."""
        if not self.districts:
            return None
        for table in (ENTITIES, SCORES):
            df = self._raw(table, as_of)
            if df is not None and {"entity_id", "district_code"} <= set(df.columns):
                return self._by_district(df).get_column("entity_id").unique()
        return pl.Series("entity_id", [], dtype=pl.String)

    def _by_entity(self, df: pl.DataFrame, as_of: str | None) -> pl.DataFrame:
        ids = self._scope_ids(as_of)
        if ids is None:
            return df
        if "entity_id" not in df.columns:
            return df.clear()
        return df.filter(pl.col("entity_id").is_in(ids.to_list()))

    def _mask(self, df: pl.DataFrame) -> pl.DataFrame:
        return mask_frame(df, self.settings.masking) if self.masked else df

    def _empty(self) -> pl.DataFrame:
        return pl.DataFrame()

    def scores(self, as_of: str | None = None) -> pl.DataFrame:
        """Risk scores and grades of the entities in the jurisdiction (``score/scores``)."""
        df = self._raw(SCORES, as_of)
        return self._empty() if df is None else self._mask(self._by_district(df))

    def entities(self, as_of: str | None = None) -> pl.DataFrame:
        """Resolved entities in the jurisdiction (``resolve/entities``), personal data masked by role."""
        df = self._raw(ENTITIES, as_of)
        return self._empty() if df is None else self._mask(self._by_district(df))

    def search_entities(self, query: str, as_of: str | None = None, limit: int | None = None) -> pl.DataFrame:
        """Entities in the jurisdiction whose name contains ``query`` or whose USCC or id starts with it."""
        q = (query or "").strip()
        if not q:
            return self._empty()
        df = self.scores(as_of)
        if df.is_empty():
            df = self.entities(as_of)
        if df.is_empty():
            return df
        cond = pl.col("name").cast(pl.String).str.contains(q, literal=True)
        if "uscc" in df.columns:
            cond = cond | pl.col("uscc").cast(pl.String).str.starts_with(q.upper())
        cond = cond | (pl.col("entity_id").cast(pl.String) == q)
        out = df.filter(cond)
        if "risk_score" in out.columns:
            out = out.sort("risk_score", descending=True, nulls_last=True)
        return out.head(limit or self.settings.pages.search_limit)

    def entity_profile(self, entity_id: str, as_of: str | None = None) -> dict[str, Any] | None:
        """An entity's score row and registration row (dicts; None when not in the jurisdiction)."""
        score = self.scores(as_of)
        ent = self.entities(as_of)
        s = score.filter(pl.col("entity_id") == entity_id).head(1) if "entity_id" in score.columns else score
        e = ent.filter(pl.col("entity_id") == entity_id).head(1) if "entity_id" in ent.columns else ent
        if s.is_empty() and e.is_empty():
            return None
        out: dict[str, Any] = {
            "entity_id": entity_id,
            "score": s.row(0, named=True) if not s.is_empty() else None,
            "entity": e.row(0, named=True) if not e.is_empty() else None,
        }
        out["reasons"] = parse_reasons((out["score"] or {}).get("reasons"))
        return out

    def _person_names(self, entity_ids: list[str], as_of: str | None) -> dict[str, list[str]]:
        """Legal representatives' names per entity (to mask them inside free text)."""
        names: dict[str, list[str]] = {}
        for table in (ENTITIES, SCORES):
            df = self._raw(table, as_of)
            if df is None or "legal_rep_name" not in df.columns:
                continue
            rows = df.filter(pl.col("entity_id").is_in(entity_ids)).select("entity_id", "legal_rep_name")
            for eid, name in rows.iter_rows():
                if name:
                    names.setdefault(eid, []).append(name)
        return names

    def _mask_text_column(
        self, df: pl.DataFrame, column: str, as_of: str | None, json_text: bool
    ) -> pl.DataFrame:
        if not self.masked or column not in df.columns or df.is_empty():
            return df
        ids = df.get_column("entity_id").unique().to_list() if "entity_id" in df.columns else []
        names = self._person_names(ids, as_of)
        rules = self.settings.masking
        masked = [
            (
                mask_evidence_text(v, rules, names.get(eid, []))
                if json_text
                else mask_text(v, names.get(eid, []), rules.scan_text)
            )
            for eid, v in zip(
                df.get_column("entity_id").to_list() if "entity_id" in df.columns else [None] * df.height,
                df.get_column(column).cast(pl.String).to_list(),
                strict=True,
            )
        ]
        return df.with_columns(pl.Series(column, masked, dtype=pl.String))

    def links(self, entity_id: str | None = None, as_of: str | None = None) -> pl.DataFrame:
        """Source records resolved to entities in the jurisdiction (``resolve/links``)."""
        df = self._rows(LINKS, as_of, entity_id)
        return self._empty() if df is None else self._by_entity(df, as_of)

    def events(
        self, entity_id: str | None = None, as_of: str | None = None, record_keys: list[str] | None = None
    ) -> pl.DataFrame:
        """Dated events of entities in the jurisdiction (``features/events``), newest first."""
        df = self._rows(EVENTS, as_of, entity_id)
        if df is None:
            return self._empty()
        if record_keys is not None and "record_key" in df.columns:
            df = df.filter(pl.col("record_key").cast(pl.String).is_in([str(k) for k in record_keys]))
        df = self._by_entity(df, as_of)
        if "event_date" in df.columns:
            df = df.sort("event_date", descending=True, nulls_last=True)
        return self._mask_text_column(df, "detail", as_of, json_text=False)

    def feature_catalog(self, as_of: str | None = None) -> pl.DataFrame:
        """The feature catalog published with the features (``features/catalog``); without one, the catalog
        of conf/features.yaml (it holds definitions only, no entity data)."""
        df = self._raw(CATALOG, as_of)
        if df is not None and not df.is_empty():
            return df
        from radar.config import feature_catalog, policy
        from radar.features.catalog import catalog_rows

        return pl.DataFrame(catalog_rows(feature_catalog(), policy().features))

    def feature_profile(self, as_of: str | None = None) -> pl.DataFrame:
        """Per feature, at the latest snapshot of ``features/snapshots`` and over the entities in the
        jurisdiction: ``entities``, ``nonzero`` (entities with a non-zero value), ``mean``; empty without
        snapshots. Only that snapshot's rows are read (the table holds 24 months of every entity)."""
        chosen = self.pick_as_of(SNAPSHOTS, as_of)
        if chosen is None:
            return self._empty()
        path = self.lake.partition(SNAPSHOTS, chosen)
        if not any(path.glob("*.parquet")):
            return self._empty()
        skip = {"entity_id", "snapshot_date", "district_code", "industry_section", "entity_class", "label",
                "label_complete"}

        def read() -> tuple[list[str], pl.DataFrame | None]:
            lf = pl.scan_parquet(str(path / "*.parquet"))
            cols = lf.collect_schema()
            lf = lf.filter(pl.col("snapshot_date") == pl.col("snapshot_date").max())
            if self.districts:
                lf = lf.filter(pl.col("district_code").cast(pl.String).is_in(self.districts))
            names = [c for c, t in cols.items() if c not in skip and t.is_numeric()]
            if not names:
                return names, None
            return names, lf.select(
                pl.len().alias("_n"),
                *[(pl.col(c).fill_nan(None) != 0).sum().alias(f"{c}__nz") for c in names],
                *[pl.col(c).fill_nan(None).mean().alias(f"{c}__mean") for c in names],
            ).collect()

        names, wide = read_through_swaps(read)
        if wide is None:
            return self._empty()
        n = int(wide["_n"][0])
        return pl.DataFrame(
            {
                "name": names,
                "entities": [n] * len(names),
                "nonzero": [int(wide[f"{c}__nz"][0] or 0) for c in names],
                "mean": [wide[f"{c}__mean"][0] for c in names],
            },
            schema_overrides={"mean": pl.Float64},
        )

    def flags(self, entity_id: str | None = None, as_of: str | None = None) -> pl.DataFrame:
        """Related-party graph flags of entities in the jurisdiction (``graph/flags``)."""
        df = self._raw(FLAGS, as_of)
        if df is None:
            return self._empty()
        if entity_id is not None:
            df = df.filter(pl.col("entity_id") == entity_id)
        return self._mask_text_column(self._by_entity(df, as_of), "evidence", as_of, json_text=True)

    def components(self, entity_id: str | None = None, as_of: str | None = None) -> pl.DataFrame:
        """Related-party components of entities in the jurisdiction (``graph/components``)."""
        df = self._raw(COMPONENTS, as_of)
        if df is None:
            return self._empty()
        if entity_id is not None:
            df = df.filter(pl.col("entity_id") == entity_id)
        return self._by_entity(df, as_of)

    def related_parties(self, entity_id: str, as_of: str | None = None) -> dict[str, Any]:
        """The other members of an entity's related-party component.

        Returns ``members`` (a frame of members in the jurisdiction, with name, district and grade where
        known) and ``outside`` (how many members lie outside the jurisdiction: counted, never listed).
        """
        empty = {"component": None, "members": self._empty(), "outside": 0}
        mine = self.components(entity_id, as_of)
        if mine.is_empty() or "component_id" not in mine.columns:
            return empty
        comp = mine.row(0, named=True)
        everyone = self._raw(COMPONENTS, as_of)
        assert everyone is not None  # mine came from it
        members = everyone.filter(
            (pl.col("component_id") == comp["component_id"]) & (pl.col("entity_id") != entity_id)
        ).select("entity_id")
        visible = self._by_entity(members, as_of)
        info = self.scores(as_of)
        keep = [
            c
            for c in (
                "entity_id",
                "uscc",
                "name",
                "district_code",
                "district_name",
                "industry_section",
                "grade",
                "risk_score",
            )
            if c in info.columns
        ]
        if "entity_id" in keep:
            visible = visible.join(info.select(keep), on="entity_id", how="left")
        flags = self.flags(as_of=as_of)
        if not flags.is_empty() and {"entity_id", "flag"} <= set(flags.columns):
            per = flags.group_by("entity_id").agg(
                pl.col("flag").unique().sort().str.join("、").alias("flags")
            )
            visible = visible.join(per, on="entity_id", how="left")
        return {"component": comp, "members": visible, "outside": members.height - visible.height}

    def grade_distribution(self, as_of: str | None = None) -> pl.DataFrame:
        """Number of entities per district and grade in the jurisdiction."""
        df = self.scores(as_of)
        if df.is_empty() or not {"grade", "district_code"} <= set(df.columns):
            return self._empty()
        out = (
            df.group_by("district_code", "grade").agg(pl.len().alias("count")).sort("district_code", "grade")
        )
        names = dict(self.settings.districts)
        return out.with_columns(
            pl.col("district_code")
            .cast(pl.String)
            .replace_strict(names, default=pl.col("district_code").cast(pl.String))
            .alias("district_name")
        )

    def plan_ids(self, as_of: str | None = None) -> list[str]:
        """The plans published under an as-of date (that have rows in the jurisdiction)."""
        df = self.plans(as_of)
        if df.is_empty() or "plan_id" not in df.columns:
            return []
        return sorted(df.get_column("plan_id").cast(pl.String).unique().to_list())

    def plans(self, as_of: str | None = None, plan_id: str | None = None) -> pl.DataFrame:
        """Inspection-plan rows for entities in the jurisdiction (``plan/plans``)."""
        df = self._raw(PLANS, as_of)
        if df is None:
            return self._empty()
        if plan_id is not None and "plan_id" in df.columns:
            df = df.filter(pl.col("plan_id").cast(pl.String) == plan_id)
        return self._mask(self._by_district(df))

    def plan_strata(self, as_of: str | None = None, plan_id: str | None = None) -> pl.DataFrame:
        """Per stratum: grade, the stratum's population and draw (as published), the draws in the
        jurisdiction and the inclusion probability."""
        df = self.plans(as_of, plan_id)
        if df.is_empty() or "stratum" not in df.columns:
            return self._empty()
        aggs = [pl.len().alias("drawn_here")]
        for c in ("grade", "stratum_size", "stratum_drawn"):
            if c in df.columns:
                aggs.append(pl.col(c).first().alias(c))
        if "inclusion_probability" in df.columns:
            aggs.append(pl.col("inclusion_probability").max().alias("inclusion_probability"))
        return df.group_by("stratum").agg(aggs).sort("stratum")

    def _report(self, table: str, as_of: str | None) -> dict[str, Any] | None:
        chosen = self.pick_as_of(table, as_of)
        if chosen is None:
            return None
        part = self.lake.partition(table, chosen)
        files = sorted(part.glob("*.json"))
        if not files:
            return None
        try:
            data = json.loads(files[0].read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        return data if isinstance(data, dict) else {"report": data}

    def dq_report(self, as_of: str | None = None) -> dict[str, Any] | None:
        """The data-quality report of a run (``reports/dq``): city-wide counts, no entity rows."""
        return self._report(DQ_REPORT, as_of)

    def dq_tables(self, as_of: str | None = None) -> dict[str, pl.DataFrame]:
        """The data-quality report's per-source sections as frames (e.g. ``record_types``, ``files``)."""
        report = self.dq_report(as_of)
        out: dict[str, pl.DataFrame] = {}
        for key, value in (report or {}).items():
            rows = _report_rows(value)
            if not rows or not any("rows_in" in r or "accepted" in r for r in rows):
                continue
            flat = [
                {
                    k: (
                        json.dumps(v, ensure_ascii=False)
                        if isinstance(v, dict)
                        else "、".join(map(str, v))
                        if isinstance(v, list)
                        else v
                    )
                    for k, v in r.items()
                }
                for r in rows
            ]
            out[key] = pl.DataFrame(flat, infer_schema_length=None, strict=False)
        return out

    def running_job(self) -> dict[str, str] | None:
        """The job writing the lake now (its command and start time), or None: while it runs the pages show
        the last published results."""
        job = self.lake.running_job()
        return {"command": str(job.get("command", "")), "started": str(job.get("started", ""))} if job else None

    def run_report(self, as_of: str | None = None) -> dict[str, Any] | None:
        """The run report (``reports/run``): stage timings, counts, model information."""
        return self._report(RUN_REPORT, as_of)

    def model_in_use(self, as_of: str | None = None) -> dict[str, Any]:
        """What scored a run: model versions in the scores, the run report's model section, the store's
        latest champion change."""
        scores = self._raw(SCORES, as_of)
        versions: list[str] = []
        if scores is not None and "model_version" in scores.columns:
            versions = sorted(
                str(v) for v in scores.get_column("model_version").drop_nulls().unique().to_list()
            )
        run = self.run_report(as_of) or {}
        model = run.get("model") if isinstance(run.get("model"), dict) else None
        latest = next((e for e in self.model_history() if e["action"] in ("promoted", "rollback")), None)
        return {"versions": versions, "run_model": model, "champion_event": latest}

    # ------------------------------------------------------------------ alerts
    def _check_district_filter(self, district: str | list[str] | None) -> list[str] | None:
        if not district:
            return self.districts or None
        wanted = [district] if isinstance(district, str) else list(district)
        foreign = [d for d in wanted if not self.in_scope(d)]
        if foreign:
            raise AccessDenied(
                f"辖区 {'、'.join(self.settings.district_name(d) for d in foreign)} 不在您的管辖范围内"
            )
        return wanted

    def _mask_alerts(self, alerts: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Alerts with personal data in their evidence masked (for masked roles): values under the
        configured keys, ID and phone numbers, and the entity's legal representative's name anywhere."""
        if not self.masked or not alerts:
            return alerts
        names = self._person_names(sorted({a["entity_id"] for a in alerts}), None)
        rules = self.settings.masking
        return [
            {**a, "evidence": mask_evidence(a.get("evidence"), rules, names.get(a["entity_id"], []))}
            for a in alerts
        ]

    def _mask_alert(self, alert: dict[str, Any]) -> dict[str, Any]:
        return self._mask_alerts([alert])[0]

    def alerts(
        self,
        status: str | list[str] | None = None,
        severity: str | list[str] | None = None,
        rule: str | list[str] | None = None,
        district: str | list[str] | None = None,
        assignee: str | None = None,
        entity_id: str | None = None,
        limit: int | None = None,
    ) -> list[dict[str, Any]]:
        """Alerts in the jurisdiction (newest run first); asking for a foreign district is refused."""
        districts = self._check_district_filter(district)
        rows = self.store.list_alerts(
            districts=districts,
            status=status,
            severity=severity,
            rule=rule,
            entity_id=entity_id,
            assignee=assignee,
            limit=limit or self.settings.pages.alerts_limit,
        )
        # the store filtered by district already; this keeps the promise even if it changes
        return self._mask_alerts([a for a in rows if self.in_scope(a["district_code"])])

    def alert_counts(self) -> pl.DataFrame:
        """Alerts per district, rule, status and severity in the jurisdiction."""
        rows = [
            r for r in self.store.alert_counts(self.districts or None) if self.in_scope(r["district_code"])
        ]
        schema = {
            "district_code": pl.String,
            "rule": pl.String,
            "status": pl.String,
            "severity": pl.String,
            "count": pl.Int64,
        }
        return pl.DataFrame(rows, schema=schema)

    def _alert_in_scope(self, alert_id: str) -> dict[str, Any]:
        alert = self.store.get_alert(alert_id)
        if alert is None:
            raise AccessDenied(f"预警 {alert_id} 不存在")
        if not self.in_scope(alert["district_code"]):
            raise AccessDenied(f"预警 {alert_id} 不属于您的辖区，无权查看或处理")
        return alert

    def _require_action(self) -> None:
        if not self.can_act:
            label = self.role_settings.label
            raise AccessDenied(f"您的角色（{label}）只能查看预警，不能处理")

    def alert(self, alert_id: str) -> dict[str, Any]:
        """One alert of the jurisdiction (refused for another district's alert)."""
        return self._mask_alert(self._alert_in_scope(alert_id))

    def alert_history(self, alert_id: str) -> list[dict[str, Any]]:
        """The audit trail of an alert of the jurisdiction, oldest first."""
        alert = self._alert_in_scope(alert_id)
        events = self.store.history(alert_id)
        if not self.masked:
            return events
        names: set[str] = set(self._person_names([alert["entity_id"]], None).get(alert["entity_id"], []))
        collect_names(
            alert.get("evidence"), set(self.settings.masking.name_keys), names, self.settings.masking
        )
        scan = self.settings.masking.scan_text
        return [{**e, "note": mask_text(e["note"], names, scan)} for e in events]

    def assignable_users(self, alert_id: str) -> list[dict[str, Any]]:
        """Active users who may act on this alert (their role acts and their districts cover it)."""
        alert = self._alert_in_scope(alert_id)
        out = []
        for u in self.store.list_users():
            role = self.settings.roles.get(u["role"])
            covers = not u["districts"] or alert["district_code"] in u["districts"]
            if u["active"] and role is not None and role.alert_actions and covers:
                out.append(u)
        return out

    def assign(self, alert_id: str, assignee: str | None, version: int) -> dict[str, Any]:
        """Give an alert of the jurisdiction to a user who may act on it (None: take it back)."""
        self._require_action()
        self._alert_in_scope(alert_id)
        if assignee is not None and assignee not in {u["username"] for u in self.assignable_users(alert_id)}:
            raise AccessDenied(f"用户 {assignee} 无权处理该辖区的预警，不能指派")
        return self._mask_alert(self.store.assign(alert_id, assignee, self.username, version))

    def assign_to_me(self, alert_id: str, version: int) -> dict[str, Any]:
        """Take an alert of the jurisdiction on."""
        return self.assign(alert_id, self.username, version)

    def set_status(
        self, alert_id: str, status: str, version: int, note: str | None = None, outcome: str | None = None
    ) -> dict[str, Any]:
        """Move an alert of the jurisdiction along its workflow (see :meth:`Store.set_status`)."""
        self._require_action()
        self._alert_in_scope(alert_id)
        return self._mask_alert(
            self.store.set_status(alert_id, status, self.username, version, note, outcome)
        )

    def set_outcome(
        self, alert_id: str, outcome: str, version: int, note: str | None = None
    ) -> dict[str, Any]:
        """Record the decision on an alert of the jurisdiction."""
        self._require_action()
        self._alert_in_scope(alert_id)
        return self._mask_alert(self.store.set_outcome(alert_id, outcome, self.username, version, note))

    def add_note(self, alert_id: str, note: str) -> dict[str, Any]:
        """Add a note to an alert of the jurisdiction."""
        self._require_action()
        self._alert_in_scope(alert_id)
        return self.store.add_note(alert_id, note, self.username)

    # ------------------------------------------------------------------ match reviews
    def _mask_reviews(self, reviews: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Reviews with personal data masked (for masked roles): a record or entity name that is a person's
        (an operator-named business, the candidate's legal representative), ID and phone numbers in text."""
        if not self.masked or not reviews:
            return reviews
        from radar.resolve.normalize import looks_like_person

        names = self._person_names(sorted({r["entity_id"] for r in reviews}), None)
        scan = self.settings.masking.scan_text
        out = []
        for r in reviews:
            known = set(names.get(r["entity_id"], []))
            known |= {r.get(k) for k in ("record_name", "entity_name") if looks_like_person(r.get(k))}
            out.append({
                **r,
                **{k: mask_text(r.get(k), known, scan)
                   for k in ("record_name", "record_address", "entity_name", "entity_address", "note")},
            })
        return out

    def match_reviews(
        self,
        status: str | list[str] | None = "pending",
        district: str | list[str] | None = None,
        source_type: str | None = None,
        min_probability: float | None = None,
    ) -> list[dict[str, Any]]:
        """Uncertain record-to-entity matches whose candidate entity lies in the jurisdiction (most likely
        first), of one record type and at least ``min_probability`` likely when given; asking for a foreign
        district is refused."""
        districts = self._check_district_filter(district)
        rows = self.store.list_match_reviews(
            districts=districts, status=status, limit=self.settings.pages.alerts_limit,
            source_types=[source_type] if source_type else None, min_probability=min_probability,
        )
        return self._mask_reviews([r for r in rows if self.in_scope(r["district_code"])])

    def match_review_counts(self) -> dict[str, int]:
        """Number of match reviews per status in the jurisdiction."""
        return self.store.review_counts(self.districts or None)

    def match_review_types(self, status: str = "pending") -> dict[str, int]:
        """Number of match reviews of one status per record type in the jurisdiction, largest first."""
        return self.store.review_counts_by_type(self.districts or None, status)

    def _review_in_scope(self, review_id: str) -> dict[str, Any]:
        review = self.store.get_match_review(review_id)
        if review is None:
            raise AccessDenied(f"复核任务 {review_id} 不存在")
        if not self.in_scope(review["district_code"]):
            raise AccessDenied(f"复核任务 {review_id} 不属于您的辖区，无权查看或处理")
        return review

    def match_review(self, review_id: str) -> dict[str, Any]:
        """One match review of the jurisdiction (refused for another district's)."""
        return self._mask_reviews([self._review_in_scope(review_id)])[0]

    def related_match_reviews(self, review_id: str) -> list[dict[str, Any]]:
        """The other reviews of the same record name and candidate entity (see
        :meth:`Store.related_match_reviews`), of the jurisdiction (an older run may have placed the entity in
        another district)."""
        self._review_in_scope(review_id)
        rows = self.store.related_match_reviews(review_id)
        return self._mask_reviews([r for r in rows if self.in_scope(r["district_code"])])

    def decide_match(self, review_id: str, decision: str, note: str | None = None) -> dict[str, Any]:
        """Accept or reject a proposed match of the jurisdiction (who and when are stored); the next
        ``radar run`` links an accepted record with method ``review`` and never proposes a rejected pair."""
        if not self.can_act:
            raise AccessDenied(f"您的角色（{self.role_settings.label}）只能查看复核任务，不能作出结论")
        self._review_in_scope(review_id)
        return self._mask_reviews([self.store.decide_match(review_id, decision, self.username, note)])[0]

    # ------------------------------------------------------------------ models
    def model_history(self) -> list[dict[str, Any]]:
        """Model events from the store, newest first (city-wide; no entity data)."""
        return self.store.model_history()

    def drift(self, as_of: str | None = None) -> pl.DataFrame:
        """The drift checks of a scoring run (``score/drift``: feature and score PSI against their
        thresholds), drifted first; city-wide figures, no entity data. Empty before the first such run."""
        df = self._raw(DRIFT, as_of)
        if df is None or df.is_empty():
            return self._empty()
        return df.sort(["drifted", "psi"], descending=[True, True])

    def operations_alerts(self, limit: int | None = 50) -> list[dict[str, Any]]:
        """Operations alerts (drift of the model's inputs or scores), newest scoring date first (city-wide)."""
        return self.store.operations_alerts(limit=limit)

    def acknowledge_operations_alert(self, alert_id: int) -> dict[str, Any]:
        """Mark an operations alert as seen (roles that can act only)."""
        if not self.can_act:
            raise AccessDenied(f"您的角色（{self.role_settings.label}）只能查看运维预警，不能确认")
        return self.store.acknowledge_operations_alert(alert_id, self.username)
