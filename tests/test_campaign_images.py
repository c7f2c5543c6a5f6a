"""A campaign's firmware-image axis: a bench flashed with each of its images in turn, each image's
cells measured between its flash and the next, the image's hash in the cells' keys and in the
database; a re-run flashes and measures nothing again, a rebuilt image measures only its own
cells again; an image that cannot be flashed fails its cells with the reason while the other
bench carries on; bad images and benches are refused before the first cell."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import pytest

from conftest import assert_one_line_error, run_cli
from support.campaign_files import ENV, write
from tiny_runner.campaign.plan import load_campaign
from tiny_runner.campaign.runner import other_firmware
from tiny_runner.db.store import ResultsDb

HOST_BENCH = """
[[benches]]
name = "host"
board = "native-posix"
[[benches.images]]
name = "kws-build"
path = "images/kws"
[[benches.images]]
name = "ad-build"
path = "images/ad"
benchmarks = ["ad"]
"""
LAB_BENCH = """
[[benches]]
name = "lab"
board = "virtual-l4r5zi"
"""
SHORT = "\n[measure]\niterations = 20\n"  # short windows: completed, never valid, quick
TOP = 'name = "builds"\nbenchmarks = ["kws"]\nmodes = ["performance"]\nrepeats = 2\n'


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def images(tmp_path_factory):
    """The native port's kws and ad images, as `tiny-runner firmware` builds them."""
    folder = tmp_path_factory.mktemp("images")
    for benchmark in ("kws", "ad"):
        built = run_cli("firmware", "--board", "native-posix", "-b", benchmark, "--json", env=ENV, timeout=600)
        assert built.code == 0, built.stderr
        shutil.copyfile(built.json()["path"], folder / benchmark)
    return folder


def run_campaign(folder: Path, state: Path, code: int = 3):  # 3: every cell measured, none valid (short windows)
    result = run_cli("campaign", str(folder / "campaign.toml"), "--out", str(folder / "runs"), "--json",
                     env={**ENV, "TINY_RUNNER_STATE": str(state)}, timeout=600)
    assert result.code == code, result.stderr
    return json.loads(result.stdout), result.stderr


def flashed_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if ": flashed image " in line]


def test_each_image_is_flashed_once_and_its_cells_run_on_it(images, tmp_path):
    shutil.copytree(images, tmp_path / "images")
    write(tmp_path, TOP + HOST_BENCH + LAB_BENCH + SHORT)
    state = tmp_path / "state"
    outcome, stderr = run_campaign(tmp_path, state)
    assert outcome["done"] == 6 and outcome["failed"] == 0
    assert sorted(c["cell"] for c in outcome["cells"]) == sorted(
        [f"host [kws-build]: kws01 performance #{r}" for r in (1, 2)]
        + [f"host [ad-build]: ad01 performance #{r}" for r in (1, 2)]
        + [f"lab: kws01 performance #{r}" for r in (1, 2)])
    kws_sha, ad_sha = sha256(tmp_path / "images" / "kws"), sha256(tmp_path / "images" / "ad")
    flashes = flashed_lines(stderr)
    assert len(flashes) == 2 and f"kws-build ({kws_sha[:12]})" in flashes[0]
    assert f"ad-build ({ad_sha[:12]})" in flashes[1]
    with ResultsDb(tmp_path / "runs" / "tiny-runner.db") as db:
        host = sorted((r for r in db.runs(campaign="builds") if r["board"] == "native-posix"),
                      key=lambda r: r["started"])
        # each image's cells together, in the file's order, each run on the image it was flashed with
        assert [(r["benchmark"], r["firmware_sha256"]) for r in host] == [("kws01", kws_sha)] * 2 + [
            ("ad01", ad_sha)] * 2
        assert [r["cell"]["definition"]["image"] for r in host] == ["kws-build"] * 2 + ["ad-build"] * 2
        ran = [json.loads((Path(r["run_dir"]) / "results.json").read_text())["lab"]["firmware"] for r in host]
        assert [f["installed"]["sha256"] for f in ran] == [r["firmware_sha256"] for r in host]  # what the board ran
        lab = [r for r in db.runs(campaign="builds") if r["board"] == "virtual-l4r5zi"]
        assert len(lab) == 2 and all("image" not in r["cell"]["definition"] for r in lab)
    installed = json.loads((state / "installed" / "native-posix.json").read_text())
    assert installed["sha256"] == ad_sha  # the board keeps the image flashed last, as a real one does

    again, stderr = run_campaign(tmp_path, state)
    assert again["skipped"] == 6 and flashed_lines(stderr) == []  # nothing to measure: nothing flashed

    (tmp_path / "images" / "ad").write_bytes((tmp_path / "images" / "ad").read_bytes() + b"rebuilt")
    rebuilt, stderr = run_campaign(tmp_path, state)
    measured = sorted(c["cell"] for c in rebuilt["cells"] if c["state"] == "completed")
    assert measured == ["host [ad-build]: ad01 performance #1", "host [ad-build]: ad01 performance #2"]
    assert rebuilt["skipped"] == 4 and len(flashed_lines(stderr)) == 1 and "ad-build" in flashed_lines(stderr)[0]
    with ResultsDb(tmp_path / "runs" / "tiny-runner.db") as db:
        new_sha = sha256(tmp_path / "images" / "ad")
        assert sum(r["firmware_sha256"] == new_sha for r in db.runs(campaign="builds")) == 2
        assert sum(r["firmware_sha256"] == ad_sha for r in db.runs(campaign="builds")) == 2  # the old rows stay
    compared = run_cli("results", "compare", "--out", str(tmp_path / "runs"), "--by", "firmware", "--json")
    groups = {(g["benchmark"], g["firmware_sha256"]): g["not_valid"] for g in json.loads(compared.stdout)}
    assert groups == {("kws01", kws_sha): 2, ("kws01", None): 2, ("ad01", ad_sha): 2, ("ad01", new_sha): 2}


def test_an_image_that_cannot_be_flashed_fails_its_cells_and_the_other_bench_carries_on(tmp_path):
    (tmp_path / "images").mkdir()
    (tmp_path / "images" / "fw.bin").write_bytes(bytes(range(256)) * 16)  # at the board's flash_base
    write(tmp_path, TOP + '[[benches]]\nname = "dk"\nboard = "nrf52840-dk"\n[[benches.images]]\nname = "64mhz"\n'
                    'path = "images/fw.bin"\n' + LAB_BENCH + SHORT)
    outcome, stderr = run_campaign(tmp_path, tmp_path / "state", code=36)
    states = {c["cell"]: (c["state"], c["reason"]) for c in outcome["cells"]}
    for repeat in (1, 2):
        state, reason = states[f"dk [64mhz]: kws01 performance #{repeat}"]
        assert state == "failed" and reason.startswith("flashing image 64mhz failed: no debug probe found")
        assert states[f"lab: kws01 performance #{repeat}"][0] == "completed"
    assert stderr.count("dk: flashing image 64mhz, attempt") == 2  # 1 + retries tries, once for the image
    with ResultsDb(tmp_path / "runs" / "tiny-runner.db") as db:
        assert {c["attempts"] for c in db.cells("builds") if c["state"] == "failed"} == {1}
        assert {r["board"] for r in db.runs(campaign="builds")} == {"virtual-l4r5zi"}  # never measured


def test_a_run_onother_firmware_than_its_image_does_not_complete_the_cell(images, tmp_path):
    shutil.copytree(images, tmp_path / "images")
    cell = load_campaign(write(tmp_path, TOP + HOST_BENCH)).cells[0]
    ran = {"lab": {"firmware": {"port": "posix", "installed": {"sha256": cell.image.sha256}}}}
    assert other_firmware(cell, ran) is None
    ran["lab"]["firmware"]["installed"]["sha256"] = "ab" * 32  # flashed by someone meanwhile
    assert "the board ran firmware abababababab, not image kws-build" in other_firmware(cell, ran)
    del ran["lab"]["firmware"]["installed"]  # erased: the run built its own image
    assert "an image it built itself" in other_firmware(cell, ran)
    assert other_firmware(cell, {"board": "nrf52840-dk"}) is None  # a real board reports no image


HEX = ":0400000001020304F2\n:00000001FF\n"


@pytest.mark.parametrize("bench, words", [(case[0], case[1:]) for case in [
    ('[[benches]]\nname = "a"\nboard = "native-posix"\n[[benches.images]]\nname = "x"\npath = "missing"\n',
     "bench a: images[0] (x): ", "no such image file"),
    ('[[benches]]\nname = "a"\nboard = "native-posix"\n[[benches.images]]\nname = "x"\npath = "fw.hex"\n',
     "native-posix runs ELF images", "not HEX"),
    ('[[benches]]\nname = "a"\nboard = "virtual-l4r5zi"\n[[benches.images]]\nname = "x"\npath = "fw.hex"\n',
     "runs the emulated reference firmware", "no image to flash"),
    ('[[benches]]\nname = "a"\nplace = "desk"\n[[benches.images]]\nname = "x"\npath = "fw.hex"\n',
     "does not flash a labgrid place's board"),
    ('[[benches]]\nname = "a"\nboard = "native-posix"\nprobe = "X1"\n',
     "probe is for flashing the bench's images"),
    ('[[benches]]\nname = "a"\nboard = "nrf52840-dk"\n[[benches.images]]\nname = "x"\npath = "fw.hex"\n'
     '[[benches.images]]\nname = "x"\npath = "fw.hex"\n', "two images are named 'x'"),
    ('[[benches]]\nname = "a"\nboard = "nrf52840-dk"\n[[benches.images]]\nname = "x"\npath = "fw.hex"\n'
     '[[benches]]\nname = "b"\nboard = "nrf52840-dk"\n', "benches a and b are both on nrf52840-dk"),
    ('[[benches]]\nname = "a"\nboard = "nrf52840-dk"\n[[benches.images]]\nname = "x"\npath = "fw.hex"\n'
     'clock = 64\n', "unknown key 'clock'"),
    ('[[benches]]\nname = "a"\nboard = "nrf52840-dk"\nimages = "fw.hex"\n', "images is a list of tables"),
    ('[[benches]]\nname = "a"\nboard = "native-posix"\n[measure]\nlab_speed = 100\n',
     "bench a: [measure] lab_speed configures the virtual lab's emulated board", "native-posix, which runs the C"),
    ('[[benches]]\nname = "a"\nplace = "desk"\nlab_fault = ["silent_after=3"]\n', "lab_fault configures",
     "the bench is a labgrid place"),
    ('[[benches]]\nname = "a"\nboard = "nrf52840-dk"\n[measure]\nlab_fault = ["silent_after=3"]\n',
     "[measure] lab_fault configures", "nrf52840-dk, a real board"),
]])
def test_bad_images_are_refused_before_any_cell(tmp_path, bench, words):
    (tmp_path / "fw.hex").write_text(HEX)
    write(tmp_path, TOP + bench)
    result = run_cli("campaign", str(tmp_path / "campaign.toml"), "--out", str(tmp_path / "runs"), env=ENV)
    assert_one_line_error(result, 35, *words)
    assert not (tmp_path / "runs").exists()
