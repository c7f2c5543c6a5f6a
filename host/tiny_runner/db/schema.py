"""The results database's schema, versioned in SQLite's `user_version`. A database is brought
up to SCHEMA_VERSION by applying MIGRATIONS[k] for every version k it lacks, in one
transaction; one written by a newer tiny-runner (a higher version) is refused, never altered.

Version 1:

- `runs`: one row per run directory (`run_dir` is unique: recording a run again replaces it).
  Identity and provenance (tool version, board, benchmark, mode, status, valid, started,
  finished, host, the bench or labgrid place, the firmware's sha256 and mode, the DUT's
  vendor, the monitor's model, serial and firmware, the pass-through board, the supply), the
  campaign and its cell definition (JSON) when a campaign ran it, the figures (median
  throughput and latency, median energy per inference and power, the accuracy metric and its
  value; for sww01 the detections and duty cycle), the violations (JSON list) and the whole
  results.json (`record_json`) for what the columns do not hold.
- `windows`: one row per timed window of a run (performance or energy): its input,
  inferences, seconds, throughput, latency and, in energy mode, energy, power, energy per
  inference and quantisation bound.

Version 2 adds `cells`: one row per campaign cell, keyed by (`campaign`, `key`), the key a
hash of the cell's full definition and the firmware image's hash: its definition (JSON), its
state (pending, running, completed, failed, interrupted), the attempts made, the reason of
the last failure, the run (`run_dir`) that completed it, and when it last changed.
"""

from __future__ import annotations

SCHEMA_VERSION = 2

_V1 = """
CREATE TABLE runs (
    id INTEGER PRIMARY KEY,
    run_dir TEXT NOT NULL UNIQUE,
    tool_version TEXT NOT NULL,
    board TEXT NOT NULL,
    benchmark TEXT,
    mode TEXT NOT NULL,
    status TEXT NOT NULL,
    valid INTEGER NOT NULL,
    started TEXT,
    finished TEXT,
    host TEXT,
    bench TEXT,
    place TEXT,
    firmware_sha256 TEXT,
    firmware_mode TEXT,
    dut_vendor TEXT,
    monitor_model TEXT,
    monitor_serial TEXT,
    monitor_firmware TEXT,
    relay TEXT,
    supply_mv REAL,
    measured_supply_mv REAL,
    virtual INTEGER,
    campaign TEXT,
    cell TEXT,
    median_throughput_inf_per_s REAL,
    median_latency_ms REAL,
    median_energy_uj_per_inf REAL,
    median_power_mw REAL,
    accuracy_metric TEXT,
    accuracy REAL,
    sww_true_positives INTEGER,
    sww_false_negatives INTEGER,
    sww_false_positives INTEGER,
    sww_duty_cycle REAL,
    violations TEXT NOT NULL,
    stop_reason TEXT,
    record_json TEXT NOT NULL,
    recorded TEXT NOT NULL
);
CREATE INDEX runs_by_board ON runs (board, benchmark, mode);
CREATE INDEX runs_by_campaign ON runs (campaign);
CREATE TABLE windows (
    run_id INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    idx INTEGER NOT NULL,
    input TEXT,
    inferences INTEGER,
    seconds REAL,
    throughput_inf_per_s REAL,
    latency_ms REAL,
    energy_uj REAL,
    power_mw REAL,
    energy_uj_per_inf REAL,
    quantisation_uj REAL,
    PRIMARY KEY (run_id, idx)
);
"""

_V2 = """
CREATE TABLE cells (
    campaign TEXT NOT NULL,
    key TEXT NOT NULL,
    definition TEXT NOT NULL,
    state TEXT NOT NULL,
    attempts INTEGER NOT NULL,
    reason TEXT,
    run_dir TEXT,
    updated TEXT NOT NULL,
    PRIMARY KEY (campaign, key)
);
"""

# MIGRATIONS[k]: what takes a database from version k - 1 to k
MIGRATIONS = {1: _V1, 2: _V2}
