"""The results database on disk: opened (and brought up to the schema's version), written one
run at a time, read with filters. Several processes may write at once (a campaign's parallel
cells): the database runs in WAL mode, each run is written in one IMMEDIATE transaction, and a
writer that finds it locked waits (busy timeout) instead of failing."""

from __future__ import annotations

import json
import sqlite3
from datetime import datetime, timezone
from pathlib import Path

from ..errors import DatabaseError, SessionFileError
from ..run.record import read_record
from .rows import run_row, window_rows
from .schema import MIGRATIONS, SCHEMA_VERSION

DEFAULT_DB_NAME = "tiny-runner.db"  # in the runs folder
BUSY_TIMEOUT_S = 60.0  # a writer waits this long for another one's transaction
FILTERS = ("board", "benchmark", "mode", "status", "campaign", "host", "bench", "place", "run_dir")


def run_columns() -> list[str]:
    """The runs table's columns as the schema defines them (what ResultsDb.runs() returns)."""
    conn = sqlite3.connect(":memory:")
    try:
        for step in sorted(MIGRATIONS):
            conn.executescript(MIGRATIONS[step])
        return [row[1] for row in conn.execute("PRAGMA table_info(runs)") if row[1] != "record_json"]
    finally:
        conn.close()


def check_database(path: Path) -> None:
    """A database that exists is one this tiny-runner can write (DatabaseError otherwise); one that
    does not is made when it is first written."""
    path = Path(path)
    if path.exists() or path.is_symlink():
        ResultsDb(path).close()


class ResultsDb:
    def __init__(self, path: str | Path):
        self.path = Path(path)
        if self.path.exists() and not self.path.is_file():
            raise DatabaseError(f"results database {self.path}: not a regular file")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._conn = sqlite3.connect(str(self.path), timeout=BUSY_TIMEOUT_S, isolation_level=None)
            self._conn.row_factory = sqlite3.Row
            self._conn.execute("PRAGMA foreign_keys = ON")
            if self.version != SCHEMA_VERSION:  # a new or older database: WAL for its writers from now on
                self._conn.execute("PRAGMA journal_mode = WAL")
            self._migrate()
        except sqlite3.DatabaseError as exc:
            raise DatabaseError(f"results database {self.path}: {_reason(exc)}") from None
        except OSError as exc:
            raise DatabaseError(f"results database {self.path}: {exc.strerror or exc}") from None

    def __enter__(self) -> "ResultsDb":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        self._conn.close()

    # -- the schema -------------------------------------------------------------------------------
    @property
    def version(self) -> int:
        return self._conn.execute("PRAGMA user_version").fetchone()[0]

    def _migrate(self) -> None:
        """Up to SCHEMA_VERSION; a database already there is only read (it may be read-only)."""
        if self.version == SCHEMA_VERSION:
            return
        self._conn.execute("BEGIN IMMEDIATE")
        try:
            version = self.version  # again, under the lock: another process may have migrated it
            if version > SCHEMA_VERSION:
                raise DatabaseError(f"results database {self.path} has schema version {version}, written by a newer "
                                    f"tiny-runner; this one knows versions up to {SCHEMA_VERSION}")
            for step in range(version + 1, SCHEMA_VERSION + 1):
                for statement in MIGRATIONS[step].split(";"):
                    if statement.strip():
                        self._conn.execute(statement)
                self._conn.execute(f"PRAGMA user_version = {step}")
            self._conn.execute("COMMIT")
        except BaseException:
            self._conn.execute("ROLLBACK")
            raise

    # -- writing ----------------------------------------------------------------------------------
    def record(self, results: dict) -> int:
        """One run (a results.json's dict), replacing what was recorded of the same run directory."""
        row, windows = run_row(results), window_rows(results)
        columns = ", ".join(row)
        marks = ", ".join(f":{name}" for name in row)
        try:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                self._conn.execute("DELETE FROM runs WHERE run_dir = ?", (row["run_dir"],))
                run_id = self._conn.execute(f"INSERT INTO runs ({columns}) VALUES ({marks})", row).lastrowid
                for window in windows:
                    names = ", ".join(["run_id", *window])
                    self._conn.execute(f"INSERT INTO windows ({names}) VALUES ({', '.join('?' * (len(window) + 1))})",
                                       (run_id, *window.values()))
                self._conn.execute("COMMIT")
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
        except sqlite3.DatabaseError as exc:
            raise DatabaseError(f"results database {self.path}: cannot record {row['run_dir']}: {_reason(exc)}") \
                from None
        return run_id

    def record_run_dir(self, run_dir: Path) -> int:
        """A run directory's results.json, read as `analyze` and `compare` read it (checked), under
        where the directory is now (a runs folder may have been moved or copied since)."""
        record = read_record(Path(run_dir) / "results.json")
        record.run_dir = str(Path(run_dir).resolve())
        return self.record(record.to_json())

    def reindex(self, runs_root: Path) -> tuple[int, list[str]]:
        """Every run directory under runs_root recorded again, and the rows of run directories
        that were under it and are gone deleted; (how many recorded, why the others were not)."""
        recorded, skipped, root = 0, [], Path(runs_root).resolve()
        for results in sorted(Path(runs_root).glob("*/results.json")):
            try:
                self.record_run_dir(results.parent)
                recorded += 1
            except SessionFileError as exc:
                skipped.append(exc.message)
        gone = [row["run_dir"] for row in self._conn.execute("SELECT run_dir FROM runs").fetchall()
                if Path(row["run_dir"]).resolve().parent == root and not Path(row["run_dir"]).exists()]
        for run_dir in gone:
            self._conn.execute("DELETE FROM runs WHERE run_dir = ?", (run_dir,))
        return recorded, skipped

    # -- campaign cells ---------------------------------------------------------------------------
    def cell(self, campaign: str, key: str) -> dict | None:
        row = self._conn.execute("SELECT * FROM cells WHERE campaign = ? AND key = ?", (campaign, key)).fetchone()
        return _cell(row) if row else None

    def cells(self, campaign: str) -> list[dict]:
        rows = self._conn.execute("SELECT * FROM cells WHERE campaign = ? ORDER BY updated", (campaign,)).fetchall()
        return [_cell(row) for row in rows]

    def set_cell(self, campaign: str, key: str, definition: dict, state: str, attempts: int,
                 reason: str | None = None, run_dir: str | None = None) -> None:
        try:
            self._conn.execute(
                "INSERT INTO cells (campaign, key, definition, state, attempts, reason, run_dir, updated) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (campaign, key) DO UPDATE SET definition = "
                "excluded.definition, state = excluded.state, attempts = excluded.attempts, reason = excluded.reason, "
                "run_dir = excluded.run_dir, updated = excluded.updated",
                (campaign, key, json.dumps(definition, sort_keys=True), state, attempts, reason, run_dir, _now()))
        except sqlite3.DatabaseError as exc:
            raise DatabaseError(f"results database {self.path}: cannot record cell {key[:12]} of {campaign}: "
                                f"{_reason(exc)}") from None

    # -- reading ----------------------------------------------------------------------------------
    def runs(self, *, since: str | None = None, until: str | None = None, voltage_mv: float | None = None,
             valid_only: bool = False, **filters) -> list[dict]:
        """The recorded runs, oldest first (those started in the same second by run directory),
        matching every filter given (None: any)."""
        unknown = set(filters) - set(FILTERS)
        if unknown:
            raise ValueError(f"unknown filter {sorted(unknown)[0]!r}")
        clauses, values = [], []
        for name, value in filters.items():
            if value is not None:
                clauses.append(f"{name} = ?")
                values.append(value)
        for clause, value in (("started >= ?", since), ("started < ?", until), ("supply_mv = ?", voltage_mv)):
            if value is not None:
                clauses.append(clause)
                values.append(value)
        if valid_only:
            clauses.append("valid = 1")
        where = f" WHERE {' AND '.join(clauses)}" if clauses else ""
        try:
            rows = self._conn.execute(f"SELECT * FROM runs{where} ORDER BY started, run_dir", values).fetchall()
        except sqlite3.DatabaseError as exc:
            raise DatabaseError(f"results database {self.path}: {_reason(exc)}") from None
        return [_plain_row(row) for row in rows]

    def record_of(self, run_id: int) -> dict:
        """The whole results.json a run was recorded from."""
        row = self._conn.execute("SELECT record_json FROM runs WHERE id = ?", (run_id,)).fetchone()
        if row is None:
            raise DatabaseError(f"results database {self.path} has no run {run_id}")
        return json.loads(row[0])

    def windows(self, run_id: int) -> list[dict]:
        rows = self._conn.execute("SELECT * FROM windows WHERE run_id = ? ORDER BY idx", (run_id,)).fetchall()
        return [dict(row) for row in rows]


def _plain_row(row: sqlite3.Row) -> dict:
    data = dict(row)
    data["valid"] = bool(data["valid"])
    data["violations"] = json.loads(data["violations"])
    data["cell"] = json.loads(data["cell"]) if data["cell"] else None
    del data["record_json"]  # the whole record: read it with record_of()
    return data


def _cell(row: sqlite3.Row) -> dict:
    data = dict(row)
    data["definition"] = json.loads(data["definition"])
    return data


def _now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _reason(exc: sqlite3.DatabaseError) -> str:
    text = str(exc)
    if "file is not a database" in text:
        return "not an SQLite database (a results database is one tiny-runner wrote)"
    if "readonly" in text:
        return "read-only: it cannot be written"
    if "disk is full" in text or "database or disk is full" in text:
        return "the disk holding it is full"
    return text


def open_existing(path: Path) -> ResultsDb:
    """The database at `path` for reading: opening creates one, and reading one that is not
    there is a mistake worth naming."""
    if not Path(path).exists():
        raise DatabaseError(f"results database {path} does not exist (`tiny-runner measure` writes it; "
                            "`tiny-runner results reindex RUNS_DIR` builds it from run directories)")
    return ResultsDb(path)
