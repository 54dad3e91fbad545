"""Configuration in conf/ (YAML), validated at load with pydantic.

A bad value stops with one message naming the file and the key, e.g.
``conf/policy.yaml: grading.shares.D: Input should be a valid number``.
"""

from __future__ import annotations

import os
from functools import cache
from pathlib import Path
from typing import Any, Literal, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from radar.errors import ConfigError

CONF_DIR_ENV = "RADAR_CONF"
PROFILE_ENV = "RADAR_PROFILE"
GRADES = ("A", "B", "C", "D")


def conf_dir() -> Path:
    """The configuration folder: $RADAR_CONF, else ./conf, else the repository's conf/."""
    env = os.environ.get(CONF_DIR_ENV)
    if env:
        return Path(env)
    here = Path.cwd() / "conf"
    if (here / "policy.yaml").exists():
        return here
    return Path(__file__).resolve().parent.parent / "conf"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# ---------------------------------------------------------------- deployment profiles (radar.yaml)
class SparkSettings(_Strict):
    master: str
    driver_memory: str = "4g"
    shuffle_partitions: int = Field(8, ge=1)
    # options of the driver's JVM (in local mode the executors run inside it), after our logging settings
    driver_java_options: list[str] = Field(default_factory=list)
    conf: dict[str, str] = Field(default_factory=dict)


class Profile(_Strict):
    spark: SparkSettings
    store_url: str
    mlflow_tracking_uri: str
    mlflow_artifact_location: str


class Deployment(_Strict):
    profiles: dict[str, Profile]


# ---------------------------------------------------------------- policy (policy.yaml)
class RunPolicy(_Strict):
    min_history_days: int = Field(ge=0)
    max_days_after_last_record: int = Field(ge=0)


class IngestPolicy(_Strict):
    late_publication_working_days: int = Field(default=7, ge=0)
    cache_keep_days: float = Field(default=30, ge=0)
    # how CSV sources are parsed: column by column in polars (radar/ingest/columnar.py), or by Spark SQL
    # projections (radar/ingest/records.py: parse_slots, which every other format uses)
    parser: Literal["columnar", "sql"] = "columnar"
    # how the record tables and the quarantine are written from the parse cache: by polars and pyarrow in
    # Spark's Python workers (radar/ingest/tables.py), or by Spark's own writer (records.record_table)
    publisher: Literal["arrow", "spark"] = "arrow"


class BlockingSettings(_Strict):
    """Which entities a record is compared with (radar/resolve/match.py)."""

    max_bigram_entities: int = Field(400, ge=1)
    min_name_score: float = Field(0.2, ge=0, le=1)
    name_top_k: int = Field(10, ge=1)
    max_exact_entities: int = Field(30, ge=0)
    max_address_entities: int = Field(30, ge=1)
    max_hint_entities: int = Field(60, ge=1)
    max_sibling_entities: int = Field(3, ge=1)
    broadcast_max_names: int = Field(2_000_000, ge=0)


class GbmSettings(_Strict):
    """The gradient-boosted second stage (scikit-learn's HistGradientBoostingClassifier; radar/resolve/model.py)."""

    max_iter: int = Field(100, ge=1)               # boosting rounds (trees)
    learning_rate: float = Field(0.2, gt=0, le=1)
    max_leaf_nodes: int = Field(15, ge=2)
    min_samples_leaf: int = Field(50, ge=1)
    l2_regularization: float = Field(1.0, ge=0)
    first_stage_features: bool = False             # also the first-stage features, not only the rival ones


class SecondStageSettings(_Strict):
    """The second stage of the match model: each candidate against the record's others (radar/resolve/model.py)."""

    enabled: bool = True
    # which model gives the probability: ``logistic`` (a few weights) or ``gbm`` (gradient-boosted trees); either
    # scores a record's candidates where they are compared (radar.resolve.scoring); the logistic one is fitted
    # either way and gives the reasons shown to reviewers
    kind: Literal["logistic", "gbm"] = "logistic"
    folds: int = Field(5, ge=2)            # first-stage log-odds of the training pairs are out of fold
    logit_cap: float = Field(10.0, gt=0)   # first-stage log-odds and leads are clipped to +- this
    close_gap: float = Field(2.0, ge=0)    # another candidate within this many log-odds of one comes close to it
    gbm: GbmSettings = GbmSettings()


class MatchSettings(_Strict):
    """The calibrated match model and its decision thresholds (radar/resolve/link.py)."""

    accept: float = Field(0.9, gt=0, le=1)
    review: float = Field(0.5, ge=0, le=1)
    # candidates within this probability of the best are ties: an ambiguous name, said so to the reviewer
    tie_margin: float = Field(0.01, ge=0, lt=1)
    seed: int = 2024
    train_records: int = Field(20000, ge=1)
    min_train_records: int = Field(300, ge=1)
    orphan_rate: float = Field(0.05, ge=0, lt=1)
    regularization: float = Field(1.0, gt=0)
    near_code_probability: float = Field(0.98, gt=0, le=1)
    deregistered_grace_days: int = Field(0, ge=0)
    second_stage: SecondStageSettings = SecondStageSettings()

    @model_validator(mode="after")
    def _review_below_accept(self) -> MatchSettings:
        if self.review > self.accept:
            raise ValueError("review must not exceed accept")
        return self


class HintColumns(_Strict):
    """Record columns that hint at the entity's district, type or industry (the first one present wins)."""

    district: list[str] = Field(default_factory=list)
    entity_type: list[str] = Field(default_factory=list)
    industry: list[str] = Field(default_factory=list)


class ResolvePolicy(_Strict):
    city_division: str = Field(pattern=r"^\d{6}$")
    extra_divisions: dict[str, str]
    org_suffixes: list[str]
    uscc_name_max_edits: int = Field(ge=0)
    identifier_max_iterations: int = Field(10, ge=1)
    lookup_broadcast_max_texts: int = Field(1_000_000, ge=0)
    hint_columns: HintColumns = HintColumns()
    # district code -> divisions whose records its units (12315, courts) also handle
    units_also_serve: dict[str, list[str]] = Field(default_factory=dict)
    # pinyin initials / finals a writer confuses, folded before comparing how names sound
    homophone_folds: list[tuple[str, str]] = Field(default_factory=list)
    # words of a record's name that describe an unlicensed vendor: never matched by name or address
    unlicensed_markers: list[str] = Field(default_factory=list)
    blocking: BlockingSettings = BlockingSettings()
    match: MatchSettings = MatchSettings()


EventType = Literal[
    "penalty", "penalty_minor", "abnormal_list", "serious_violation", "dishonest_debtor", "spot_check_problem",
    "spot_check_ok", "complaint", "report", "license", "commitment", "commitment_breach", "change_legal_rep",
    "change_address", "change_name", "change_capital", "change_scope", "change_other", "signal", "deregistered",
    "revoked", "complaint_mediated", "complaint_mediation_failed", "report_case_filed", "annual_report",
]
# tags set by the code (radar.features.events), besides the policy's own: a penalty at or above the class's
# large amount, a severe penalty, a capital cut or large increase, an annual report filed after its deadline
EVENT_TAGS = ("large_amount", "severe", "capital_cut", "capital_increase", "late")


class OutcomeRule(_Strict):
    """A complaint or report outcome (处理结果) by keywords; the first matching rule wins; no event: ignored."""

    event: EventType | None
    keywords: list[str] = Field(min_length=1)


class FeaturePolicy(_Strict):
    snapshot_months: int = Field(ge=1, le=120)
    windows_days: list[int]
    complaint_trend_recent_days: int = Field(ge=1)
    complaint_trend_base_days: int = Field(ge=1)
    minor_penalty_categories: list[str]
    shell_address_min_entities: int = Field(ge=2)
    new_entity_days: int = Field(ge=1)
    repair_stops_counting: bool
    objection_retracts: list[str]
    objection_corrects: list[str]
    repair_approved: list[str]
    # ---- the indicator system's choices (radar.features; each tag below can filter a feature's events)
    penalty_category_tags: dict[str, list[str]] = Field(default_factory=dict)
    severe_penalty_tags: list[str] = Field(default_factory=list)
    large_penalty_yuan: dict[Literal["enterprise", "individual", "cooperative", "other"], float] = Field(
        default_factory=dict
    )
    publicity_end_stops_counting: list[EventType] = Field(default_factory=list)
    derived_publicity_days: dict[EventType, int] = Field(default_factory=dict)
    debtor_amount_from_obligation: bool = True
    complaint_outcomes: list[OutcomeRule] = Field(default_factory=list)
    complaint_outcome_lag_days: int = Field(60, ge=0)
    signal_tags: dict[str, list[str]] = Field(default_factory=dict)
    spot_check_result_tags: dict[str, list[str]] = Field(default_factory=dict)
    abnormal_reason_tags: dict[str, list[str]] = Field(default_factory=dict)
    capital_increase_ratio: float = Field(2.0, gt=1)
    annual_report_due: str = Field("06-30", pattern=r"^(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])$")
    shell_screen_min_capital_yuan: float = Field(1e8, ge=0)
    shell_screen_max_revenue_yuan: float = Field(1e6, ge=0)

    def tags(self) -> set[str]:
        """Every tag an event can carry under this policy (features filter events by them)."""
        return (
            set(self.penalty_category_tags) | set(self.signal_tags) | set(self.spot_check_result_tags)
            | set(self.abnormal_reason_tags) | set(EVENT_TAGS)
        )


class LabelPolicy(_Strict):
    horizon_days: int = Field(ge=1)
    adverse_event_types: list[EventType]
    spot_check_problem_keywords: list[str]


class GraphPolicy(_Strict):
    hub_cap: int = Field(ge=2)
    max_iterations: int = Field(ge=1)
    link_types: list[Literal["legal_rep", "shareholder", "officer", "address", "phone"]]
    risk_window_days: int = Field(ge=1)
    new_entity_months: int = Field(ge=1)
    phoenix_months: int = Field(ge=1)
    propagation_damping: float = Field(gt=0, lt=1)
    # a name-only person is one person across entities sharing an address, phone, owner or person held by
    # at most this many entities (see radar/resolve/attributes.py)
    name_context_max_entities: int = Field(10, ge=2)
    # phoenix: a shared person, address or phone is a tie on its own when at most this many entities ever
    # held it; one held by more ties firms one to one when the successor carries on the predecessor's
    # business: same industry section (a person, a phone) or a resembling trade name (an address)
    phoenix_max_sharing: int = Field(2, ge=2)
    # phoenix: a name-only person matches by name when at most this many holders besides the two firms are
    # expected in the district and/or industry section they share (the name's holders in the city x the
    # context's share of the city's entities)
    phoenix_name_max_entities: float = Field(1.0, gt=0)
    # phoenix: trade names resemble when the Levenshtein similarity of their cores reaches this (None: never);
    # then a shared address held by more firms ties them, and a name may be phoenix_trade_name_factor times
    # as common as phoenix_name_max_entities allows
    phoenix_trade_name_similarity: float | None = Field(None, gt=0, le=1)
    phoenix_trade_name_factor: float = Field(1.0, ge=1)
    # phoenix: what carries on the business through a person, phone or address more than phoenix_max_sharing
    # firms held: the same industry section, the same district, a resembling trade name (None: a section for
    # a person or phone, a trade name for an address)
    phoenix_carries_on: (
        dict[Literal["person", "phone", "address"], list[Literal["section", "district", "trade_name"]]] | None
    ) = None
    # phoenix: a shared specific address and a shared person (or P's legal representative's name) together tie
    # the two firms, however common each is
    phoenix_corroboration: bool = False
    components_algorithm: Literal["large_star", "graphx"] = "large_star"
    # graph/snapshots: the graph is built on every n-th feature snapshot date (the others take the latest
    # one before them)
    snapshot_every: int = Field(1, ge=1)


class TrainPolicy(_Strict):
    seed: int
    model: Literal["lightgbm"]
    n_estimators: int = Field(ge=1)
    learning_rate: float = Field(gt=0, le=1)
    num_leaves: int = Field(ge=2)
    min_child_samples: int = Field(ge=1)
    negative_sample_ratio: float = Field(gt=0)
    validation_months: int = Field(ge=1)
    registered_model_name: str
    num_threads: int = Field(1, ge=1)
    calibration: Literal["sigmoid", "isotonic", "none"] = "sigmoid"
    calibration_months: int = Field(1, ge=1)
    gap_days: int = Field(180, ge=0)
    precision_at_k: int = Field(100, ge=1)
    rule_weights: dict[str, float] = Field(default_factory=dict)
    max_collect_rows: int = Field(1_000_000, ge=1000)
    promotion_margin: float = Field(0.0, ge=0)
    promotion_metric: Literal["auc", "auc_pr", "lift_at_10pct", "precision_at_k"] = "auc_pr"


Grade = Literal["A", "B", "C", "D"]


class GradingPolicy(_Strict):
    shares: dict[Grade, float]
    floors: dict[Literal["serious_violation", "dishonest_debtor", "abnormal_list"], Grade]
    reasons_top_k: int = Field(ge=1, le=10)

    @field_validator("shares")
    @classmethod
    def _shares_sum_to_one(cls, v: dict[str, float]) -> dict[str, float]:
        if set(v) != set(GRADES):
            raise ValueError(f"needs exactly the grades {', '.join(GRADES)}")
        if any(s < 0 for s in v.values()) or abs(sum(v.values()) - 1.0) > 1e-6:
            raise ValueError(f"shares must be >= 0 and sum to 1 (they sum to {sum(v.values()):.4f})")
        return v


class AlertRule(_Strict):
    enabled: bool = True
    severity: Literal["high", "medium", "low"]
    min_recent: int | None = None
    min_ratio: float | None = None


class AlertPolicy(_Strict):
    rules: dict[Literal["grade_d", "grade_up", "complaint_surge", "new_listing"], AlertRule]
    new_listing_days: int = Field(ge=1)
    due_days: dict[Literal["high", "medium", "low"], int]


class PlanPolicy(_Strict):
    ratios: dict[Grade, float]
    floor_probability: float = Field(ge=0, le=1)
    inspectors_per_check: int = Field(ge=1)
    recusal: Literal["same_district_home", "none"]

    @field_validator("ratios")
    @classmethod
    def _ratios_are_probabilities(cls, v: dict[str, float]) -> dict[str, float]:
        if set(v) != set(GRADES):
            raise ValueError(f"needs exactly the grades {', '.join(GRADES)}")
        bad = {g: r for g, r in v.items() if not 0 <= r <= 1}
        if bad:
            raise ValueError(f"ratios must lie in [0, 1]: {bad}")
        return v


class AnomalySettings(_Strict):
    """The unsupervised anomaly score next to the risk score (radar.models.anomaly)."""

    seed: int = 42
    n_estimators: int = Field(200, ge=10)
    features: list[str] = Field(
        default_factory=lambda: ["age_years", "log_registered_capital", "address_entity_count", "report_staff_count"]
    )


class DriftSettings(_Strict):
    """Drift checks at each scoring run (radar.models.drift): PSI against the champion's training reference."""

    bins: int = Field(10, ge=2, le=100)
    psi_level: float = Field(0.25, gt=0)          # conventional alarm level of a feature's PSI
    score_psi_level: float = Field(0.25, gt=0)    # ... and of the score distribution against the previous run
    null_quantile: float = Field(0.999, gt=0.5, lt=1)  # sample-size-aware floor: this quantile of no-drift PSI
    severity: Literal["high", "medium", "low"] = "medium"  # of the operations alert drift raises


class MonitoringPolicy(_Strict):
    anomaly: AnomalySettings = AnomalySettings()
    drift: DriftSettings = DriftSettings()


class Policy(_Strict):
    run: RunPolicy
    ingest: IngestPolicy = IngestPolicy()
    resolve: ResolvePolicy
    features: FeaturePolicy
    labels: LabelPolicy
    graph: GraphPolicy
    train: TrainPolicy
    grading: GradingPolicy
    alerts: AlertPolicy
    plan: PlanPolicy
    monitoring: MonitoringPolicy = MonitoringPolicy()

    @model_validator(mode="after")
    def _gap_covers_horizon(self) -> Policy:
        if self.train.gap_days < self.labels.horizon_days:
            raise ValueError(
                f"train.gap_days ({self.train.gap_days}) must be at least labels.horizon_days "
                f"({self.labels.horizon_days}): otherwise training labels are not yet known at validation time"
            )
        return self


# ---------------------------------------------------------------- feature catalog (features.yaml)
FeatureKind = Literal[
    "count", "ever", "amount", "current", "current_amount", "days_since", "trend", "share", "attribute", "related",
    "cell_trend", "when_new", "annual_report", "external",
]
ReportMeasure = Literal["missing", "late", "pending", "value", "zero", "shell_screen"]
ReportField = Literal["staff_count", "revenue_yuan", "tax_yuan", "assets_yuan"]
_EVENT_KINDS = ("count", "ever", "amount", "current", "current_amount", "days_since", "trend", "share", "cell_trend")


class FeatureDef(_Strict):
    """One feature of the catalog (conf/features.yaml explains every kind)."""

    name: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    dimension: str
    label: str
    kind: FeatureKind
    events: list[EventType] = Field(default_factory=list)
    tags: list[str] = Field(default_factory=list)
    of_events: list[EventType] = Field(default_factory=list)
    of_tags: list[str] = Field(default_factory=list)
    window_days: int | None = Field(None, ge=1)
    base_days: int | None = Field(None, ge=1)
    attribute: Literal[
        "age_years", "log_capital", "entity_class", "industry_section", "district", "is_new_entity",
        "address_entity_count", "shared_address",
    ] | None = None
    share: bool = False
    cell: list[Literal["industry_section", "district_code", "entity_class"]] = Field(default_factory=list)
    of: str | None = None
    measure: ReportMeasure | None = None
    field: ReportField | None = None
    years: int = Field(1, ge=1, le=10)
    log: bool = False
    table: str | None = None
    sources: list[str] = Field(default_factory=list)

    @model_validator(mode="after")
    def _kind_needs(self) -> FeatureDef:
        k = self.kind
        if k in ("count", "amount", "trend", "share", "cell_trend") and self.window_days is None:
            raise ValueError(f"a '{k}' feature needs window_days")
        if k in ("trend", "cell_trend") and self.base_days is None:
            raise ValueError(f"a '{k}' feature needs base_days")
        if k == "attribute" and self.attribute is None:
            raise ValueError("an 'attribute' feature needs attribute")
        if k in _EVENT_KINDS and not self.events:
            raise ValueError(f"a '{k}' feature needs events")
        if k == "share" and not self.of_events:
            raise ValueError("a 'share' feature needs of_events (the denominator)")
        if k == "cell_trend" and not self.cell:
            raise ValueError("a 'cell_trend' feature needs cell (the columns that define a cell)")
        if k == "when_new" and not self.of:
            raise ValueError("a 'when_new' feature needs of (the feature it shows for new entities)")
        if k == "annual_report":
            if self.measure is None:
                raise ValueError("an 'annual_report' feature needs measure")
            if self.measure in ("value", "zero") and self.field is None:
                raise ValueError(f"an 'annual_report' feature with measure '{self.measure}' needs field")
        if k == "external" and not self.table:
            raise ValueError("an 'external' feature needs table (the lake table that provides it)")
        if self.tags and k not in _EVENT_KINDS and k != "related":
            raise ValueError(f"a '{k}' feature takes no tags")
        return self


class FeatureCatalog(_Strict):
    dimensions: dict[str, str]
    features: list[FeatureDef]

    @model_validator(mode="after")
    def _consistent(self) -> FeatureCatalog:
        names = [f.name for f in self.features]
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise ValueError(f"duplicate feature names: {', '.join(dup)}")
        bad = sorted({f.dimension for f in self.features} - set(self.dimensions))
        if bad:
            raise ValueError(f"unknown dimensions: {', '.join(bad)}")
        for i, f in enumerate(self.features):
            if f.kind == "when_new" and f.of not in names[:i]:
                raise ValueError(f"{f.name}: 'of' must name a feature defined before it (got {f.of!r})")
            if f.kind == "when_new" and self.features[names.index(f.of)].kind in ("when_new", "external"):
                raise ValueError(f"{f.name}: 'of' must name a feature built with the snapshots")
        return self

    def built(self) -> list[FeatureDef]:
        """The features the snapshots carry (external ones are joined by the stage that makes them)."""
        return [f for f in self.features if f.kind != "external"]


# ---------------------------------------------------------------- record types (sources.yaml)
FieldType = Literal["string", "date", "money", "decimal", "int", "list", "bool"]


class FieldSpec(_Strict):
    label: str | None = None
    code: str | None = None
    type: FieldType = "string"
    unit: Literal["wan", "yuan"] | None = None
    aliases: list[str] = Field(default_factory=list)
    required: bool = False

    @model_validator(mode="after")
    def _money_has_unit(self) -> FieldSpec:
        if self.type == "money" and self.unit is None:
            raise ValueError("a money field needs a unit (wan or yuan)")
        return self


class SubjectSpec(_Strict):
    uscc: str | None = None
    name: str | None = None
    address: str | None = None
    legal_rep: str | None = None
    phone: str | None = None
    reg_no: str | None = None
    org_code: str | None = None


class RecordTypeSpec(_Strict):
    label: str
    natural_key: list[str]
    subject: SubjectSpec
    event_date: str
    detect: list[str]
    fields: dict[str, FieldSpec]
    # the field an objection or repair names the record by (record_ref): its document number
    document_no: str | None = None

    @model_validator(mode="after")
    def _refs_exist(self) -> RecordTypeSpec:
        refs = [*self.natural_key, self.event_date, *self.detect, *([self.document_no] if self.document_no else [])]
        refs += [v for v in self.subject.model_dump().values() if v]
        missing = sorted({r for r in refs if r not in self.fields})
        if missing:
            raise ValueError(f"refers to undefined fields: {', '.join(missing)}")
        return self


class Sources(_Strict):
    list_separators: list[str]
    list_keep_whole: list[str]
    sentinel_dates: list[str]
    placeholder_uscc: str
    timezone: str = "Asia/Shanghai"
    record_types: dict[str, RecordTypeSpec]


# ---------------------------------------------------------------- simulation (simulate.yaml)
class ScaleSpec(_Strict):
    entities: int = Field(ge=50)
    inspectors: int = Field(ge=4)


class SimulationSpec(_Strict):
    scales: dict[str, ScaleSpec]
    period: dict[str, Any]
    city_code: str
    development_zone_code: str
    mix: dict[Literal["enterprise", "individual", "cooperative"], float]
    rates: dict[str, float]
    dirt: dict[str, float]


# ---------------------------------------------------------------- loading
def _format_validation(path: Path, err: ValidationError) -> str:
    lines = []
    for e in err.errors():
        key = ".".join(str(p) for p in e["loc"]) or "(top level)"
        lines.append(f"{path}: {key}: {e['msg']}")
    return "\n".join(lines)


def load_yaml(path: Path) -> dict[str, Any]:
    """Read a YAML mapping, or raise ConfigError naming the file."""
    if not path.exists():
        raise ConfigError(f"{path}: configuration file not found")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as e:
        raise ConfigError(f"{path}: not valid YAML: {e}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping at the top level")
    return data


M = TypeVar("M", bound=BaseModel)


def _load(model: type[M], name: str, directory: Path | None = None) -> M:
    path = (directory or conf_dir()) / name
    try:
        return model.model_validate(load_yaml(path))
    except ValidationError as e:
        raise ConfigError(_format_validation(path, e)) from None


@cache
def policy(directory: Path | None = None) -> Policy:
    """The policy numbers (conf/policy.yaml)."""
    return _load(Policy, "policy.yaml", directory)


@cache
def sources(directory: Path | None = None) -> Sources:
    """The record types ingest understands (conf/sources.yaml)."""
    return _load(Sources, "sources.yaml", directory)


@cache
def feature_catalog(directory: Path | None = None) -> FeatureCatalog:
    """The entity feature catalog (conf/features.yaml)."""
    return _load(FeatureCatalog, "features.yaml", directory)


@cache
def simulation(directory: Path | None = None) -> SimulationSpec:
    """The simulated city's parameters (conf/simulate.yaml)."""
    return _load(SimulationSpec, "simulate.yaml", directory)


def profile(name: str | None = None, directory: Path | None = None) -> Profile:
    """A deployment profile from conf/radar.yaml (default: $RADAR_PROFILE or ``local``)."""
    name = name or os.environ.get(PROFILE_ENV) or "local"
    dep = _load(Deployment, "radar.yaml", directory)
    if name not in dep.profiles:
        path = (directory or conf_dir()) / "radar.yaml"
        raise ConfigError(f"{path}: profiles.{name}: no such profile (have: {', '.join(dep.profiles)})")
    return dep.profiles[name]


def resolve_paths(p: Profile, lake: Path) -> Profile:
    """Substitute {lake} in a profile's store and MLflow locations."""
    lake_s = str(Path(lake).resolve())
    return p.model_copy(
        update={
            "store_url": p.store_url.replace("{lake}", lake_s),
            "mlflow_tracking_uri": p.mlflow_tracking_uri.replace("{lake}", lake_s),
            "mlflow_artifact_location": p.mlflow_artifact_location.replace("{lake}", lake_s),
        }
    )
