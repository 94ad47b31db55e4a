"""Expert popularity laws (afdscope.routing.popularity): shares, inclusion caps and the CSV loader,
checked against hand arithmetic."""

import numpy as np
import pytest

from afdscope.errors import AfdscopeError
from afdscope.routing import Popularity

# ---------------------------------------------------------------- popularity


def test_popularity_constructors():
    u = Popularity.uniform(4)
    assert np.allclose(u.probabilities, 0.25) and not u.ranked
    # p_i ∝ i^-1 over 4 ranks: 1, 1/2, 1/3, 1/4 over 25/12.
    pl = Popularity.power_law(4, 1.0)
    assert np.allclose(pl.probabilities, np.array([12, 6, 4, 3]) / 25) and pl.ranked
    z = Popularity.zipf(4, 1.0)  # the same law, pinned to expert ids: expert 0 is the hottest
    assert np.allclose(z.probabilities, pl.probabilities) and not z.ranked
    with pytest.raises(AfdscopeError, match="sum to"):
        Popularity(np.array([0.5, 0.6]))
    with pytest.raises(AfdscopeError, match="alpha"):
        Popularity.power_law(8, -1.0)


def test_inclusion_caps_a_share_above_one_over_k():
    # Shares [0.7, 0.1, 0.1, 0.1] with K = 2: 2·0.7 = 1.4 > 1, so expert 0 is in every token (π = 1)
    # and the remaining pick spreads over the other three: 1/3 each.
    pop = Popularity(np.array([0.7, 0.1, 0.1, 0.1]))
    assert np.allclose(pop.inclusion(2), [1.0, 1 / 3, 1 / 3, 1 / 3])
    assert pop.hottest_over_mean(2) == pytest.approx(1.0 / 0.5)
    # DeepSeek-V3's fit α = 1.01 over 256 experts: p_1 = 1/Σ i^-1.01 ≈ 1/6.0, K·p_1 ≈ 1.3 > 1: the hottest
    # expert is in every token, 1 over the mean K/N = 8/256 → 32×.
    assert Popularity.power_law(256, 1.01).hottest_over_mean(8) == pytest.approx(32.0)


def test_popularity_needs_k_experts():
    with pytest.raises(AfdscopeError, match="at least 2"):
        Popularity(np.array([1.0, 0.0, 0.0])).inclusion(2)


# ---------------------------------------------------------------- CSV


def write(tmp_path, text, name="load.csv"):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_csv_two_columns_and_one_column(tmp_path):
    two = write(tmp_path, "# trace of one layer\nexpert,count\n2,20\n0,40\n1,30\n3,10\n")
    assert np.allclose(Popularity.from_csv(two, 4).probabilities, [0.4, 0.3, 0.2, 0.1])
    one = write(tmp_path, "count\n40\n30\n20\n10\n", "one.csv")
    pop = Popularity.from_csv(one, 4)
    assert np.allclose(pop.probabilities, [0.4, 0.3, 0.2, 0.1]) and pop.name == "one.csv"


@pytest.mark.parametrize(
    "text, needles",
    [
        ("expert,tokens\n0,1\n", ["header"]),
        ("expert,count\n0,1\n1,-3\n2,1\n3,1\n", ["line 3", ">= 0"]),
        ("expert,count\n0,1\n1,abc\n2,1\n3,1\n", ["line 3", "not a number"]),
        ("expert,count\n0,1\n0,2\n2,1\n3,1\n", ["line 3", "twice"]),
        ("expert,count\n0,1\n1,1\n2,1\n", ["expert 3", "no row"]),
        ("expert,count\n0,1\n1,1\n2,1\n9,1\n", ["line 5", "0..3"]),
        ("expert,count\n0,1,2\n", ["line 2", "fields"]),
        ("count\n1\n1\n1\n1\n1\n", ["line 6", "more than 4"]),
        ("expert,count\n0,0\n1,0\n2,0\n3,0\n", ["all counts are 0"]),
        ("", ["empty"]),
    ],
)
def test_csv_errors_name_file_and_row(tmp_path, text, needles):
    path = write(tmp_path, text)
    with pytest.raises(AfdscopeError) as err:
        Popularity.from_csv(path, 4)
    assert str(path) in str(err.value)
    for n in needles:
        assert n in str(err.value)


def test_csv_missing_file(tmp_path):
    with pytest.raises(AfdscopeError, match="cannot read"):
        Popularity.from_csv(tmp_path / "nope.csv", 4)
