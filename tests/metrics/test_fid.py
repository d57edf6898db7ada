"""FID: closed forms on Gaussians, symmetry, the pytorch-fid formula, and input checks."""

import importlib

import numpy as np
import pytest
import scipy.linalg

from ganforge.metrics import MetricError, fid_from_features, frechet_distance

fid_module = importlib.import_module("ganforge.metrics.fid")


def pytorch_fid_reference(mu1, sigma1, mu2, sigma2):
    """pytorch-fid's calculate_frechet_distance without its fallbacks (well-conditioned input)."""
    diff = mu1 - mu2
    covmean = scipy.linalg.sqrtm(sigma1.dot(sigma2))
    covmean = np.real(covmean)
    return diff.dot(diff) + np.trace(sigma1) + np.trace(sigma2) - 2 * np.trace(covmean)


def eigen_reference(mu1, sigma1, mu2, sigma2):
    """Independent route: tr (S1 S2)^(1/2) = sum sqrt(eig(S1^(1/2) S2 S1^(1/2)))."""
    values, vectors = np.linalg.eigh(sigma1)
    root1 = vectors @ np.diag(np.sqrt(np.clip(values, 0, None))) @ vectors.T
    inner = np.linalg.eigvalsh(root1 @ sigma2 @ root1)
    diff = mu1 - mu2
    return diff.dot(diff) + np.trace(sigma1) + np.trace(sigma2) - 2 * np.sqrt(inner.clip(0)).sum()


def random_features(seed, count=400, dim=16, shift=0.0):
    rng = np.random.default_rng(seed)
    mixing = rng.normal(size=(dim, dim)) / np.sqrt(dim)
    return rng.normal(size=(count, dim)) @ mixing + shift


def test_diagonal_gaussians_match_closed_form():
    rng = np.random.default_rng(0)
    mu1, mu2 = rng.normal(size=8), rng.normal(size=8)
    var1, var2 = rng.uniform(0.1, 3.0, size=8), rng.uniform(0.1, 3.0, size=8)
    expected = np.sum((mu1 - mu2) ** 2) + np.sum((np.sqrt(var1) - np.sqrt(var2)) ** 2)
    got = frechet_distance(mu1, np.diag(var1), mu2, np.diag(var2))
    assert isinstance(got, float)
    assert got == pytest.approx(expected, rel=1e-6)


def test_commuting_rotated_gaussians_match_closed_form():
    # Covariances sharing eigenvectors keep the closed form, but sqrtm now sees full matrices.
    rng = np.random.default_rng(1)
    rotation, _ = np.linalg.qr(rng.normal(size=(6, 6)))
    var1, var2 = rng.uniform(0.2, 2.0, size=6), rng.uniform(0.2, 2.0, size=6)
    sigma1 = rotation @ np.diag(var1) @ rotation.T
    sigma2 = rotation @ np.diag(var2) @ rotation.T
    mu1, mu2 = rng.normal(size=6), rng.normal(size=6)
    expected = np.sum((mu1 - mu2) ** 2) + np.sum((np.sqrt(var1) - np.sqrt(var2)) ** 2)
    assert frechet_distance(mu1, sigma1, mu2, sigma2) == pytest.approx(expected, rel=1e-6)


def test_one_dimensional_scalars():
    # N(0, 1) vs N(1, 4): (0 - 1)^2 + (1 - 2)^2 = 2.
    assert frechet_distance(0.0, 1.0, 1.0, 4.0) == pytest.approx(2.0, rel=1e-12)


def test_agrees_with_pytorch_fid_formula_and_eigen_route():
    feats_a = random_features(2)
    feats_b = random_features(3, shift=0.3)
    mu_a, sigma_a = feats_a.mean(0), np.cov(feats_a, rowvar=False)
    mu_b, sigma_b = feats_b.mean(0), np.cov(feats_b, rowvar=False)
    got = fid_from_features(feats_a, feats_b)
    assert got == pytest.approx(pytorch_fid_reference(mu_a, sigma_a, mu_b, sigma_b), rel=1e-6)
    assert got == pytest.approx(eigen_reference(mu_a, sigma_a, mu_b, sigma_b), rel=1e-6)


def test_symmetric_and_zero_for_identical_inputs():
    feats_a = random_features(4)
    feats_b = random_features(5, shift=0.5)
    assert fid_from_features(feats_a, feats_b) == pytest.approx(fid_from_features(feats_b, feats_a), rel=1e-6)
    assert fid_from_features(feats_a, feats_b) > 1.0
    scale = np.trace(np.cov(feats_a, rowvar=False))
    assert abs(fid_from_features(feats_a, feats_a)) < 1e-8 * scale


def test_grows_with_mean_shift():
    feats = random_features(6)
    near = fid_from_features(feats, feats + 0.1)
    far = fid_from_features(feats, feats + 1.0)
    # A pure shift changes only |mu1 - mu2|^2: 16 * 0.01 and 16 * 1.
    assert near == pytest.approx(16 * 0.01, rel=1e-6)
    assert far == pytest.approx(16 * 1.0, rel=1e-6)


def test_non_finite_root_retries_with_eps_offset(monkeypatch):
    calls = []
    real_sqrtm = fid_module._sqrtm

    def flaky_sqrtm(matrix):
        calls.append(matrix)
        if len(calls) == 1:
            return np.full_like(matrix, np.nan)
        return real_sqrtm(matrix)

    monkeypatch.setattr(fid_module, "_sqrtm", flaky_sqrtm)
    sigma = np.diag([1.0, 4.0])
    got = frechet_distance(np.zeros(2), sigma, np.zeros(2), sigma, eps=1e-3)
    assert len(calls) == 2
    np.testing.assert_allclose(calls[1], (sigma + 1e-3 * np.eye(2)) @ (sigma + 1e-3 * np.eye(2)))
    # With the ridge both covariances stay equal, so FID = tr(S) + tr(S) - 2 tr(S + eps I).
    assert got == pytest.approx(-2 * 2 * 1e-3, abs=1e-9)


def test_complex_root_small_imaginary_part_dropped_large_refused(monkeypatch):
    sigma = np.diag([1.0, 4.0])
    monkeypatch.setattr(fid_module, "_sqrtm", lambda m: scipy.linalg.sqrtm(m) + 1e-6j)
    assert frechet_distance(np.zeros(2), sigma, np.ones(2), sigma) == pytest.approx(2.0)
    monkeypatch.setattr(fid_module, "_sqrtm", lambda m: scipy.linalg.sqrtm(m) + 0.5j)
    with pytest.raises(MetricError, match="imaginary"):
        frechet_distance(np.zeros(2), sigma, np.ones(2), sigma)


def test_sqrtm_helper_returns_root_on_installed_scipy():
    matrix = np.array([[4.0, 1.0], [1.0, 3.0]])
    root = fid_module._sqrtm(matrix)
    np.testing.assert_allclose(root @ root, matrix, atol=1e-10)


def test_too_few_samples_names_the_needed_count():
    feats = np.random.default_rng(7).normal(size=(16, 16))
    with pytest.raises(MetricError, match="at least 17 samples"):
        fid_from_features(feats, random_features(8))


@pytest.mark.parametrize(
    "feats_a, feats_b, message",
    [
        (np.full((50, 4), np.nan), np.zeros((50, 4)), "NaN"),
        (np.ones((50, 4)), np.ones((50, 5)), "features per sample"),
        (np.ones(50), np.ones((50, 1)), "2-D"),
        ([["a"]], np.ones((50, 1)), "numeric"),
    ],
)
def test_bad_features_raise_metric_error(feats_a, feats_b, message):
    with pytest.raises(MetricError, match=message):
        fid_from_features(feats_a, feats_b)


def test_bad_statistics_raise_metric_error():
    with pytest.raises(MetricError, match="covariances"):
        frechet_distance(np.zeros(3), np.eye(2), np.zeros(3), np.eye(3))
    with pytest.raises(MetricError, match="means"):
        frechet_distance(np.zeros(3), np.eye(3), np.zeros(2), np.eye(3))
    with pytest.raises(MetricError, match="NaN"):
        frechet_distance(np.zeros(2), np.diag([np.inf, 1.0]), np.zeros(2), np.eye(2))
