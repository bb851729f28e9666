"""evalkit.data: reading files and reporting every problem with file, column and rows."""

from __future__ import annotations

import pickle

import numpy as np
import pandas as pd
import pytest

from evalkit.data import Column, load, read, validate
from evalkit.exceptions import EvalDataError

COLS = [
    Column("case_id", kind="id"),
    Column("score", min=0, max=80),
    Column("enrolled", kind="binary", required=False),
]


def _csv(tmp_path, text: str, name: str = "d.csv"):
    p = tmp_path / name
    p.write_text(text)
    return p


def test_reads_csv_parquet_and_excel_alike(tmp_path):
    df = pd.DataFrame({"case_id": ["A-00001", "A-00002", "A-00003"], "score": [10, 20.5, 30],
                       "enrolled": [1, 0, 1]})
    paths = [tmp_path / "d.csv", tmp_path / "d.parquet", tmp_path / "d.xlsx"]
    df.to_csv(paths[0], index=False)
    df.to_parquet(paths[1], index=False)
    df.to_excel(paths[2], index=False)
    for p in paths:
        out = load(p, COLS)
        assert out["score"].tolist() == [10.0, 20.5, 30.0], p
        assert out["case_id"].tolist() == df["case_id"].tolist(), p
        assert out["enrolled"].tolist() == [1.0, 0.0, 1.0], p


def test_every_problem_is_listed_with_file_column_and_lines(tmp_path):
    p = _csv(tmp_path, "case_id,score,enrolled\n"
                       "A-1,10,1\n"      # line 2
                       "A-2,ten,0\n"     # line 3: not a number
                       "A-1,95,1\n"      # line 4: duplicate id, out of range
                       ",12,yes\n")      # line 5: missing id, not binary
    with pytest.raises(EvalDataError) as info:
        load(p, COLS)
    err = info.value
    msg = str(err)
    assert msg.startswith(str(p))
    assert len(err.problems) == 5, msg
    by = {(pr.column, pr.message): pr for pr in err.problems}
    assert by[("score", "values are not numbers")].rows == (3,)
    assert "'ten'" in msg
    assert by[("score", "values are above 80")].rows == (4,)
    assert by[("case_id", "values are missing")].rows == (5,)
    assert by[("enrolled", "values are not numbers")].rows == (5,)
    dup = [pr for pr in err.problems if "more than once" in pr.message or "more than one" in pr.message]
    assert dup and dup[0].rows == (2, 4) and dup[0].n_rows == 2
    assert "line 3" in msg and "expected numbers between 0 and 80" in msg


def test_duplicate_ids_are_reported_without_showing_them(tmp_path):
    p = _csv(tmp_path, "case_id,score\nMLM-04821,1\nMLM-04821,2\nMLM-00001,3\n")
    with pytest.raises(EvalDataError) as info:
        load(p, COLS[:2])
    assert "MLM-04821" not in str(info.value)
    assert "lines 2, 3" in str(info.value)


def test_missing_column_suggests_close_names(tmp_path):
    p = _csv(tmp_path, "case_id,scores\nA-1,3\n")
    with pytest.raises(EvalDataError, match=r"column 'score': required column is missing "
                       r"\(columns found: 'scores'\)"):
        load(p, COLS)


def test_empty_file_and_header_only(tmp_path):
    with pytest.raises(EvalDataError, match="has 0 data rows"):
        load(_csv(tmp_path, "case_id,score\n"), COLS[:2])
    with pytest.raises(EvalDataError, match="could not be read"):
        read(_csv(tmp_path, "", name="empty.csv"))


def test_file_not_found_and_unknown_type(tmp_path):
    with pytest.raises(EvalDataError, match="file not found"):
        read(tmp_path / "nope.csv")
    with pytest.raises(EvalDataError, match="unsupported file type '.sav'"):
        read(_csv(tmp_path, "x", name="d.sav"))


def test_excel_rows_are_sheet_rows(tmp_path):
    p = tmp_path / "d.xlsx"
    pd.DataFrame({"case_id": ["a-1", "a-2", "a-3"], "score": [1, -4, 2]}).to_excel(p, index=False)
    with pytest.raises(EvalDataError) as info:
        load(p, COLS[:2])
    # header is sheet row 1, so the second data row is sheet row 3
    assert info.value.problems[0].rows == (3,)
    assert "row 3" in str(info.value)


def test_data_frame_rows_are_positions_and_many_rows_are_summarized():
    df = pd.DataFrame({"score": ["x"] * 30})
    with pytest.raises(EvalDataError) as info:
        validate(df, [Column("score")])
    pr = info.value.problems[0]
    assert pr.n_rows == 30 and pr.rows[0] == 1
    assert "and 22 more" in str(info.value)
    assert str(info.value).startswith("data frame:")


def test_kinds_integer_category_missing_infinite():
    df = pd.DataFrame({"k": [1, 2.5, 3], "c": ["a", "b", "z"], "m": [1.0, np.nan, 2.0],
                       "i": [1.0, np.inf, 2.0]})
    with pytest.raises(EvalDataError) as info:
        validate(df, [Column("k", kind="integer"), Column("c", kind="category", allowed=("a", "b")),
                      Column("m", allow_missing=False), Column("i")])
    msgs = {(p.column, p.message) for p in info.value.problems}
    assert ("k", "values are not whole numbers") in msgs
    assert ("c", "values are not among the allowed categories") in msgs
    assert ("m", "values are missing") in msgs
    assert ("i", "values are infinite") in msgs


def test_validate_coerces_and_keeps_other_columns():
    df = pd.DataFrame({"case_id": [" A-1", "A-2"], "score": ["10", " 12"], "other": [1, 2]})
    out = validate(df, COLS[:2])
    assert out["score"].dtype == np.float64 and out["score"].tolist() == [10.0, 12.0]
    assert out["case_id"].tolist() == ["A-1", "A-2"]
    assert out["other"].tolist() == [1, 2]
    assert df["score"].tolist() == ["10", " 12"]  # input untouched


def test_binary_accepts_booleans_and_true_false_text():
    df = pd.DataFrame({"b": [True, False], "t": ["TRUE", "false"]})
    out = validate(df, [Column("b", kind="binary"), Column("t", kind="binary")])
    assert out["b"].tolist() == [1.0, 0.0] and out["t"].tolist() == [1.0, 0.0]


def test_error_survives_pickling_for_worker_processes():
    err = EvalDataError("has 0 data rows", source="x.csv")
    again = pickle.loads(pickle.dumps(err))
    assert str(again) == str(err) and again.problems == err.problems


def test_bad_specs_are_programming_errors():
    with pytest.raises(ValueError):
        Column("x", kind="nonsense")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        Column("x", min=5, max=1)
    with pytest.raises(TypeError):
        validate([1, 2], [Column("x")])  # type: ignore[arg-type]


@pytest.mark.parametrize("fmt", ["csv", "tsv", "xlsx"])
def test_duplicated_headers_are_refused_with_their_positions(tmp_path, fmt):
    # pandas would rename the second ts_6mo to ts_6mo.1 and the analysis would silently use
    # the first one (issue 11: 0.075 reported instead of -7.04)
    header = ["case_id", "ts_intake", "ts_6mo", "note", "ts_6mo"]
    rows = [["A1", 40, 39, "x", 30], ["A2", 42, 41, "y", 35]]
    p = tmp_path / f"d.{fmt}"
    if fmt == "xlsx":
        pd.DataFrame(rows).to_excel(p, index=False, header=header)
    else:
        sep = "\t" if fmt == "tsv" else ","
        p.write_text("\n".join(sep.join(map(str, r)) for r in [header, *rows]) + "\n")
    with pytest.raises(EvalDataError) as err:
        load(p, [Column("case_id", kind="id"), Column("ts_6mo")])
    msg = str(err.value)
    assert "'ts_6mo'" in msg and "more than once" in msg
    assert ("columns 3 (C) and 5 (E)" if fmt == "xlsx" else "columns 3 and 5") in msg
    assert "ts_6mo.1" not in msg


def test_a_header_that_looks_renamed_is_not_a_duplicate(tmp_path):
    p = _csv(tmp_path, "case_id,ts_6mo,ts_6mo.1,,\nA1,1,2,,\nA2,3,4,,\n")
    out = load(p, [Column("case_id", kind="id"), Column("ts_6mo"), Column("ts_6mo.1")])
    assert out["ts_6mo.1"].tolist() == [2.0, 4.0]


def test_symlink_loop_is_a_data_error_naming_the_file(tmp_path):
    a, b = tmp_path / "a.csv", tmp_path / "b.csv"
    a.symlink_to(b)
    b.symlink_to(a)
    with pytest.raises(EvalDataError, match="symlink loop") as err:
        load(a, COLS)
    assert str(a) in str(err.value)


def test_validated_frame_is_read_back_exactly_with_the_original_row_numbers(tmp_path):
    from evalkit.data import write_frame

    p = tmp_path / "two.xlsx"
    with pd.ExcelWriter(p) as xl:
        pd.DataFrame({"case_id": ["001", "002"], "score": [1, 2]}).to_excel(
            xl, sheet_name="site_a", index=False)
        pd.DataFrame({"case_id": ["00001", "1", "0002"], "score": [5, 6, 90],
                      "mixed": [1, "a", None]}).to_excel(xl, sheet_name="site_b", index=False)
    cols = [Column("case_id", kind="id"), Column("score", min=0, max=100)]
    checked = load(p, cols, sheet="site_b")
    frame = write_frame(checked, tmp_path / "validated.parquet")
    again = load(p, cols, validated=frame)  # no sheet given: the validated frame decides
    assert again["case_id"].tolist() == ["00001", "1", "0002"]
    assert again["score"].tolist() == [5.0, 6.0, 90.0]
    with pytest.raises(EvalDataError) as err:
        load(p, [Column("case_id", kind="id"), Column("score", max=80)], validated=frame)
    assert str(p) in str(err.value) and "row 4" in str(err.value)


def test_validate_and_write_frame_leave_the_callers_frame_unchanged(tmp_path):
    """validate() and write_frame() work on shallow copies: the frame they were given keeps
    its values and dtypes (ids with blanks, numbers as text, a missing cell)."""
    from evalkit.data import write_frame

    df = pd.DataFrame({"id": [" A-1", "A-2 ", "A-3"], "score": ["1", "2", None],
                       "other": [1.5, 2.5, 3.5]})
    before = df.copy(deep=True)
    out = validate(df, [Column("id", kind="id"), Column("score", min=0)])
    write_frame(out, tmp_path / "v.parquet")
    pd.testing.assert_frame_equal(df, before)
    assert out["id"].tolist() == ["A-1", "A-2", "A-3"] and out["score"].dtype == "float64"
