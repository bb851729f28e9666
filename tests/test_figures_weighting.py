"""The comparison-group figures: the love plot (one row per covariate, WWC reference lines) and
the propensity-score overlap histogram, whose bins never show a count below the privacy
threshold."""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
import pytest
from conftest import SAMPLE
from hypothesis import given, settings
from hypothesis import strategies as st

from evalkit import weighting
from evalkit.exceptions import PrivacyError
from evalkit.report import figures

COVS = ["age", "prior_runaways", "prior_placements", "justice_involved", "ts_intake", "site"]

settings.register_profile("overlap", max_examples=150, derandomize=True, deadline=None)


@pytest.fixture(scope="module")
def weights() -> tuple[pd.DataFrame, weighting.Weights]:
    df = pd.read_csv(SAMPLE / "advocacy_referrals.csv")
    return df, weighting.propensity(df, "in_program", COVS, estimand="ATT")


def _png(fig) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()


def test_love_plot_has_one_row_per_covariate_and_the_wwc_lines(weights):
    _, w = weights
    fig = figures.love_plot(w.balance, adjusted_label="After weighting")
    (ax,) = fig.axes
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert labels == list(w.balance["covariate"])
    assert list(ax.get_yticks()) == list(range(len(labels)))[::-1]  # top to bottom in order
    assert "site[Coast]" in labels  # a categorical covariate: one row per level
    vlines = sorted(ln.get_xdata()[0] for ln in ax.get_lines()
                    if len(set(ln.get_xdata())) == 1 and ln.get_linestyle() == "--")
    assert vlines == [0.05, 0.25]
    before, after = (ln for ln in ax.get_lines() if ln.get_label() in
                     ("Before adjustment", "After weighting"))
    np.testing.assert_allclose(before.get_xdata(), np.abs(w.balance["smd_raw"]))
    np.testing.assert_allclose(after.get_xdata(), np.abs(w.balance["smd_adjusted"]))
    assert _png(fig).startswith(b"\x89PNG")
    assert figures.clipped_texts(fig) == []


def test_love_plot_wraps_long_covariate_names_and_skips_undefined_smds():
    long = "placements in residential care before the referral to the program"
    bal = pd.DataFrame({"covariate": [long, "constant"], "smd_raw": [0.4, np.nan],
                        "smd_adjusted": [-0.02, np.nan]})
    fig = figures.love_plot(bal)
    labels = [t.get_text() for t in fig.axes[0].get_yticklabels()]
    assert labels == [figures.wrap_label(long, 30), "constant"] and "\n" in labels[0]
    assert figures.clipped_texts(fig) == []
    with pytest.raises(ValueError, match="smd_adjusted"):
        figures.love_plot(bal.drop(columns="smd_adjusted"))


def test_overlap_histogram_renders_the_sample_without_small_bins(weights):
    df, w = weights
    table = figures.overlap_bins(w.ps, df["in_program"], 11)
    assert (table[["n_treated", "n_control"]] >= 11).all().all()
    assert table["n_treated"].sum() == 231 and table["n_control"].sum() == 289
    # merging was needed: the 20 equal bins alone show counts below 11
    fine = np.minimum((w.ps.to_numpy() * 20).astype(int), 19)
    raw = pd.crosstab(fine, df["in_program"])
    assert ((raw > 0) & (raw < 11)).any().any()
    fig = figures.overlap_histogram(w.ps, df["in_program"], 11, program_label="Advocacy")
    bars = fig.axes[0].patches
    assert len(bars) == 2 * len(table)
    np.testing.assert_allclose(sorted({round(b.get_x(), 9) for b in bars}), table["left"])
    assert _png(fig).startswith(b"\x89PNG")
    assert figures.clipped_texts(fig) == []


@settings(settings.get_profile("overlap"))
@given(n1=st.integers(0, 80), n0=st.integers(0, 80), threshold=st.integers(5, 15),
       bins=st.integers(2, 30), seed=st.integers(0, 2**32 - 1),
       shape=st.sampled_from(["uniform", "separated", "clumped"]))
def test_no_overlap_bin_holds_a_small_count(n1, n0, threshold, bins, seed, shape):
    rng = np.random.default_rng(seed)
    if shape == "uniform":
        p1, p0 = rng.random(n1), rng.random(n0)
    elif shape == "separated":
        p1, p0 = rng.uniform(0.6, 1.0, n1), rng.uniform(0.0, 0.5, n0)
    else:  # a few scores repeated (ties on bin edges)
        p1 = rng.choice([0.05, 0.5, 0.55, 1.0], n1)
        p0 = rng.choice([0.0, 0.25, 0.5, 0.95], n0)
    ps = np.concatenate([p1, p0])
    treated = np.r_[np.ones(n1), np.zeros(n0)]
    if min(n1, n0) == 0:
        with pytest.raises(ValueError, match="no (program|comparison) youth"):
            figures.overlap_bins(ps, treated, threshold, bins=bins)
        return
    if min(n1, n0) < threshold:
        with pytest.raises(PrivacyError, match=f"fewer than {threshold} youth"):
            figures.overlap_bins(ps, treated, threshold, bins=bins)
        return
    table = figures.overlap_bins(ps, treated, threshold, bins=bins)
    counts = table[["n_treated", "n_control"]].to_numpy()
    assert ((counts == 0) | (counts >= threshold)).all()
    assert counts[:, 0].sum() == n1 and counts[:, 1].sum() == n0
    # contiguous bins on the fixed grid, each holding exactly the scores inside it
    assert np.allclose(table["left"].to_numpy()[1:], table["right"].to_numpy()[:-1])
    assert np.allclose(table["left"] * bins, np.round(table["left"] * bins))
    fine = np.minimum((ps * bins).astype(int), bins - 1)
    for row in table.itertuples():
        inside = (fine >= round(row.left * bins)) & (fine < round(row.right * bins))
        assert (inside & (treated == 1)).sum() == row.n_treated
        assert (inside & (treated == 0)).sum() == row.n_control


def test_overlap_of_a_group_below_the_threshold_is_refused():
    ps = np.r_[np.linspace(0.1, 0.9, 40), [0.5, 0.6, 0.7]]
    treated = np.r_[np.zeros(40), np.ones(3)]
    with pytest.raises(PrivacyError, match="program group has fewer than 11"):
        figures.overlap_histogram(ps, treated, 11)
    with pytest.raises(ValueError, match="privacy threshold 3 is below"):
        figures.overlap_bins(ps, treated, 3)
    with pytest.raises(ValueError, match="from 0 to 1"):
        figures.overlap_bins(np.r_[ps[:-1], np.nan], treated, 11)
