"""`tiny-runner flash` with images far larger than any flash: refused from the file's size or
headers before the data is read, quickly and in little memory. Each runs the CLI in a child
process whose address space is capped, and whose peak memory is measured."""

from __future__ import annotations

import os
import resource
import struct
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

GiB = 1 << 30
HUGE = 3 * GiB
BOARD, FLASH_BASE, FLASH_BYTES = "nucleo-l4r5zi", 0x0800_0000, 2_097_152
REGION = f"{BOARD}'s flash 0x08000000-0x081fffff (2,097,152 bytes)"
ADDRESS_SPACE = 1536 << 20  # the child may not map more than this: reading a 3 GiB file whole would fail
MAX_RSS_MB = 500
MAX_SECONDS = 30


@dataclass
class Child:
    code: int
    stdout: str
    stderr: str
    max_rss_mb: float
    seconds: float


def flash_in_child(tmp_path: Path, *args: str) -> Child:
    out, err = tmp_path / "stdout", tmp_path / "stderr"

    def cap_memory() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (ADDRESS_SPACE, ADDRESS_SPACE))

    start = time.monotonic()
    with open(out, "w") as stdout, open(err, "w") as stderr:
        proc = subprocess.Popen([sys.executable, "-m", "tiny_runner", "flash", *args], stdout=stdout, stderr=stderr,
                                preexec_fn=cap_memory)
    while True:  # wait4: this child's own peak memory, not every child's of the test run
        pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            break
        if time.monotonic() - start > 120:
            proc.kill()
            pytest.fail("flash did not finish in 120 s")
        time.sleep(0.05)
    proc.returncode = os.waitstatus_to_exitcode(status)
    return Child(proc.returncode, out.read_text(), err.read_text(), usage.ru_maxrss / 1024, time.monotonic() - start)


def assert_refused_lightly(child: Child, code: int, *fragments: str) -> None:
    assert child.code == code, (child.code, child.stderr)
    assert "Traceback" not in child.stderr and "MemoryError" not in child.stderr
    lines = [line for line in child.stderr.splitlines() if line.startswith("tiny-runner: error:")]
    assert len(lines) == 1, child.stderr
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])
    assert child.stdout == ""
    assert child.max_rss_mb < MAX_RSS_MB, child.max_rss_mb
    assert child.seconds < MAX_SECONDS, child.seconds


def sparse(path: Path, size: int, head: bytes = b"") -> Path:
    """A file of `size` bytes that takes no disk: `head`, then a hole."""
    with open(path, "wb") as f:
        f.write(head)
        f.truncate(size)
    return path


def elf_claiming(path: Path, filesz: int, paddr: int = FLASH_BASE) -> Path:
    """A minimal ARM ELF whose one loadable segment says it holds `filesz` bytes at `paddr`,
    the file as long as that (sparse)."""
    header = struct.pack("<4sBBBB8sHHIIIIIHHHHHH", b"\x7fELF", 1, 1, 1, 0, bytes(8), 2, 40, 1, paddr | 1, 52, 0,
                         0x0500_0200, 52, 32, 1, 40, 0, 0)
    program_header = struct.pack("<IIIIIIII", 1, 0x1000, paddr, paddr, filesz, filesz, 5, 0x1000)
    return sparse(path, 0x1000 + filesz, header + program_header)


@pytest.fixture
def big(tmp_path) -> Path:
    folder = tmp_path / "images"
    folder.mkdir()
    yield folder
    for path in folder.iterdir():
        path.unlink()


def test_a_3_gib_raw_binary(tmp_path, big):
    image = sparse(big / "huge.bin", HUGE)
    child = flash_in_child(tmp_path, "--board", BOARD, str(image))
    assert_refused_lightly(child, 25, f"{image}: 3,221,225,472 bytes do not fit {REGION}")


def test_a_raw_binary_that_fits_the_flash_but_not_at_its_base_address(tmp_path, big):
    image = sparse(big / "app.bin", 1 << 20)
    child = flash_in_child(tmp_path, "--board", BOARD, str(image), "--base-address", "0x08180000")
    assert_refused_lightly(child, 25, f"{image}: writes 0x08180000-0x0827ffff, outside {REGION}")


def test_a_3_gib_raw_binary_named_by_format_only(tmp_path, big):
    image = sparse(big / "huge.img", HUGE)
    child = flash_in_child(tmp_path, "--board", BOARD, "--format", "bin", str(image))
    assert_refused_lightly(child, 25, "3,221,225,472 bytes do not fit")


def test_a_3_gib_file_of_unknown_format(tmp_path, big):
    """Only its first bytes are read to tell the format."""
    image = sparse(big / "huge.img", HUGE)
    child = flash_in_child(tmp_path, "--board", BOARD, str(image))
    assert_refused_lightly(child, 24, f"{image}: cannot tell the image format from its name")


def test_a_3_gib_intel_hex_file(tmp_path, big):
    image = sparse(big / "huge.hex", HUGE, b":020000040800F2\n")
    child = flash_in_child(tmp_path, "--board", BOARD, str(image))
    assert_refused_lightly(child, 25, f"{image}: a 3,221,225,472-byte Intel HEX file is too large to be an image for "
                                      f"{REGION}")


def test_a_hex_file_just_over_the_bound_is_refused_before_parsing(tmp_path, big):
    """The bound is 4 characters per flash byte plus 64 KiB: one byte more is refused unparsed
    (the content is not even HEX), one byte less is parsed (and found not HEX)."""
    bound = 4 * FLASH_BYTES + 64 * 1024
    over = sparse(big / "over.hex", bound + 1, b"not hex\n")
    assert_refused_lightly(flash_in_child(tmp_path, "--board", BOARD, str(over)), 25,
                           f"{over}: a 8,454,145-byte Intel HEX file is too large")
    under = sparse(big / "under.hex", bound, b"not hex\n")
    assert_refused_lightly(flash_in_child(tmp_path, "--board", BOARD, str(under)), 24,
                           f"{under}: not a valid Intel HEX file")


def test_a_3_gib_elf_segment(tmp_path, big):
    image = elf_claiming(big / "huge.elf", HUGE)
    child = flash_in_child(tmp_path, "--board", BOARD, str(image))
    assert_refused_lightly(child, 25, f"{image}: 3,221,225,472 bytes do not fit {REGION}")


def test_a_large_elf_segment_outside_the_flash(tmp_path, big):
    """1 GiB at RAM's address: the header alone says it is outside the flash (and too big)."""
    image = elf_claiming(big / "ram.elf", GiB, paddr=0x2000_0000)
    child = flash_in_child(tmp_path, "--board", BOARD, str(image))
    assert_refused_lightly(child, 25, f"{image}: 1,073,741,824 bytes do not fit {REGION}")


def test_an_elf_segment_outside_the_flash_from_its_header(tmp_path, big):
    image = elf_claiming(big / "ram.elf", 256 << 10, paddr=0x2000_0000)
    child = flash_in_child(tmp_path, "--board", BOARD, str(image))
    assert_refused_lightly(child, 25, f"{image}: writes 0x20000000-0x2003ffff, outside {REGION}; is the image linked "
                                      "for this board?")


def test_a_3_gib_elf_on_the_qemu_board(tmp_path, big):
    image = elf_claiming(big / "huge.elf", HUGE, paddr=0)
    child = flash_in_child(tmp_path, "--board", "qemu-m4", str(image))
    assert_refused_lightly(child, 25, f"{image}: 3,221,225,472 bytes do not fit qemu-m4's flash 0x00000000-0x003fffff "
                                      "(4,194,304 bytes)")


def test_a_3_gib_raw_binary_on_the_native_board(tmp_path, big):
    image = sparse(big / "huge.bin", HUGE)
    child = flash_in_child(tmp_path, "--board", "native-posix", str(image), "--base-address", "0")
    assert_refused_lightly(child, 25, "3,221,225,472 bytes do not fit native-posix's flash")
