"""`tiny-runner detect` and `measure` without --dut: serial ports matched by USB VID:PID, and
ports that share an ID told apart by asking `name%`.

pyserial's port listing is faked at its API boundary (real ListPortInfo objects); the ports
behind it are real ptys served by `lab serve`, whose DUT is the reference protocol code, so
the `name%` exchange is the one a lab bench sees.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import types
from pathlib import Path

import pytest
import serial
from serial.tools import list_ports
from serial.tools.list_ports_common import ListPortInfo

from conftest import CliResult, assert_one_line_error
from tiny_runner.bench.detect import Candidate, find_dut_port, find_relay, probe_bauds
from tiny_runner.boards import BOARDS_ENV, Board, load_board
from tiny_runner.cli import main
from tiny_runner.errors import DetectionError

ST_LINK = (0x0483, 0x374B)  # every ST-LINK/V2-1 Nucleo's virtual COM port
STLINK_V3 = (0x0483, 0x374E)  # STLINK-V3 Nucleos and the MLCommons interface board
LAB_SPEED = "300"  # virtual time x300: a performance run of ad01 takes about a second


# -- the bench: descriptors, served DUTs, faked port listing ---------------------------------------
def write_board(folder: Path, template: str, name: str, vendor: str, usb_id: str | None = None) -> None:
    """A copy of a packaged descriptor under another name, DUT vendor string and USB ID."""
    text = load_board(template).path.read_text(encoding="utf-8")
    text = text.replace(f'name = "{template}"', f'name = "{name}"')
    text = text.replace('vendor_string = "unspecified"', f'vendor_string = "{vendor}"')
    if usb_id:
        text = text.replace('vid_pid = ["0483:374B"]', f'vid_pid = ["{usb_id}"]')
    (folder / f"{name}.toml").write_text(text, encoding="utf-8")


@pytest.fixture(scope="module")
def boards_dir(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("boards")
    for vendor in ("lab-a", "lab-b"):
        write_board(folder, "virtual-l4r5zi", vendor, vendor)  # served by `lab serve`
    write_board(folder, "nucleo-l4r5zi", "bench-a", "lab-a")
    write_board(folder, "nucleo-l4r5zi", "bench-b", "lab-b")
    write_board(folder, "nucleo-l4r5zi", "bench-c", "lab-c")  # no served DUT answers as it
    write_board(folder, "nucleo-l4r5zi", "solo", "solo", "CAFE:0001")
    write_board(folder, "nucleo-l4r5zi", "bench-v3", "lab-v3", "0483:374E")
    return folder


@pytest.fixture(autouse=True)
def bench(monkeypatch, boards_dir):
    """These boards, and a Joulescope driver that finds none (a real one would scan USB)."""
    monkeypatch.setenv(BOARDS_ENV, str(boards_dir))
    fake_joulescope(monkeypatch, [])


def fake_joulescope(monkeypatch, paths: list[str]) -> None:
    class Driver:
        def device_paths(self):
            return paths

        def finalize(self):
            pass

    monkeypatch.setitem(sys.modules, "pyjoulescope_driver", types.SimpleNamespace(Driver=Driver))


def serve(boards_dir: Path, reference: Path, board: str, *extra: str) -> tuple[subprocess.Popen, list[str]]:
    """`lab serve` in the background: the process and its announced ports."""
    env = {**os.environ, BOARDS_ENV: str(boards_dir), "TINY_RUNNER_MODEL_DIR": str(reference)}
    server = subprocess.Popen([sys.executable, "-m", "tiny_runner", "lab", "serve", "--board", board, "-b", "ad",
                               "--speed", LAB_SPEED, *extra], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                              text=True, env=env)
    server.stdout.readline()  # "virtual <board> with ad01 ..."
    lines = [server.stdout.readline() for _ in range(2 if "--energy-bench" in extra else 1)]
    return server, [line.split()[1] for line in lines]


@pytest.fixture(scope="module")
def duts(boards_dir, reference):
    """Two virtual DUTs on ptys, answering `name%` with m-name-dut-[lab-a] and m-name-dut-[lab-b]."""
    served = {vendor: serve(boards_dir, reference, vendor) for vendor in ("lab-a", "lab-b")}
    yield {vendor: ports[0] for vendor, (_, ports) in served.items()}
    for server, _ in served.values():
        server.terminate()
        server.wait(timeout=10)


def usb_port(device: str, usb_id: tuple[int, int] | None, serial_number: str = "S1", description: str = "dev"):
    info = ListPortInfo(device, skip_link_detection=True)
    info.vid, info.pid = usb_id if usb_id else (None, None)
    info.serial_number, info.description = serial_number, description
    return info


def fake_ports(monkeypatch, *ports: ListPortInfo) -> None:
    monkeypatch.setattr(list_ports, "comports", lambda: list(ports))


@pytest.fixture
def sent(monkeypatch) -> dict[str, list[bytes]]:
    """Every write to a serial port, by port: what the host really put on the wire."""
    writes: dict[str, list[bytes]] = {}
    original = serial.Serial.write

    def write(self, data):
        writes.setdefault(self.port, []).append(bytes(data))
        return original(self, data)

    monkeypatch.setattr(serial.Serial, "write", write)
    return writes


def run_main(capsys, *args: str) -> CliResult:
    """The CLI in this process, so the faked port listing applies."""
    code = main(list(args))
    out, err = capsys.readouterr()
    return CliResult(code, out, err)


def detect_json(capsys, *args: str) -> dict:
    result = run_main(capsys, "detect", "--json", *args)
    assert result.code == 0, result.stderr
    return result.json()


def by_port(data: dict) -> dict[str, dict]:
    return {entry["port"]: entry for entry in data["attached"]}


# -- detect ---------------------------------------------------------------------------------------
def test_one_port_matching_one_board_by_vid_pid(monkeypatch, capsys, sent):
    fake_ports(monkeypatch, usb_port("/dev/ttyACM0", (0xCAFE, 0x0001), "0671FF", "STLink Virtual COM Port"))
    entry = by_port(detect_json(capsys, "--probe-names"))["/dev/ttyACM0"]
    assert entry["matches"] == [{"kind": "board", "name": "solo", "use": "--board solo --dut /dev/ttyACM0"}]
    assert entry["how"] == "VID:PID" and not entry["ambiguous"] and entry["note"] is None
    assert sent == {}  # one candidate: nothing to ask, the port is not opened


def test_ports_sharing_a_usb_id_are_told_apart_by_name(monkeypatch, capsys, duts, sent):
    fake_ports(monkeypatch, usb_port(duts["lab-a"], ST_LINK, "A"), usb_port(duts["lab-b"], ST_LINK, "B"))
    ports = by_port(detect_json(capsys, "--probe-names"))
    for vendor, board in (("lab-a", "bench-a"), ("lab-b", "bench-b")):
        entry = ports[duts[vendor]]
        assert [m["name"] for m in entry["matches"]] == [board]  # not nucleo-l4r5zi, bench-c: other vendors
        assert entry["how"] == "VID:PID + name" and entry["name_reply"] == f"m-name-dut-[{vendor}]"
        assert entry["name_baud"] == 115200
        assert sent[duts[vendor]] == [b"name%"]  # exactly the command, no CR/LF, asked once


def test_a_dut_holding_stray_bytes_is_asked_again(monkeypatch, capsys, duts, sent):
    """Bytes without `%` (a try at another baud rate, line noise) prefix the DUT's next command:
    `xxname%` is an unknown command, so the probe asks once more."""
    fd = os.open(duts["lab-a"], os.O_RDWR | os.O_NOCTTY)
    os.write(fd, b"xx")
    os.close(fd)
    fake_ports(monkeypatch, usb_port(duts["lab-a"], ST_LINK))
    entry = by_port(detect_json(capsys, "--probe-names"))[duts["lab-a"]]
    assert [m["name"] for m in entry["matches"]] == ["bench-a"] and entry["name_baud"] == 115200  # the first rate
    assert sent[duts["lab-a"]] == [b"name%", b"name%"]


def test_a_dut_answering_as_none_of_the_candidates_matches_nothing(monkeypatch, capsys, duts):
    fake_ports(monkeypatch, usb_port(duts["lab-a"], STLINK_V3))  # candidates: bench-v3 and the interface board
    entry = by_port(detect_json(capsys, "--probe-names"))[duts["lab-a"]]
    assert entry["matches"] == [] and entry["name_reply"] == "m-name-dut-[lab-a]"
    note = entry["note"]
    assert note.startswith("answered name% with 'm-name-dut-[lab-a]', which none of ") and note.endswith(" answers")
    assert "board bench-v3" in note and "relay ifboard" in note


def test_each_candidate_s_first_rate_is_tried_before_second_ones():
    boards = [Candidate("board", "a", (115200, 9600), "m-name-dut-[a]"), Candidate("board", "b", (57600,), "x"),
              Candidate("relay", "ifboard", (115200,), "tinyML Enhanced Interface Board")]
    assert probe_bauds(boards) == [115200, 57600, 9600]


def test_without_probe_names_a_shared_usb_id_stays_ambiguous(monkeypatch, capsys, duts, sent):
    fake_ports(monkeypatch, usb_port(duts["lab-a"], ST_LINK))
    entry = by_port(detect_json(capsys))[duts["lab-a"]]
    assert entry["ambiguous"] and {"bench-a", "bench-b", "bench-c"} <= {m["name"] for m in entry["matches"]}
    assert entry["how"] == "VID:PID" and "--probe-names" in entry["note"]
    assert sent == {}


def test_monitors_and_relays_are_recognised(monkeypatch, capsys):
    fake_ports(monkeypatch, usb_port("/dev/ttyACM0", (0x0483, 0x5740), "540554545", "PowerShield"),
               usb_port("/dev/ttyACM1", (0x1915, 0xC00A), "C1E2", "PPK2"),
               usb_port("/dev/ttyACM2", (0x2341, 0x0043), "7563", "Arduino Uno"),
               usb_port("/dev/ttyS0", None, None, "n/a"))
    fake_joulescope(monkeypatch, ["u/js220/004079"])
    ports = by_port(detect_json(capsys))
    uses = {port: [m["use"] for m in entry["matches"]] for port, entry in ports.items()}
    assert uses == {"/dev/ttyACM0": ["--monitor lpm01a:/dev/ttyACM0"], "/dev/ttyACM1": ["--monitor ppk2:/dev/ttyACM1"],
                    "/dev/ttyACM2": ["--relay ioman:/dev/ttyACM2"], "/dev/ttyS0": [],
                    "u/js220/004079": ["--monitor joulescope:004079"]}
    assert ports["/dev/ttyACM2"]["usb"] == "2341:0043" and ports["/dev/ttyACM2"]["how"] == "VID:PID"
    assert ports["u/js220/004079"]["how"] == "pyjoulescope_driver" and ports["/dev/ttyS0"]["how"] is None

    table = run_main(capsys, "detect").stdout
    assert "monitor lpm01a" in table and "relay ioman" in table and "--relay ioman:/dev/ttyACM2" in table


def test_the_interface_board_is_told_from_an_stlink_v3_board_by_its_name(monkeypatch, capsys, boards_dir,
                                                                         reference, sent):
    server, (relay, _monitor) = serve(boards_dir, reference, "lab-a", "--energy-bench")
    try:
        fake_ports(monkeypatch, usb_port(relay, STLINK_V3, "IF1", "STLINK-V3"))
        entry = by_port(detect_json(capsys, "--probe-names"))[relay]
    finally:
        server.terminate()
        server.wait(timeout=10)
    assert entry["matches"] == [{"kind": "relay", "name": "ifboard", "use": f"--relay ifboard:{relay}"}]
    assert entry["name_reply"] == "tinyML Enhanced Interface Board" and entry["how"] == "VID:PID + name"
    assert sent[relay] == [b"name%"]


def test_a_port_that_cannot_be_opened_is_a_note(monkeypatch, capsys, tmp_path):
    missing = str(tmp_path / "ttyACM9")
    fake_ports(monkeypatch, usb_port(missing, ST_LINK))
    entry = by_port(detect_json(capsys, "--probe-names"))[missing]
    assert entry["ambiguous"] and entry["note"].startswith(f"cannot open port {missing}: ")

    result = run_main(capsys, "detect", "--probe-names")
    assert result.code == 0 and "Traceback" not in result.stderr + result.stdout
    assert f"{missing}: cannot open port" in result.stdout


def test_json_shape_and_virtual_boards(monkeypatch, capsys):
    fake_ports(monkeypatch, usb_port("/dev/ttyACM0", ST_LINK, "066D", "STLink Virtual COM Port"))
    data = detect_json(capsys)
    assert set(data) == {"attached", "probes", "virtual", "notes"} and data["notes"] == [] and data["probes"] == []
    (entry,) = data["attached"]
    assert entry.keys() == {"port", "usb", "serial", "description", "matches", "how", "ambiguous", "name_reply",
                            "name_baud", "note"}
    assert (entry["usb"], entry["serial"], entry["description"]) == ("0483:374B", "066D", "STLink Virtual COM Port")
    assert all(m.keys() == {"kind", "name", "use"} for m in entry["matches"])
    virtual = {v["name"]: v for v in data["virtual"]}
    assert {"virtual-l4r5zi", "lab-a", "lab-b"} <= set(virtual) and "bench-a" not in virtual
    assert virtual["lab-a"]["use"] == "--board lab-a" and virtual["lab-a"]["kind"] == "board"
    assert json.dumps(data)  # plain JSON types only

    table = run_main(capsys, "detect").stdout
    assert "virtual boards (always available" in table and "--board virtual-l4r5zi" in table


def test_monitors_command_still_lists_only_monitors(monkeypatch, capsys):
    fake_ports(monkeypatch, usb_port("/dev/ttyACM0", (0x0483, 0x5740)), usb_port("/dev/ttyACM1", ST_LINK),
               usb_port("/dev/ttyACM2", (0x2341, 0x0043)))
    data = run_main(capsys, "monitors", "--json").json()
    assert [m["spec"] for m in data["attached"]] == ["lpm01a:/dev/ttyACM0"]


# -- measure without --dut ------------------------------------------------------------------------
def measure(capsys, tmp_path, board: str, *extra: str) -> CliResult:
    return run_main(capsys, "measure", "--board", board, "-b", "ad", "--out", str(tmp_path / "runs"), "--quiet",
                    "--json", *extra)


def test_measure_finds_the_only_port_with_the_board_s_usb_id(monkeypatch, capsys, tmp_path, duts):
    fake_ports(monkeypatch, usb_port("/dev/ttyACM7", (0x1915, 0xC00A)), usb_port(duts["lab-a"], ST_LINK))
    result = measure(capsys, tmp_path, "bench-a")
    assert result.code == 0, result.stderr
    data = result.json()
    found = f"DUT port {duts['lab-a']} found by USB ID 0483:374B"
    assert data["valid"] and data["dut"]["url"] == duts["lab-a"] and data["dut"]["found_by"] == found
    assert found in (Path(data["run_dir"]) / "log.txt").read_text()


def test_measure_picks_the_port_whose_dut_answers_with_the_board_s_vendor(monkeypatch, capsys, tmp_path, duts, sent):
    fake_ports(monkeypatch, usb_port(duts["lab-a"], ST_LINK), usb_port(duts["lab-b"], ST_LINK))
    result = measure(capsys, tmp_path, "bench-b")
    assert result.code == 0, result.stderr
    data = result.json()
    assert data["dut"]["url"] == duts["lab-b"] and data["dut"]["vendor"] == "lab-b"
    assert "its answer m-name-dut-[lab-b] to name%" in data["dut"]["found_by"]
    assert sent[duts["lab-a"]] == [b"name%"]  # asked, not measured


def test_measure_with_several_answering_ports_stops_with_one_line(monkeypatch, capsys, tmp_path, duts):
    alias = tmp_path / "ttyACM1"
    alias.symlink_to(duts["lab-a"])  # a second port to the same DUT: both answer as lab-a
    fake_ports(monkeypatch, usb_port(duts["lab-a"], ST_LINK), usb_port(str(alias), ST_LINK))
    result = measure(capsys, tmp_path, "bench-a")
    assert_one_line_error(result, 30, "2 of them answer m-name-dut-[lab-a]", duts["lab-a"], str(alias),
                          "pass --dut PORT")
    assert not (tmp_path / "runs").exists()  # stopped before a run directory


def test_measure_with_no_answering_port_stops_with_one_line(monkeypatch, capsys, tmp_path, duts):
    fake_ports(monkeypatch, usb_port(duts["lab-a"], ST_LINK), usb_port(duts["lab-b"], ST_LINK))
    result = measure(capsys, tmp_path, "bench-c")
    assert_one_line_error(result, 30, "none answers m-name-dut-[lab-c]", "answered m-name-dut-[lab-a]",
                          "answered m-name-dut-[lab-b]", "pass --dut PORT")


def test_measure_with_no_port_for_the_board_stops_with_one_line(monkeypatch, capsys, tmp_path):
    fake_ports(monkeypatch, usb_port("/dev/ttyACM0", (0x1915, 0xC00A)))
    result = measure(capsys, tmp_path, "bench-a")
    assert_one_line_error(result, 30, "no serial port with bench-a's USB ID 0483:374B", "pass --dut PORT")
    assert not (tmp_path / "runs").exists()


def test_a_board_without_usb_ids_cannot_be_found():
    board = Board("old-board", Path("old-board.toml"), {"uart": {"performance_baud": 115200}})
    with pytest.raises(DetectionError, match="old-board declares no USB ID") as info:
        find_dut_port(board, 115200)
    assert info.value.exit_code == 30


def test_energy_mode_finds_the_monitor_and_the_interface_board(monkeypatch, capsys, tmp_path, boards_dir,
                                                               reference, sent):
    """The emulated interface board and LPM01A of `lab serve --energy-bench`, listed with their
    real USB IDs next to an STLINK-V3 board's port that is not an interface board."""
    server, (relay, monitor) = serve(boards_dir, reference, "lab-a", "--energy-bench")
    try:
        fake_ports(monkeypatch, usb_port(relay, STLINK_V3, "IF1"), usb_port(monitor, (0x0483, 0x5740), "PS1"),
                   usb_port("/dev/ttyACM5", STLINK_V3, "NUCLEO"))
        result = measure(capsys, tmp_path, "bench-a", "--mode", "energy", "--iterations", "400")
    finally:
        server.terminate()
        server.wait(timeout=10)
    assert result.code in (0, 3), result.stderr
    data = result.json()
    assert data["monitor"]["found_by"] == f"energy monitor lpm01a:{monitor} found by USB ID 0483:5740"
    assert data["relay"]["found_by"] == (f"pass-through board ifboard:{relay} found by USB ID 0483:374E and its "
                                         "answer 'tinyML Enhanced Interface Board' to name%")
    assert data["relay"]["port"] == relay and len(data["windows"]) == 5
    # detection asked the interface board once (the run's own handshake asks again); the monitor
    # hears only the LPM01A driver, starting with its own first command
    assert sent[relay][:2] == [b"name%", b"name%"] and b"name%" not in sent[monitor] and sent[monitor][0] == b"stop\r\n"
    log = (Path(data["run_dir"]) / "log.txt").read_text()
    assert data["monitor"]["found_by"] in log and data["relay"]["found_by"] in log


def test_energy_mode_detection_failures_are_one_line(monkeypatch, capsys, tmp_path):
    fake_ports(monkeypatch, usb_port("/dev/ttyACM0", ST_LINK))
    assert_one_line_error(measure(capsys, tmp_path, "bench-a", "--mode", "energy"), 30,
                          "no energy monitor is attached", "--monitor lpm01a:PORT")
    fake_ports(monkeypatch, usb_port("/dev/ttyACM0", (0x0483, 0x5740)), usb_port("/dev/ttyACM1", (0x1915, 0xC00A)))
    assert_one_line_error(measure(capsys, tmp_path, "bench-a", "--mode", "energy"), 30,
                          "2 energy monitors are attached (lpm01a:/dev/ttyACM0, ppk2:/dev/ttyACM1)", "--monitor SPEC")
    result = measure(capsys, tmp_path, "bench-a", "--mode", "energy", "--monitor", "ppk2")
    assert_one_line_error(result, 30, "no pass-through board is attached", "--relay ifboard:PORT or ioman:PORT")
    fake_ports(monkeypatch, usb_port("/dev/ttyACM1", (0x1915, 0xC00A)), usb_port("/dev/ttyACM2", (0x2341, 0x0043)),
               usb_port("/dev/ttyACM3", (0x2A03, 0x0043)))
    assert_one_line_error(measure(capsys, tmp_path, "bench-a", "--mode", "energy"), 30,
                          "2 pass-through boards are attached (ioman:/dev/ttyACM2, ioman:/dev/ttyACM3)")
    assert not (tmp_path / "runs").exists()  # all before a run directory


def test_a_relay_named_without_its_port_is_found_like_a_monitor(monkeypatch, capsys, tmp_path):
    """--relay ioman (no port) is looked for among the IO managers only, as --monitor ppk2 is."""
    fake_ports(monkeypatch, usb_port("/dev/ttyACM1", (0x1915, 0xC00A)), usb_port("/dev/ttyACM2", (0x2341, 0x0043)))
    result = measure(capsys, tmp_path, "bench-a", "--mode", "energy", "--relay", "ifboard")
    assert_one_line_error(result, 30, "no ifboard pass-through board is attached", "--relay ifboard:PORT")
    assert find_relay("ioman") == ("ioman:/dev/ttyACM2", "pass-through board ioman:/dev/ttyACM2 found by USB ID "
                                                          "2341:0043")
    assert_one_line_error(measure(capsys, tmp_path, "bench-a", "--mode", "energy", "--relay", "usbhub"), 2,
                          "--relay usbhub: expected ifboard[:PORT] or ioman[:PORT]")
    assert not (tmp_path / "runs").exists()


def test_debug_probes_are_listed_through_pyocd(monkeypatch, capsys):
    from support.pyocd_api import FakeChip, FakeProbe, make_api
    from tiny_runner.image import flash

    probes = [FakeProbe("0668FF485550755187121234"), FakeProbe("000440112138", "Segger J-Link OB")]
    monkeypatch.setattr(flash, "load_pyocd", lambda: make_api(FakeChip(0x0800_0000, 1024), probes, set())[0])
    fake_ports(monkeypatch)
    data = detect_json(capsys)
    assert data["probes"] == [  # in pyocd's order
        {"unique_id": "0668FF485550755187121234", "description": "STM32 STLink",
         "use": "--probe 0668FF485550755187121234"},
        {"unique_id": "000440112138", "description": "Segger J-Link OB", "use": "--probe 000440112138"}]
    out = run_main(capsys, "detect").stdout
    assert "debug probes (for `tiny-runner flash`):" in out and "--probe 000440112138" in out


def test_without_pyocd_the_probes_are_a_note(monkeypatch, capsys):
    from tiny_runner.errors import FlashFailed
    from tiny_runner.image import flash

    def missing():
        raise FlashFailed("flashing a board needs pyocd")

    monkeypatch.setattr(flash, "load_pyocd", missing)
    fake_ports(monkeypatch)
    data = detect_json(capsys)
    assert data["probes"] == [] and data["notes"] == [
        "debug probes not looked for: pip install 'tiny-runner[flash]' (pyocd)"]
