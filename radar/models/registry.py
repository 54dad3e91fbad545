"""Models in MLflow: one run per training, registered versions, and the ``champion`` alias.

Every run carries its parameters, the validation metrics of the model and its baselines, a calibration
plot, and tags naming the feature snapshots it learned from and a hash of the training table. The caller
can skip retraining when ``find_version_by_data_hash`` finds the table already trained on.

Aliases (``champion``, ``challenger``) replace MLflow's old stages. Each alias move is also written as a
registered-model tag ``alias_history.<alias>.<UTC time> = <version>``, so ``alias_history`` answers which
model was live when.
"""

from __future__ import annotations

import json
import os
import warnings
from datetime import UTC, datetime
from importlib.metadata import version as package_version
from pathlib import Path
from typing import Any

import pandas as pd

from radar.models.estimator import RiskModel
from radar.models.train import TrainResult

CHAMPION = "champion"
CHALLENGER = "challenger"
DATA_HASH_TAG = "data_hash"
HISTORY_PREFIX = "alias_history."
STAMP_FORMAT = "%Y%m%dT%H%M%S%fZ"  # no colons: tag keys stay portable across tracking stores
MODEL_NAME_IN_RUN = "risk_model"
REFERENCE_ARTIFACT = "drift_reference.json"  # the training data's feature bins (radar.models.drift.reference_bins)
# the packages the stored model needs to load (listed so MLflow need not infer them, which is slow)
MODEL_REQUIREMENTS = ("lightgbm", "scikit-learn", "pandas", "numpy", "scipy")
# types the skops file may rebuild beyond scikit-learn's own: ours and LightGBM's
TRUSTED_TYPES = [
    "radar.models.estimator.RiskModel",
    "radar.models.estimator.FeatureFrame",
    "lightgbm.sklearn.LGBMClassifier",
    "lightgbm.basic.Booster",
    "collections.OrderedDict",
]


def _mlflow(tracking_uri: str | None) -> Any:
    # MLflow phones home unless told not to; set before the first import
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    import mlflow

    if tracking_uri:
        mlflow.set_tracking_uri(tracking_uri)
    return mlflow


def _client(tracking_uri: str | None) -> Any:
    mlflow = _mlflow(tracking_uri)
    return mlflow.MlflowClient(tracking_uri=tracking_uri)


def _experiment_id(mlflow: Any, experiment: str, artifact_location: str) -> str:
    location = Path(artifact_location).expanduser().resolve()
    found = mlflow.get_experiment_by_name(experiment)
    if found is not None:
        if Path(found.artifact_location.removeprefix("file://")).resolve() != location:
            warnings.warn(
                f"experiment {experiment!r} keeps its artifacts in {found.artifact_location}, not {location}",
                stacklevel=3,
            )
        return found.experiment_id
    location.mkdir(parents=True, exist_ok=True)
    return mlflow.create_experiment(experiment, artifact_location=location.as_uri())


def _flat_metrics(result: TrainResult) -> dict[str, float]:
    return {
        f"val_{scorer}_{name}": float(value)
        for scorer, metrics in result.metrics.items()
        for name, value in metrics.items()
    }


def _calibration_figure(result: TrainResult) -> Any | None:
    try:
        import matplotlib

        matplotlib.use("Agg", force=False)
        import matplotlib.pyplot as plt
    except ImportError:  # plots are evidence, not a requirement
        return None
    table = result.calibration
    fig, ax = plt.subplots(figsize=(5, 5))
    top = max(float(table["mean_score"].max()), float(table["observed_rate"].max()), 1e-3) * 1.05
    ax.plot([0, top], [0, top], linestyle="--", color="grey", label="perfect")
    ax.plot(table["mean_score"], table["observed_rate"], marker="o", label="model (validation deciles)")
    ax.set_xlabel("mean predicted probability")
    ax.set_ylabel("observed adverse-event rate")
    ax.set_title(f"Calibration, validation from {result.validation_start}")
    ax.legend(loc="upper left")
    fig.tight_layout()
    return fig


def _requirements() -> list[str]:
    return [f"{name}=={package_version(name)}" for name in MODEL_REQUIREMENTS]


def log_model(
    result: TrainResult,
    tracking_uri: str,
    artifact_location: str,
    experiment: str,
    registered_name: str,
    params: dict[str, Any] | None = None,
    snapshot_info: dict[str, Any] | None = None,
    reference: dict[str, Any] | None = None,
) -> str:
    """Log a training run with its model and register it; returns the new model version.

    ``params`` add to the run's parameters (the result's own training parameters are always logged);
    ``snapshot_info`` (e.g. as-of date, lake, feature table path) becomes run tags. The model is stored
    in the scikit-learn flavour (skops format, loads back as a ``RiskModel``), with a signature and an
    input example; its pyfunc flavour returns ``predict_proba``. ``reference`` (the training features' bins,
    ``radar.models.drift.reference_bins``) is stored as the artifact ``drift_reference.json``: every scoring
    run measures drift against it.
    """
    mlflow = _mlflow(tracking_uri)
    from mlflow.models import infer_signature

    experiment_id = _experiment_id(mlflow, experiment, artifact_location)
    tags = {
        DATA_HASH_TAG: result.data_hash,
        "snapshot_min": result.snapshot_min,
        "snapshot_max": result.snapshot_max,
        "validation_start": result.validation_start,
        "train_rows": str(result.train_rows),
        "validation_rows": str(result.validation_rows),
        **{f"snapshot.{k}": str(v) for k, v in (snapshot_info or {}).items()},
    }
    all_params = {**result.params, **(params or {})}
    with mlflow.start_run(experiment_id=experiment_id, tags=tags) as run:
        mlflow.log_params(
            {
                k: json.dumps(v, ensure_ascii=False) if isinstance(v, dict | list) else v
                for k, v in all_params.items()
            }
        )
        mlflow.log_metrics(_flat_metrics(result))
        mlflow.log_text(result.calibration.to_csv(index=False), "calibration.csv")
        mlflow.log_text(
            result.model.feature_importance().to_json(force_ascii=False, indent=1), "feature_importance.json"
        )
        mlflow.log_text(json.dumps(result.feature_cols, ensure_ascii=False), "feature_cols.json")
        if reference is not None:
            mlflow.log_text(json.dumps(reference, ensure_ascii=False), REFERENCE_ARTIFACT)
        fig = _calibration_figure(result)
        if fig is not None:
            mlflow.log_figure(fig, "calibration.png")
            import matplotlib.pyplot as plt

            plt.close(fig)
        example = result.input_example
        signature = infer_signature(example, result.model.predict_proba(example))
        info = mlflow.sklearn.log_model(
            result.model,
            name=MODEL_NAME_IN_RUN,
            signature=signature,
            input_example=example,
            pip_requirements=_requirements(),
            pyfunc_predict_fn="predict_proba",
            serialization_format="skops",
            skops_trusted_types=TRUSTED_TYPES,
            registered_model_name=registered_name,
            await_registration_for=0,
        )
        version = str(info.registered_model_version)
        client = mlflow.MlflowClient(tracking_uri=tracking_uri)
        for key in (DATA_HASH_TAG, "snapshot_min", "snapshot_max"):
            client.set_model_version_tag(registered_name, version, key, tags[key])
        client.set_model_version_tag(registered_name, version, "run_id", run.info.run_id)
    return version


def set_alias(name: str, alias: str, version: str | int, *, tracking_uri: str | None = None) -> None:
    """Point ``alias`` of registered model ``name`` at ``version`` and record the move in its history."""
    client = _client(tracking_uri)
    client.set_registered_model_alias(name, alias, str(version))
    stamp = datetime.now(UTC).strftime(STAMP_FORMAT)
    client.set_registered_model_tag(name, f"{HISTORY_PREFIX}{alias}.{stamp}", str(version))


def alias_version(tracking_uri: str | None, name: str, alias: str) -> str | None:
    """The version an alias points at, or None if the alias (or the model) does not exist."""
    from mlflow.exceptions import MlflowException

    client = _client(tracking_uri)
    try:
        return str(client.get_model_version_by_alias(name, alias).version)
    except MlflowException:
        return None


def champion_version(tracking_uri: str | None, name: str) -> str | None:
    """The champion's version, or None if no model is champion yet."""
    return alias_version(tracking_uri, name, CHAMPION)


def promote_if_first(name: str, *, tracking_uri: str | None = None) -> str | None:
    """Make the oldest version champion when there is no champion yet; returns the champion's version.

    Later versions are promoted by the champion gate (a comparison on the same validation period), not here.
    """
    current = champion_version(tracking_uri, name)
    if current is not None:
        return current
    versions = _client(tracking_uri).search_model_versions(f"name = '{name}'")
    if not versions:
        return None
    first = min(versions, key=lambda v: int(v.version))
    set_alias(name, CHAMPION, first.version, tracking_uri=tracking_uri)
    return str(first.version)


def load_version(tracking_uri: str | None, name: str, version: str | int) -> RiskModel:
    """A registered model version, loaded back as the RiskModel it was."""
    mlflow = _mlflow(tracking_uri)
    return mlflow.sklearn.load_model(f"models:/{name}/{version}")


def load_champion(tracking_uri: str | None, name: str) -> tuple[RiskModel, str]:
    """The champion RiskModel and its version; LookupError if no model is champion yet."""
    version = champion_version(tracking_uri, name)
    if version is None:
        raise LookupError(f"registered model {name!r} has no {CHAMPION} (train and promote one first)")
    return load_version(tracking_uri, name, version), version


def version_tag(tracking_uri: str | None, name: str, version: str | int, tag: str) -> str | None:
    """A tag of a registered version (e.g. ``snapshot_max``), or None."""
    return _client(tracking_uri).get_model_version(name, str(version)).tags.get(tag)


def load_reference(tracking_uri: str | None, name: str, version: str | int) -> dict[str, Any] | None:
    """The drift reference stored with a registered version, or None (a model trained before it was stored)."""
    from mlflow.exceptions import MlflowException

    mlflow = _mlflow(tracking_uri)
    client = mlflow.MlflowClient(tracking_uri=tracking_uri)
    run_id = client.get_model_version(name, str(version)).run_id
    if not run_id:
        return None
    try:
        text = mlflow.artifacts.load_text(f"runs:/{run_id}/{REFERENCE_ARTIFACT}")
    except (MlflowException, OSError):
        return None
    return json.loads(text)


def version_metric(tracking_uri: str | None, name: str, version: str | int, metric: str) -> float | None:
    """A metric logged by the run that produced a registered version (e.g. ``val_model_auc_pr``)."""
    client = _client(tracking_uri)
    run_id = client.get_model_version(name, str(version)).run_id
    value = client.get_run(run_id).data.metrics.get(metric) if run_id else None
    return None if value is None else float(value)


def find_version_by_data_hash(tracking_uri: str | None, name: str, data_hash: str) -> str | None:
    """The newest version trained on a table with this hash, or None (then training is needed)."""
    from mlflow.exceptions import MlflowException

    client = _client(tracking_uri)
    try:
        versions = client.search_model_versions(f"name = '{name}'")
    except MlflowException:
        return None
    matching = [int(v.version) for v in versions if v.tags.get(DATA_HASH_TAG) == data_hash]
    return str(max(matching)) if matching else None


def alias_history(tracking_uri: str | None, name: str, alias: str = CHAMPION) -> pd.DataFrame:
    """When each version became ``alias``, oldest first: columns ``since`` (UTC) and ``version``."""
    client = _client(tracking_uri)
    tags = client.get_registered_model(name).tags
    prefix = f"{HISTORY_PREFIX}{alias}."
    rows = [
        {"since": pd.to_datetime(key.removeprefix(prefix), format=STAMP_FORMAT, utc=True), "version": value}
        for key, value in tags.items()
        if key.startswith(prefix)
    ]
    return pd.DataFrame(rows, columns=["since", "version"]).sort_values("since").reset_index(drop=True)
