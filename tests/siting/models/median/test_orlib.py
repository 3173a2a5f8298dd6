import numpy as np
import pytest
from testdata import BENCHMARKS

from benchmarks.orlib import read_optima, read_pmed, read_pmedcap
from siting.errors import InputError

DATA = BENCHMARKS / "orlib"


def test_read_pmed1_matrix():
    inst = read_pmed(DATA / "pmed" / "pmed1.txt")
    assert inst.name == "pmed1"
    assert inst.p == 5
    assert inst.cost.shape == (100, 100)
    assert np.allclose(inst.cost, inst.cost.T)
    assert np.all(np.diag(inst.cost) == 0)
    assert np.isfinite(inst.cost).all()
    # edge "1 2 30" is the first line of the file; a shortest path can only be shorter
    assert inst.cost[0, 1] <= 30


def test_repeated_edge_last_cost_wins(tmp_path):
    f = tmp_path / "tiny.txt"
    f.write_text(" 3 4 1\n 1 2 10\n 2 3 5\n 2 1 3\n 1 3 100\n")
    inst = read_pmed(f)
    assert inst.cost[0, 1] == 3  # the later "2 1 3" replaces "1 2 10"
    assert inst.cost[1, 2] == 5
    assert inst.cost[0, 2] == 8  # 1-2-3 beats the direct 100


def test_read_pmedcap01():
    inst = read_pmedcap(DATA / "pmedcap" / "pmedcap01.txt")
    assert (inst.p, inst.capacity, inst.optimum) == (5, 120.0, 713.0)
    assert inst.cost.shape == (50, 50)
    assert inst.demand[:2].tolist() == [3.0, 14.0]
    # points 1 (2, 62) and 2 (80, 25): floor(sqrt(78^2 + 37^2)) = floor(86.33) = 86
    assert inst.cost[0, 1] == 86


def test_read_optima_skips_header():
    opt = read_optima(DATA / "pmed" / "pmedopt.txt")
    assert len(opt) == 20
    assert opt["pmed1"] == 5819
    assert opt["pmed20"] == 1789
    assert read_optima(DATA / "pcenter" / "pcenter_opt.txt")["pmed1"] == 127


def test_missing_file_is_input_error(tmp_path):
    with pytest.raises(InputError, match="not a file"):
        read_pmed(tmp_path / "nope.txt")
