"""Building the C firmware (firmware/) for one port, model and mode, or finding it built.

An image is identified by everything that goes into it: the firmware sources, the model file,
the port, the mode, the vendor string and the compiler. Built images are kept in a cache
folder ($TINY_RUNNER_CACHE, default ~/.cache/tiny-runner) under that identity, so a second run
reuses the image and a change to any input builds a new one.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

from .codegen import generate
from .errors import FirmwareBuildError
from .firmware_tree import firmware_source_dir

CACHE_ENV = "TINY_RUNNER_CACHE"
_BUILD_TIMEOUT_S = 600


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
    for tool in (port.compiler, "make", port.size_tool):
        if shutil.which(tool) is None:
            raise FirmwareBuildError(f"{tool} not found: {port.install_hint}")
    sources = firmware_source_dir()
    key = _identity(sources, port, Path(model_path), model_id, mode, vendor)
    folder = cache_root() / "firmware" / f"{port.name}-{model_id}-{mode}-{key[:16]}"
    reused = (folder / port.image).is_file()
    if not reused:
        _build(sources, port, Path(model_path), model_id, mode, vendor, folder)
    info = _read_info(folder)
    text, data, bss = _sizes(port, folder / port.image)
    return Image(folder / port.image, port.name, model_id, mode, text, data, bss, info["weight_bytes"],
                 info["arena_bytes"], reused)


def _identity(sources: Path, port: Port, model_path: Path, model_id: str, mode: str, vendor: str) -> str:
    digest = hashlib.sha256()
    for path in sorted(p for p in sources.rglob("*") if p.is_file() and _is_source(p, sources)):
        digest.update(str(path.relative_to(sources)).encode() + b"\0" + path.read_bytes())
    digest.update(model_path.read_bytes())
    digest.update(f"\0{port.name}\0{model_id}\0{mode}\0{vendor}\0{_compiler_version(port)}".encode())
    return digest.hexdigest()


def _is_source(path: Path, root: Path) -> bool:
    parts = path.relative_to(root).parts
    return parts[0] != "build" and "__pycache__" not in parts and path.suffix != ".pyc"


def _compiler_version(port: Port) -> str:
    proc = subprocess.run([port.compiler, "--version"], capture_output=True, text=True)
    return proc.stdout.splitlines()[0] if proc.stdout else ""


def _build(sources: Path, port: Port, model_path: Path, model_id: str, mode: str, vendor: str,
           folder: Path) -> None:
    folder.parent.mkdir(parents=True, exist_ok=True)
    scratch_dir = tempfile.TemporaryDirectory(prefix=f".{folder.name}-", dir=folder.parent, ignore_cleanup_errors=True)
    with scratch_dir as scratch:
        work = Path(scratch)
        generated = generate(model_path, work / "model", model_id)
        (work / "model-info.txt").write_text(f"weight_bytes={generated.weight_bytes}\n"
                                             f"arena_bytes={generated.arena_bytes}\n")
        command = ["make", "-C", str(sources), f"PORT={port.name}", f"MODEL_DIR={work / 'model'}", f"MODE={mode}",
                   f"OUT={work}", f"VENDOR={vendor}"]
        with open(work / "build.log", "w") as log:
            log.write(" ".join(command) + "\n")
            log.flush()
            try:
                proc = subprocess.run(command, stdout=log, stderr=subprocess.STDOUT, timeout=_BUILD_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                raise FirmwareBuildError(f"building the {port.name} firmware took over {_BUILD_TIMEOUT_S} s") from None
        if proc.returncode != 0:
            kept = folder.parent / f"failed-{folder.name}.log"
            shutil.copy(work / "build.log", kept)
            lines = [line for line in (work / "build.log").read_text().splitlines() if "error" in line.lower()]
            detail = lines[0].strip() if lines else f"make exited with {proc.returncode}"
            raise FirmwareBuildError(f"building the {port.name} firmware failed: {detail} (full log: {kept})")
        shutil.rmtree(work / "obj", ignore_errors=True)
        try:
            os.rename(work, folder)  # atomic: a concurrent build of the same image loses the race harmlessly
        except OSError:
            if not (folder / port.image).is_file():
                raise


def _read_info(folder: Path) -> dict[str, int]:
    pairs = (line.split("=", 1) for line in (folder / "model-info.txt").read_text().splitlines() if "=" in line)
    return {key: int(value) for key, value in pairs}


def _sizes(port: Port, image: Path) -> tuple[int, int, int]:
    """text, data, bss as binutils `size` reports them (Berkeley format)."""
    proc = subprocess.run([port.size_tool, str(image)], capture_output=True, text=True)
    try:
        text, data, bss = (int(v) for v in proc.stdout.splitlines()[1].split()[:3])
    except (IndexError, ValueError):
        raise FirmwareBuildError(f"{port.size_tool} could not read {image}: {proc.stderr.strip()}") from None
    return text, data, bss
