"""Building the C firmware (firmware/) for one port, model and mode, or finding it built.

An image is identified by everything that goes into it: the firmware sources, the model file,
the port, the mode, the vendor string and the compiler. Built images are kept in a cache
folder ($TINY_RUNNER_CACHE, default ~/.cache/tiny-runner) under that identity, so a second run
reuses the image and a change to any input builds a new one. An entry appears only whole
(built in a scratch folder, then renamed); one without its `complete` marker is built again.
Nothing from a descriptor reaches make's command line: the vendor string goes in a header file.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

from ..errors import FirmwareBuildError
from . import codegen
from .codegen import generate
from .tree import firmware_source_dir

CACHE_ENV = "TINY_RUNNER_CACHE"
MODES = ("performance", "energy")
_BUILD_TIMEOUT_S = 600
_MAKE_SAFE_PATH = re.compile(r"[A-Za-z0-9_./+-]+")  # make splits on spaces; recipes run in a shell
_OUT = "out"  # make's output folder inside the scratch folder
_VENDOR_HEADER = "tr_vendor.h"
_INFO = "model-info.txt"
_COMPLETE = "complete"  # written last, holding the image's identity


@dataclass(frozen=True)
class Port:
    name: str
    image: str  # the file the port's make rule produces
    compiler: str
    size_tool: str
    install_hint: str


PORTS = {
    "posix": Port("posix", "tr-dut", "cc", "size", "install a C compiler (Debian: gcc, binutils, make)"),
    "qemu-mps2-an386": Port(
        "qemu-mps2-an386", "tr-dut.elf", "arm-none-eabi-gcc", "arm-none-eabi-size",
        "install the Arm toolchain (Debian: gcc-arm-none-eabi libnewlib-arm-none-eabi make)"),
}


@dataclass(frozen=True)
class Image:
    path: Path
    port: str
    model_id: str
    mode: str
    text_bytes: int  # code and constants, weights included (flash)
    data_bytes: int  # initialised RAM
    bss_bytes: int  # zeroed RAM: the activation arena, the input buffer, the stack
    weight_bytes: int
    arena_bytes: int
    reused: bool  # found in the cache rather than built now

    @property
    def code_bytes(self) -> int:
        """Flash other than the weights and quantisation parameters."""
        return self.text_bytes - self.weight_bytes

    def describe(self) -> dict:
        return {**asdict(self), "path": str(self.path), "code_bytes": self.code_bytes}


def cache_root() -> Path:
    return Path(os.environ.get(CACHE_ENV) or Path.home() / ".cache" / "tiny-runner").expanduser()


def build_image(port_name: str, model_path: Path, model_id: str, mode: str, vendor: str = "unspecified") -> Image:
    """The image for this port, model and mode: from the cache, or built now."""
    port = PORTS.get(port_name)
    if port is None:
        raise FirmwareBuildError(f"unknown firmware port {port_name!r}; ports: {', '.join(PORTS)}")
    if mode not in MODES:
        raise FirmwareBuildError(f"unknown firmware mode {mode!r}; modes: {', '.join(MODES)}")
    for tool in (port.compiler, "make", port.size_tool):
        if shutil.which(tool) is None:
            raise FirmwareBuildError(f"{tool} not found: {port.install_hint}")
    sources = firmware_source_dir()
    if not _MAKE_SAFE_PATH.fullmatch(str(sources)):
        raise FirmwareBuildError(f"the firmware sources are in {sources}, a path make cannot use safely: "
                                 "install tiny-runner under a path of letters, digits and ._+-/ only")
    key = _identity(sources, port, Path(model_path), model_id, mode, vendor)
    folder = cache_root() / "firmware" / f"{port.name}-{model_id}-{mode}-{key[:16]}"
    reused = _is_complete(folder, port, key)
    if not reused:
        _build(sources, port, Path(model_path), model_id, mode, vendor, folder, key)
    info = _read_info(folder)
    text, data, bss = _sizes(port, folder / port.image)
    return Image(folder / port.image, port.name, model_id, mode, text, data, bss, info["weight_bytes"],
                 info["arena_bytes"], reused)


def vendor_header(vendor: str) -> str:
    """A C header defining TR_VENDOR as exactly `vendor`: the string reaches the compiler in a
    file, never on a command line a shell could read."""
    return f"#define TR_VENDOR {_c_string(vendor)}\n"


def _c_string(text: str) -> str:
    """A C string literal for `text`: printable ASCII as itself, except backslash, quote and
    `?` (no trigraph can form); anything else as octal escapes of its UTF-8 bytes."""
    out = []
    for byte in text.encode("utf-8"):
        char = chr(byte)
        out.append(char if 0x20 <= byte <= 0x7E and char not in '\\"?' else f"\\{byte:03o}")
    return '"' + "".join(out) + '"'


def _identity(sources: Path, port: Port, model_path: Path, model_id: str, mode: str, vendor: str) -> str:
    digest = hashlib.sha256()
    for path in sorted(p for p in sources.rglob("*") if p.is_file() and _is_source(p, sources)):
        digest.update(str(path.relative_to(sources)).encode() + b"\0" + path.read_bytes())
    digest.update(model_path.read_bytes())
    # the model's C is generated, so the generator is a source too
    digest.update(Path(codegen.__file__).read_bytes())
    digest.update(f"\0{port.name}\0{model_id}\0{mode}\0{vendor}\0{_compiler_version(port)}".encode())
    return digest.hexdigest()


def _is_source(path: Path, root: Path) -> bool:
    parts = path.relative_to(root).parts
    return parts[0] != "build" and "__pycache__" not in parts and path.suffix != ".pyc"


def _compiler_version(port: Port) -> str:
    proc = subprocess.run([port.compiler, "--version"], capture_output=True, text=True)
    return proc.stdout.splitlines()[0] if proc.stdout else ""


def _build(sources: Path, port: Port, model_path: Path, model_id: str, mode: str, vendor: str,
           folder: Path, key: str) -> None:
    """Build in a scratch folder next to the cache entry and rename it into place only once the
    image is complete, so no later run ever finds half an image under the entry's name."""
    folder.parent.mkdir(parents=True, exist_ok=True)
    scratch_dir = tempfile.TemporaryDirectory(prefix=f".{folder.name}-", dir=folder.parent, ignore_cleanup_errors=True)
    with scratch_dir as scratch:
        work = Path(scratch)
        generated = generate(model_path, work / "model", model_id)
        (work / _INFO).write_text(f"weight_bytes={generated.weight_bytes}\n"
                                  f"arena_bytes={generated.arena_bytes}\n")
        (work / _VENDOR_HEADER).write_text(vendor_header(vendor), encoding="ascii")
        # every path relative to the scratch folder, whatever characters the cache's path has
        command = ["make", "-f", str(sources / "Makefile"), f"PORT={port.name}", "MODEL_DIR=model", f"MODE={mode}",
                   f"OUT={_OUT}", f"VENDOR_HEADER={_VENDOR_HEADER}"]
        with open(work / "build.log", "w") as log:
            log.write(" ".join(command) + "\n")
            log.flush()
            try:
                proc = subprocess.run(command, cwd=work, stdin=subprocess.DEVNULL, stdout=log,
                                      stderr=subprocess.STDOUT, timeout=_BUILD_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                raise FirmwareBuildError(f"building the {port.name} firmware took over {_BUILD_TIMEOUT_S} s") from None
        built = work / _OUT / port.image
        if proc.returncode != 0 or not built.is_file():
            kept = folder.parent / f"failed-{folder.name}.log"
            shutil.copy(work / "build.log", kept)
            lines = [line for line in (work / "build.log").read_text().splitlines() if "error" in line.lower()]
            detail = lines[0].strip() if lines else (f"make exited with {proc.returncode}" if proc.returncode
                                                     else f"make wrote no {port.image}")
            raise FirmwareBuildError(f"building the {port.name} firmware failed: {detail} (full log: {kept})")
        built.replace(work / port.image)
        shutil.rmtree(work / _OUT, ignore_errors=True)
        (work / _COMPLETE).write_text(key + "\n")  # last: the folder now holds a whole image
        _discard_incomplete(folder, port, key)
        try:
            os.rename(work, folder)  # atomic
        except OSError:
            if not _is_complete(folder, port, key):  # else a concurrent build of the same image won the race
                raise FirmwareBuildError(f"cannot put the built image in place at {folder}") from None


def _is_complete(folder: Path, port: Port, key: str) -> bool:
    try:
        return ((folder / _COMPLETE).read_text().strip() == key and (folder / port.image).is_file()
                and set(_read_info(folder)) >= {"weight_bytes", "arena_bytes"})
    except (OSError, ValueError):
        return False


def _discard_incomplete(folder: Path, port: Port, key: str) -> None:
    """Move aside what an interrupted build (or an older version) left under the entry's name."""
    if not folder.exists() or _is_complete(folder, port, key):
        return
    stale = Path(tempfile.mkdtemp(prefix=f".stale-{folder.name}-", dir=folder.parent))
    try:
        os.rename(folder, stale / "entry")
    except OSError:
        pass  # gone already, or another build moved it
    shutil.rmtree(stale, ignore_errors=True)


def _read_info(folder: Path) -> dict[str, int]:
    pairs = (line.split("=", 1) for line in (folder / _INFO).read_text().splitlines() if "=" in line)
    return {key: int(value) for key, value in pairs}


def _sizes(port: Port, image: Path) -> tuple[int, int, int]:
    """text, data, bss as binutils `size` reports them (Berkeley format)."""
    proc = subprocess.run([port.size_tool, str(image)], capture_output=True, text=True)
    try:
        text, data, bss = (int(v) for v in proc.stdout.splitlines()[1].split()[:3])
    except (IndexError, ValueError):
        raise FirmwareBuildError(f"{port.size_tool} could not read {image}: {proc.stderr.strip()}") from None
    return text, data, bss
