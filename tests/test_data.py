import hashlib
from pathlib import Path

import pandas as pd
import pytest

from replicate.case import load_case
from replicate.data import find_file, load_frame
from replicate.errors import DataError

CSV = "g,y,x,lvl\n1,1.0,0.5,b\n1,2.0,,a\n2,3.0,1.5,c\n2,4.5,2.5,b\n"


def make_case(tmp_path: Path, extra: str = "", sha: str | None = None, name: str = "d.csv") -> Path:
    data = tmp_path / "data"
    data.mkdir(exist_ok=True)
    (data / name).write_text(CSV)
    digest = sha or hashlib.sha256(CSV.encode()).hexdigest()
    p = tmp_path / "case.yaml"
    p.write_text(f"""id: t
title: t
data:
  file: {name}
  sha256: {digest}
{extra}model:
  formula: y ~ x + (1 | g)
""")
    return p


def test_file_found_on_data_path(tmp_path, monkeypatch):
    monkeypatch.setenv("REPLICATE_DATA_PATH", str(tmp_path / "data"))
    fr = load_frame(load_case(make_case(tmp_path)))
    assert len(fr.df) == 4 and fr.sha256 is not None and fr.df["x"].isna().sum() == 1


def test_missing_file_lists_the_search_path(tmp_path, monkeypatch):
    monkeypatch.delenv("REPLICATE_DATA_PATH", raising=False)
    case = load_case(make_case(tmp_path))
    with pytest.raises(DataError) as err:
        load_frame(case)
    msg = str(err.value)
    assert "'d.csv' not found" in msg and "REPLICATE_DATA_PATH" in msg and err.value.line == 4


def test_checksum_mismatch_says_the_copy_differs(tmp_path, monkeypatch):
    monkeypatch.setenv("REPLICATE_DATA_PATH", str(tmp_path / "data"))
    case = load_case(make_case(tmp_path, sha="f" * 64))
    with pytest.raises(DataError) as err:
        load_frame(case)
    assert "differs from the one the reference outputs were computed on" in str(err.value)
    assert err.value.field == "data.sha256" and err.value.line == 5


def test_links_leaving_the_data_folder_are_refused(tmp_path):
    outside = tmp_path / "secret.csv"
    outside.write_text(CSV)
    d = tmp_path / "data"
    d.mkdir()
    (d / "link.csv").symlink_to(outside)
    with pytest.raises(DataError, match="link leaving"):
        find_file("link.csv", d)


def test_paths_with_folders_are_refused(tmp_path):
    with pytest.raises(DataError, match="plain file name"):
        find_file("../x.csv", tmp_path)


def test_levels_transform_and_where(tmp_path, monkeypatch):
    monkeypatch.setenv("REPLICATE_DATA_PATH", str(tmp_path / "data"))
    extra = """  levels: {lvl: [c, b, a]}
transform:
  xc: center(x, by=g)
  big: y > 2
where: not is_na(x)
"""
    fr = load_frame(load_case(make_case(tmp_path, extra=extra)))
    assert list(fr.df["lvl"].cat.categories) == ["c", "b", "a"]
    assert len(fr.df) == 3 and fr.n_raw == 4
    assert fr.df["xc"].tolist() == pytest.approx([0.0, -0.5, 0.5])


def test_levels_must_list_every_level(tmp_path, monkeypatch):
    monkeypatch.setenv("REPLICATE_DATA_PATH", str(tmp_path / "data"))
    case = load_case(make_case(tmp_path, extra="  levels: {lvl: [c, b]}\n"))
    with pytest.raises(DataError, match=r"level\(s\) \['a'\] not listed"):
        load_frame(case)


def test_transform_errors_name_field_and_line(tmp_path, monkeypatch):
    monkeypatch.setenv("REPLICATE_DATA_PATH", str(tmp_path / "data"))
    case = load_case(make_case(tmp_path, extra="transform:\n  z: group_mean(xx, by=g)\n"))
    with pytest.raises(DataError) as err:
        load_frame(case)
    assert err.value.field == "transform.z" and err.value.line == 7 and "xx" in str(err.value)


def test_unavailable_data_says_why(tmp_path):
    p = tmp_path / "c.yaml"
    p.write_text("id: t\ntitle: t\ndata: {unavailable: private NELS file}\nmodel: {formula: y ~ (1|g)}\n")
    with pytest.raises(DataError, match="not public: private NELS file"):
        load_frame(load_case(p))


def test_pandas_frame_roundtrip_is_untouched(tmp_path, monkeypatch):
    monkeypatch.setenv("REPLICATE_DATA_PATH", str(tmp_path / "data"))
    fr = load_frame(load_case(make_case(tmp_path)))
    assert isinstance(fr.df, pd.DataFrame)
