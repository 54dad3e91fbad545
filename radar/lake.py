"""The lake: Parquet tables partitioned by as-of date, each partition published atomically.

Layout::

    LAKE/_lake.json                          format version and the radar version that created it
    LAKE/<table>/as_of=YYYY-MM-DD/*.parquet  one published partition per table and as-of date
    LAKE/_staging/<run>/...                  partitions being written (never read)
    LAKE/_trash/<run>/...                    partitions being replaced (restored if a swap was cut short)
    LAKE/_run.lock, LAKE/_run.json           the writer lock of a running job, and who holds it

A partition is written in full under ``_staging`` and then moved into place with a rename, so a reader
sees the old partition or the new one, never half of one. Table names may contain a slash
(``ingest/penalty``).
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from radar import LAKE_FORMAT, __version__
from radar.errors import LakeError

LAKE_META = "_lake.json"
RUN_LOCK = "_run.lock"
RUN_HOLDER = "_run.json"


def _claim(folder: Path) -> None:
    """Create a working folder and record its owner (host and process), so recovery spares live writers."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "_owner").write_text(json.dumps({"host": socket.gethostname(), "pid": os.getpid()}), encoding="utf-8")


def _owner_alive(folder: Path) -> bool:
    """Whether the process that owns a working folder is still running (on this host)."""
    try:
        owner = json.loads((folder / "_owner").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return _process_alive(owner)


def _process_alive(owner: dict[str, Any]) -> bool:
    """Whether the process named by ``owner`` (host, pid) is running; one on another machine is taken to be."""
    if owner.get("host") != socket.gethostname():
        return True  # another machine's writer: leave its folders alone
    try:
        os.kill(int(owner["pid"]), 0)
    except (ProcessLookupError, ValueError, KeyError, TypeError):
        return False
    except PermissionError:
        return True
    return True


# reads of a partition that a job swapped in the middle of them are made again, this many times in all
SWAP_READ_ATTEMPTS = 3


def read_through_swaps(read: Callable[[], Any], attempts: int = SWAP_READ_ATTEMPTS) -> Any:
    """``read()`` (polars, over a partition's files), made again when a job republished the partition while it
    ran: the files it listed were gone when it opened them (``FileNotFoundError``), or it listed the folder in
    the instant between the swap's two renames (polars: no files). Readers take no lock; this is their side
    of the swap."""
    import polars as pl

    for attempt in range(1, attempts + 1):
        try:
            return read()
        except (FileNotFoundError, pl.exceptions.ComputeError):
            if attempt == attempts:
                raise
            time.sleep(0.05 * attempt)
    raise AssertionError("unreachable")


def as_of_str(d: date | str) -> str:
    """ISO text of an as-of date."""
    return d.isoformat() if isinstance(d, date) else str(d)


class Lake:
    """A lake directory: where every stage's outputs are published."""

    def __init__(self, root: Path | str):
        self.root = Path(root).resolve()

    # ------------------------------------------------------------------ lifecycle
    def open(self, create: bool = False, recover: bool = True) -> Lake:
        """Check the lake's format (creating the lake when ``create``).

        With ``recover`` (writers), clean up after writers that died (see ``_recover``); readers such as the
        dashboard pass ``recover=False`` and never touch the lake.
        """
        meta = self.root / LAKE_META
        if not meta.exists():
            if not create:
                if not self.root.exists():
                    raise LakeError(f"{self.root}: no such lake (run 'radar run' first)")
                raise LakeError(f"{self.root}: not a radar lake ({LAKE_META} is missing)")
            self.root.mkdir(parents=True, exist_ok=True)
            self._write_text_atomic(meta, json.dumps({"format": LAKE_FORMAT, "created_by": __version__}))
        else:
            try:
                info = json.loads(meta.read_text(encoding="utf-8"))
            except (OSError, ValueError) as e:
                raise LakeError(f"{meta}: unreadable lake metadata: {e}") from None
            if info.get("format") != LAKE_FORMAT:
                raise LakeError(
                    f"{self.root}: this lake was written by radar {info.get('created_by', '?')} in lake format "
                    f"{info.get('format')}; this radar ({__version__}) reads format {LAKE_FORMAT}. "
                    "Rebuild it with 'radar run' into a new lake directory."
                )
        if recover:
            self._recover()
        return self

    def _recover(self) -> None:
        """Clean up after writers that died: put back partitions whose replacement was cut short between the
        two renames of a swap, and drop their half-written staging folders. Folders of live writers (another
        process of this host still running) are left alone."""
        trash = self.root / "_trash"
        if trash.exists():
            for run_dir in trash.iterdir():
                if _owner_alive(run_dir):
                    continue
                for rel_file in run_dir.rglob("_target"):
                    target = self.root / rel_file.read_text(encoding="utf-8")
                    old = rel_file.parent / "data"
                    if not target.exists() and old.exists():
                        target.parent.mkdir(parents=True, exist_ok=True)
                        os.replace(old, target)
                shutil.rmtree(run_dir, ignore_errors=True)
        staging = self.root / "_staging"
        if staging.exists():
            for run_dir in staging.iterdir():
                if not _owner_alive(run_dir):
                    shutil.rmtree(run_dir, ignore_errors=True)

    @contextmanager
    def run_lock(self, command: str) -> Iterator[None]:
        """Hold the lake's writer lock while a job runs: one writing job (``radar run``, the retraining job, a
        model rollback) at a time.

        A second job on the same lake fails at once with who holds the lock, instead of replacing tables
        the first is reading. The lock is the operating system's (``filelock``): it goes with the process, so
        a job that was killed leaves no stale lock behind. Readers (the dashboard, exports, notebooks) take
        no lock: a published partition is swapped in whole. On a lake shared between machines the lock
        holds only where the file system supports POSIX locks.
        """
        from filelock import FileLock, Timeout

        lock = FileLock(str(self.root / RUN_LOCK), thread_local=False)
        holder = self.root / RUN_HOLDER
        try:
            lock.acquire(timeout=0)
        except Timeout:
            raise LakeError(
                f"{self.root}: another radar job is writing this lake ({self._holder_text(holder)}); "
                "wait for it to finish, or stop it, and run again"
            ) from None
        try:
            self._write_text_atomic(holder, json.dumps({
                "command": command, "host": socket.gethostname(), "pid": os.getpid(),
                "started": datetime.now(UTC).isoformat(timespec="seconds"),
            }))
            yield
        finally:
            holder.unlink(missing_ok=True)
            lock.release()

    def running_job(self) -> dict[str, Any] | None:
        """The job writing this lake now (command, host, pid, started), or None. For readers: it reads what the
        holder wrote and never touches the lock (a reader taking it, even for a moment, could turn a starting
        job away); a holder that died without clearing up is recognised on this host by its process id."""
        try:
            info = json.loads((self.root / RUN_HOLDER).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        return info if isinstance(info, dict) and _process_alive(info) else None

    @staticmethod
    def _holder_text(holder: Path) -> str:
        """Who holds the writer lock, as the holder wrote it (``_run.json``)."""
        try:
            h = json.loads(holder.read_text(encoding="utf-8"))
            return f"{h['command']}, process {h['pid']} on {h['host']}, since {h['started']}"
        except (OSError, ValueError, KeyError, TypeError):
            return "a process that has not said which"

    # ------------------------------------------------------------------ paths
    def table_dir(self, table: str) -> Path:
        """Directory of a table."""
        return self.root / table

    def partition(self, table: str, as_of: date | str) -> Path:
        """Directory of one published partition."""
        return self.table_dir(table) / f"as_of={as_of_str(as_of)}"

    def exists(self, table: str, as_of: date | str) -> bool:
        """Whether a partition has been published."""
        return self.partition(table, as_of).exists()

    def as_of_dates(self, table: str) -> list[str]:
        """Published as-of dates of a table, oldest first."""
        d = self.table_dir(table)
        if not d.exists():
            return []
        return sorted(p.name.split("=", 1)[1] for p in d.iterdir() if p.is_dir() and p.name.startswith("as_of="))

    def latest_as_of(self, table: str) -> str | None:
        """The newest published as-of date of a table."""
        dates = self.as_of_dates(table)
        return dates[-1] if dates else None

    def require(self, table: str, as_of: date | str) -> Path:
        """The partition's path, or a LakeError saying which stage to run."""
        p = self.partition(table, as_of)
        if not p.exists():
            have = ", ".join(self.as_of_dates(table)) or "none"
            raise LakeError(f"{self.root}: table '{table}' has no as-of {as_of_str(as_of)} (published: {have})")
        return p

    # ------------------------------------------------------------------ publishing
    def publish(self, table: str, as_of: date | str, write: Callable[[Path], Any]) -> Path:
        """Write a partition with ``write(staging_dir)`` and move it into place atomically."""
        run = uuid.uuid4().hex[:12]
        staging = self.root / "_staging" / run / "data"
        _claim(staging.parent)
        write(staging)
        if not staging.exists():
            raise LakeError(f"writing {table} produced no output")
        target = self.partition(table, as_of)
        target.parent.mkdir(parents=True, exist_ok=True)
        self._swap(staging, target, run)
        shutil.rmtree(staging.parent, ignore_errors=True)
        return target

    def _swap(self, new: Path, target: Path, run: str) -> None:
        if target.exists():
            holder = self.root / "_trash" / run
            _claim(holder)
            (holder / "_target").write_text(str(target.relative_to(self.root)), encoding="utf-8")
            os.replace(target, holder / "data")
            os.replace(new, target)
            shutil.rmtree(holder, ignore_errors=True)
        else:
            os.replace(new, target)

    @contextmanager
    def staging(self, table: str, as_of: date | str) -> Iterator[Path]:
        """A staging folder to fill with several writes; published atomically when the block succeeds."""
        run = uuid.uuid4().hex[:12]
        staging = self.root / "_staging" / run / "data"
        _claim(staging.parent)
        staging.mkdir()
        try:
            yield staging
            target = self.partition(table, as_of)
            target.parent.mkdir(parents=True, exist_ok=True)
            self._swap(staging, target, run)
        finally:
            shutil.rmtree(staging.parent, ignore_errors=True)

    def publish_spark(
        self, df: Any, table: str, as_of: date | str, partitions: int | None = None, row_group_bytes: int | None = None,
        options: dict[str, str] | None = None, finish: Callable[[Path], Any] | None = None,
    ) -> Path:
        """Publish a Spark DataFrame as Parquet (in ``partitions`` files; row groups of about ``row_group_bytes``
        uncompressed: a reader splits a file only between row groups, so each becomes a task of its own;
        ``options``: more Parquet writer options; ``finish(staging_dir)``: add files once the write is done,
        published with it)."""
        out = df.coalesce(partitions) if partitions else df
        writer = out.write.mode("error").options(**(options or {}))
        if row_group_bytes:
            writer = writer.option("parquet.block.size", str(row_group_bytes))

        def write(p: Path) -> None:
            writer.parquet(str(p))
            if finish is not None:
                finish(p)

        return self.publish(table, as_of, write)

    def publish_links(self, table: str, as_of: date | str, source: Path) -> Path:
        """Publish a partition with the files of ``source`` (a published partition, of this or another as-of
        date), hard-linked (copied where links cannot be made): no data is written again. Nothing happens when
        ``source`` is the partition itself."""
        target = self.partition(table, as_of)
        if target.exists() and target.resolve() == source.resolve():
            return target

        def link(p: Path) -> None:
            for folder, _, names in os.walk(source):
                out = p / Path(folder).relative_to(source)
                out.mkdir(parents=True, exist_ok=True)
                for name in names:
                    try:
                        os.link(Path(folder) / name, out / name)
                    except OSError:  # another file system, or links not supported
                        shutil.copy2(Path(folder) / name, out / name)

        return self.publish(table, as_of, link)

    def publish_pandas(self, frame: Any, table: str, as_of: date | str) -> Path:
        """Publish a small pandas or polars frame as a single Parquet file."""

        def write(p: Path) -> None:
            p.mkdir(parents=True)
            if hasattr(frame, "write_parquet"):
                frame.write_parquet(p / "part-00000.parquet")
            else:
                frame.to_parquet(p / "part-00000.parquet", index=False)

        return self.publish(table, as_of, write)

    def publish_json(self, table: str, as_of: date | str, obj: Any, name: str = "report.json") -> Path:
        """Publish a JSON document as a partition."""

        def write(p: Path) -> None:
            p.mkdir(parents=True)
            (p / name).write_text(json.dumps(obj, ensure_ascii=False, indent=2, default=str), encoding="utf-8")

        return self.publish(table, as_of, write)

    def read_json(self, table: str, as_of: date | str, name: str = "report.json") -> Any:
        """Read a JSON partition."""
        return json.loads((self.require(table, as_of) / name).read_text(encoding="utf-8"))

    # ------------------------------------------------------------------ reading
    def read_spark(self, spark: Any, table: str, as_of: date | str) -> Any:
        """Read a partition with Spark."""
        return spark.read.parquet(str(self.require(table, as_of)))

    def parquet_glob(self, table: str, as_of: date | str) -> str:
        """The glob polars and DuckDB read a partition with."""
        return str(self.require(table, as_of) / "*.parquet")

    def read_polars(self, table: str, as_of: date | str) -> Any:
        """Read a partition with polars (for the dashboard, notebooks and small outputs)."""
        import polars as pl

        path = self.require(table, as_of)
        if not any(path.glob("*.parquet")):
            # an empty Spark output has only a _SUCCESS marker; its schema lives in no file
            return pl.DataFrame()
        return read_through_swaps(lambda: pl.read_parquet(str(path / "*.parquet")))

    def tables(self) -> list[str]:
        """Every published table (names with a slash, e.g. ``ingest/penalty``)."""
        out = []
        for p in sorted(self.root.rglob("as_of=*")):
            rel = p.parent.relative_to(self.root).as_posix()
            if not rel.startswith("_") and rel not in out:
                out.append(rel)
        return out

    def digest(self, table: str, as_of: date | str) -> str:
        """A content hash of a partition that ignores row order and file names (to compare two runs)."""
        import hashlib

        import polars as pl

        path = self.require(table, as_of)
        h = hashlib.sha256()
        files = sorted(path.glob("*.parquet"))
        if files:
            df = pl.read_parquet([str(f) for f in files])
            df = df.select(sorted(df.columns))
            h.update(repr(df.schema).encode())
            h.update(df.hash_rows(seed=0).sort().to_numpy().tobytes())
        for f in sorted(path.glob("*.json")):
            h.update(f.read_bytes())
        return h.hexdigest()

    # ------------------------------------------------------------------ helpers
    @staticmethod
    def _write_text_atomic(path: Path, text: str) -> None:
        tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}")
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)
