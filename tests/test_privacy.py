"""evalkit.privacy: small-cell and complementary suppression, identifier leak checks."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from evalkit.exceptions import PrivacyError
from evalkit.privacy import (
    SUPPRESSED,
    check_no_identifiers,
    check_threshold,
    find_identifiers,
    format_count,
    is_reportable,
    suppress,
)


def test_one_way_primary_and_complementary():
    s = suppress(pd.Series({"completed": 40, "withdrew": 3, "moved": 12}))
    shown = s.display()[0].tolist()
    # 3 is small; with the total shown it could be derived from 40 and 12, so 12 goes too
    assert shown == ["40", SUPPRESSED, SUPPRESSED, "55"]


def test_complementary_cells_continue_until_their_sum_reaches_the_threshold():
    s = suppress(pd.Series({"a": 50, "b": 2, "c": 3, "d": 30}), 11)
    # b and c together are 5 < 11: suppressing both still reveals that few youth are in
    # them, so the next smallest (d) is hidden as well
    assert s.mask[0].tolist() == [False, True, True, True, False]


def test_nothing_small_nothing_hidden_and_zero_is_shown():
    s = suppress(pd.Series({"a": 0, "b": 11, "c": 40}))
    assert s.n_suppressed == 0
    assert s.display()[0].tolist() == ["0", "11", "40", "51"]


def test_small_total_is_suppressed_with_its_cells():
    s = suppress(pd.Series({"a": 4, "b": 3}))
    assert s.mask[0].all()


def _relations_protected(counts: np.ndarray, mask: np.ndarray, threshold: int) -> None:
    """No row or column of a table with margins reveals a hidden cell by subtraction."""
    nr, nc = counts.shape
    lines = [[(i, j) for j in range(nc)] for i in range(nr)]
    lines += [[(i, j) for i in range(nr)] for j in range(nc)]
    for line in lines:
        hidden = [c for c in line if mask[c]]
        assert len(hidden) != 1, f"a single hidden cell in {line} can be recovered"
        # the last member of each line is its total
        body, total = line[:-1], line[-1]
        if hidden and not mask[total]:
            hsum = sum(counts[c] for c in body if mask[c])
            assert hsum == 0 or hsum >= threshold or all(mask[c] for c in body)


@pytest.mark.parametrize("seed", range(25))
def test_two_way_tables_never_reveal_a_small_cell(seed):
    rng = np.random.default_rng(seed)
    shape = (rng.integers(2, 5), rng.integers(2, 5))
    body = rng.choice([0, 1, 2, 4, 7, 9, 12, 15, 30, 60], size=shape)
    table = pd.DataFrame(body, index=[f"r{i}" for i in range(shape[0])],
                         columns=[f"c{j}" for j in range(shape[1])])
    s = suppress(table, 11)
    counts, mask = s.counts.to_numpy(), s.mask.to_numpy()
    # every primary cell is hidden
    assert not ((counts > 0) & (counts < 11) & ~mask).any()
    _relations_protected(counts, mask, 11)


def test_percentages_hide_with_their_counts():
    s = suppress(pd.Series({"stayed": 60, "left": 5, "moved": 20}))
    shown = s.display(percent_of="column")[0].tolist()
    assert shown[0] == "60 (71%)" and shown[1] == SUPPRESSED


def test_threshold_rules():
    assert check_threshold(11) == 11
    with pytest.raises(ValueError, match="below the minimum of 5"):
        check_threshold(4)
    with pytest.raises(ValueError, match="whole number"):
        check_threshold(10.5)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="non-negative whole"):
        suppress(pd.Series([1.5, 3]))
    assert not is_reportable(10) and is_reportable(11) and is_reportable(0)
    assert format_count(7) == SUPPRESSED and format_count(1234) == "1,234"


def test_identifiers_are_found_as_whole_tokens_outside_images():
    ids = ["MLM-04821", "MLM-00017", "1234"]
    html = ("<p>youth MLM-04821 improved</p>"
            "<img src='data:image/png;base64,TUxNLTAwMDE3MLM-00017AAAA'>"
            "<p>MLM-000171 is another number</p><p>1234 youth</p>")
    assert find_identifiers(html, ids) == ["MLM-04821"]


def test_leak_check_refuses_without_printing_the_id():
    with pytest.raises(PrivacyError) as info:
        check_no_identifiers("<td>MLM-04821</td>\n<td>x</td>", ["MLM-04821", "MLM-1"],
                             what="site-a/report.html", column="case_id")
    msg = str(info.value)
    assert "MLM-04821" not in msg and "1 identifier value(s) of column 'case_id'" in msg
    assert "site-a/report.html" in msg and "line 1" in msg


def test_leak_check_reports_ids_too_short_to_search():
    assert check_no_identifiers("nothing here", ["12", "345", "99999", "AB-12"], what="r") == 2
