"""A dataset folder is untrusted input: its label list may only name files inside the folder,
ad01 rows follow the benchmark's window rule, and malformed text or JSON is one clear error
(exit 12) before anything is sent to the DUT."""

from __future__ import annotations

import json
import os
import shutil

import pytest

from conftest import assert_one_line_error, reference_path
from tiny_runner.benchmarks import get_benchmark
from tiny_runner.benchmarks.datasets import load_dataset
from tiny_runner.errors import DatasetError

BOARD = "virtual-l4r5zi"
KWS = get_benchmark("kws")
AD = get_benchmark("ad")


def folder_with(tmp_path, labels: bytes | str, files=("a.bin", "b.bin"), size=490):
    """tmp_path/ds holding the files and y_labels.csv; tmp_path/secret.bin lies outside it."""
    folder = tmp_path / "ds"
    folder.mkdir()
    for name in files:
        (folder / name).write_bytes(bytes(size))
    (tmp_path / "secret.bin").write_bytes(b"\x5a" * size)
    (folder / "y_labels.csv").write_bytes(labels.encode() if isinstance(labels, str) else labels)
    return folder


def check(cli, folder, *args):
    return cli("dataset", "check", str(folder), "-b", "kws", *args)


@pytest.mark.parametrize("name, problem", [
    ("../secret.bin", "climbs out of the folder with '..'"),
    ("sub/../../secret.bin", "climbs out of the folder with '..'"),
    ("..\\secret.bin", "climbs out of the folder with '..'"),
    ("{tmp}/secret.bin", "is an absolute path"),
    ("C:\\data\\secret.bin", "is an absolute path"),
    ("a\x01.bin", "has control characters"),
])
def test_names_that_leave_the_folder_are_refused_with_their_line(tmp_path, name, problem):
    folder = folder_with(tmp_path, f"a.bin,12,3\n{name.format(tmp=tmp_path)},12,1\n")
    with pytest.raises(DatasetError) as caught:
        load_dataset(folder, KWS)
    assert str(caught.value).startswith(f"{folder}/y_labels.csv:2: file name ")
    assert str(caught.value).endswith(f"{problem}; a label list names files inside its folder")


def test_measure_refuses_a_path_out_of_the_folder_before_any_run(cli, tmp_path, reference):
    folder = folder_with(tmp_path, "a.bin,12,3\n../secret.bin,12,1\n")
    runs = tmp_path / "runs"
    result = cli("measure", "--board", BOARD, "-b", "kws", "--mode", "accuracy", "--dataset", str(folder),
                 "--out", str(runs))
    assert_one_line_error(result, 12, f"{folder}/y_labels.csv:2: file name '../secret.bin' climbs out of the "
                                      "folder with '..'")
    assert not runs.exists()  # refused before a run directory (and its wire.log) exists


def test_symbolic_links_may_not_lead_out_of_the_folder(cli, tmp_path):
    folder = folder_with(tmp_path, "a.bin,12,3\nlink.bin,12,1\n")
    (folder / "link.bin").symlink_to(tmp_path / "secret.bin")
    assert_one_line_error(check(cli, folder), 12, f"{folder}/y_labels.csv:2: link.bin is a symbolic link that "
                                                  f"leads outside the dataset folder {folder}")
    # through a linked folder too
    (folder / "y_labels.csv").write_text("a.bin,12,3\nout/secret.bin,12,1\n")
    (folder / "out").symlink_to(tmp_path)
    assert_one_line_error(check(cli, folder), 12, "y_labels.csv:2: out/secret.bin is a symbolic link that leads "
                                                  "outside the dataset folder")
    # a link that stays inside is fine
    (folder / "y_labels.csv").write_text("a.bin,12,3\ninside.bin,12,1\n")
    (folder / "inside.bin").symlink_to(folder / "b.bin")
    assert [e.file for e in load_dataset(folder, KWS).entries] == ["a.bin", "inside.bin"]


def test_a_file_swapped_for_an_outside_link_after_the_checks_is_not_read(tmp_path):
    folder = folder_with(tmp_path, "a.bin,12,3\nb.bin,12,1\n")
    dataset = load_dataset(folder, KWS)
    (folder / "b.bin").unlink()
    (folder / "b.bin").symlink_to(tmp_path / "secret.bin")
    with pytest.raises(DatasetError, match="y_labels.csv:2: b.bin is a symbolic link that leads outside"):
        dataset.read(dataset.entries[1])


@pytest.mark.parametrize("labels, message", [
    ("../y_labels.csv", "label list '../y_labels.csv' climbs out of the folder with '..'; it must be a file "
                        "inside the dataset folder"),
    ("{tmp}/other.csv", "is an absolute path; it must be a file inside the dataset folder"),
    ("link.csv", "label list link.csv is a symbolic link that leads outside the dataset folder"),
])
def test_the_labels_option_stays_inside_the_folder(cli, tmp_path, labels, message):
    folder = folder_with(tmp_path, "a.bin,12,3\n")
    (tmp_path / "other.csv").write_text("../secret.bin,12,1\n")
    (tmp_path / "y_labels.csv").write_text("../secret.bin,12,1\n")
    (folder / "link.csv").symlink_to(tmp_path / "other.csv")
    assert_one_line_error(check(cli, folder, "--labels", labels.format(tmp=tmp_path)), 12, message)


def test_the_reference_ad01_label_list_passes_the_window_rule(tmp_path):
    reference = reference_path() / "ad01" / "y_labels.csv"
    folder = tmp_path / "ad01"
    folder.mkdir()
    shutil.copy(reference, folder / "y_labels.csv")
    for line in reference.read_text().splitlines():
        with open(folder / line.split(",")[0], "wb") as f:
            f.truncate(102_400)  # sparse: 248 files of 200 frames cost no disk
    dataset = load_dataset(folder, AD)
    assert len(dataset.entries) == 248 and {(e.window_bytes, e.stride_bytes) for e in dataset.entries} == {(2560, 512)}
    assert sum(e.label for e in dataset.entries) == 108  # the README's 140 normal, 108 anomalous


@pytest.mark.parametrize("row", ["x.bin,2,1,2560,256", "x.bin,2,1,5120,512", "x.bin,2,1,2560,2560",
                                 "x.bin,2,1,512,512"])
def test_ad01_rows_with_another_window_or_stride_are_refused(cli, tmp_path, row):
    folder = folder_with(tmp_path, row + "\n", files=("x.bin",), size=102_400)
    window, stride = row.split(",")[3:]
    result = cli("dataset", "check", str(folder), "-b", "ad")
    assert_one_line_error(result, 12, f"{folder}/y_labels.csv:1: window/stride {window}/{stride} bytes; "
                                      "ad01 uses 2560/512")


@pytest.mark.parametrize("row, message", [
    ("a.bin,12,3,2560,512", "expected 3 comma-separated fields (file,classes,class), got 5"),
    ("a.bin,\uff11\uff12,3", "fields after the file name must be integers"),  # full-width digits
    ("a.bin,1_2,3", "fields after the file name must be integers"),
])
def test_rows_of_the_wrong_shape_are_refused(tmp_path, row, message):
    folder = folder_with(tmp_path, row + "\n")
    with pytest.raises(DatasetError) as caught:
        load_dataset(folder, KWS)
    assert str(caught.value).startswith(f"{folder}/y_labels.csv:1: {message}")


def test_a_label_list_that_is_not_utf8_names_the_byte(cli, tmp_path):
    folder = folder_with(tmp_path, b"a.bin,12,3\nb\xe9.bin,12,1\n")
    assert_one_line_error(check(cli, folder), 12,
                          f"{folder}/y_labels.csv is not UTF-8 text: byte 0xe9 at offset 12 (line 2)")
    (folder / "y_labels.csv").write_bytes("a.bin,12,3\n".encode("utf-16"))
    assert_one_line_error(check(cli, folder), 12, "is not UTF-8 text: byte 0xff at offset 0 (line 1)")


def test_a_utf8_byte_order_mark_is_accepted(cli, tmp_path):
    folder = folder_with(tmp_path, b"\xef\xbb\xbfa.bin,12,3\r\nb.bin,12,1\r\n")
    assert [(e.file, e.label) for e in load_dataset(folder, KWS).entries] == [("a.bin", 3), ("b.bin", 1)]
    result = check(cli, folder)
    assert result.code == 0 and result.stdout == f"{folder}: 2 files, all present and sized for kws01 (dataset)\n"


@pytest.mark.parametrize("labels, message", [
    ("a.bin,12,3\nb.bin,12,1\na.bin,12,3\n", "lines 1 and 3 both list a.bin; each file may be listed once"),
    ("a.bin,12,3\n\n./a.bin,12,5\n", "lines 1 and 3 both list a.bin and ./a.bin, the same file"),
])
def test_a_file_listed_twice_is_refused_naming_both_lines(cli, tmp_path, labels, message):
    folder = folder_with(tmp_path, labels)
    assert_one_line_error(check(cli, folder), 12, f"{folder}/y_labels.csv: {message}")


@pytest.mark.parametrize("content, message", [
    (b"{not json", "dataset.json is not valid JSON: Expecting property name enclosed in double quotes at line 1"),
    (b"[true]", "dataset.json must hold a JSON object, not an array"),
    (b'"synthetic"', "dataset.json must hold a JSON object, not a string"),
    (b'{"synthetic": "yes"}', "dataset.json: 'synthetic' must be true/false, not a string"),
    (b'{"synthetic": true, "count": "3"}', "dataset.json: 'count' must be an integer, not a string"),
    (b'{"synthetic": true, "seed": false}', "dataset.json: 'seed' must be an integer, not true/false"),
    (b'{"labels": 5}', "dataset.json: 'labels' must be a string, not an integer"),
    (b"[" * 100_000, "dataset.json is not valid JSON: nested too deeply"),
    (b'{"labels": "\xff"}', "dataset.json is not UTF-8 text (byte offset 12)"),
])
def test_a_malformed_dataset_json_is_refused_naming_the_file(cli, tmp_path, content, message):
    folder = folder_with(tmp_path, "a.bin,12,3\n")
    (folder / "dataset.json").write_bytes(content)
    assert_one_line_error(check(cli, folder), 12, f"{folder}/{message}")


def test_a_dataset_json_that_leads_out_of_the_folder_is_refused(tmp_path):
    folder = folder_with(tmp_path, "a.bin,12,3\n")
    (tmp_path / "meta.json").write_text(json.dumps({"synthetic": False}))
    os.symlink(tmp_path / "meta.json", folder / "dataset.json")
    with pytest.raises(DatasetError, match="dataset.json is a symbolic link that leads outside"):
        load_dataset(folder, KWS)


def test_synth_into_a_file_is_a_usage_error(cli, tmp_path):
    target = tmp_path / "file"
    target.write_text("x")
    assert_one_line_error(cli("dataset", "synth", "-b", "kws", "--out", str(target)), 2,
                          f"{target} exists and is not a folder")
