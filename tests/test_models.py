"""Risk models on tiny synthetic data with a planted, non-linear signal (no Spark)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from radar.config import policy
from radar.models import (
    RiskModel,
    RuleScore,
    SingleClassWarning,
    anomaly_scores,
    apply_floors,
    assign_grades,
    backtest,
    brier,
    calibration_table,
    data_hash,
    evaluate_scores,
    explain,
    lift_at,
    negative_subsample,
    pr_auc,
    precision_at_k,
    roc_auc,
    rolling_origin_splits,
    time_split,
    train_and_evaluate,
)

FEATURES = [
    "signal_ratio",  # the planted signal: risk is high only inside a band, invisible to linear scores
    "penalty_count_365d",
    "serious_violation_current",
    "abnormal_list_current",
    "dishonest_debtor_current",
    "complaint_count_365d",
    "capital_log",  # pure noise, partly missing
]
LABELS = {
    "signal_ratio": "信号比率",
    "penalty_count_365d": "近1年行政处罚次数",
    "abnormal_list_current": "经营异常名录在列",
    "serious_violation_current": "严重违法失信名单在列",
    "dishonest_debtor_current": "失信被执行人",
    "complaint_count_365d": "近1年投诉次数",
    "capital_log": "注册资本(对数)",
}


def make_table(n_entities: int = 400, months: int = 24, seed: int = 7) -> pd.DataFrame:
    """Monthly snapshots; the event odds jump when |signal_ratio| < 0.5, counts add a little."""
    rng = np.random.default_rng(seed)
    dates = pd.date_range("2022-01-01", periods=months, freq="MS")
    level = rng.normal(size=n_entities)
    capital = rng.normal(5, 1, size=n_entities)
    frames = []
    for d in dates:
        signal = level + rng.normal(scale=0.25, size=n_entities)
        penalties = rng.poisson(0.4, n_entities)
        abnormal = (rng.random(n_entities) < 0.08).astype(int)
        complaints = rng.poisson(0.6, n_entities)
        logit = -3.4 + 3.2 * (np.abs(signal) < 0.5) + 0.25 * penalties + 1.0 * abnormal
        label = (rng.random(n_entities) < 1 / (1 + np.exp(-logit))).astype(int)
        frames.append(
            pd.DataFrame(
                {
                    "entity_id": np.arange(n_entities),
                    "snapshot_date": d,
                    "signal_ratio": signal,
                    "penalty_count_365d": penalties,
                    "serious_violation_current": (rng.random(n_entities) < 0.01).astype(int),
                    "abnormal_list_current": abnormal,
                    "dishonest_debtor_current": (rng.random(n_entities) < 0.02).astype(int),
                    "complaint_count_365d": complaints,
                    "capital_log": np.where(rng.random(n_entities) < 0.1, np.nan, capital),
                    "label": label,
                }
            )
        )
    return pd.concat(frames, ignore_index=True)


@pytest.fixture(scope="module")
def table() -> pd.DataFrame:
    return make_table()


@pytest.fixture(scope="module")
def train_policy():
    return policy().train


@pytest.fixture(scope="module")
def trained(table, train_policy):
    return train_and_evaluate(table, FEATURES, policy=train_policy)


# ---------------------------------------------------------------- model quality
def test_model_beats_rule_and_logistic_on_nonlinear_signal(trained) -> None:
    m = trained.metrics
    assert m["model"]["auc"] > m["rule"]["auc"] + 0.15
    assert m["model"]["auc"] > m["logistic"]["auc"] + 0.10
    assert m["model"]["lift_at_10pct"] > m["rule"]["lift_at_10pct"]
    assert m["model"]["brier"] < m["rule"]["brier"]
    assert set(trained.validation.columns) >= {
        "entity_id",
        "snapshot_date",
        "label",
        "score_model",
        "score_rule",
    }


def test_validation_is_later_than_training_by_the_label_horizon(trained, table, train_policy) -> None:
    gap = train_policy.gap_days
    validation_dates = trained.validation["snapshot_date"]
    assert sorted(validation_dates.unique()) == list(pd.date_range("2023-10-01", periods=3, freq="MS"))
    train, _ = time_split(table, "snapshot_date", train_policy.validation_months, gap)
    # every training label (horizon `gap` days) was known on the first validation snapshot
    assert train["snapshot_date"].max() + pd.Timedelta(days=gap) <= validation_dates.min()
    assert train["snapshot_date"].max() == pd.Timestamp("2023-04-01")


def test_predictions_are_deterministic(table, train_policy) -> None:
    fast = train_policy.model_copy(update={"n_estimators": 60})

    def fit() -> np.ndarray:
        return RiskModel.from_policy(fast, FEATURES).fit(table, table["label"]).predict_proba(table)[:, 1]

    assert np.array_equal(fit(), fit())


def test_calibrated_mean_matches_observed_rate_on_held_out_months(trained) -> None:
    held_out = trained.metrics["model"]
    assert held_out["mean_score"] == pytest.approx(held_out["base_rate"], rel=0.2)
    top = trained.calibration.iloc[-1]
    assert top["mean_score"] == pytest.approx(top["observed_rate"], abs=0.12)


def test_negative_subsampling_weights_keep_probabilities_calibrated(train_policy) -> None:
    rare = make_table(n_entities=600, months=16, seed=11)
    rare["label"] = rare["label"] * (np.random.default_rng(5).random(len(rare)) < 0.3)  # ~7 % events
    subsampled = train_policy.model_copy(update={"negative_sample_ratio": 2.0, "n_estimators": 100})
    result = train_and_evaluate(rare, FEATURES, policy=subsampled)
    assert result.train_rows < 0.5 * len(rare)  # negatives were really dropped
    held_out = result.metrics["model"]
    assert held_out["mean_score"] == pytest.approx(held_out["base_rate"], rel=0.25)


def test_calibrator_never_sees_training_rows(table) -> None:
    model = RiskModel(FEATURES, n_estimators=20, calibration_months=2).fit(table, table["label"])
    assert model.n_calibration_rows_ == 2 * 400  # the last two monthly snapshots only
    isotonic = RiskModel(FEATURES, n_estimators=20, calibration="isotonic").fit(table, table["label"])
    p = isotonic.risk_score(table.tail(400))
    assert p.min() >= 0 and p.max() <= 1
    with pytest.raises(ValueError, match="snapshot_date"):
        RiskModel(FEATURES, n_estimators=20).fit(table.drop(columns="snapshot_date"), table["label"])


def test_negative_subsampling_keeps_each_snapshots_weighted_base_rate(table) -> None:
    sampled = negative_subsample(table, ratio=2.0, seed=1)
    assert len(sampled) < len(table)
    assert sampled["label"].sum() == table["label"].sum()
    for date, part in sampled.groupby("snapshot_date"):
        full = table.loc[table["snapshot_date"] == date]
        weighted_rate = np.average(part["label"], weights=part["sample_weight"])
        assert weighted_rate == pytest.approx(full["label"].mean(), rel=1e-9)


# ---------------------------------------------------------------- time-ordered splits
def test_time_split_never_puts_a_later_date_in_training() -> None:
    shuffled = make_table(50, 12).sample(frac=1.0, random_state=3)
    train, valid = time_split(shuffled, "snapshot_date", validation_months=3, gap_days=60)
    assert train["snapshot_date"].max() < valid["snapshot_date"].min()
    assert (valid["snapshot_date"].min() - train["snapshot_date"].max()).days >= 60
    assert sorted(valid["snapshot_date"].unique()) == list(pd.date_range("2022-10-01", periods=3, freq="MS"))
    assert len(train) + len(valid) == 50 * 11  # only August (within 60 days of October) is left out
    with pytest.raises(ValueError, match="more history"):
        time_split(shuffled, "snapshot_date", validation_months=3, gap_days=400)


def test_no_gap_still_keeps_validation_days_out_of_training() -> None:
    df = pd.DataFrame({"snapshot_date": pd.date_range("2023-01-31", periods=12, freq="ME"), "x": range(12)})
    for train, valid in [time_split(df, validation_months=3, gap_days=0),
                         *rolling_origin_splits(df, validation_months=2, n_splits=3, gap_days=0)]:
        assert train["snapshot_date"].max() < valid["snapshot_date"].min()


def test_rolling_origin_folds_move_forward_in_time() -> None:
    folds = rolling_origin_splits(make_table(30, 18), validation_months=2, n_splits=3, gap_days=31)
    assert len(folds) == 3
    starts = [v["snapshot_date"].min() for _, v in folds]
    assert starts == sorted(starts)
    for train, valid in folds:
        assert train["snapshot_date"].max() < valid["snapshot_date"].min()


def test_backtest_reports_every_fold_and_scorer(table, train_policy) -> None:
    fast = train_policy.model_copy(update={"n_estimators": 60})
    folds = backtest(table, FEATURES, policy=fast, n_splits=2)
    assert len(folds) == 2 * 3 and set(folds["scorer"]) == {"model", "rule", "logistic"}
    auc = folds.pivot(index="fold", columns="scorer", values="auc")
    assert (auc["model"] > auc["rule"]).all()


def test_data_hash_ignores_row_and_column_order(table) -> None:
    small = table.head(500)
    reordered = small.sample(frac=1.0, random_state=0)[list(reversed(small.columns))]
    assert data_hash(small) == data_hash(reordered)
    changed = small.copy()
    changed.loc[changed.index[0], "label"] = 1 - changed.loc[changed.index[0], "label"]
    assert data_hash(changed) != data_hash(small)


# ---------------------------------------------------------------- explanations
def test_contributions_sum_to_the_margin_and_name_the_planted_signal(trained, table) -> None:
    model = trained.model
    rows = table.tail(400)
    contrib = model.contributions(rows)
    np.testing.assert_allclose(contrib.sum(axis=1), model.decision_function(rows), rtol=1e-6, atol=1e-6)

    reasons = explain(model, rows, LABELS, top_k=3)
    riskiest = np.argsort(-model.risk_score(rows))[:20]
    tops = [json.loads(reasons["reasons"].iloc[i])[0] for i in riskiest]
    assert sum(r["feature"] == "signal_ratio" for r in tops) >= 18
    first = tops[0]
    assert first["label"] == "信号比率" and first["contribution"] > 0
    assert set(first) == {"feature", "label", "value", "contribution"}


def test_reason_sentence_speaks_chinese_with_flags_as_yes_no(trained) -> None:
    row = pd.DataFrame(
        {
            "signal_ratio": [3.0],  # outside the risky band: lowers the margin, never a reason
            "penalty_count_365d": [6],
            "serious_violation_current": [0],
            "abnormal_list_current": [1],
            "dishonest_debtor_current": [0],
            "complaint_count_365d": [0],
            "capital_log": [np.nan],
        }
    )
    out = explain(trained.model, row, LABELS, top_k=len(FEATURES))
    text = out["reasons_text"].iloc[0]
    items = json.loads(out["reasons"].iloc[0])
    assert "近1年行政处罚次数=6" in text and "经营异常名录在列=是" in text
    assert [i["value"] for i in items if i["feature"] == "abnormal_list_current"] == [True]
    assert {"signal_ratio", "dishonest_debtor_current", "serious_violation_current"}.isdisjoint(
        i["feature"] for i in items
    )  # a flag that is off is no finding
    assert all(i["contribution"] > 0 for i in items)
    assert explain(trained.model, row, LABELS, top_k=1)["reasons_text"].iloc[0] == text.split("；")[0]


def test_coded_values_are_named_in_reasons(trained) -> None:
    """A categorical code behind a reason is shown by its name, not its number."""
    row = pd.DataFrame(
        {"signal_ratio": [0.1], "penalty_count_365d": [6], "serious_violation_current": [0],
         "abnormal_list_current": [1], "dishonest_debtor_current": [0], "complaint_count_365d": [0],
         "capital_log": [5.0]}
    )
    names = {"penalty_count_365d": {6: "六次"}}
    out = explain(trained.model, row, LABELS, top_k=len(FEATURES), value_labels=names)
    assert "近1年行政处罚次数=六次" in out["reasons_text"].iloc[0]
    item = next(i for i in json.loads(out["reasons"].iloc[0]) if i["feature"] == "penalty_count_365d")
    assert item["value"] == 6 and item["value_label"] == "六次"


# ---------------------------------------------------------------- grading
def test_grade_mix_matches_conf_shares() -> None:
    shares = policy().grading.shares
    scores = pd.Series(np.random.default_rng(0).random(1000), index=[f"e{i}" for i in range(1000)])
    grades = assign_grades(scores, shares)
    counts = grades.value_counts()
    for grade, share in shares.items():
        assert counts.get(grade, 0) == round(share * 1000)
    # D holds the highest scores
    assert scores[grades == "D"].min() > scores[grades == "C"].max()
    assert scores[grades == "B"].min() > scores[grades == "A"].max()


def test_equal_scores_get_equal_grades_and_unscored_get_none() -> None:
    scores = pd.Series([0.9, 0.5, 0.5, 0.5, 0.1, np.nan, 0.05, 0.02, 0.01, 0.0])
    grades = assign_grades(scores, {"D": 0.1, "C": 0.2, "B": 0.2, "A": 0.5})
    assert grades[0] == "D"
    assert grades[1] == grades[2] == grades[3]
    assert pd.isna(grades[5])
    again = assign_grades(scores.iloc[::-1], {"D": 0.1, "C": 0.2, "B": 0.2, "A": 0.5})
    assert again.sort_index().equals(grades)


def test_policy_floors_override_the_model() -> None:
    floors = policy().grading.floors
    grades = pd.Series(["A", "B", "D", "A", "C"], index=list("vwxyz"))
    flags = pd.DataFrame(
        {
            "serious_violation": [True, False, False, False, False],
            "dishonest_debtor": [False, True, True, False, False],
            "abnormal_list": [False, False, False, False, True],
        },
        index=list("vwxyz"),
    )
    out = apply_floors(grades, flags, floors)
    assert out["grade"].tolist() == ["D", "C", "D", "A", "C"]
    assert out["grade_reason"].tolist() == [
        "floor:serious_violation",
        "floor:dishonest_debtor",
        "model",  # already D: the list does not lower it
        "model",
        "model",  # C already meets the abnormal-list floor
    ]
    assert out["model_grade"].tolist() == grades.tolist()
    with pd.option_context("mode.copy_on_write", True):  # bench/models.py runs with copy-on-write
        assert apply_floors(grades, flags, floors)["grade"].tolist() == ["D", "C", "D", "A", "C"]


# ---------------------------------------------------------------- metrics
def test_metrics_on_hand_computed_examples() -> None:
    y = [1, 0, 1, 0, 0, 0, 0, 0, 0, 1]
    s = [0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2, 0.1, 0.05]
    assert precision_at_k(y, s, 1) == 1.0
    assert precision_at_k(y, s, 3) == pytest.approx(2 / 3)
    assert precision_at_k(y, s, 10) == pytest.approx(0.3)
    # top 10 % = 1 row, a positive; base rate 0.3 -> lift 1 / 0.3
    assert lift_at(y, s, 0.1) == pytest.approx(1 / 0.3)
    # a tie at the cut-off counts at its group's rate: top-2 of (0.9 pos, 0.8 pos, 0.8 neg)
    assert precision_at_k([1, 1, 0], [0.9, 0.8, 0.8], 2) == pytest.approx(0.75)
    # positives at ranks 1, 3, 10 outrank 7 + 6 + 0 of the 3 x 7 positive-negative pairs
    assert roc_auc(y, s) == pytest.approx(13 / 21)
    assert brier([1, 0], [0.8, 0.4]) == pytest.approx((0.04 + 0.16) / 2)
    table = calibration_table(y, s, n_bins=5)
    assert table["n"].tolist() == [2] * 5
    assert table["observed_rate"].tolist() == [0.5, 0.0, 0.0, 0.5, 0.5]


def test_single_class_slice_gives_nan_with_a_warning() -> None:
    with pytest.warns(SingleClassWarning):
        assert np.isnan(roc_auc([0, 0, 0], [0.1, 0.2, 0.3]))
    with pytest.warns(SingleClassWarning):
        assert np.isnan(pr_auc([1, 1], [0.1, 0.2]))
    with pytest.warns(SingleClassWarning):
        m = evaluate_scores([0, 0, 0, 0], [0.1, 0.2, 0.3, 0.4], k=2)
    assert np.isnan(m["auc"]) and np.isnan(m["lift_at_10pct"])
    assert m["precision_at_k"] == 0.0 and m["brier"] == pytest.approx(0.075)


def test_rule_score_ranks_by_conf_weights(table, train_policy) -> None:
    weights = train_policy.rule_weights
    rule = RuleScore(weights).fit(table, table["label"])
    heavy = table.head(2).copy()
    heavy.loc[heavy.index[0], list(weights)] = 0
    heavy.loc[heavy.index[1], list(weights)] = 1
    p = rule.predict_proba(heavy)[:, 1]
    assert p[1] > p[0]


# ---------------------------------------------------------------- anomaly
def test_anomaly_score_flags_the_odd_entity() -> None:
    rng = np.random.default_rng(0)
    basic = pd.DataFrame(
        {"capital_log": rng.normal(5, 0.5, 300), "staff": rng.poisson(10, 300).astype(float)}
    )
    basic.loc[299] = [12.0, 0.0]  # huge capital, no staff
    scores = anomaly_scores(basic, ["capital_log", "staff"], seed=1)
    assert scores.idxmax() == 299
    assert scores.between(0, 1).all()


# ---------------------------------------------------------------- registry
# MLflow's SQL store uses a loader strategy SQLAlchemy deprecates; nothing we can act on
@pytest.mark.filterwarnings("ignore:The ``noload`` loader strategy")
def test_registry_round_trip(tmp_path, trained, table, train_policy) -> None:
    import mlflow

    from radar.models import registry

    uri = f"sqlite:///{tmp_path}/mlflow.db"
    name = train_policy.registered_model_name
    version = registry.log_model(
        trained,
        uri,
        str(tmp_path / "artifacts"),
        "radar-tests",
        name,
        params={"feature_table": "features/v1"},
        snapshot_info={"as_of": "2024-01-01"},
    )
    assert registry.champion_version(uri, name) is None
    assert registry.promote_if_first(name, tracking_uri=uri) == version
    model, champion = registry.load_champion(uri, name)
    assert champion == version
    assert isinstance(model, RiskModel)
    rows = table.tail(200)
    np.testing.assert_array_equal(model.predict_proba(rows), trained.model.predict_proba(rows))

    # the run carries the evidence: baselines' metrics, the snapshot range, the table's hash
    client = mlflow.MlflowClient(tracking_uri=uri)
    run = client.get_run(client.get_model_version(name, version).run_id)
    assert {"val_model_auc", "val_rule_auc", "val_logistic_auc"} <= set(run.data.metrics)
    assert run.data.tags["snapshot_min"] == "2022-01-01" and run.data.tags["snapshot.as_of"] == "2024-01-01"
    assert mlflow.models.get_model_info(f"models:/{name}/{version}").signature is not None

    # idempotent retraining: the same table is found, another is not
    assert registry.find_version_by_data_hash(uri, name, trained.data_hash) == version
    assert registry.find_version_by_data_hash(uri, name, "0" * 64) is None
    registry.set_alias(name, "challenger", version, tracking_uri=uri)
    assert registry.alias_version(uri, name, "challenger") == version
    assert registry.alias_history(uri, name)["version"].tolist() == [version]
