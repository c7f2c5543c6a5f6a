"""Values from board descriptors and images are untrusted: no shell ever reads a descriptor's
vendor string, a failed build leaves no image in the cache, and an image under QEMU reaches
neither the host's commands nor its files (no semihosting).
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path

import pytest

from conftest import REPO, assert_one_line_error, require_tools
from tiny_runner.image.build import vendor_header
from tiny_runner.lab.firmware_dut import qemu_command
from tiny_runner.protocol.wirelog import FROM_DEVICE, stream

NATIVE = (REPO / "boards" / "native-posix.toml").read_text()
QEMU_BOARD = (REPO / "boards" / "qemu-m4.toml").read_text()


def toml_string(text: str) -> str:
    """A TOML basic string holding exactly `text` (JSON's escapes are TOML's)."""
    return json.dumps(text, ensure_ascii=False)


def board_folder(tmp_path: Path, name: str, template: str, old: str, new: str) -> dict:
    folder = tmp_path / "boards"
    folder.mkdir(exist_ok=True)
    text = template.replace(f'name = "{template_name(template)}"', f'name = "{name}"')
    assert old in text
    (folder / f"{name}.toml").write_text(text.replace(old, new), encoding="utf-8")
    return {"TINY_RUNNER_BOARDS": str(folder)}


def template_name(template: str) -> str:
    return "qemu-m4" if template is QEMU_BOARD else "native-posix"


def cache_entries(cache: Path) -> list[str]:
    """What the build cache holds besides the logs of failed builds."""
    folder = cache / "firmware"
    return sorted(p.name for p in folder.iterdir() if not p.name.endswith(".log")) if folder.is_dir() else []


@pytest.fixture(scope="module")
def native_tools():
    require_tools("cc", "make", "size")


# -- the vendor string ---------------------------------------------------------------------------
def test_the_vendor_header_is_an_exact_c_literal():
    assert vendor_header('a "b" \\ & ??= $(x)') == '#define TR_VENDOR "a \\042b\\042 \\134 & \\077\\077= $(x)"\n'
    assert vendor_header("µ") == '#define TR_VENDOR "\\302\\265"\n'


@pytest.mark.parametrize("vendor", [
    "x'; touch PWNED; echo '",
    'a "quoted" $(touch PWNED) `touch PWNED` & back\\slash ??= it\'s',
])
def test_a_shell_payload_in_the_vendor_string_runs_nothing_and_is_printed_exactly(cli, tmp_path, native_tools,
                                                                                  vendor):
    env = board_folder(tmp_path, "shell-vendor", NATIVE, 'vendor_string = "unspecified"',
                       f"vendor_string = {toml_string(vendor)}")
    env["TINY_RUNNER_CACHE"] = str(tmp_path / "cache")
    result = cli("measure", "--board", "shell-vendor", "-b", "ad", "--iterations", "1", "--warmup", "0",
                 "--out", str(tmp_path / "runs"), "--json", "--quiet", env=env)
    # a shell would have run it where make runs: the source tree, or the scratch folder in the cache
    assert list(tmp_path.rglob("PWNED")) == []
    assert not (REPO / "firmware" / "PWNED").exists() and not Path("PWNED").exists()
    assert result.code == 3, result.stderr  # 1 iteration: every window is too short, so not valid
    data = result.json()
    assert data["dut"]["vendor"] == vendor
    reply = f"m-name-dut-[{vendor}]\r\n".encode("ascii")
    assert reply in stream(Path(data["run_dir"]) / "wire.log", FROM_DEVICE)


@pytest.mark.parametrize("vendor, shown", [
    ("100%", "'100%'"),
    ("line\nbreak", "'line\\nbreak'"),
    ("tab\there", "'tab\\there'"),
    ("µ-chip", "'µ-chip'"),
    ("", "''"),
    ("v" * 65, "'" + "v" * 65 + "'"),
])
def test_vendor_strings_the_protocol_cannot_carry_are_refused(cli, tmp_path, vendor, shown):
    env = board_folder(tmp_path, "odd-vendor", NATIVE, 'vendor_string = "unspecified"',
                       f"vendor_string = {toml_string(vendor)}")
    env["TINY_RUNNER_CACHE"] = str(tmp_path / "cache")
    result = cli("firmware", "--board", "odd-vendor", "-b", "ad", env=env)
    line = assert_one_line_error(result, 10, "odd-vendor.toml", "key 'dut.vendor_string'",
                                 "printable ASCII characters other than '%'", f"got {shown}")
    assert line
    assert not (tmp_path / "cache").exists()


@pytest.mark.parametrize("key, value", [
    ("machine", "mps2-an386,dumpdtb=/tmp/tr-dtb"),
    ("machine", "-M"),
    ("cpu", "cortex-m4 -semihosting"),
    ("cpu", "cortex-m4;id"),
])
def test_qemu_options_cannot_be_smuggled_in(cli, tmp_path, key, value):
    old = {"machine": 'machine = "mps2-an386"', "cpu": 'cpu = "cortex-m4"'}[key]
    env = board_folder(tmp_path, "odd-qemu", QEMU_BOARD, old, f"{key} = {toml_string(value)}")
    result = cli("measure", "--board", "odd-qemu", "-b", "kws", "--out", str(tmp_path / "runs"), env=env)
    assert_one_line_error(result, 10, "odd-qemu.toml", f"key 'firmware.qemu.{key}'", f"got {value!r}")


def test_the_qemu_command_has_no_way_out():
    command = qemu_command({"machine": "mps2-an386", "cpu": "cortex-m4", "icount_shift": 3}, Path("i.elf"), "pty")
    assert command[command.index("-semihosting-config") + 1] == "enable=off"
    assert command[command.index("-nic") + 1] == "none"
    assert "-no-reboot" in command and "-nodefaults" in command
    assert not any("target=native" in word for word in command)


# -- failed builds -------------------------------------------------------------------------------
def fake_tool(folder: Path, name: str, body: str) -> dict:
    folder.mkdir(exist_ok=True)
    tool = folder / name
    tool.write_text(f'#!/bin/sh\nif [ "$1" = --version ]; then echo "{name} (fake) 1.0"; exit 0; fi\n{body}\n')
    tool.chmod(0o755)
    return {"PATH": f"{folder}{os.pathsep}{os.environ['PATH']}"}


@pytest.mark.parametrize("body, detail", [
    ('echo "error: the compiler broke" >&2; exit 1', "error: the compiler broke"),
    ("exit 0", "make wrote no tr-dut"),  # claims success, writes nothing
])
def test_a_failed_build_leaves_no_image_and_the_next_run_builds(cli, tmp_path, native_tools, body, detail):
    cache = tmp_path / "cache"
    env = {"TINY_RUNNER_CACHE": str(cache)}
    broken = cli("firmware", "--board", "native-posix", "-b", "ad",
                 env={**env, **fake_tool(tmp_path / "bin", "cc", body)})
    assert_one_line_error(broken, 23, "building the posix firmware failed", detail, "full log:")
    assert cache_entries(cache) == []
    corrupt = tmp_path / "corrupt.tflite"
    corrupt.write_bytes(b"TFL3" * 100)
    assert_one_line_error(cli("firmware", "--board", "native-posix", "-b", "ad", "--model", str(corrupt), env=env),
                          11, str(corrupt))
    assert cache_entries(cache) == []
    built = cli("firmware", "--board", "native-posix", "-b", "ad", "--json", env=env)
    assert built.code == 0, built.stderr
    assert built.json()["reused"] is False and Path(built.json()["path"]).is_file()
    again = cli("firmware", "--board", "native-posix", "-b", "ad", "--json", env=env)
    assert again.code == 0 and again.json()["reused"] is True
    assert len(cache_entries(cache)) == 1


def test_an_incomplete_cache_entry_is_built_again(cli, tmp_path, native_tools):
    env = {"TINY_RUNNER_CACHE": str(tmp_path / "cache")}
    first = cli("firmware", "--board", "native-posix", "-b", "ad", "--json", env=env)
    assert first.code == 0, first.stderr
    image = Path(first.json()["path"])
    (image.parent / "complete").unlink()  # as an interrupted build (or an older version) leaves it
    (image.parent / "model-info.txt").unlink()
    again = cli("firmware", "--board", "native-posix", "-b", "ad", "--json", env=env)
    assert again.code == 0, again.stderr
    assert again.json()["reused"] is False and again.json()["path"] == str(image)
    assert (image.parent / "complete").is_file() and image.is_file()
    assert cache_entries(tmp_path / "cache") == [image.parent.name]


# -- an image under QEMU -------------------------------------------------------------------------
HOSTILE_C = r"""
#include <stdint.h>
extern uint32_t __stack_top[];
static uint32_t semihost(uint32_t op, const void *arg)
{
    register uint32_t r0 __asm__("r0") = op;
    register const void *r1 __asm__("r1") = arg;
    __asm__ volatile("bkpt 0xab" : "+r"(r0) : "r"(r1) : "memory");
    return r0;
}
static uint32_t length(const char *s) { uint32_t n = 0; while (s[n]) ++n; return n; }
void reset(void)
{
    static const char command[] = COMMAND, path[] = PATH, text[] = "written by the guest\n";
    const uint32_t system_block[2] = {(uint32_t)command, length(command)};
    const uint32_t open_block[3] = {(uint32_t)path, 4u /* "w" */, length(path)};
    uint32_t write_block[3];
    semihost(0x12u /* SYS_SYSTEM */, system_block);
    write_block[0] = semihost(0x01u /* SYS_OPEN */, open_block);
    write_block[1] = (uint32_t)text;
    write_block[2] = length(text);
    semihost(0x05u /* SYS_WRITE */, write_block);
    for (;;) { __asm__ volatile("wfi"); }
}
void hang(void) { for (;;) { } }
void request_reset(void) { *(volatile uint32_t *)0xE000ED0Cu = 0x05FA0004u; for (;;) { } } /* SYSRESETREQ */
typedef void (*vector)(void);
__attribute__((section(".vectors"), used)) static const vector vectors[16] = {
    (vector)__stack_top, reset, ON_FAULT, ON_FAULT, ON_FAULT, ON_FAULT, ON_FAULT, 0, 0, 0, 0, ON_FAULT, ON_FAULT, 0,
    ON_FAULT, ON_FAULT,
};
"""
HOSTILE_LD = """
MEMORY { CODE (rx) : ORIGIN = 0, LENGTH = 64K  RAM (rwx) : ORIGIN = 0x20000000, LENGTH = 64K }
ENTRY(reset)
SECTIONS {
    .text : { KEEP(*(.vectors)) *(.text .text.* .rodata .rodata.*) } > CODE
    .bss (NOLOAD) : { *(.bss .bss.* COMMON) } > RAM
    __stack_top = ORIGIN(RAM) + LENGTH(RAM);
}
"""


def hostile_image(folder: Path, command: str, path: Path, on_fault: str) -> Path:
    """Semihosting calls, then whatever its fault handler does (BKPT faults without semihosting)."""
    (folder / "hostile.c").write_text(HOSTILE_C)
    (folder / "hostile.ld").write_text(HOSTILE_LD)
    image = folder / "hostile.elf"
    subprocess.run(["arm-none-eabi-gcc", "-mcpu=cortex-m4", "-mthumb", "-O1", "-nostdlib", "-ffreestanding",
                    f"-DCOMMAND=\"{command}\"", f"-DPATH=\"{path}\"", f"-DON_FAULT={on_fault}",
                    "-T", str(folder / "hostile.ld"), str(folder / "hostile.c"), "-o", str(image)],
                   check=True, capture_output=True)
    return image


@pytest.mark.parametrize("mode, on_fault, code, message", [
    ("performance", "hang", 14, "no reply from /dev/pts/"),  # the DUT never answers: bounded by the handshake
    ("performance", "request_reset", 18, "QEMU stopped: the image reset the core"),
    ("energy", "request_reset", 18, "the virtual bench process died"),
])
def test_an_installed_image_cannot_reach_the_host(cli, tmp_path, mode, on_fault, code, message):
    require_tools("arm-none-eabi-gcc", "qemu-system-arm")
    pwned, written = tmp_path / "PWNED", tmp_path / "WRITTEN"
    image = hostile_image(tmp_path, f"touch {pwned}", written, on_fault)
    env = {"TINY_RUNNER_STATE": str(tmp_path / "state")}  # this test's own installed image
    flashed = cli("flash", "--board", "qemu-m4", str(image), env=env)
    assert flashed.code == 0, flashed.stderr
    started = time.monotonic()
    result = cli("measure", "--board", "qemu-m4", "-b", "kws", "--mode", mode, "--out", str(tmp_path / "runs"),
                 env=env, timeout=120)
    assert time.monotonic() - started < 90
    assert not pwned.exists() and not written.exists()
    assert_one_line_error(result, code, message)


def test_a_change_to_the_code_generator_builds_the_image_again(tmp_path, monkeypatch, reference):
    """The model's C comes from codegen.py: an image built by an older generator is not reused."""
    require_tools("cc")
    from tiny_runner.image import build as firmware_build
    from tiny_runner.image import codegen
    from tiny_runner.image.tree import firmware_source_dir

    def key() -> str:
        return firmware_build._identity(firmware_source_dir(), firmware_build.PORTS["posix"],
                                        reference / "ad01/ad01_int8.tflite", "ad01", "performance", "unspecified")

    before = key()
    changed = tmp_path / "codegen.py"
    changed.write_bytes(Path(codegen.__file__).read_bytes() + b"\n# one more line\n")
    monkeypatch.setattr(codegen, "__file__", str(changed))
    assert key() != before
