"""The virtual lab streams sww01: the emulated streaming DUT (lab/sww_firmware.py) and the
emulated interface board's SD card, `play`, detections and duty cycle, byte for byte as the
reference firmware and InterfaceMenu.cpp print them, and against the bench's ground truth.

The unit tests run the DUT with a scripted model in this process; everything with the real
TFLM model runs in the virtual bench process (TFLM may abort the process it runs in)."""

from __future__ import annotations

import json
import time
import wave
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from conftest import reference_path
from support.capture_port import Port
from tiny_runner.benchmarks import get_benchmark
from tiny_runner.benchmarks.reference_port import Quantization
from tiny_runner.benchmarks.sww01.scoring import score_detections
from tiny_runner.benchmarks.sww01.truth import load_truth
from tiny_runner.boards import Board, load_board
from tiny_runner.errors import BoardError
from tiny_runner.lab import start as lab_start
from tiny_runner.lab.bench_process import BenchConfig
from tiny_runner.lab.clock import VirtualClock
from tiny_runner.lab.launcher import VirtualBench
from tiny_runner.lab.physics import Physics, PowerProfile
from tiny_runner.lab.sww_firmware import STREAM_FAULTS, StreamFaults, StreamingFirmware, split_stream_faults
from tiny_runner.protocol.dut import DutClient
from tiny_runner.protocol.link import Link
from tiny_runner.relays.ifboard import emulator
from tiny_runner.relays.ifboard.driver import InterfaceBoard as HostInterfaceBoard
from tiny_runner.relays.ifboard.emulator import BoardFaults, InterfaceBoard, StreamWiring
from tiny_runner.relays.ifboard.streaming import parse_detections, parse_dutycycle

READY = b"m-ready\r\n"
DUT_READY = b"[dut]: m-ready\r\n"
PROCESSING_US = 17_939.8  # the virtual L4R5ZI's [simulation.sww]
SWW = reference_path() / "sww01"
SHORT_WAV = "short_wav_easy10s.wav"


class FakeClock:
    """Virtual time that moves only by what is spent."""

    def __init__(self):
        self.t = 0.0
        self.spent: list[tuple[float, float, str]] = []

    def now_us(self) -> int:
        return int(self.t)

    def now_exact_us(self) -> float:
        return self.t

    def spend(self, us: float, activity: str = "busy") -> None:
        if us > 0:
            self.spent.append((self.t, us, activity))
            self.t += us


class ScriptedModel:
    """output[0] from a list, then `rest` for every further frame."""

    input_quant = Quantization(0.003701042616739869, -128)

    def __init__(self, outputs=(), rest=-128):
        self.outputs, self.rest, self.runs = list(outputs), rest, 0

    def run(self, data):
        assert data.shape == (1200,) and data.dtype == np.int8
        self.runs += 1
        return np.array([self.outputs.pop(0) if self.outputs else self.rest, -128, -128], np.int8)


def dut_alone(outputs=(), faults=None, processing_us=PROCESSING_US):
    clock, uart, pins, notes = FakeClock(), Port(), [], []
    dut = StreamingFirmware(model=ScriptedModel(outputs), processing_us=processing_us, uart=uart, clock=clock,
                            pin=lambda level, t: pins.append((level, t)), vendor="ACME", pulse_hold_us=2000,
                            faults=faults)
    dut.note = notes.append
    detections, processing = [], []
    dut.on_detection = detections.append
    dut.on_processing = lambda level, t: processing.append((level, t))
    return SimpleNamespace(dut=dut, clock=clock, uart=uart, pins=pins, notes=notes, detections=detections,
                           processing=processing)


def stereo(frames: int) -> np.ndarray:
    return np.zeros((frames, 2), np.int16)


def test_boot_and_the_plain_commands_byte_for_byte():
    rig = dut_alone()
    rig.dut.boot()
    assert rig.uart.take() == b"m-timestamp-mode-energy\r\nm-init-done\r\nm-ready\r\n"
    assert rig.pins == [(0, 0.0), (1, 2000.0)]  # the pulse leaves the pin idle-high
    for command, reply in [(b"name%", b"m-name-dut-[ACME]\r\n"),
                           (b"profile%", b"m-profile-[ULPMark for tinyML Firmware V0.0.1]\r\nm-model-[sww01]\r\n"),
                           (b"foo bar%", b"e-[Unknown command: foo]\r\n"), (b"timestamp%", b""),
                           (b"stop%", b"I2S is already idle.  Ignoring stop request\r\n")]:
        rig.dut.receive(command)
        assert rig.uart.take() == reply + READY, command
    assert len(rig.pins) == 4  # `timestamp` pulsed once more


def test_start_and_stop_byte_for_byte_with_the_activation_log_as_ee_print_vals_int8():
    outputs = [-100, 116, 115, -7] + list(range(-120, -107))  # 17 frames: 16 to a line, then one
    rig = dut_alone(outputs)
    rig.dut.boot()
    rig.uart.take()
    rig.clock.t = 1_000_000.0
    rig.dut.receive(b"start%")
    assert rig.uart.take() == b"Listening for I2S data ... \r\nDMA receive initiated.\r\n" + READY
    assert rig.pins[-2:] == [(0, 1_000_000.0), (1, 1_002_000.0)]  # the energy window opens
    assert rig.processing == [(1, 1_002_000.0), (0, 1_002_001.0)]  # the 1 µs alignment pulse
    rig.dut.receive(b"start%")
    assert rig.uart.take() == b"I2S Rx currently in progress. Ignoring request\r\n" + READY
    frame_starts = []
    for _ in outputs:
        frame_starts.append(rig.clock.t)
        rig.dut.i2s_frame(stereo(512))
        rig.clock.t = frame_starts[-1] + 32_000  # the next DMA block completes 32 ms later
    # the sync mark on the first frame, then output[0] > 115 only (116, not 115)
    assert rig.detections == pytest.approx([frame_starts[0] + PROCESSING_US - 1, frame_starts[1] + PROCESSING_US - 1])
    stop_at = rig.clock.t
    rig.dut.receive(b"stop%")
    line1 = "".join(f"{v}, " for v in outputs[:16])
    assert rig.uart.take() == (b"Streaming stopped.\r\ntarget activations: \r\n["
                               + line1.encode() + b"\r\n" + f"{outputs[16]}  ".encode() + b"\r\n]\r\n" + READY)
    assert rig.pins[-2] == (0, stop_at)
    truth = rig.notes[-1]["sww_stream"]
    assert truth["frames"] == 17 and truth["activations"] == outputs
    assert truth["start_us"] == 1_000_000.0 and truth["stop_us"] == stop_at
    assert truth["detections_us"] == rig.detections and truth["sync_pulse_us"] == [1_002_000.0, 1_002_001.0]
    assert truth["processing_edges_us"][0] == pytest.approx([frame_starts[0], frame_starts[0] + PROCESSING_US])
    assert (truth["period_us"], truth["processing_us"]) == (32_000, PROCESSING_US)
    assert rig.dut.listening_activity == "idle"


def test_an_empty_log_and_a_full_last_line_print_as_the_c_code_does():
    rig = dut_alone([1] * 16)
    rig.dut.boot()
    rig.dut.receive(b"start%stop%")
    assert rig.uart.take().endswith(b"target activations: \r\n[]\r\n" + READY)
    rig.dut.receive(b"start%")
    for _ in range(16):
        rig.dut.i2s_frame(stereo(512))
    rig.dut.receive(b"stop%")
    assert rig.uart.take().endswith(b"[" + b"1, " * 15 + b"1  \r\n]\r\n" + READY)


def test_frames_outside_a_stream_are_ignored_and_a_late_frame_starts_when_the_last_ends():
    rig = dut_alone(processing_us=40_000)
    rig.dut.boot()
    rig.dut.i2s_frame(stereo(512))
    assert rig.dut.model.runs == 0 and rig.processing == []
    assert rig.dut.listening_activity == "idle"
    rig.dut.receive(b"start%")
    assert rig.dut.listening_activity == "listening"
    rig.dut.i2s_frame(stereo(512))
    first_end = rig.clock.t
    rig.dut.i2s_frame(stereo(512))  # its DMA completed while the first was still processing
    assert rig.processing[-2:] == [(1, first_end), (0, first_end + 40_000)]
    assert all(activity == "processing" for _, _, activity in rig.clock.spent[-4:])


def test_dut_faults():
    rig = dut_alone(faults=StreamFaults(ignore_start=True))
    rig.dut.boot()
    rig.uart.take()
    rig.dut.receive(b"start%")
    assert rig.uart.take() == READY and not rig.dut.streaming
    rig.dut.i2s_frame(stereo(512))
    assert rig.detections == []  # never streams: no sync mark
    rig = dut_alone(faults=StreamFaults(ignore_stop=True))
    rig.dut.boot()
    rig.uart.take()
    rig.dut.receive(b"stop%")  # the host's opening `stop`: idle, answered
    assert rig.uart.take() == b"I2S is already idle.  Ignoring stop request\r\n" + READY
    rig.dut.receive(b"start%")
    rig.uart.take()
    rig.dut.receive(b"stop%")
    assert rig.uart.take() == b"" and rig.dut.streaming and rig.notes == []


def test_fault_names_are_split_between_the_dut_and_the_board():
    assert set(STREAM_FAULTS) == {"ignore_start", "ignore_stop", "play_hangs", "no_reboot", "detect_wire_open",
                                  "duty_unequal"} and STREAM_FAULTS["play_hangs"] is bool
    assert split_stream_faults({"ignore_stop": True, "play_hangs": True}) == ({"ignore_stop": True},
                                                                             {"play_hangs": True})
    with pytest.raises(ValueError, match="unknown streaming lab fault 'drop_rx_every'"):
        split_stream_faults({"drop_rx_every": 3})


# -- the interface board, with the scripted DUT ------------------------------------------------
def write_wav(path: Path, seconds: float, channels=2, rate=16_000, width=2) -> Path:
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(channels)
        wav.setsampwidth(width)
        wav.setframerate(rate)
        wav.writeframes(b"\0" * int(seconds * rate) * channels * width)
    return path


class Bench:
    """The streaming DUT behind the emulated interface board, on one virtual clock."""

    def __init__(self, folder, outputs=(), dut_faults=None, board_faults=None, wired=True):
        self.clock = VirtualClock(1e6)
        self.host, self.notes = Port(), []
        board = self

        class Wire:
            def write(self, data):
                board.board.from_dut(data)

        self.dut = StreamingFirmware(model=ScriptedModel(outputs), processing_us=PROCESSING_US, uart=Wire(),
                                     clock=self.clock, faults=dut_faults)
        self.dut.note = self.notes.append
        wiring = StreamWiring(self.clock, self.dut, folder, self.notes.append) if wired else None
        self.board = InterfaceBoard(self.host, self.dut.receive, streaming=wiring, faults=board_faults)
        self.dut.on_detection = self.board.ww_detected
        self.dut.on_processing = self.board.processing_edge
        self.dut.boot()
        self.host.take()

    def ask(self, command: bytes) -> bytes:
        self.board.from_host(command)
        return self.host.take()

    def stream(self, name: str) -> bytes:
        self.ask(b"dut start%")
        self.ask(b"record_detections%")
        played = self.ask(f"play {name}%".encode())
        self.ask(b"dut stop%")
        return played

    def detections(self) -> list[int]:
        return parse_detections(self.ask(b"print_detections%").decode().split("\r\n")[:-2])

    def dutycycle(self) -> tuple[list[int], list[int]]:
        lines = self.ask(b"print_dutycycle%").decode().split("\r\n")[:-1]
        return parse_dutycycle([line.removesuffix("m-ready") for line in lines])


@pytest.fixture
def card(tmp_path):
    folder = tmp_path / "sd"
    folder.mkdir()
    write_wav(folder / "two_s.wav", 2.0)
    return folder


def test_the_board_prints_detections_and_duty_cycle_as_interface_menu_does(card):
    bench = Bench(card, outputs=[-128] * 10 + [120, 120, -128, 127])
    assert bench.ask(b"record_detections%") == b"Now recording detections\r\n" + READY
    assert bench.stream("two_s.wav") == b"Attempting to play two_s.wav\nsucceeded.\n" + READY
    detections = bench.ask(b"print_detections%")
    # the sync mark, then frames 10 and 11 (32 ms apart, both kept) and 13
    assert detections == b"Detection Timestamps (ms)\r\n49,\r\n369,\r\n401,\r\n465,\r\n" + READY
    reply = bench.ask(b"print_dutycycle%")
    starts = [3200 * (i + 1) for i in range(62)]  # 2 s: 62 whole blocks, the first 32 ms after play
    stops = [start + 1793 for start in starts]  # 17 939.8 µs in whole 10 µs ticks
    rows = [", ".join(map(str, values[i:i + 8])) + ", " for values in (starts, stops) for i in range(0, 62, 8)]
    assert reply == ("Duty cycle start times (s)\r\n" + "\r\n".join(rows[:8]) + "\r\n"
                     "Duty cycle stop times (s)\r\n" + "\r\n".join(rows[8:]) + "m-ready\r\n").encode()
    play = next(note["sww_play"] for note in bench.notes if "sww_play" in note)
    record = [note["sww_board"] for note in bench.notes if "sww_board" in note][-1]  # the last restart
    # the half block at the end plays while the last whole one is processed
    assert play["blocks"] == 62 and play["end_us"] - play["start_us"] == pytest.approx(62 * 32_000 + PROCESSING_US)
    stream = bench.notes[-1]["sww_stream"]
    assert [int((t - record["record_detections_us"]) // 10) // 100 for t in stream["detections_us"]] == [
        49, 369, 401, 465]


def test_the_board_keeps_the_first_100_edges_and_drops_detections_within_10_ms(card):
    write_wav(card / "six_s.wav", 6.0)
    bench = Bench(card)
    bench.ask(b"dut start%")
    bench.ask(b"record_detections%")
    for ms in (5, 7, 30, 40, 51):  # 40 is 10 ms after 30: dropped
        bench.board.ww_detected(bench.board._timer_zero_us + ms * 1000)
    # the C keeps `last < now - 10` in uint32: within the first 10 ms everything is kept (a list
    # the host refuses, which a real stream never makes: its sync mark comes 32 ms into it)
    assert bench.ask(b"print_detections%") == b"Detection Timestamps (ms)\r\n5,\r\n7,\r\n30,\r\n51,\r\n" + READY
    bench.ask(b"play six_s.wav%")
    starts, stops = bench.dutycycle()
    assert len(starts) == len(stops) == 100


def test_board_faults(card):
    bench = Bench(card, board_faults=BoardFaults(detect_wire_open=True))
    bench.stream("two_s.wav")
    assert bench.detections() == []
    assert len(bench.dutycycle()[0]) == 62
    bench = Bench(card, board_faults=BoardFaults(duty_unequal=True))
    bench.stream("two_s.wav")
    starts, stops = bench.dutycycle()
    assert (len(starts), len(stops)) == (62, 61)
    bench = Bench(card, board_faults=BoardFaults(play_hangs=True))
    bench.ask(b"dut start%")
    assert bench.ask(b"play two_s.wav%") == b"Attempting to play two_s.wav\n"
    assert bench.ask(b"name%") == b"" and bench.dut.model.runs == 0
    bench = Bench(card, board_faults=BoardFaults(no_reboot=True))
    assert bench.ask(b"setbaud 9600%") == b"set baud to: 9600\n" + READY
    assert bench.ask(b"name%") == b"" and bench.ask(b"dut name%") == b""


def test_a_dut_that_ignores_start_gives_no_sync_detection(card):
    bench = Bench(card, dut_faults=StreamFaults(ignore_start=True))
    bench.stream("two_s.wav")
    assert bench.detections() == [] and bench.dutycycle() == ([], [])


def test_ls_lists_the_plain_files_of_the_card_only(card, tmp_path):
    (card / "sub").mkdir()
    (card / ".hidden.wav").write_bytes(b"")
    (card / "README.txt").write_text("x")
    outside = write_wav(tmp_path / "outside.wav", 0.1)
    (card / "link_out.wav").symlink_to(outside)
    (card / "link_in.wav").symlink_to(card / "two_s.wav")
    assert Bench(card).ask(b"ls%") == b"README.txt\r\nlink_in.wav\r\ntwo_s.wav\r\n" + READY
    assert Bench(tmp_path / "missing").ask(b"ls%") == READY
    unwired = Bench(card, wired=False)  # the bench of another benchmark: an empty card
    assert unwired.ask(b"ls%") == READY
    assert unwired.ask(b"print_detections%") == b"Detection Timestamps (ms)\r\n" + READY
    assert unwired.ask(b"print_dutycycle%") == (b"Duty cycle start times (s)\r\n\r\nDuty cycle stop times (s)\r\n"
                                                + READY)
    assert unwired.ask(b"play two_s.wav%") == (b"Attempting to play two_s.wav\nError playing file. Check that the file "
                                               b"exists and is a 2-channel wav file.\n" + READY)


def test_play_refuses_names_outside_the_card_without_opening_them(card, tmp_path, monkeypatch):
    write_wav(tmp_path / "outside.wav", 0.1)
    (card / "link_out.wav").symlink_to(tmp_path / "outside.wav")
    write_wav(card / "mono.wav", 0.1, channels=1)
    write_wav(card / "8khz.wav", 0.1, rate=8000)
    write_wav(card / "8bit.wav", 0.1, width=1)
    (card / "short.wav").write_bytes(b"RIFF\0\0\0\0WAVE")
    opened = []
    real_open = emulator.open_wav
    monkeypatch.setattr(emulator, "open_wav", lambda path: opened.append(path.name) or real_open(path))
    bench = Bench(card)
    error = b"Error playing file. Check that the file exists and is a 2-channel wav file.\n" + READY
    for name in ["../outside.wav", "link_out.wav", f"{tmp_path}/outside.wav", "sub/two_s.wav", "..", "gone.wav"]:
        assert bench.ask(f"play {name}%".encode()) == f"Attempting to play {name}\n".encode() + error, name
    assert opened == []
    assert bench.ask(b"play%") == b"Attempting to play @0x08080000\n" + error  # no name: the board's flash
    for name in ["mono.wav", "8khz.wav", "8bit.wav", "short.wav"]:
        assert bench.ask(f"play {name}%".encode()).endswith(error), name
    assert opened == ["mono.wav", "8khz.wav", "8bit.wav", "short.wav"]


def test_the_streaming_activities_have_their_own_currents():
    power = {"boot_ma": 12.0, "idle_ma": 7.5, "uart_ma": 9.0, "compute_ma": 22.688}
    profile = PowerProfile.from_ma(power, {"listening_ma": 2.0, "processing_ma": 13.667})
    assert (profile.current("listening"), profile.current("processing")) == (0.002, 0.013667)
    with pytest.raises(ValueError, match="no listening current"):
        PowerProfile.from_ma(power).current("listening")
    clock = FakeClock()
    physics = Physics(profile, clock)
    physics.set_voltage(3.0, 0)
    physics.set_power(True, 0)
    physics.rest("listening", 0)
    physics.activity(1000, 2000, "processing")
    assert physics.energy_at([3000])[0] == pytest.approx(3.0 * (0.002 * 2000 + 0.013667 * 1000) * 1e-6)


# -- start_lab ---------------------------------------------------------------------------------
def stream_request(board, mode="energy", sd_folder=SWW):
    model = SimpleNamespace(path=SWW / "str_ww_ref_model.tflite")
    return SimpleNamespace(board=board, benchmark=get_benchmark("sww01"), model=model, model_dir=None, mode=mode,
                           baud=9600, voltage_mv=3000, sd_folder=sd_folder)


def test_start_lab_needs_the_sww_table_the_folder_and_known_faults(tmp_path):
    board = load_board("virtual-l4r5zi")
    plain = Board(board.name, board.path, {**board.data, "simulation": {
        k: v for k, v in board.simulation.items() if k != "sww"}})
    settings = lab_start.LabSettings()
    with pytest.raises(BoardError, match=r"need \[simulation.sww\] with processing_us"):
        lab_start.start_lab(stream_request(plain), settings, tmp_path, print, None)
    with pytest.raises(BoardError, match="needs the stream's folder"):
        lab_start.start_lab(stream_request(board, sd_folder=None), settings, tmp_path, print, None)
    with pytest.raises(ValueError, match="'silent_after'"):
        lab_start.start_lab(stream_request(board), lab_start.LabSettings(faults={"silent_after": 1}), tmp_path,
                            print, None)


def test_start_lab_records_what_it_modelled(tmp_path, monkeypatch):
    started = []
    monkeypatch.setattr(lab_start, "VirtualBench", lambda config, log: started.append(config) or "lab")
    board = load_board("virtual-l4r5zi")
    settings = lab_start.LabSettings(faults={"ignore_stop": True, "duty_unequal": True})
    lab, record = lab_start.start_lab(stream_request(board, mode="performance"), settings, tmp_path, print, None)
    config = started[0]
    assert (config.wiring, config.mode, config.sd_folder) == ("stream", "energy", str(SWW))
    assert (config.faults, config.board_faults) == ({"ignore_stop": True}, {"duty_unequal": True})
    assert record["stream"]["processing_us"] == PROCESSING_US and record["sd_folder"] == str(SWW)
    assert record["stream"]["calibrated_from"].startswith("v1.3 STMicroelectronics NUCLEO_L4R5ZI-P")
    lab_start.start_lab(stream_request(board), lab_start.LabSettings(), tmp_path, print, None)
    assert started[1].wiring == "energy" and started[1].sww["listening_ma"] == 2.0


# -- the real model, in the virtual bench process ----------------------------------------------
@pytest.fixture(scope="module")
def streamed(tmp_path_factory):
    """One 10-s stream through the bring-up bench's pty, as the official runner's sequence does it."""
    run = tmp_path_factory.mktemp("sww-run")
    board = load_board("virtual-l4r5zi")
    config = BenchConfig(benchmark_id="sww01", model_path=str(SWW / "str_ww_ref_model.tflite"), inference_us=0.0,
                         mode="energy", baud=9600, speed=1000.0, boot_us=20_000, wiring="stream",
                         sww=dict(board.simulation["sww"]), sd_folder=str(SWW), truth_path=str(run / "truth.jsonl"))
    with VirtualBench(config, run / "virtual-lab.log") as lab:
        assert list(lab.ports) == ["relay"]
        with Link(lab.ports["relay"], 115200) as link:
            relay = HostInterfaceBoard(link)
            dut = DutClient(relay.dut_link(), command_timeout_s=20)
            lab.power_on()
            banner = dut.read_banner(5.0)
            got = {"banner": banner.lines, "board": relay.identify(), "files": relay.list_files(),
                   "profile": dut.profile()}
            dut.transact("stop")
            got["start"] = dut.transact("start")
            relay.record_detections()
            relay.play(SHORT_WAV, timeout_s=20)
            time.sleep(0.01)
            got["stop"] = dut.transact("stop")
            got["detections"] = relay.print_detections()
            got["dutycycle"] = relay.print_dutycycle()
    got["stats"] = lab.stats
    got["truth"] = [json.loads(line) for line in (run / "truth.jsonl").read_text().splitlines()]
    return got


def test_the_bring_up_bench_answers_through_its_pty(streamed):
    assert streamed["banner"] == ["m-timestamp-mode-energy", "m-init-done"]
    assert streamed["board"] == "tinyML Enhanced Interface Board"
    assert SHORT_WAV in streamed["files"] and "str_ww_ref_model.tflite" in streamed["files"]
    assert streamed["profile"][1] == "sww01"
    assert streamed["start"] == ["Listening for I2S data ... ", "DMA receive initiated."]
    assert streamed["stats"] == {"inferences_run": 312}


def test_the_short_stream_finds_the_first_two_occurrences_against_the_truth(streamed):
    sync, *found = streamed["detections"]
    relative_s = [(ms - sync) / 1000 for ms in found]
    stream, = load_truth(SWW / "sww_short_test.json")
    score = score_detections([0] + [ms - sync for ms in found], list(stream.windows))
    assert (score.true_positives, score.false_negatives, score.false_positives) == ([1.0, 4.0], [7.0], [])
    assert not any(6.9 <= t <= 9.0 for t in relative_s)  # the third one peaks at 100, under 115
    truth = next(note["sww_stream"] for note in streamed["truth"] if "sww_stream" in note)
    zero = next(note["sww_board"]["record_detections_us"] for note in streamed["truth"] if "sww_board" in note)
    assert streamed["detections"] == [int((t - zero) // 10) // 100 for t in truth["detections_us"]]
    fired = [i for i, value in enumerate(truth["activations"]) if value > 115]
    assert [round(t * 1000) for t in relative_s] == pytest.approx([i * 32 for i in fired], abs=1)


def test_the_duty_cycle_is_the_frame_period_and_the_modelled_processing_time(streamed):
    starts, stops = streamed["dutycycle"]
    assert len(starts) == len(stops) == 100
    assert np.mean(np.diff(starts)) * 10 / 1000 == pytest.approx(32.000, abs=0.01)
    assert np.mean(np.subtract(stops, starts)) * 10 == pytest.approx(PROCESSING_US, abs=10)


def test_stop_prints_one_activation_per_frame_played(streamed):
    head, label, *rows = streamed["stop"]
    assert (head, label) == ("Streaming stopped.", "target activations: ")
    assert rows[0].startswith("[") and rows[-1] == "]" and rows[-2].endswith("  ")
    values = [int(v) for v in " ".join(rows)[1:-1].replace(",", " ").split()]
    truth = next(note["sww_stream"] for note in streamed["truth"] if "sww_stream" in note)
    assert len(values) == truth["frames"] == 312 and values == truth["activations"]
    assert all(len(row.split(",")) == 17 for row in rows[1:-3])  # 16 values to a line


def test_the_virtual_lab_hands_back_the_board_and_in_energy_mode_the_monitor(tmp_path, monkeypatch):
    class Started:
        stats, banner_on_power_on, ports = {}, True, {"relay": "/dev/pts/7", "monitor": "/dev/pts/8"}

        def power_on(self):
            pass

    monkeypatch.setattr(lab_start, "start_lab", lambda req, settings, run, log, progress: (Started(), {}))
    board = load_board("virtual-l4r5zi")
    bench = lab_start.VirtualLab().open(stream_request(board, mode="performance"), tmp_path, print, None)
    assert (bench.dut, bench.monitor, bench.relay.spec) == (None, None, "ifboard:/dev/pts/7")
    assert "playing" in bench.description and str(SWW) in bench.description
    request = SimpleNamespace(**vars(stream_request(board)), monitor_rate_hz=None)
    bench = lab_start.VirtualLab().open(request, tmp_path, print, None)
    assert (bench.dut, bench.relay.spec, bench.monitor.spec) == (None, "ifboard:/dev/pts/7", "lpm01a:/dev/pts/8")
