"""The Chicago food-inspection benchmark on real data (GitHub issue 7).

``data`` loads the city's files, ``features`` builds point-in-time features from the raw inspection
history, licences, 311 complaints, weather and inspector assignments, ``metrics`` computes AUC, "days
earlier" and the first-half share exactly as the city did, and ``benchmark`` fits before 2014-09-02,
chooses settings by time-ordered validation inside that period and ranks the test period once.
"""

from radar.chicago.benchmark import (
    CITY_PUBLISHED,
    SETTINGS,
    BenchmarkResult,
    InspectionModel,
    format_fairness,
    format_table,
    prepare,
    run_benchmark,
)
from radar.chicago.data import ChicagoData, load_data, resolve_data_dir
from radar.chicago.features import build_features, feature_columns
from radar.chicago.metrics import (
    benchmark_metrics,
    days_earlier,
    first_half_share,
    simulated_dates,
    within_group_auc,
)

__all__ = [
    "CITY_PUBLISHED",
    "SETTINGS",
    "BenchmarkResult",
    "ChicagoData",
    "InspectionModel",
    "benchmark_metrics",
    "build_features",
    "days_earlier",
    "feature_columns",
    "first_half_share",
    "format_fairness",
    "format_table",
    "load_data",
    "prepare",
    "resolve_data_dir",
    "run_benchmark",
    "simulated_dates",
    "within_group_auc",
]
