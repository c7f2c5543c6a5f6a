"""A bench named in a bench file, its ports served over the network by a real RFC 2217 server
(ser2net, started here on 127.0.0.1) in front of the virtual lab's own devices, as a lab serves
a bench on another machine: the measurement is the direct one's, within the ground truth's
tolerance. And bench files that cannot be used, each one line."""

from __future__ import annotations

import json
import subprocess
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest

from conftest import assert_one_line_error, require_tools
from support.labgrid_deployment import free_port, served_lab, wait_listening

BOARD = "virtual-l4r5zi"


@contextmanager
def ser2net(tmp_path: Path, ptys: dict[str, str]):
    """ser2net in RFC 2217 mode in front of each pty; yields {name: rfc2217 URL}. ser2net cannot
    set DTR on a pty, so the URLs ask pyserial not to wait for that (`ign_set_control`)."""
    require_tools("ser2net")
    ports = {name: free_port() for name in ptys}
    config = tmp_path / "ser2net.yaml"
    config.write_text("".join(
        f"connection: &{name}\n  accepter: telnet(rfc2217),tcp,127.0.0.1,{ports[name]}\n"
        f"  connector: serialdev,{pty},115200n81,local\n" for name, pty in ptys.items()))
    server = subprocess.Popen(["ser2net", "-n", "-d", "-c", str(config)], stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    try:
        for port in ports.values():
            wait_listening(port, "ser2net", timeout=10)
        yield {name: f"rfc2217://127.0.0.1:{port}?ign_set_control" for name, port in ports.items()}
    finally:
        server.terminate()
        server.wait(timeout=10)


def measure(cli, tmp_path: Path, *options: str):
    return cli("measure", "--out", str(tmp_path / "runs"), "--json", "-q", *options)


def test_an_energy_run_on_a_bench_served_over_rfc2217_matches_the_ground_truth(cli, tmp_path, reference):
    truth = tmp_path / "truth.jsonl"
    # x10: 10k LPM01A lines per wall second, well within what ser2net relays on a 2-core machine
    # (about 20k measured); at x40 the stream fell seconds behind the DUT and the edges came too late
    with served_lab("-b", "ad", "--energy-bench", "--speed", "10", "--truth", str(truth)) as ptys:
        with ser2net(tmp_path, ptys) as urls:
            bench = tmp_path / "rack2.toml"
            bench.write_text(f'name = "rack2"\nboard = "{BOARD}"\n'
                             f'[relay]\nkind = "ifboard"\nport = "{urls["relay"]}"\n'
                             f'[monitor]\nkind = "lpm01a"\nport = "{urls["monitor"]}"\n')
            result = measure(cli, tmp_path, "--bench", str(bench), "-b", "ad", "--mode", "energy")
    assert result.code == 0, result.stderr
    data = result.json()
    assert data["valid"] and "lab" not in data  # the lab was the served one, not started by this run
    assert data["bench"] == {"name": "rack2", "file": str(bench), "dut": None, "relay": f"ifboard:{urls['relay']}",
                             "monitor": f"lpm01a:{urls['monitor']}"}
    assert data["relay"]["port"] == urls["relay"]
    assert data["monitor"]["found_by"] == f"monitor lpm01a:{urls['monitor']} named by bench rack2 ({bench})"
    records = [json.loads(line) for line in truth.read_text().splitlines()]
    edges = [r for r in records if "edge_us" in r]
    truth_uj = [(b["energy_j"] - a["energy_j"]) * 1e6 for a, b in zip(edges[-10::2], edges[-9::2])]
    assert np.allclose([w["energy_uj"] for w in data["windows"]], truth_uj, rtol=0.005)  # the direct run's bound


def test_a_performance_run_on_a_dut_served_over_rfc2217_is_the_direct_one(cli, tmp_path, reference, monkeypatch):
    direct = measure(cli, tmp_path, "--board", BOARD, "-b", "kws", "--lab-speed", "100")
    assert direct.code == 0, direct.stderr
    with served_lab("-b", "kws", "--speed", "100") as ptys, ser2net(tmp_path, ptys) as urls:
        benches = tmp_path / "benches"
        benches.mkdir()
        (benches / "desk.toml").write_text(f'board = "{BOARD}"\n[dut]\nport = "{urls["dut"]}"\n')
        monkeypatch.setenv("TINY_RUNNER_BENCHES", str(benches))
        remote = measure(cli, tmp_path, "--bench", "desk", "-b", "kws")  # found by name
    assert remote.code == 0, remote.stderr
    data = remote.json()
    assert data["dut"]["url"] == urls["dut"] and data["bench"]["name"] == "desk"
    # the same DUT timer, seen through the network: the same latency to within the virtual clock's pacing
    assert data["median_latency_ms"] == pytest.approx(direct.json()["median_latency_ms"], rel=1e-4)


@pytest.mark.parametrize("content, options, code, fragment", [
    (None, (), 32, "bench file {path} does not exist"),
    ("name = 'x'\n[dut\n", (), 32, "{path}: not valid TOML"),
    ("colour = 'red'\n", (), 32, "{path}: unknown key 'colour' in the top level"),
    ("[relay]\nkind = 'ifboard'\n", ("--mode", "energy"), 32, "{path}: [relay] needs 'port'"),
    ("[monitor]\nkind = 'lpm01a'\nport = 'a'\nserial = 'b'\n", (), 32, "[monitor] has a port or a serial number"),
    ("[dut]\nport = 5\n", (), 32, "key 'dut.port' must be a non-empty line of text, got 5"),
    ("[dut]\nport = '/dev/ttyACM0'\n", (), 2, "bench b ({path}) names no board: pass --board"),
    ("board = 'nucleo-l4r5zi'\n[dut]\nport = '/dev/ttyACM0'\n", ("--board", BOARD), 2,
     "--board virtual-l4r5zi, but bench b ({path}) holds nucleo-l4r5zi"),
    ("place = 'desk'\n[dut]\nport = '/dev/ttyACM0'\n", (), 32,
     "{path}: [dut] port: bench b is on place desk, which gives its ports"),
    ("[dut]\nport = '/dev/ttyACM0'\n", ("--board", BOARD, "--dut", "/dev/ttyACM1"), 2,
     "--dut and --bench: bench b names its own ports"),
])
def test_bench_files_that_cannot_be_used_are_one_line(cli, tmp_path, content, options, code, fragment):
    path = tmp_path / "b.toml"
    if content is not None:
        path.write_bytes(content.encode())
    result = cli("measure", "-b", "kws", "--bench", str(path), "--out", str(tmp_path / "runs"), *options)
    assert_one_line_error(result, code, fragment.format(path=path))
    assert not (tmp_path / "runs").exists()


def test_a_bench_name_not_found_says_where_it_looked(cli, tmp_path, monkeypatch):
    monkeypatch.setenv("TINY_RUNNER_BENCHES", str(tmp_path))
    assert_one_line_error(cli("measure", "-b", "kws", "--bench", "rack9"), 32,
                          f"no bench named 'rack9': no rack9.toml in {tmp_path}, benches")


def test_without_a_board_or_a_bench_that_names_one_measure_stops(cli):
    assert_one_line_error(cli("measure", "-b", "kws"), 2,
                          "--board BOARD is required (or --bench with a bench file that names its board, or --place)")
