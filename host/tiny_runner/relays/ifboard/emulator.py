"""The MLCommons interface board (STM32H573I-DK), emulated (tiny_protocol.md §4.1).

Host side: commands end with `%`; replies are lines ending in `m-ready`. A command matches a
keyword when it equals it or continues with a space; a keyword run into other characters
(`names`) gets no reply at all, an unknown command only `m-ready`. `dut <cmd>` answers
`m-dut-passthrough(<cmd>)`, `m-ready`, sends `<cmd>%` to the DUT at the stored DUT-side baud,
and forwards each DUT line (split on exact CR LF) as `[dut]: <line>`. DUT output outside a
`dut` command (the boot banner after power-on) is forwarded the same way, as the EEMBC IO
manager does. The stored DUT-side baud survives `setbaud` (which resets the board); a baud
that differs from the DUT's garbles both directions, as on a real wire.

The host side is not paced: at 115200 it is an order of magnitude faster than the 9600-baud
DUT side that dominates every exchange.

The streaming commands (sww01) follow InterfaceMenu.cpp and DeviceUnderTest.cpp. Given a
`StreamWiring` (the bench's clock, the streaming DUT, the folder its SD card holds), `play`
plays a WAV file of that folder into the DUT in virtual time, one 512-frame stereo DMA block
every 32 ms; the DUT's WW_DETECTED and PROCESSING pins reach `ww_detected` and
`processing_edge`, timed like the board's 10 µs TIM2 from `record_detections` on. Without
one (the benches of the other benchmarks) the board answers as with an empty SD card.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Protocol

import numpy as np

from ..emulation import EmulatedPassThrough
from .driver import NAME as BOARD_NAME
from .streaming import DETECTIONS_HEADER, MAX_DETECTIONS, MAX_DUTY_FRAMES, STARTS_HEADER, STOPS_HEADER

KEYWORDS = ("dut", "name", "ls", "play", "setbaud", "checkbaud", "record_detections", "print_detections",
            "print_dutycycle")


PLAY_ERROR = "Error playing file. Check that the file exists and is a 2-channel wav file.\n"
# `play` with no name plays from the board's flash (FileSystem::OpenFile's MemoryReader), which
# holds no WAV file here
FLASH_SOURCE = "@0x08080000"
SAMPLE_RATE = 16_000
BLOCK_FRAMES = 512  # the DUT's I2S DMA block: one feature frame
BLOCK_BYTES = BLOCK_FRAMES * 4  # stereo int16
BLOCK_US = BLOCK_FRAMES * 1e6 / SAMPLE_RATE  # 32 ms
TICK_US = 10  # TIM2 counts 10 µs
TICKS_PER_MS = 100
TIMER_WRAP = 1 << 32
DETECTION_GAP_MS = 10  # RecordDetection keeps a detection only more than 10 ms after the last one
WAV_HEADER_BYTES = 44


@dataclass
class BoardFaults:
    """Ways the interface board misbehaves, for tests and drills."""

    play_hangs: bool = False  # `play` prints `Attempting to play` and never finishes (the board hangs)
    no_reboot: bool = False  # after `setbaud` the board never comes back: nothing is answered again
    detect_wire_open: bool = False  # the WW_DETECTED wire is open: no detection is recorded
    duty_unequal: bool = False  # the last PROCESSING falling edge is lost: the two lists differ in length

    @classmethod
    def from_dict(cls, data: dict) -> "BoardFaults":
        return cls(**data)


class StreamingDut(Protocol):
    listening_activity: str  # what the DUT spends the time between blocks as

    def i2s_frame(self, stereo: np.ndarray) -> None: ...


@dataclass
class StreamWiring:
    """What the board needs to stream: the bench's clock, the DUT on its I2S, its SD card."""

    clock: object  # spend(us, activity), now_exact_us()
    dut: StreamingDut
    sd_folder: Path | None
    note: Callable[[dict], None] = lambda record: None  # the bench's ground truth (Physics.note)


class InterfaceBoard(EmulatedPassThrough):
    def __init__(self, host_port, to_dut, *, dut_baud: int = 9600, firmware_baud: int = 9600,
                 streaming: StreamWiring | None = None, faults: BoardFaults | None = None):
        self.host_port = host_port  # has write(bytes)
        self.to_dut = to_dut  # callable(bytes): the bytes the DUT receives
        self.dut_baud = dut_baud  # stored in the board's flash
        self.firmware_baud = firmware_baud  # what the DUT actually runs at
        self.streaming = streaming
        self.faults = faults or BoardFaults()
        self._command = bytearray()
        self._dut_line = bytearray()
        self.resets = 0
        self.hung = False  # a board that hung answers nothing more
        self._timer_zero_us: float | None = None  # virtual time of record_detections
        self._detections: list[int] = []
        self._rising: list[int] = []
        self._falling: list[int] = []

    # -- host side -----------------------------------------------------------------------------
    def _reply(self, text: str) -> None:
        self.host_port.write(text.encode("latin-1"))

    def from_dut(self, data: bytes) -> None:
        if not self.hung:  # forwarding DUT lines is the board's CLI thread's work
            super().from_dut(data)

    def _dispatch(self, text: str) -> None:
        if self.hung:
            return
        keyword = next((k for k in KEYWORDS if text == k or text.startswith(k + " ")), None)
        if keyword is None:
            if any(text.startswith(k) for k in KEYWORDS):
                return  # a keyword run into other characters: the board stays silent
            self._reply("m-ready\r\n")
            return
        argument = text[len(keyword) + 1:]
        if keyword == "dut":
            self._reply(f"m-dut-passthrough({argument})\r\nm-ready\r\n")
            self._send_to_dut((argument + "%").encode("latin-1"))
        elif keyword == "name":
            self._reply(f"{BOARD_NAME}\r\nm-ready\r\n")
        elif keyword == "setbaud":
            baud = int(argument) if argument.strip().isdigit() else 0
            self._reply(f"set baud to: {baud}\nm-ready\r\n")
            if 1 <= baud <= 2_000_000:
                self.dut_baud = baud
            self.resets += 1  # the real board writes flash and reboots
            self.hung = self.faults.no_reboot
        elif keyword == "checkbaud":
            self._reply(f"baud is: {self.dut_baud}\nm-ready\r\n")
        elif keyword == "ls":
            names = "".join(f"{name}\r\n" for name in self._sd_files())
            self._reply(names + "m-ready\r\n")
        elif keyword == "play":
            self._play(argument)
        elif keyword == "record_detections":
            self._record_detections()
        elif keyword == "print_detections":
            self._reply(f"{DETECTIONS_HEADER}\r\n" + "".join(f"{ms},\r\n" for ms in self._detections)
                        + "m-ready\r\n")
        else:
            self._print_dutycycle()

    # -- the SD card -----------------------------------------------------------------------------
    def _sd_root(self) -> Path | None:
        folder = self.streaming.sd_folder if self.streaming else None
        return Path(folder).resolve() if folder is not None and Path(folder).is_dir() else None

    def _sd_file(self, name: str) -> Path | None:
        """The card's file `name`: a plain file of its one folder, never anything outside it."""
        root = self._sd_root()
        if root is None or not name or any(c in name for c in "/\\\0") or name in (".", ".."):
            return None
        path = (root / name).resolve()  # a symlink is followed: it must stay in the folder
        return path if path.parent == root and path.is_file() else None

    def _sd_files(self) -> list[str]:
        """What `ls` lists: the folder's plain files (FileX hides directories and hidden files)."""
        root = self._sd_root()
        try:
            entries = list(root.iterdir()) if root else []
        except OSError:
            return []  # an unreadable card lists nothing
        return sorted(entry.name for entry in entries
                      if not entry.name.startswith(".") and entry.name.isascii() and self._sd_file(entry.name))

    # -- streaming -------------------------------------------------------------------------------
    def _play(self, name: str) -> None:
        """InterfaceMenu::Play: the name, then the whole file into the DUT, then the outcome."""
        self._reply(f"Attempting to play {name or FLASH_SOURCE}\n")
        if self.faults.play_hangs:
            self.hung = True
            return
        path = self._sd_file(name)
        wav = open_wav(path) if path else None
        if wav is None:
            self._reply(PLAY_ERROR + "m-ready\r\n")
            return
        with wav:
            blocks = self._stream(wav)
        self.streaming.note({"sww_play": {"file": name, **blocks}})
        self._reply("succeeded.\nm-ready\r\n")

    def _stream(self, wav) -> dict:
        """Each block goes to the DUT when its DMA transfer completes, 32 ms after the last."""
        clock, dut = self.streaming.clock, self.streaming.dut
        start = clock.now_exact_us()
        blocks = 0
        while True:
            data = wav.read(BLOCK_BYTES)
            due = start + (blocks + len(data) / BLOCK_BYTES) * BLOCK_US
            clock.spend(due - clock.now_exact_us(), dut.listening_activity)
            if len(data) < BLOCK_BYTES:
                break  # the tail of the file plays, but the DUT's DMA block never completes
            dut.i2s_frame(np.frombuffer(data, "<i2").reshape(BLOCK_FRAMES, 2))
            blocks += 1
        return {"start_us": start, "end_us": clock.now_exact_us(), "blocks": blocks}

    def _record_detections(self) -> None:
        """InterfaceMenu::RecordDetections: TIM2 to 0, both buffers cleared."""
        self._timer_zero_us = self.streaming.clock.now_exact_us() if self.streaming else 0.0
        self._detections.clear()
        self._rising.clear()
        self._falling.clear()
        if self.streaming:
            self.streaming.note({"sww_board": {"record_detections_us": self._timer_zero_us}})
        self._reply("Now recording detections\r\nm-ready\r\n")

    def _ticks(self, t_us: float) -> int:
        return int((t_us - self._timer_zero_us) // TICK_US) % TIMER_WRAP

    def ww_detected(self, t_us: float) -> None:
        """DeviceUnderTest::RecordDetection, on the WW_DETECTED falling edge."""
        if self._timer_zero_us is None or self.faults.detect_wire_open:
            return
        now_ms = self._ticks(t_us) // TICKS_PER_MS
        last = self._detections[-1] if self._detections else None
        # `last < now - 10` in uint32 (true in the first 10 ms), or the timer rolled over
        if len(self._detections) < MAX_DETECTIONS and (
                last is None or last < (now_ms - DETECTION_GAP_MS) % TIMER_WRAP or last > now_ms):
            self._detections.append(now_ms)

    def processing_edge(self, level: int, t_us: float) -> None:
        """RecordDutycycleStart / RecordDutycycleStop, on the PROCESSING pin's edges."""
        if self._timer_zero_us is None:
            return
        edges = self._rising if level else self._falling
        if len(edges) < MAX_DUTY_FRAMES:
            edges.append(self._ticks(t_us))

    def _print_dutycycle(self) -> None:
        """InterfaceMenu::PrintDutycycle: eight `N, ` to a line; no line end before m-ready."""
        falling = self._falling[:-1] if self.faults.duty_unequal else self._falling
        self._reply(f"{STARTS_HEADER}\r\n" + _tick_rows(self._rising) + f"\r\n{STOPS_HEADER}\r\n"
                    + _tick_rows(falling) + "m-ready\r\n")

    # -- DUT side ------------------------------------------------------------------------------
    def _rates_match(self) -> bool:
        return self.dut_baud == self.firmware_baud


def _tick_rows(ticks: list[int]) -> str:
    return "".join(f"{tick}, " + ("\r\n" if (i + 1) % 8 == 0 else "") for i, tick in enumerate(ticks))


class _WavData:
    """A WAV file's sample data, read block by block (a 1200-s stream is 77 MB)."""

    def __init__(self, file):
        self._file = file

    def read(self, size: int) -> bytes:
        return self._file.read(size)

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self._file.close()


def open_wav(path: Path) -> _WavData | None:
    """The sample data of a 2-channel 16-bit 16 kHz WAV, header laid out as WaveSource::Open
    reads it (RIFF, a 16-byte fmt chunk, then data); None if it is not one. The board plays to
    the end of the file, past the data chunk's stated size, as WaveSink::IndirectPlay does."""
    try:
        file = open(path, "rb")
    except OSError:
        return None
    header = file.read(WAV_HEADER_BYTES)
    fields_ok = (len(header) == WAV_HEADER_BYTES and header[0:4] == b"RIFF" and header[8:16] == b"WAVEfmt "
                 and header[36:40] == b"data")
    channels, rate, bits = (int.from_bytes(header[22:24], "little"), int.from_bytes(header[24:28], "little"),
                            int.from_bytes(header[34:36], "little")) if fields_ok else (0, 0, 0)
    if (channels, rate, bits) != (2, SAMPLE_RATE, 16):
        file.close()
        return None
    return _WavData(file)
