"""Shared fixtures: the reference data from ../shared/reference (or $TINY_RUNNER_REFERENCE),
a CLI runner that runs the real console entry in a subprocess, and synthetic datasets."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
REFERENCE_ENV = "TINY_RUNNER_REFERENCE"


def reference_path() -> Path:
    return Path(os.environ.get(REFERENCE_ENV, REPO.parent / "shared" / "reference")).resolve()


SKIP_ENV = "TINY_RUNNER_ALLOW_SKIP"
SETUP = "bash scripts/setup-tests.sh"


def _missing(message: str) -> None:
    """Nothing is skipped for want of a tool or the reference data: the README's test command
    installs the tools and the checkout has the data beside it. A developer who knows what they
    are leaving out can set TINY_RUNNER_ALLOW_SKIP=1."""
    if os.environ.get(SKIP_ENV) == "1":
        pytest.skip(message)
    pytest.fail(f"{message} ({SKIP_ENV}=1 skips instead)")


@pytest.fixture(scope="session")
def reference() -> Path:
    path = reference_path()
    if not (path / "kws01" / "kws_ref_model.tflite").is_file():
        _missing(f"reference data not found at {path} (set {REFERENCE_ENV})")
    return path


def require_tools(*names: str) -> None:
    """Tests that build or run firmware need the C toolchains."""
    missing = [name for name in names if shutil.which(name) is None]
    if missing:
        _missing(f"{', '.join(missing)} not installed: run {SETUP}")


@pytest.fixture(autouse=True)
def model_dir_env(monkeypatch):
    """Every test sees the reference models through the documented environment variable."""
    monkeypatch.setenv("TINY_RUNNER_MODEL_DIR", str(reference_path()))


@pytest.fixture(autouse=True, scope="session")
def isolated_board_state(tmp_path_factory):
    """Images installed by `tiny-runner flash` on this machine's boards stay out of the tests."""
    os.environ["TINY_RUNNER_STATE"] = str(tmp_path_factory.mktemp("state"))


@dataclass
class CliResult:
    code: int
    stdout: str
    stderr: str

    def json(self) -> dict:
        return json.loads(self.stdout)


def run_cli(*args: str, env: dict | None = None, timeout: float = 300) -> CliResult:
    """`tiny-runner ARGS` as a user runs it: a separate process, real exit code and streams."""
    full_env = dict(os.environ, **(env or {}))
    proc = subprocess.run(
        [sys.executable, "-m", "tiny_runner", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=full_env,
    )
    return CliResult(proc.returncode, proc.stdout, proc.stderr)


@pytest.fixture
def cli():
    return run_cli


def assert_one_line_error(result: CliResult, code: int, *fragments: str) -> str:
    """The contract for bad input: distinct exit code, one `tiny-runner: error:` line, no traceback."""
    assert result.code == code, (result.code, result.stderr)
    assert "Traceback" not in result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("tiny-runner: error:")]
    assert len(errors) == 1, result.stderr
    for fragment in fragments:
        assert fragment in errors[0], (fragment, errors[0])
    return errors[0]


@pytest.fixture(scope="session")
def synth_datasets(tmp_path_factory, reference):
    """Small synthetic datasets, one per benchmark, written once per test session."""
    from tiny_runner.benchmarks import get_benchmark
    from tiny_runner.benchmarks.synth import write_dataset
    from tiny_runner.model.reference import resolve_model

    root = tmp_path_factory.mktemp("datasets")
    sizes = {"kws01": 16, "vww01": 6, "ic01": 12, "ic02": 6, "ad01": 6}
    out = {}
    for bench_id, count in sizes.items():
        bench = get_benchmark(bench_id)
        model = resolve_model(bench_id, model_dir=str(reference))
        out[bench_id] = write_dataset(bench, root / bench_id, count, model.path, seed=7, ad_frames=12)
    return out


@contextmanager
def tmpfs(folder: Path, options: str):
    """A small (or read-only) file system of its own: what a full or read-only disk really does."""
    folder.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(folder)], capture_output=True,
                             text=True)
    if mounted.returncode != 0:
        pytest.fail(f"these tests mount a tmpfs and need root: {mounted.stderr.strip()}")
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=True)
