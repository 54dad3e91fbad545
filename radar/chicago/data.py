"""Loading the Chicago food-inspection files (gzipped CSV converted from the city's .Rds files).

The folder is found, in order, from an explicit path, the ``RADAR_CHICAGO`` environment variable,
``../shared/data/chicago`` beside the repository, and ``/work/shared/data/chicago``. Each loader returns a
typed pandas frame with the columns the features need; nothing is derived here.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from radar.errors import InputError

ENV_VAR = "RADAR_CHICAGO"
FALLBACK_DIR = Path("/work/shared/data/chicago")

# file name -> what it holds (the folder's README.md describes each)
FILES = {
    "matrix": "30_xgboost_data.csv.gz",
    "inspections": "23_food_insp_features.csv.gz",
    "licences": "24_bus_features.csv.gz",
    "complaints": "15_sanitation_code.csv.gz",
    "inspectors": "19_inspector_assignments.csv.gz",
    "weather": "17_mongo_weather_update.csv.gz",
    "violations": "21_food_inspection_violation_matrix.csv.gz",
    "heat_burglary": "22_burglary_heat.csv.gz",
    "heat_garbage": "22_garbageCarts_heat.csv.gz",
    "heat_sanitation": "22_sanitationComplaints_heat.csv.gz",
}


def default_data_dirs() -> list[Path]:
    """The places looked at, in order, when no folder is given."""
    repo = Path(__file__).resolve().parents[2]
    dirs = []
    if os.environ.get(ENV_VAR):
        dirs.append(Path(os.environ[ENV_VAR]))
    dirs += [repo.parent / "shared" / "data" / "chicago", FALLBACK_DIR]
    return dirs


def resolve_data_dir(data_dir: Path | str | None = None) -> Path:
    """The Chicago data folder: ``data_dir`` if given, else the first default that exists.

    Raises InputError naming every place tried, or the files missing from the folder found.
    """
    candidates = [Path(data_dir)] if data_dir is not None else default_data_dirs()
    found = next((p for p in candidates if p.is_dir()), None)
    if found is None:
        tried = ", ".join(str(p) for p in candidates)
        raise InputError(f"Chicago data folder not found (tried {tried}); pass --data DIR or set {ENV_VAR}")
    missing = [name for name in FILES.values() if not (found / name).is_file()]
    if missing:
        raise InputError(f"Chicago data folder {found} lacks {', '.join(missing)}")
    return found


@dataclass(frozen=True)
class ChicagoData:
    """The raw tables, typed; one frame per file family."""

    inspections: pd.DataFrame  # one row per Canvass inspection: licence, name, address, type, risk, result
    violations: pd.DataFrame  # Inspection_ID -> critical / serious / minor counts
    licences: pd.DataFrame  # the business licence matched to each inspection
    complaints: pd.DataFrame  # 311 sanitation-code complaints with date and location
    inspectors: pd.DataFrame  # Inspection_ID -> inspector (sanitarian, anonymised as a colour)
    weather: pd.DataFrame  # one row per day
    heat: pd.DataFrame  # Inspection_ID -> the city's prepared heat values (burglary, garbage, sanitation)
    matrix: pd.DataFrame  # the city's model matrix: Inspection_ID, Test flag, stored score, criticalFound


def _read(folder: Path, key: str, **kwargs: object) -> pd.DataFrame:
    return pd.read_csv(folder / FILES[key], compression="gzip", low_memory=False, **kwargs)


def load_data(
    data_dir: Path | str | None = None, sample_licences: float | None = None, seed: int = 0
) -> ChicagoData:
    """Read every file of the folder.

    ``sample_licences`` (0-1) keeps the inspections of that share of licences (drawn with ``seed``),
    for quick checks; complaints, weather and the inspector table are kept whole.
    """
    folder = resolve_data_dir(data_dir)
    insp = _read(folder, "inspections", parse_dates=["Inspection_Date"])
    insp = insp[
        [
            "Inspection_ID",
            "DBA_Name",
            "AKA_Name",
            "License",
            "Facility_Type",
            "Risk",
            "Address",
            "Zip",
            "Inspection_Date",
            "Inspection_Type",
            "Results",
            "Latitude",
            "Longitude",
        ]
    ]
    if sample_licences is not None:
        licences = pd.Series(insp["License"].unique())
        keep = licences.sample(frac=sample_licences, random_state=seed)
        insp = insp[insp["License"].isin(keep)]
    ids = insp["Inspection_ID"]

    violations = _read(folder, "violations")
    violations = violations[violations["Inspection_ID"].isin(ids)]

    licences = _read(
        folder,
        "licences",
        parse_dates=["LICENSE_TERM_START_DATE", "LICENSE_TERM_EXPIRATION_DATE", "minDate", "maxDate"],
    )
    licences = licences[licences["Inspection_ID"].isin(ids)]

    complaints = _read(folder, "complaints", parse_dates=["Creation_Date", "Completion_Date"])
    complaints = complaints.rename(
        columns={"What_is_the_Nature_of_this_Code_Violation": "Nature", "Creation_Date": "Date"}
    )[["Date", "Status", "Nature", "Street_Address", "Latitude", "Longitude"]]

    inspectors = _read(folder, "inspectors").rename(
        columns={"inspectionID": "Inspection_ID", "sanitarian": "Inspector"}
    )
    inspectors = inspectors.drop_duplicates("Inspection_ID")

    weather = _read(folder, "weather", parse_dates=["date"]).rename(columns={"date": "Date"})

    heat = pd.DataFrame({"Inspection_ID": ids.to_numpy()})
    for key in ("heat_burglary", "heat_garbage", "heat_sanitation"):
        h = _read(folder, key).drop_duplicates("Inspection_ID").rename(columns={"heat_values": key})
        heat = heat.merge(h, on="Inspection_ID", how="left")

    matrix = _read(folder, "matrix", parse_dates=["Inspection_Date"])
    matrix = matrix[
        ["Inspection_ID", "Inspection_Date", "Test", "score", "criticalFound", "Inspector_Assigned"]
    ]
    matrix = matrix[matrix["Inspection_ID"].isin(ids)]
    return ChicagoData(
        insp.reset_index(drop=True),
        violations,
        licences,
        complaints,
        inspectors,
        weather,
        heat,
        matrix.reset_index(drop=True),
    )
