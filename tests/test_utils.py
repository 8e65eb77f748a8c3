"""Small shared helpers: atomic writes, provenance."""

from __future__ import annotations

import os

import pytest

import irad
from irad.utils.checkpoint import atomic_path, atomic_write_json
from irad.utils.provenance import environment


def test_atomic_path_publishes_whole_files_or_none(tmp_path):
    target = tmp_path / "sub" / "r.json"
    atomic_write_json(target, {"a": 1})
    umask = os.umask(0)
    os.umask(umask)
    assert target.read_text() == '{\n  "a": 1\n}\n' and target.stat().st_mode & 0o777 == 0o666 & ~umask
    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        open(tmp, "w").write("half")
        raise RuntimeError("interrupted")
    assert target.read_text() == '{\n  "a": 1\n}\n' and [p.name for p in target.parent.iterdir()] == ["r.json"]


def test_environment_names_the_version():
    env = environment("cpu")
    assert env["irad"] == irad.__version__ and env["device"] == "cpu"
