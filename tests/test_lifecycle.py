"""The model lifecycle: first champion, idempotent retraining, the champion gate, rollback, model history."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from test_models import FEATURES, make_table

from radar.config import policy
from radar.models import lifecycle
from radar.models import registry as reg
from radar.store import Store


@pytest.fixture
def mlflow_dirs(tmp_path: Path) -> tuple[str, str, Store]:
    store = Store(f"sqlite:///{tmp_path}/store.db")
    return f"sqlite:///{tmp_path}/mlflow.db", str(tmp_path / "artifacts"), store


def _noise(table, seed: int):
    """The same table with its labels shuffled: a model trained on it has no skill."""
    out = table.copy()
    out["label"] = np.random.default_rng(seed).permutation(out["label"].to_numpy())
    return out


def test_gate_promotes_the_better_model_refuses_the_worse_and_rolls_back(mlflow_dirs) -> None:
    uri, artifacts, store = mlflow_dirs
    tp = policy().train
    good = make_table(n_entities=300, months=24, seed=5)

    first = lifecycle.retrain(_noise(good, 1), FEATURES, tp, uri, artifacts, store)
    assert first.action == "promoted" and first.reason == "first model"
    assert reg.champion_version(uri, tp.registered_model_name) == first.version

    again = lifecycle.retrain(_noise(good, 1), FEATURES, tp, uri, artifacts, store)
    assert again.action == "unchanged" and again.version == first.version

    better = lifecycle.retrain(good, FEATURES, tp, uri, artifacts, store)
    assert better.action == "promoted", better.reason
    assert better.challenger_metrics["auc_pr"] > better.champion_metrics["auc_pr"]
    assert reg.champion_version(uri, tp.registered_model_name) == better.version

    worse = lifecycle.retrain(_noise(good, 2), FEATURES, tp, uri, artifacts, store)
    assert worse.action == "refused", worse.reason
    assert "challenger" in worse.reason and "champion" in worse.reason
    assert reg.champion_version(uri, tp.registered_model_name) == better.version
    assert reg.alias_version(uri, tp.registered_model_name, "challenger") == worse.version

    frm, to = lifecycle.rollback(tp, uri, store)
    assert (frm, to) == (better.version, first.version)
    assert reg.champion_version(uri, tp.registered_model_name) == first.version

    actions = [(e["action"], e["version"]) for e in reversed(store.model_history())]
    assert actions == [
        ("registered", first.version), ("promoted", first.version),
        ("registered", better.version), ("promoted", better.version),
        ("registered", worse.version), ("refused", worse.version),
        ("rollback", first.version),
    ]
    refused = next(e for e in store.model_history() if e["action"] == "refused")
    assert {"challenger", "champion", "baselines"} <= set(refused["metrics"])
    assert refused["champion_before"] == refused["champion_after"] == better.version
    store.close()


def test_rollback_needs_an_earlier_champion(mlflow_dirs) -> None:
    uri, artifacts, store = mlflow_dirs
    tp = policy().train
    with pytest.raises(LookupError, match="no champion"):
        lifecycle.rollback(tp, uri, store)
    lifecycle.retrain(make_table(n_entities=200, months=20, seed=9), FEATURES, tp, uri, artifacts, store)
    with pytest.raises(LookupError, match="only model"):
        lifecycle.rollback(tp, uri, store)
    store.close()


def test_a_trained_model_carries_its_drift_reference_and_an_older_one_has_none(mlflow_dirs) -> None:
    from radar.models.train import train_and_evaluate

    uri, artifacts, store = mlflow_dirs
    tp = policy().train
    table = make_table(n_entities=200, months=20, seed=11)
    old = reg.log_model(train_and_evaluate(table, FEATURES, policy=tp), uri, artifacts, lifecycle.EXPERIMENT,
                        tp.registered_model_name)  # as models were logged before the reference existed
    assert reg.load_reference(uri, tp.registered_model_name, old) is None
    new = lifecycle.retrain(make_table(n_entities=200, months=20, seed=12), FEATURES, tp, uri, artifacts, store,
                            drift_bins=5)
    ref = reg.load_reference(uri, tp.registered_model_name, new.version)
    assert ref is not None and ref["bins"] == 5 and set(ref["features"]) == set(FEATURES)
    assert ref["n_reference"] == 200 * 20
    assert all(abs(sum(f["counts"]) - 200 * 20) < 1e-6 for f in ref["features"].values())
    store.close()
