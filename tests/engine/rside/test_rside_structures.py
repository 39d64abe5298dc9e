"""Unit tests of the residual structures: matrices, parameter counts, labels, round trips."""

from __future__ import annotations

import numpy as np
import pytest

from replicate.engine.rside import StructureName, make_structure, structure_name
from replicate.engine.rside.parameters import GroupedParameters, complex_jacobian
from replicate.engine.rside.structures import levinson
from replicate.errors import ModelError

ALL = list(StructureName)
COUNTS = {  # natural-scale parameters over k visits (SAS's count)
    StructureName.UN: lambda k: k * (k + 1) // 2,
    StructureName.CS: lambda k: 2,
    StructureName.CSH: lambda k: k + 1,
    StructureName.AR1: lambda k: 2,
    StructureName.ARH1: lambda k: k + 1,
    StructureName.TOEP: lambda k: k,
    StructureName.TOEP2: lambda k: 2,
    StructureName.TOEPH: lambda k: 2 * k - 1,
    StructureName.DIAG: lambda k: k,
    StructureName.SP_EXP: lambda k: 2,
    StructureName.VC: lambda k: 1,
    StructureName.ANTE1: lambda k: 2 * k - 1,
    StructureName.AD: lambda k: k,
    StructureName.SP_GAU: lambda k: 2,
    StructureName.SP_POW: lambda k: 2,
}


@pytest.mark.parametrize("name", ALL)
@pytest.mark.parametrize("k", [2, 4, 6])
def test_counts_positive_definite_and_round_trip(name, k):
    s = make_structure(name, k, coords=np.cumsum(np.arange(1.0, k + 1)))
    assert s.n_natural == COUNTS[name](k)
    assert s.n_theta == s.n_natural - 1  # the scale is profiled
    rng = np.random.default_rng(k)
    theta = rng.normal(scale=0.7, size=s.n_theta)
    C = s.relative(theta)
    assert C.shape == (k, k)
    assert np.allclose(C, C.T)
    assert np.linalg.eigvalsh(C).min() > 0
    nat = s.natural(theta, 2.5)
    assert np.allclose(s.from_natural(nat), 2.5 * C, rtol=1e-12, atol=1e-12)


def test_ar1_entries_are_rho_to_the_lag():
    s = make_structure("AR(1)", 5)
    rho = 0.6
    V = s.from_natural(np.array([rho, 3.0]))
    for i in range(5):
        for j in range(5):
            assert V[i, j] == pytest.approx(3.0 * rho ** abs(i - j))
    assert s.labels() == ("AR(1)", "Residual")


def test_un_labels_in_sas_order_and_entries():
    s = make_structure("UN", 3)
    assert s.labels() == ("UN(1,1)", "UN(2,1)", "UN(2,2)", "UN(3,1)", "UN(3,2)", "UN(3,3)")
    V = s.from_natural(np.arange(1.0, 7.0))
    assert V[2, 1] == V[1, 2] == 5.0 and V[1, 1] == 3.0


def test_cs_csh_toep_ante_labels_and_entries():
    cs = make_structure("cs", 3).from_natural(np.array([2.0, 5.0]))
    assert np.allclose(cs, 5.0 * np.eye(3) + 2.0)
    csh = make_structure("csh", 3)
    assert csh.labels() == ("Var(1)", "Var(2)", "Var(3)", "CSH")
    V = csh.from_natural(np.array([1.0, 4.0, 9.0, 0.5]))
    assert V[0, 2] == pytest.approx(0.5 * 1 * 3)
    toep = make_structure("toep", 3)
    assert toep.labels() == ("TOEP(2)", "TOEP(3)", "Residual")
    assert np.allclose(toep.from_natural(np.array([2.0, 1.0, 4.0])), [[4, 2, 1], [2, 4, 2], [1, 2, 4]])
    toeph = make_structure("toeph", 3)
    assert toeph.labels() == ("Var(1)", "Var(2)", "Var(3)", "TOEPH(1)", "TOEPH(2)")
    assert toeph.from_natural(np.array([1.0, 4.0, 9.0, 0.5, 0.2]))[0, 2] == pytest.approx(3 * 0.2)
    ante = make_structure("ANTE(1)", 3)
    V = ante.from_natural(np.array([1.0, 4.0, 9.0, 0.5, 0.2]))
    assert V[0, 2] == pytest.approx(1 * 3 * 0.5 * 0.2)
    assert make_structure("UN(1)", 2).labels() == ("UN(1,1)", "UN(2,2)")


def test_levinson_matches_yule_walker_of_an_ar1():
    # an AR(1) with coefficient 0.5 has pacf (0.5, 0, 0) and acf 0.5^h
    assert np.allclose(levinson([0.5, 0.0, 0.0]), [0.5, 0.25, 0.125])


def test_cs_correlation_can_be_negative_down_to_minus_one_over_k_minus_one():
    s = make_structure("cs", 4)
    C = s.relative(np.array([-30.0]))
    assert C[0, 1] == pytest.approx(-1 / 3, abs=1e-9)


def test_complex_step_jacobian_matches_finite_differences():
    s = make_structure("us", 4)
    theta = np.random.default_rng(1).normal(size=s.n_theta)
    J = complex_jacobian(s.relative, theta)
    h = 1e-6
    for t in range(s.n_theta):
        e = np.zeros_like(theta)
        e[t] = h
        fd = (s.relative(theta + e) - s.relative(theta - e)) / (2 * h)
        assert np.allclose(J[..., t], fd, atol=1e-7)


def test_grouped_parameters_give_one_free_scale_per_extra_group():
    s = make_structure("ar1", 3)
    gp = GroupedParameters(s, 3)
    assert gp.size == 1 + 2 * 2
    theta = np.array([0.3, np.log(2.0), 0.1, 0.0, -0.2])
    blocks = gp.blocks(theta)
    assert np.allclose(blocks[1], 2.0 * s.relative(np.array([0.1])))
    nat = gp.natural(theta, 1.5)
    assert nat[1][1] == pytest.approx(3.0)


def test_unknown_structure_says_which_exist():
    with pytest.raises(ModelError, match="not implemented"):
        structure_name("fa0(2)")
    assert structure_name("ARH(1)") is StructureName.ARH1


@pytest.mark.parametrize("name", ALL)
def test_jacobians_agree_with_complex_step_and_linearity_flag_holds(name):
    s = make_structure(name, 5, coords=np.array([0.0, 1.0, 2.5, 6.0, 7.0]))
    rng = np.random.default_rng(4)
    theta = rng.normal(scale=0.5, size=s.n_theta)
    assert np.allclose(s.jacobian(theta), complex_jacobian(s.relative, theta), atol=1e-12)
    if s.natural_linear:
        nat = s.natural(theta, 2.0)
        assert np.allclose(s.natural_jacobian(nat), s.natural_jacobian(nat * 0.5 + 0.1))


def test_spatial_exponential_uses_time_distances():
    s = make_structure("SP(EXP)", 3, coords=np.array([2.0, 3.0, 9.0]))
    V = s.from_natural(np.array([4.0, 2.0]))
    assert V[0, 2] == pytest.approx(2.0 * np.exp(-7.0 / 4.0))
    assert s.labels() == ("SP(EXP)", "Residual")
    with pytest.raises(ValueError, match="coordinate"):
        make_structure("sp_exp", 3)


def test_gaussian_power_and_homogeneous_ante_dependence_entries():
    t = np.array([0.0, 1.0, 3.0])
    gau = make_structure("SP(GAU)", 3, coords=t).from_natural(np.array([2.0, 5.0]))
    assert gau[0, 2] == pytest.approx(5.0 * np.exp(-9.0 / 4.0))
    pw = make_structure("sp_pow", 3, coords=t)
    assert pw.labels() == ("SP(POW)", "Residual")
    assert pw.from_natural(np.array([0.6, 2.0]))[1, 2] == pytest.approx(2.0 * 0.6**2)
    assert 0 < pw.natural(np.array([-40.0]), 1.0)[0] < 1e-15 and pw.natural(np.array([20.0]), 1.0)[0] < 1
    ad = make_structure("ad", 4)
    assert ad.labels() == ("Rho(1)", "Rho(2)", "Rho(3)", "Residual")
    V = ad.from_natural(np.array([0.5, -0.4, 0.8, 3.0]))
    assert np.allclose(np.diag(V), 3.0)
    assert V[0, 3] == pytest.approx(3.0 * 0.5 * -0.4 * 0.8) and V[2, 1] == pytest.approx(3.0 * -0.4)


def test_spatial_distances_are_euclidean_over_several_coordinates():
    pts = np.array([[0.0, 0.0], [3.0, 4.0], [6.0, 8.0]])
    s = make_structure("SP(EXP)", 3, coords=pts)
    assert s.from_natural(np.array([5.0, 1.0]))[0, 1] == pytest.approx(np.exp(-1.0))
    with pytest.raises(ValueError, match="3 coordinate points"):
        make_structure("SP(GAU)", 3, coords=np.zeros((2, 2)))
