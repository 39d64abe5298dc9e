"""The datasets shipped in the package are the files their README describes, and the cases' files."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest

from replicate.case import load_case
from replicate.data import SHIPPED_DATA, search_path, sha256_file

ROOT = Path(__file__).resolve().parents[1]


def _table() -> dict[str, tuple[int, str]]:
    rows = {}
    for line in (SHIPPED_DATA / "README.md").read_text(encoding="utf-8").splitlines():
        m = re.match(r"^\| (\S+\.csv) \| (\d+) \|.*\| ([0-9a-f]{64}) \|$", line)
        if m:
            rows[m.group(1)] = (int(m.group(2)), m.group(3))
    return rows


def test_readme_lists_every_shipped_file_with_its_rows_and_checksum() -> None:
    table = _table()
    assert sorted(table) == sorted(p.name for p in SHIPPED_DATA.glob("*.csv"))
    for name, (rows, sha) in table.items():
        assert sha256_file(SHIPPED_DATA / name) == sha, name
        assert len(pd.read_csv(SHIPPED_DATA / name)) == rows, name


@pytest.mark.parametrize("path", sorted((ROOT / "cases").glob("*.yaml")), ids=lambda p: p.stem)
def test_every_case_file_is_shipped_with_its_checksum(path: Path) -> None:
    case = load_case(path)
    if "file" not in case.data:
        return
    found = [d / case.data["file"] for d in search_path(path.parent) if (d / case.data["file"]).is_file()]
    assert found, f"{case.data['file']} is not shipped"
    assert sha256_file(found[0]) == case.data["sha256"]


def test_search_order_is_case_folder_then_package_then_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REPLICATE_DATA_PATH", str(tmp_path / "mine"))
    case_dir = tmp_path / "cases"
    assert search_path(case_dir) == [case_dir, case_dir / "data", SHIPPED_DATA, tmp_path / "mine"]
