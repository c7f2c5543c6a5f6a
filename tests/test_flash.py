"""`tiny-runner flash`: images read the same from ELF, HEX and BIN, checked against the board's
flash before any probe is touched, then programmed through pyocd's API (a fake chip behind
pyocd's interface, failing with pyocd's exceptions), verified by read-back, reset."""

from __future__ import annotations

import hashlib
import json
import subprocess
import zipfile

import pytest

from conftest import CliResult, assert_one_line_error, require_tools
from support.pyocd_api import FakeChip, FakeProbe, make_api
from tiny_runner.cli import main
from tiny_runner.image import flash
from tiny_runner.image.files import read_image

BASE = 0x0800_0000
PROGRAM = r"""
const unsigned char table[700] = {1, 2, 3, 4, 5, 6, 7, 8, [699] = 0xA5};
unsigned int counter = 0x12345678u;  /* .data: lives in RAM, loaded from flash */
unsigned int zeroed[64];             /* .bss: not in the image */
void _start(void) { for (;;) { counter += table[counter & 7] + zeroed[counter & 63]; } }
"""
LINKER = """
MEMORY { FLASH (rx) : ORIGIN = 0x08000000, LENGTH = 64K  RAM (rwx) : ORIGIN = 0x20000000, LENGTH = 16K }
SECTIONS {
  .text : { *(.text*) *(.rodata*) } > FLASH
  .data : { *(.data*) } > RAM AT > FLASH
  .bss : { *(.bss*) *(COMMON) } > RAM
}
"""
PDSC = """<?xml version="1.0" encoding="UTF-8"?>
<package schemaVersion="1.7.7">
  <vendor>Acme</vendor><name>X1_DFP</name><description>Acme X1</description>
  <devices>
    <family Dfamily="X1 Series" Dvendor="Acme:1">
      <processor Dcore="Cortex-M4" Dfpu="SP_FPU" Dendian="Little-endian"/>
      <device Dname="{device}">
        <memory id="IROM1" start="0x08000000" size="0x00010000" startup="1" default="1"/>
        <memory id="IRAM1" start="0x20000000" size="0x00004000" default="1"/>
      </device>
    </family>
  </devices>
</package>"""


def board_text(name: str, *, flash_bytes: int = 65_536, target: str = "acmex1zitx", needs_pack: bool = True) -> str:
    pack = 'pack = "Acme.X1_DFP"\n' if needs_pack else ""
    return (f'name = "{name}"\nvendor = "Acme"\nmcu = "ACMEX1ZIT6"\ncore = "Cortex-M4F"\nclock_hz = 80_000_000\n'
            f'flash_base = {BASE:#x}\nflash_bytes = {flash_bytes}\nram_bytes = 16_384\nsources = ["Acme X1 manual"]\n'
            f'[programming]\nprobe = "ST-LINK/V3"\npyocd_target = "{target}"\nneeds_pack = {str(needs_pack).lower()}\n'
            f'{pack}[usb]\nvid_pid = ["0483:374E"]\n'
            '[uart]\nperformance_baud = 115_200\naccuracy_baud = 115_200\nenergy_baud = 9_600\n'
            '[timestamp]\npin = "PA5"\n[supply]\nmin_mv = 1_710\nmax_mv = 3_600\n')


@pytest.fixture
def boards(tmp_path, monkeypatch):
    folder = tmp_path / "boards"
    folder.mkdir()
    (folder / "acme-x1.toml").write_text(board_text("acme-x1"))
    (folder / "acme-x1-tiny.toml").write_text(board_text("acme-x1-tiny", flash_bytes=512))
    (folder / "acme-builtin.toml").write_text(board_text("acme-builtin", target="nrf52840", needs_pack=False))
    monkeypatch.setenv("TINY_RUNNER_BOARDS", str(folder))
    return folder


@pytest.fixture(scope="module")
def images(tmp_path_factory):
    """One program built for the Acme board's flash, as ELF, Intel HEX and raw binary."""
    require_tools("arm-none-eabi-gcc", "arm-none-eabi-objcopy")
    folder = tmp_path_factory.mktemp("image")
    (folder / "app.c").write_text(PROGRAM)
    (folder / "link.ld").write_text(LINKER)
    elf = folder / "app.elf"
    subprocess.run(["arm-none-eabi-gcc", "-mcpu=cortex-m4", "-mthumb", "-Os", "-nostdlib", "-T", "link.ld",
                    "-o", elf.name, "app.c"], cwd=folder, check=True)
    for fmt, suffix in (("ihex", ".hex"), ("binary", ".bin")):
        subprocess.run(["arm-none-eabi-objcopy", "-O", fmt, elf.name, "app" + suffix], cwd=folder, check=True)
    return {"elf": elf, "hex": folder / "app.hex", "bin": folder / "app.bin"}


def make_pack(path, device="ACMEX1ZITx"):
    with zipfile.ZipFile(path, "w") as pack:
        pack.writestr("Acme.X1_DFP.pdsc", PDSC.replace("{device}", device))
    return path


def run(capsys, *args) -> CliResult:
    code = main(list(args))
    out, err = capsys.readouterr()
    return CliResult(code, out, err)


@pytest.fixture
def bench(monkeypatch):
    """A chip with 64 KiB of flash at 0x08000000 behind one probe; pyocd knows nrf52840 built in."""
    state = {"chip": FakeChip(BASE, 65_536), "probes": [FakeProbe("0668FF485550755187121234")],
             "targets": {"nrf52840"}, "installed": ()}

    def api():
        made, state["record"] = make_api(state["chip"], state["probes"], state["targets"], state["installed"])
        return made

    monkeypatch.setattr(flash, "load_pyocd", api)
    return state


def flat(segments) -> dict[int, int]:
    return {seg.address + i: b for seg in segments for i, b in enumerate(seg.data)}


def test_elf_hex_and_bin_describe_the_same_bytes(images):
    elf, hexfile = read_image(images["elf"]), read_image(images["hex"])
    binary = read_image(images["bin"], base_address=BASE)
    assert (elf.format, hexfile.format, binary.format) == ("elf", "hex", "bin")
    assert elf.machine == "EM_ARM" and elf.segments[0].address == BASE
    assert flat(elf.segments) == flat(hexfile.segments)
    # objcopy -O binary fills gaps between sections; every byte the ELF loads is at the same offset
    data = images["bin"].read_bytes()
    assert all(data[address - BASE] == value for address, value in flat(elf.segments).items())
    # .data's initial value travels in flash (its load address), .bss does not travel at all
    assert (0x12345678).to_bytes(4, "little") in b"".join(s.data for s in elf.segments)
    assert elf.size < 700 + 4 + 200 and elf.sha256 == hashlib.sha256(images["elf"].read_bytes()).hexdigest()


@pytest.mark.parametrize("fmt", ["elf", "hex", "bin"])
def test_programs_verifies_and_resets(capsys, boards, bench, images, tmp_path, fmt):
    pack = make_pack(tmp_path / "Acme.X1_DFP.1.0.0.pack")
    result = run(capsys, "flash", "--board", "acme-x1", str(images[fmt]), "--pack", str(pack), "--json", "-q")
    assert result.code == 0, result.stderr
    report = result.json()
    chip, record = bench["chip"], bench["record"]
    expected = flat(read_image(images["elf"]).segments)
    assert all(chip.memory[address - BASE] == value for address, value in expected.items())
    assert report["verified"] and report["reset"] and chip.resets == 1 and record.closed == 1
    assert report["target_source"] == f"CMSIS pack {pack}"
    session = record.sessions[0]
    assert session.options == {"target_override": "acmex1zitx", "pack": [str(pack)]}
    assert record.loads[0][0] == "auto"


def test_progress_erase_mode_probe_choice_and_frequency(capsys, boards, bench, images):
    bench["targets"] = {"nrf52840"}
    bench["probes"].append(FakeProbe("E6614103E7", "CMSIS-DAP"))
    result = run(capsys, "flash", "--board", "acme-builtin", str(images["elf"]), "--probe", "e66141",
                 "--erase", "chip", "--frequency", "4000000", "--no-reset")
    assert result.code == 0, result.stderr
    record = bench["record"]
    assert record.sessions[0].probe.unique_id == "E6614103E7"
    assert record.sessions[0].options == {"target_override": "nrf52840", "frequency": 4_000_000}
    assert record.loads[0][0] == "chip" and bench["chip"].chip_erases == 1 and bench["chip"].resets == 0
    size = read_image(images["elf"]).size
    assert f"{size}/{size}" in result.stderr  # progress reached the end
    assert "verified by reading back, halted" in result.stdout and "built into pyocd" in result.stdout


def test_too_large_or_misplaced_images_stop_before_any_probe(capsys, boards, bench, images, tmp_path):
    result = run(capsys, "flash", "--board", "acme-x1-tiny", str(images["elf"]))
    assert_one_line_error(result, 25, "do not fit acme-x1-tiny's flash 0x08000000-0x080001ff (512 bytes)")
    assert "record" not in bench  # pyocd was never even loaded
    result = run(capsys, "flash", "--board", "acme-x1", str(images["bin"]), "--base-address", "0x20000000")
    assert_one_line_error(result, 25, "writes 0x20000000-", "outside acme-x1's flash", "linked for this board")
    assert "record" not in bench


def test_probe_problems_each_have_their_own_code(capsys, boards, bench, images):
    bench["probes"] = []
    assert_one_line_error(run(capsys, "flash", "--board", "acme-builtin", str(images["elf"])), 26,
                          "no debug probe found")
    bench["probes"] = [FakeProbe("AAA111"), FakeProbe("BBB222", "Segger J-Link")]
    assert_one_line_error(run(capsys, "flash", "--board", "acme-builtin", str(images["elf"])), 27,
                          "2 debug probes are attached", "AAA111 (STM32 STLink)", "BBB222 (Segger J-Link)", "--probe")
    assert_one_line_error(run(capsys, "flash", "--board", "acme-builtin", str(images["elf"]), "--probe", "CCC"), 26,
                          "no debug probe matches --probe CCC", "attached: AAA111")
    assert bench["record"].sessions == []  # no session was opened on a guess


def test_packs_are_checked_not_trusted(capsys, boards, bench, images, tmp_path):
    elf = str(images["elf"])
    assert_one_line_error(run(capsys, "flash", "--board", "acme-x1", elf), 28,
                          "target acmex1zitx is not built into pyocd", "Acme.X1_DFP is not installed", "--pack FILE")
    assert_one_line_error(run(capsys, "flash", "--board", "acme-x1", elf, "--pack", str(tmp_path / "no.pack")), 28,
                          "no such CMSIS pack file")
    other = make_pack(tmp_path / "other.pack", device="ACMEY2")
    assert_one_line_error(run(capsys, "flash", "--board", "acme-x1", elf, "--pack", str(other)), 28,
                          "no device acmex1zitx in the pack")
    junk = tmp_path / "junk.pack"
    junk.write_bytes(b"not a zip")
    assert_one_line_error(run(capsys, "flash", "--board", "acme-x1", elf, "--pack", str(junk)), 28,
                          "not a usable CMSIS pack", "not a zip file")
    assert bench["record"].probe_queries == []  # all of that before looking for a probe
    bench["installed"] = ("ACMEX1ZITx",)  # a pack pyocd's pack manager did install
    result = run(capsys, "flash", "--board", "acme-x1", elf, "--json", "-q")
    assert result.code == 0 and result.json()["target_source"] == "CMSIS pack installed in pyocd's pack cache"


def test_pyocd_failures_become_one_line_errors(capsys, boards, bench, images):
    from pyocd.core import exceptions

    elf = str(images["elf"])
    bench["targets"] = set()  # the board says built-in, this pyocd does not know it
    assert_one_line_error(run(capsys, "flash", "--board", "acme-builtin", elf), 28, "nrf52840")
    bench["targets"] = {"nrf52840"}
    bench["chip"].fail_on_open = exceptions.ProbeError("Unable to open CMSIS-DAP probe: LIBUSB_ERROR_ACCESS")
    assert_one_line_error(run(capsys, "flash", "--board", "acme-builtin", elf), 29,
                          "cannot connect to nrf52840 through probe 0668FF485550755187121234", "LIBUSB_ERROR_ACCESS")
    bench["chip"].fail_on_open = None
    bench["chip"].fail_on_commit = exceptions.TransferFaultError("Memory transfer fault @ 0x08000400")
    assert_one_line_error(run(capsys, "flash", "--board", "acme-builtin", elf), 29,
                          "programming acme-builtin failed", "Memory transfer fault")
    assert bench["record"].closed == 1  # the session is closed on the way out


def test_a_byte_that_reads_back_wrong_fails_verification(capsys, boards, bench, images):
    bench["chip"].corrupt_at = BASE + 0x10
    result = run(capsys, "flash", "--board", "acme-builtin", str(images["elf"]))
    line = assert_one_line_error(result, 29, "verify failed at 0x08000010")
    assert "1 bytes differ" in line and bench["chip"].resets == 0  # a bad image is not started
    assert run(capsys, "flash", "--board", "acme-builtin", str(images["elf"]), "--no-verify").code == 0


def test_erase_only(capsys, boards, bench):
    bench["chip"].memory[:4] = b"\x00\x01\x02\x03"
    result = run(capsys, "flash", "--board", "acme-builtin", "--erase-only")
    assert result.code == 0, result.stderr
    assert bench["chip"].memory == b"\xff" * 65_536 and "erased the whole flash" in result.stdout


def test_bad_images_and_options(capsys, boards, bench, tmp_path, images):
    text = tmp_path / "notes.txt"
    text.write_text("hello")
    assert_one_line_error(run(capsys, "flash", "--board", "acme-builtin", str(text)), 24, "--format elf, hex or bin")
    assert_one_line_error(run(capsys, "flash", "--board", "acme-builtin", str(text), "--format", "elf"), 24,
                          "not a valid ELF file")
    assert_one_line_error(run(capsys, "flash", "--board", "acme-builtin", str(text), "--format", "hex"), 24,
                          "not a valid Intel HEX file")
    assert_one_line_error(run(capsys, "flash", "--board", "acme-builtin", str(tmp_path / "none.elf")), 24,
                          "no such image file")
    assert_one_line_error(run(capsys, "flash", "--board", "acme-builtin", str(images["elf"]), "--base-address",
                              "0x08000000"), 24, "ELF image carries its own addresses")
    assert_one_line_error(run(capsys, "flash", "--board", "acme-builtin"), 2, "IMAGE", "--erase-only")
    assert_one_line_error(run(capsys, "flash", "--board", "nope", str(images["elf"])), 10, "unknown board 'nope'")
    assert "record" not in bench


def test_real_pyocd_without_a_probe_says_so(cli, boards, images, tmp_path):
    """The real pyocd, no fake: its pack manager has no Acme pack, and no probe is attached here."""
    env = {"TINY_RUNNER_BOARDS": str(boards)}
    elf = str(images["elf"])
    assert_one_line_error(cli("flash", "--board", "acme-builtin", elf, env=env), 26, "no debug probe found")
    assert_one_line_error(cli("flash", "--board", "acme-x1", elf, env=env), 28, "Acme.X1_DFP is not installed")
    pack = str(make_pack(tmp_path / "Acme.X1_DFP.pack"))
    assert_one_line_error(cli("flash", "--board", "acme-x1", elf, "--pack", pack, env=env), 26, "no debug probe found")


def test_qemu_board_runs_the_flashed_image(cli, tmp_path, reference):
    require_tools("arm-none-eabi-gcc", "qemu-system-arm")
    built = cli("firmware", "--board", "qemu-m4", "-b", "ad", "--json")
    assert built.code == 0, built.stderr
    image = built.json()["path"]
    installed = cli("flash", "--board", "qemu-m4", image, "--json")
    assert installed.code == 0, installed.stderr
    sha = hashlib.sha256(open(image, "rb").read()).hexdigest()
    assert installed.json()["installed"]["sha256"] == sha
    # short windows keep it quick; the run is then reported as not valid (exit 3), which is not the point here
    measured = cli("measure", "--board", "qemu-m4", "-b", "ad", "--iterations", "100", "--out", str(tmp_path),
                   "--json", "-q")
    assert measured.code == 3, measured.stderr
    assert measured.json()["lab"]["firmware"]["installed"]["sha256"] == sha
    log = (tmp_path / json.loads(measured.stdout)["run_dir"] / "log.txt").read_text()
    assert "installed by `tiny-runner flash`" in log
    # the flashed image runs ad01: a kws01 run is refused by the handshake, as on a real board
    assert_one_line_error(cli("measure", "--board", "qemu-m4", "-b", "kws", "--out", str(tmp_path)), 16,
                          "runs ad01 firmware but this run is for kws01")
    erased = cli("flash", "--board", "qemu-m4", "--erase-only")
    assert erased.code == 0 and "installed image removed" in erased.stdout
    rebuilt = cli("measure", "--board", "qemu-m4", "-b", "ad", "--iterations", "100", "--out", str(tmp_path),
                  "--json", "-q")
    assert "installed" not in rebuilt.json()["lab"]["firmware"]


def test_virtual_boards_refuse_what_they_cannot_run(cli, images, tmp_path):
    assert_one_line_error(cli("flash", "--board", "virtual-l4r5zi", str(images["elf"])), 2,
                          "emulated reference firmware", "no image to flash")
    assert_one_line_error(cli("flash", "--board", "qemu-m4", str(images["hex"])), 24, "runs ELF images")
    assert_one_line_error(cli("flash", "--board", "native-posix", str(images["elf"])), 24,
                          "an ELF for EM_ARM; native-posix runs")
    assert_one_line_error(cli("flash", "--board", "qemu-m4", str(images["elf"]), "--probe", "X"), 2,
                          "--probe applies to real boards")
