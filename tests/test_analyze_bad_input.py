"""`tiny-runner analyze` on EEMBC sessions with one file altered: every bad input is one
`tiny-runner: error:` line with exit code 22 and nothing on stdout (no empty or negative table)."""

from __future__ import annotations

import json
import shutil
import struct
from pathlib import Path

import pytest

from conftest import assert_one_line_error

SESSION_FILE_ERROR = 22
TRACE, STAMPS, LOG = "trace1-energy.bin", "trace1-timestamps.json", "log.txt"
EDGES = [0.014, 2.779, 13.784, 15.661, 26.664, 28.54, 39.543, 41.418, 52.423, 54.301, 65.304]


@pytest.fixture
def session(tmp_path, reference) -> Path:
    """A writable copy of the example session."""
    folder = tmp_path / "session"
    shutil.copytree(reference / "eembc-session-example", folder)
    for path in folder.iterdir():
        path.chmod(0o644)
    assert json.loads((folder / STAMPS).read_text()) == EDGES
    return folder


def stamps_text(text: str):
    return lambda folder: (folder / STAMPS).write_text(text)


def stamps_bytes(data: bytes):
    return lambda folder: (folder / STAMPS).write_bytes(data)


def edges(values: list):
    return stamps_text(json.dumps(values))


def edges_raw(*replacements: tuple[int, str]):
    """The edge list with some entries replaced by raw JSON text (NaN, Infinity, 1e400, ...)."""
    items = [json.dumps(t) for t in EDGES]
    for index, text in replacements:
        items[index] = text
    return stamps_text("[" + ", ".join(items) + "]")


def rate(value: float):
    def change(folder: Path) -> None:
        data = bytearray((folder / TRACE).read_bytes())
        data[1:5] = struct.pack("<f", value)
        (folder / TRACE).write_bytes(bytes(data))
    return change


def trace_bytes(cut):
    def change(folder: Path) -> None:
        (folder / TRACE).write_bytes(cut((folder / TRACE).read_bytes()))
    return change


def sample(index: int, value: float):
    def change(folder: Path) -> None:
        data = bytearray((folder / TRACE).read_bytes())
        data[5 + 4 * index : 9 + 4 * index] = struct.pack("<f", value)
        (folder / TRACE).write_bytes(bytes(data))
    return change


def negated_samples(folder: Path) -> None:
    data = (folder / TRACE).read_bytes()
    count = (len(data) - 5) // 4
    values = struct.unpack(f"<{count}f", data[5:])
    (folder / TRACE).write_bytes(data[:5] + struct.pack(f"<{count}f", *(-v for v in values)))


def replaced_by_folder(name: str):
    def change(folder: Path) -> None:
        (folder / name).unlink()
        (folder / name).mkdir()
    return change


def removed(name: str):
    return lambda folder: (folder / name).unlink()


BAD_INPUTS = {
    # trace1-timestamps.json
    "edges are an object": (edges({"edges": EDGES}), "expected a list of edge times in seconds, got an object"),
    "edges are a number": (stamps_text("5"), "expected a list of edge times in seconds, got 5"),
    "edges are a string": (stamps_text('"0.014"'), "got the string '0.014'"),
    "edges are null": (stamps_text("null"), "got null"),
    "edges as strings": (edges([str(t) for t in EDGES]), "edge 0 is the string '0.014', not a time in seconds"),
    "an edge is NaN": (edges_raw((2, "NaN")), "edge 2 is nan, not a finite time in seconds"),
    "an edge is Infinity": (edges_raw((10, "Infinity")), "edge 10 is inf, not a finite time in seconds"),
    "an edge is -Infinity": (edges_raw((0, "-Infinity")), "edge 0 is -inf, not a finite time in seconds"),
    "an edge overflows a float": (edges_raw((3, "1e400")), "edge 3 is inf, not a finite time in seconds"),
    "an edge is a huge integer": (edges_raw((3, "1" + "0" * 400)), "edge 3 is 100000000000000000000000, not a "
                                                                    "finite time"),
    "an edge is true": (edges_raw((1, "true")), "edge 1 is true, not a time in seconds"),
    "an edge is false": (edges_raw((1, "false")), "edge 1 is false, not a time in seconds"),
    "an edge is null": (edges_raw((1, "null")), "edge 1 is null, not a time in seconds"),
    "an edge is a list": (edges_raw((1, "[2.779]")), "edge 1 is a list, not a time in seconds"),
    "no edges": (edges([]), "0 edges; a session has the initial edge then two per window"),
    "only the initial edge": (edges(EDGES[:1]), "1 edge; a session has the initial edge then two per window"),
    "an unpaired last edge": (edges(EDGES[:-1]), "10 edges; a session has the initial edge then two per window"),
    "edges out of order": (edges(EDGES[:3] + [EDGES[4], EDGES[3]] + EDGES[5:]),
                           "edge 4 (15.661 s) does not come after edge 3 (26.664 s); edge times must increase"),
    "a repeated edge": (edges(EDGES[:2] + [EDGES[1]] + EDGES[3:]),
                        "edge 2 (2.779 s) does not come after edge 1 (2.779 s)"),
    "a negative edge": (edges([-0.5] + EDGES[1:]), "edge 0 is at -0.5 s; edge times count from the start of the trace"),
    "a window inside one sample": (edges(EDGES[:1] + [2.7791, 2.7793] + EDGES[3:]),
                                   "window 2: its edges at 2.7791 s and 2.7793 s fall in one sample"),
    "an edge beyond the trace": (edges(EDGES[:-1] + [1e6]), "edge at 1000000.0 s lies beyond the trace (66.560 s)"),
    "timestamps not JSON": (stamps_text("[0.014, 2.779"), "trace1-timestamps.json: not JSON"),
    "timestamps truncated to nothing": (stamps_text(""), "trace1-timestamps.json: not JSON"),
    "timestamps not UTF-8": (stamps_bytes(b"[0.014, \xff\xfe 2.779]"), "trace1-timestamps.json: not UTF-8 text"),
    "timestamps nested too deeply": (stamps_text("[" * 100_000), "nested too deeply"),
    "timestamps missing": (removed(STAMPS), "trace1-timestamps.json: No such file or directory"),
    "timestamps a folder": (replaced_by_folder(STAMPS), "trace1-timestamps.json: not a regular file"),
    # trace1-energy.bin
    "rate zero": (rate(0.0), "trace1-energy.bin: sample rate 0 Hz; a trace's rate is a positive number"),
    "rate negative": (rate(-1000.0), "trace1-energy.bin: sample rate -1000 Hz"),
    "rate NaN": (rate(float("nan")), "trace1-energy.bin: sample rate nan Hz"),
    "rate infinite": (rate(float("inf")), "trace1-energy.bin: sample rate inf Hz"),
    "trace truncated": (trace_bytes(lambda data: data[: 5 + 4 * 33_280]), "lies beyond the trace (33.280 s)"),
    "trace cut inside a sample": (trace_bytes(lambda data: data[:-2]), "is not an EnergyRunner trace"),
    "trace header only": (trace_bytes(lambda data: data[:5]), "lies beyond the trace (0.000 s)"),
    "trace empty": (trace_bytes(lambda data: b""), "is not an EnergyRunner trace"),
    "trace without its marker": (trace_bytes(lambda data: b"\x00" + data[1:]), "is not an EnergyRunner trace"),
    "trace missing": (removed(TRACE), "cannot read", "trace1-energy.bin: No such file or directory"),
    "trace a folder": (replaced_by_folder(TRACE), "trace1-energy.bin: not a regular file"),
    "a NaN sample inside a window": (sample(3000, float("nan")), "sample 3000, inside window 2, is nan, not an energy"),
    "an infinite sample inside a window": (sample(20_000, float("-inf")),
                                           "sample 20000, inside window 4, is -inf, not an energy"),
    "negative energy": (negated_samples, "window 2 sums to -575449.0", "cannot add up to less than nothing"),
    # log.txt
    "log missing": (removed(LOG), "log.txt: No such file or directory"),
}


@pytest.mark.parametrize("case", BAD_INPUTS, ids=list(BAD_INPUTS))
def test_bad_session_file(cli, session, case):
    change, *fragments = BAD_INPUTS[case]
    change(session)
    for args in ((), ("--json",)):
        result = cli("analyze", str(session), *args)
        assert_one_line_error(result, SESSION_FILE_ERROR, *fragments)
        assert result.stdout == ""


def test_non_utf8_log_and_results_still_analyse(cli, session):
    """log.txt and results.txt are the runner's text logs: a stray byte does not stop the analysis."""
    for name in (LOG, "results.txt"):
        (session / name).write_bytes(b"\xff\xfe garbage\n" + (session / name).read_bytes())
    result = cli("analyze", str(session), "--json")
    assert result.code == 0, result.stderr
    assert [w["number"] for w in result.json()["windows"]] == [2, 4, 6, 8, 10]
