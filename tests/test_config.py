"""Configuration: every file in conf/ loads; a bad value stops with one message naming the file and key."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from radar import config
from radar.errors import ConfigError

CONF = Path(__file__).resolve().parents[1] / "conf"


def _copy_conf(tmp_path: Path) -> Path:
    d = tmp_path / "conf"
    shutil.copytree(CONF, d)
    return d


def _edit(path: Path, change: Callable[[dict], None]) -> None:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    change(data)
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")


def test_shipped_configuration_loads() -> None:
    assert config.policy(CONF).grading.shares["A"] > 0
    assert "penalty" in config.sources(CONF).record_types
    assert config.feature_catalog(CONF).features
    assert config.profile("local", CONF).spark.master.startswith("local")
    assert config.profile("cluster", CONF).spark.master.startswith("spark://")
    assert set(config.simulation(CONF).scales) == {"tiny", "small", "city"}


def test_bad_value_names_file_and_key(tmp_path: Path) -> None:
    d = _copy_conf(tmp_path)
    _edit(d / "policy.yaml", lambda p: p["grading"]["shares"].update({"D": 0.5}))
    with pytest.raises(ConfigError) as e:
        config.policy(d)
    msg = str(e.value)
    assert "policy.yaml" in msg and "grading.shares" in msg and "sum to 1" in msg


def test_wrong_type_and_unknown_key(tmp_path: Path) -> None:
    d = _copy_conf(tmp_path)
    _edit(d / "policy.yaml", lambda p: p["labels"].update({"horizon_days": "half a year"}))
    with pytest.raises(ConfigError, match=r"policy.yaml: labels.horizon_days"):
        config.policy(d)
    d2 = _copy_conf(tmp_path / "b")
    _edit(d2 / "policy.yaml", lambda p: p["plan"].update({"ratio": {"A": 0.1}}))
    with pytest.raises(ConfigError, match=r"plan.ratio: Extra inputs"):
        config.policy(d2)


def test_feature_catalog_checks_its_declarations(tmp_path: Path) -> None:
    d = _copy_conf(tmp_path)
    _edit(d / "features.yaml", lambda c: c["features"].append(dict(c["features"][-1])))
    with pytest.raises(ConfigError, match="duplicate feature names"):
        config.feature_catalog(d)
    d2 = _copy_conf(tmp_path / "b")
    _edit(d2 / "features.yaml", lambda c: c["features"].append(
        {"name": "x_count", "dimension": "social", "label": "x", "kind": "count", "events": ["complaint"]}))
    with pytest.raises(ConfigError, match="needs window_days"):
        config.feature_catalog(d2)


def test_missing_file_and_unknown_profile(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="configuration file not found"):
        config.policy(tmp_path)
    with pytest.raises(ConfigError, match=r"profiles.moon: no such profile"):
        config.profile("moon", CONF)


def test_broken_yaml_is_reported(tmp_path: Path) -> None:
    d = _copy_conf(tmp_path)
    (d / "sources.yaml").write_text("record_types: [unclosed\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"sources\.yaml: not valid YAML"):
        config.sources(d)
