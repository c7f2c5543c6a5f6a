"""The C protocol core (firmware/core) on the host: every command's exact bytes, the fixed
robustness bugs of the reference parser, and exact number formatting.

The core is built with a scripted port and a fake model (tests/c/fake_dut.c) under
AddressSanitizer and UBSan, warning-free with -Wall -Wextra -Werror: any out-of-bounds write
the malformed inputs provoke aborts the process and fails the test.
"""

from __future__ import annotations

import struct
import subprocess
from pathlib import Path

import numpy as np
import pytest

from conftest import REPO, require_tools
from tiny_runner.lab.firmware import _atoi

CORE = REPO / "firmware" / "core"
C_TESTS = REPO / "tests" / "c"
SANITIZE = ["-fsanitize=address,undefined", "-fno-sanitize-recover=all", "-g", "-O1"]
FLAGS = ["-std=c99", "-Wall", "-Wextra", "-Werror", "-pedantic", f"-I{CORE}"]
READY = b"m-ready\r\n"


def _compile(out: Path, sources: list[Path], *defines: str) -> Path:
    require_tools("gcc")
    subprocess.run(["gcc", *FLAGS, *SANITIZE, *defines, *map(str, sources), "-o", str(out)], check=True,
                   capture_output=True)
    return out


@pytest.fixture(scope="module")
def builds(tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("core")
    sources = [C_TESTS / "fake_dut.c", CORE / "tr_harness.c", CORE / "tr_format.c"]
    return {
        "performance": _compile(folder / "perf", sources),
        "energy": _compile(folder / "energy", sources, "-DTR_ENERGY_MODE=1"),
        "format": _compile(folder / "format", [C_TESTS / "format_check.c", CORE / "tr_format.c"]),
    }


def run(builds, data: bytes, *, mode: str = "performance", timer: int = 1000, early: str = "") -> bytes:
    proc = subprocess.run([str(builds[mode]), str(timer), early], input=data, capture_output=True, timeout=30)
    assert proc.returncode == 0, proc.stderr.decode(errors="replace")[-2000:]
    return proc.stdout


BANNER = b"m-timestamp-mode-performance\r\nm-lap-us-1000\r\nm-init-done\r\nm-ready\r\n"


def reply(builds, *commands: str, **kwargs) -> bytes:
    """The bytes after the banner for these commands."""
    out = run(builds, "".join(c + "%" for c in commands).encode("latin-1"), **kwargs)
    banner = BANNER.replace(b"1000", str(kwargs.get("timer", 1000)).encode())
    if kwargs.get("mode", "performance") == "performance":
        assert out.startswith(banner)
        return out[len(banner):]
    return out


def load(data: bytes) -> list[str]:
    return [f"db load {len(data)}"] + [f"db {data[i:i + 38].hex()}" for i in range(0, len(data), 38)]


# -- the banner and the simple commands -------------------------------------------------------------
def test_performance_banner(builds):
    assert run(builds, b"") == BANNER


def test_energy_banner_pulses_the_pin_once(builds):
    assert run(builds, b"", mode="energy") == (
        b"m-timestamp-mode-energy\r\n<pin 0><hold 1000><pin 1>m-init-done\r\nm-ready\r\n")


def test_name_profile_timestamp(builds):
    assert reply(builds, "name", "profile", "timestamp") == (
        b"m-name-dut-[unspecified]\r\nm-ready\r\n"
        b"m-profile-[ULPMark for tinyML Firmware V0.0.1]\r\nm-model-[fake01]\r\nm-ready\r\n"
        b"m-lap-us-1000\r\nm-ready\r\n")


def test_energy_timestamp_is_a_pulse_not_text(builds):
    out = reply(builds, "timestamp", mode="energy")
    assert out.endswith(b"m-ready\r\n<pin 0><hold 1000><pin 1>m-ready\r\n")


def test_help_lists_the_commands(builds):
    lines = reply(builds, "help").split(b"\r\n")
    assert lines[0] == b"ULPMark for tinyML Firmware V0.0.1" and lines[1] == b""
    assert [line.split(b" ")[0] for line in lines[2:-2]] == [
        b"help", b"name", b"timestsamp", b"db", b"", b"", b"", b"", b"infer", b"results"]  # the reference's text
    assert lines[-2:] == [b"m-ready", b""]


def test_tokens_are_split_on_spaces_only(builds):
    assert reply(builds, "  db   load   4  ", "name\t") == (
        b"m-[Expecting 4 bytes]\r\nm-ready\r\ne-[Unknown command: name\t]\r\nm-ready\r\n")


def test_commands_completed_before_boot_are_ignored(builds):
    assert run(builds, b"name%", early="name%prof") == BANNER + b"m-name-dut-[unspecified]\r\nm-ready\r\n"


# -- downloads ------------------------------------------------------------------------------------
def test_download_then_print(builds):
    data = bytes(range(0x50, 0x5A))
    out = reply(builds, *load(data), "db print")
    assert out == (b"m-[Expecting 10 bytes]\r\nm-ready\r\nm-load-done\r\nm-ready\r\n"
                   b"m-buffer-50-51-52-53-54-55-56-57\r\nm-buffer-58-59\r\n\r\nm-ready\r\n")


def test_hex_is_case_insensitive_and_digits_after_the_last_byte_are_ignored(builds):
    out = reply(builds, "db load 2", "db aB", "db Cdeeff", "db print")
    assert out == (b"m-[Expecting 2 bytes]\r\nm-ready\r\nm-ready\r\nm-load-done\r\nm-ready\r\n"
                   b"m-buffer-ab-cd\r\n\r\nm-ready\r\n")


@pytest.mark.parametrize(("commands", "error"), [
    (["db"], "Command 'db' requires a subcommand"),
    (["db load"], "Command 'db load' requires the # of bytes"),
    (["db load 0"], "Command 'db load' must be >0 bytes"),
    (["db load x"], "Command 'db load' must be >0 bytes"),
    (["db load -3"], "Command 'db load' must be >0 bytes"),
    (["db load 11"], "Supplied buffer size 11 exceeds maximum of 10"),
    (["db load 99999999999"], "Supplied buffer size 2147483647 exceeds maximum of 10"),
    (["db 0102"], "Command 'db load' must come first"),
    (["db load 4", "db 012"], "Insufficent number of hex digits"),
    (["db load 4", "db 01zz"], "Invalid hex digit 'zz'"),
    (["db load 1", "db 01", "db 02"], "All 1 bytes are already loaded"),
    ([""], "Empty command"),
    (["   "], "Empty command"),
    (["bogus arg"], "Unknown command: bogus"),
    (["infer 0"], "Inference iterations must be >0"),
    (["infer -1 1"], "Inference iterations must be >0"),
    (["infer 1 -1"], "Inference warmup must be >=0"),
    (["infer 1 0"], "Input db has 0 bytes, expected 10"),
    (["results"], "No inference has run yet"),
])
def test_errors_are_e_replies_followed_by_ready(builds, commands, error):
    out = reply(builds, *commands)
    assert out.endswith(f"e-[{error}]\r\nm-ready\r\n".encode()), out


def test_oversize_load_abandons_the_previous_one(builds):
    out = reply(builds, "db load 4", "db 0102", "db load 500", "db 0304")
    assert out.endswith(b"e-[Supplied buffer size 500 exceeds maximum of 10]\r\nm-ready\r\n"
                        b"e-[Command 'db load' must come first]\r\nm-ready\r\n")


def test_bytes_before_an_invalid_pair_stay_stored(builds):
    out = reply(builds, "db load 4", "db 0a0bxx0c", "db print")
    assert out.endswith(b"e-[Invalid hex digit 'xx']\r\nm-ready\r\nm-buffer-0a-0b-00-00\r\n\r\nm-ready\r\n")


def test_a_partial_download_never_reaches_the_model(builds):
    out = reply(builds, "db load 10", "db 0102030405", "infer 1 0", "results")
    assert out.endswith(b"e-[Input db has 5 bytes, expected 10]\r\nm-ready\r\n"
                        b"e-[No inference has run yet]\r\nm-ready\r\n")


def test_a_load_of_the_wrong_size_is_refused_at_infer(builds):
    out = reply(builds, "db load 3", "db 010203", "infer 1 0")
    assert out.endswith(b"m-load-done\r\nm-ready\r\ne-[Input db has 3 bytes, expected 10]\r\nm-ready\r\n")


def test_characters_past_80_are_dropped(builds):
    command = "x" * 79 + "yz" + "q" * 100
    assert reply(builds, command) == b"e-[Unknown command: " + b"x" * 79 + b"y]\r\nm-ready\r\n"


# -- inference --------------------------------------------------------------------------------------
def test_infer_sequence_and_timing(builds):
    data = bytes(range(1, 11))
    out = reply(builds, *load(data), "infer 4 2", "results")
    assert out.split(b"m-load-done\r\nm-ready\r\n", 1)[1] == (
        b"m-warmup-start-2\r\nm-warmup-done\r\nm-infer-start-4\r\n"
        b"m-lap-us-1500\r\nm-lap-us-2500\r\nm-infer-done\r\nm-results-[6,55]\r\nm-ready\r\n"
        b"m-results-[6,55]\r\nm-ready\r\n")


def test_infer_defaults_to_one_iteration_after_ten_warmups(builds):
    out = reply(builds, *load(bytes(10)), "infer")
    assert b"m-warmup-start-10\r\nm-warmup-done\r\nm-infer-start-1\r\nm-lap-us-3500\r\nm-lap-us-3750\r\n" in out
    assert out.endswith(b"m-results-[11,0]\r\nm-ready\r\n")


def test_energy_infer_frames_the_run_with_two_pulses(builds):
    out = reply(builds, *load(bytes(10)), "infer 2 1", mode="energy")
    assert out.endswith(b"m-warmup-start-1\r\nm-warmup-done\r\nm-infer-start-2\r\n<pin 0><hold 1000><pin 1>"
                        b"<pin 0><hold 1000><pin 1>m-infer-done\r\nm-results-[3,0]\r\nm-ready\r\n")


def test_the_timer_prints_unsigned_32_bit(builds):
    out = reply(builds, *load(bytes(10)), "infer 2 0", timer=4294967000)
    assert b"m-lap-us-4294967000\r\nm-lap-us-204\r\n" in out


def _random_session(rng: np.random.Generator, commands: int) -> bytes:
    """Plausible and broken commands mixed: loads of any size, hex of any length, infers."""
    out = []
    for _ in range(commands):
        kind = rng.integers(0, 8)
        if kind == 0:
            out.append(f"db load {rng.integers(-5, 30)}")
        elif kind in (1, 2, 3):
            out.append("db " + rng.bytes(int(rng.integers(0, 40))).hex()[: int(rng.integers(0, 90))])
        elif kind == 4:
            out.append(f"infer {rng.integers(-2, 4)} {rng.integers(-2, 3)}")
        elif kind == 5:
            out.append(rng.choice(["db print", "results", "name", "timestamp", "", "db", "db load"]))
        else:
            out.append(rng.bytes(int(rng.integers(0, 120))).decode("latin-1").replace("%", ""))
    return "".join(c + "%" for c in out).encode("latin-1")


@pytest.mark.parametrize("mode", ["performance", "energy"])
def test_random_sessions_never_corrupt_memory(builds, mode):
    session = _random_session(np.random.default_rng(7), 20_000)
    out = run(builds, session + b"name%", mode=mode)  # the sanitizers abort on any bad access
    assert out.endswith(b"m-name-dut-[unspecified]\r\nm-ready\r\n")
    assert out.count(READY) == 1 + session.count(b"%") + 1  # the banner's, one per command, name's
    assert b"m-load-done" in out and b"m-results-[" in out  # the session did reach the model


# -- number formatting ------------------------------------------------------------------------------
def _fixed3(builds, values: np.ndarray) -> list[str]:
    data = np.asarray(values, dtype="<f4").tobytes()
    out = subprocess.run([str(builds["format"])], input=data, capture_output=True, check=True).stdout
    return out.decode().splitlines()


def test_fixed3_matches_printf_rounding(builds):
    rng = np.random.default_rng(3)
    values = np.concatenate([
        np.arange(-256, 257, dtype=np.float32) / np.float32(256),  # every softmax output, ties included
        np.float32([0.0625, 0.1875, 0.0005, 0.0015, 2.5e-4, 1e-45, 1e-38, -0.0, 0.0, 1e6, 123456.789]),
        rng.uniform(-50, 50, 2000).astype(np.float32),
        (rng.standard_normal(2000) * 10.0 ** rng.integers(-6, 12, 2000)).astype(np.float32),
    ])
    expected = [f"{float(v):0.3f}" for v in values]  # Python rounds like C printf: exact value, ties to even
    assert _fixed3(builds, values) == expected


def test_fixed3_special_values(builds):
    assert _fixed3(builds, np.float32([np.inf, -np.inf, np.nan, 2.0**53, 2.0**52])) == [
        "inf", "-inf", "nan", "inf", "4503599627370496.000"]


def test_parse_int_matches_c_atoi(builds):
    texts = ["0", "12", "+7", "-7", "  42", "\t9", "12ab", "ab12", "", "-", "+", "2147483647", "2147483648",
             "-2147483648", "-2147483649", "99999999999999999999", "007", "1 2", "--1"]
    data = b"".join(t.encode() + b"\0" for t in texts)
    out = subprocess.run([str(builds["format"]), "int"], input=data, capture_output=True, check=True).stdout
    assert [int(v) for v in out.split()] == [_atoi(t) for t in texts]


def test_fixed3_reads_float32_bits(builds):
    # one value whose float32 rounding matters: 0.0015 is 0.00150000001304... in float32
    assert struct.pack("<f", 0.0015) != struct.pack("<d", 0.0015)[:4]
    assert _fixed3(builds, np.float32([0.0015])) == ["0.002"]
