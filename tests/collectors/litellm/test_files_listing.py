"""Listing payload files: the order and the choice of sorted(Path.rglob("*")), found faster."""
from __future__ import annotations

import pytest

from collectors.litellm.files import SUFFIXES, PayloadFileError, iter_payload_files, payload_files

NAMES = ["a/b/y.json", "a/x.json", "a-c/z.jsonl", "a.json", "A/q.log", ".hidden/i.json", "a/b.json.gz",
         "notes/o.txt", "deep/1/2/3.ndjson", "a b/c.json", "a.b/c.json", "a0/c.json", "z.JSON"]


def rglob_listing(root):
    return [p for p in sorted(root.rglob("*"))
            if p.is_file() and p.name.removesuffix(".gz").endswith(SUFFIXES)]


@pytest.fixture()
def tree(tmp_path):
    for name in NAMES:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("{}")
    (tmp_path / "link.json").symlink_to(tmp_path / "a.json")  # a symlinked file is read
    (tmp_path / "dirlink").symlink_to(tmp_path / "a")  # a symlinked folder is not entered
    (tmp_path / "broken.json").symlink_to(tmp_path / "nowhere")  # not a file
    return tmp_path


def test_same_files_in_the_same_order_as_sorted_rglob(tree):
    listed = payload_files([tree])
    assert listed == rglob_listing(tree)
    assert [str(p.relative_to(tree)) for p in listed][:5] == [".hidden/i.json", "A/q.log", "a/b/y.json",
                                                             "a/b.json.gz", "a/x.json"]
    assert tree / "link.json" in listed and not any("dirlink" in str(p) for p in listed)


def test_files_and_folders_in_the_order_given(tree):
    assert payload_files([tree / "a.json", tree / "a"]) == [tree / "a.json", *rglob_listing(tree / "a")]


def test_a_missing_path_fails_before_anything_is_listed(tree):
    listing = iter_payload_files([tree, tree / "missing"])
    with pytest.raises(PayloadFileError, match="missing: no such file or directory"):
        next(listing)
