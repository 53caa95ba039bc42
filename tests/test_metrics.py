"""Tests of stgan.metrics (reference §6): PSNR, SSIM, generation accuracy, preservation, FD."""

import numpy as np
import pytest
import scipy.linalg

from stgan.metrics import (
    finite_mean,
    frechet_distance,
    generation_accuracy,
    nan_mean,
    preservation_error,
    preservation_error_official,
    preservation_mean,
    psnr,
    ssim,
)


# scikit-image (and the scipy.stats it loads) costs ~1 s to import: imported by the slow tests
# that compare with it, so that the fast tier does not pay for it
def _sk_ssim(a, b):
    from skimage.metrics import structural_similarity

    return [
        structural_similarity(a[k], b[k], channel_axis=-1, data_range=255) for k in range(len(a))
    ]


def _noisy_pair(rng, b, h, w, sigma=20.0):
    a = rng.integers(0, 256, (b, h, w, 3), dtype=np.uint8)
    noise = rng.normal(0.0, sigma, a.shape).round()
    return a, np.clip(a.astype(np.int64) + noise, 0, 255).astype(np.uint8)


def test_identical_images_give_inf_psnr_and_unit_ssim():
    a = np.random.default_rng(0).integers(0, 256, (3, 16, 16, 3), dtype=np.uint8)
    p = psnr(a, a.copy())
    assert p.shape == (3,) and np.isinf(p).all() and (p > 0).all()
    np.testing.assert_allclose(ssim(a, a.copy()), 1.0, atol=1e-12)


def test_psnr_by_hand_on_known_mse():
    a = np.full((2, 8, 8, 3), 100, dtype=np.uint8)
    b = a.copy()
    b[0] += 10  # MSE 100
    b[1, :4] += 2  # half the pixels off by 2: MSE 2
    expected = [10 * np.log10(255**2 / 100), 10 * np.log10(255**2 / 2)]
    np.testing.assert_allclose(psnr(a, b), expected, rtol=1e-12)
    assert psnr(a, b).dtype == np.float64
    # one unbatched image gives a batch of one
    np.testing.assert_allclose(psnr(a[0], b[0]), expected[:1], rtol=1e-12)


@pytest.mark.slow
@pytest.mark.parametrize("h,w", [(7, 7), (32, 32), (45, 61), (128, 128)])
def test_psnr_and_ssim_match_scikit_image(h, w):
    from skimage.metrics import peak_signal_noise_ratio

    rng = np.random.default_rng(h * 1000 + w)
    a, b = _noisy_pair(rng, 3, h, w)
    b[0] = a[0] // 2 + 60  # one strongly different image too
    ref_ssim = _sk_ssim(a, b)
    ref_psnr = [peak_signal_noise_ratio(a[k], b[k], data_range=255) for k in range(len(a))]
    np.testing.assert_allclose(ssim(a, b), ref_ssim, rtol=0, atol=1e-9)
    np.testing.assert_allclose(psnr(a, b), ref_psnr, rtol=1e-12)


@pytest.mark.slow
def test_ssim_on_smooth_images_matches_scikit_image():
    # natural-like content (gradients), where SSIM is high, not random noise
    rng = np.random.default_rng(1)
    yy, xx = np.mgrid[0:64, 0:64]
    base = np.stack([xx * 3, yy * 3, (xx + yy) * 2], axis=-1).clip(0, 255).astype(np.uint8)
    a = np.stack([base, base[::-1]])
    b = np.clip(a + rng.normal(0, 3, a.shape).round(), 0, 255).astype(np.uint8)
    ref = _sk_ssim(a, b)
    got = ssim(a, b)
    np.testing.assert_allclose(got, ref, atol=1e-9)
    assert (got > 0.5).all() and (got < 1).all()


def test_shape_mismatch_raises():
    with pytest.raises(ValueError, match="shapes differ"):
        psnr(np.zeros((1, 8, 8, 3), np.uint8), np.zeros((1, 8, 9, 3), np.uint8))
    with pytest.raises(ValueError, match="at least 7"):
        ssim(np.zeros((1, 6, 8, 3), np.uint8), np.zeros((1, 6, 8, 3), np.uint8))


def _three_attr_case():
    """n = 3 attributes, B = 4 images, hand-made predictions and targets."""
    src_labels = np.array([[1, 0, 0], [0, 1, 0], [0, 0, 1], [1, 1, 0]], dtype=bool)  # (B, n)
    target = np.repeat(src_labels[None], 3, axis=0)  # (n, B, n)
    for i in range(3):
        target[i, :, i] = ~src_labels[:, i]
    pred_src = src_labels.copy()  # the judge is right on the sources
    pred_edit = target.copy()  # start from perfect edits, then spoil some
    pred_edit[0, 0, 0] = src_labels[0, 0]  # edit 0 failed on image 0
    pred_edit[0, 1, 0] = src_labels[1, 0]  # ...and on image 1
    pred_edit[2, 3, 2] = src_labels[3, 2]  # edit 2 failed on image 3
    pred_edit[1, 2, 0] = ~pred_src[2, 0]  # edit 1 changed attribute 0 of image 2
    pred_edit[1, 3, 2] = ~pred_src[3, 2]  # edit 1 changed attribute 2 of image 3
    pred_edit[2, 0, 1] = ~pred_src[0, 1]  # edit 2 changed attribute 1 of image 0
    return pred_src, pred_edit, target


def test_generation_accuracy_on_hand_made_predictions():
    _, pred_edit, target = _three_attr_case()
    acc = generation_accuracy(pred_edit, target)
    np.testing.assert_allclose(acc, [2 / 4, 4 / 4, 3 / 4])
    assert acc.dtype == np.float64
    # probabilities and 0/1 ints are thresholded at 0.5 the same way
    probs = np.where(pred_edit, 0.9, 0.2)
    np.testing.assert_allclose(generation_accuracy(probs, target.astype(int)), acc)


def test_preservation_error_on_hand_made_predictions():
    pred_src, pred_edit, target = _three_attr_case()
    m = preservation_error(pred_src, pred_edit)
    assert m.shape == (3, 3) and np.isnan(np.diag(m)).all()
    expected = np.array([[np.nan, 0, 0], [1 / 4, np.nan, 1 / 4], [0, 1 / 4, np.nan]])
    np.testing.assert_allclose(m, expected)
    assert preservation_mean(m) == pytest.approx(3 / 4 / 6)
    # no attribute changed by a conflict here: the target-aware version agrees
    np.testing.assert_allclose(preservation_error(pred_src, pred_edit, target), expected)


def test_preservation_error_leaves_out_attributes_changed_by_conflicts():
    # 2 hair colours: setting one clears the other (reference §4)
    src = np.array([[1, 0], [0, 0], [0, 1]], dtype=bool)  # (B=3, n=2)
    target = np.repeat(src[None], 2, axis=0)
    target[0, :, 0] = ~src[:, 0]
    target[1, :, 1] = ~src[:, 1]
    target[1, 0, 0] = False  # edit 1 turns hair colour 1 on for image 0 -> colour 0 off
    target[0, 2, 1] = False  # edit 0 turns colour 0 on for image 2 -> colour 1 off
    pred_edit = target.copy()  # the judge sees exactly the targets
    plain = preservation_error(src, pred_edit)
    np.testing.assert_allclose(plain, [[np.nan, 1 / 3], [1 / 3, np.nan]])
    aware = preservation_error(src, pred_edit, target)
    np.testing.assert_allclose(aware, [[np.nan, 0.0], [0.0, np.nan]])
    # an unwanted change on a counted image is still an error: 1 of the 2 counted images
    pred_edit[1, 1, 0] = True
    aware = preservation_error(src, pred_edit, target)
    np.testing.assert_allclose(aware, [[np.nan, 0.0], [0.5, np.nan]])


def _hair_and_male_case():
    """Black_Hair, Blond_Hair (one clears the other), Male; 3 images. The judge is wrong on
    image 0's Male (says 0) on the source and on the edits that keep it; edit 2 also
    turns image 1's hair black, an unwanted change."""
    gt = np.array([[1, 0, 1], [0, 0, 0], [0, 1, 0]], dtype=bool)  # (B, n) true labels
    pred_src = gt.copy()
    pred_src[0, 2] = False
    target = np.array([
        [[0, 0, 1], [1, 0, 0], [1, 0, 0]],  # flip Black_Hair: image 2 loses Blond (conflict)
        [[0, 1, 1], [0, 1, 0], [0, 0, 0]],  # flip Blond_Hair: image 0 loses Black (conflict)
        [[1, 0, 0], [0, 0, 1], [0, 1, 1]],  # flip Male
    ], dtype=bool)  # fmt: skip
    pred_edit = target.copy()
    pred_edit[0, 0, 2] = pred_edit[1, 0, 2] = False  # the judge's own mistake stays
    pred_edit[2, 1, 0] = True  # the unwanted change
    return gt, pred_src, pred_edit, target


def test_official_preservation_differs_where_it_should():
    gt, pred_src, pred_edit, target = _hair_and_male_case()
    ours = preservation_error(pred_src, pred_edit, target)
    official = preservation_error_official(gt, pred_edit)
    # ours: only the unwanted change is an error (the judge's mistake never changes, the
    # conflict changes were asked for)
    np.testing.assert_allclose(ours, [[np.nan, 0, 0], [0, np.nan, 0], [1 / 3, 0, np.nan]])
    # official: the conflict changes (M[0, 1], M[1, 0]) and the judge's mistake on image 0's
    # Male (M[0, 2], M[1, 2]) are errors too; edit 2 flips Male itself, so not there
    third = 1 / 3
    np.testing.assert_allclose(
        official, [[np.nan, third, third], [third, np.nan, third], [third, 0, np.nan]]
    )
    assert preservation_mean(ours) == pytest.approx(1 / 18)
    assert preservation_mean(official) == pytest.approx(5 / 18)
    # the official "Err." of each edit: errors over images × the n - 1 other attributes
    errs = (pred_edit != gt[None]).sum(axis=(1, 2)) - (pred_edit[[0, 1, 2], :, [0, 1, 2]] !=
                                                       gt.T).sum(axis=1)  # fmt: skip
    np.testing.assert_allclose(np.nanmean(official, axis=1), errs / 3 / 2)


def test_official_preservation_does_not_count_a_judge_mistake_an_edit_undoes():
    gt = np.array([[0, 0]], dtype=bool)
    pred_src = np.array([[0, 1]], dtype=bool)  # wrong on attribute 1
    pred_edit = np.array([[[1, 0]], [[0, 1]]], dtype=bool)  # after edit 0 it says 0: right
    target = np.array([[[1, 0]], [[0, 1]]], dtype=bool)
    np.testing.assert_allclose(preservation_error(pred_src, pred_edit, target),
                               [[np.nan, 1.0], [0.0, np.nan]])  # fmt: skip
    np.testing.assert_allclose(preservation_error_official(gt, pred_edit),
                               [[np.nan, 0.0], [0.0, np.nan]])  # fmt: skip
    with pytest.raises(ValueError, match=r"label_src \(B, n\)"):
        preservation_error_official(gt[:, :1], pred_edit)


def test_preservation_mean_ignores_nan_and_edit_shapes_are_checked():
    m = np.array([[np.nan, 0.2, np.nan], [0.4, np.nan, 0.0], [0.3, 0.1, np.nan]])
    assert preservation_mean(m) == pytest.approx(0.2)
    with pytest.raises(ValueError, match=r"\(n, B, n\)"):
        generation_accuracy(np.zeros((2, 4, 3)), np.zeros((2, 4, 3)))


def test_finite_and_nan_means_skip_what_they_name():
    # identical reconstructions have infinite PSNR: left out of the mean, inf if all are
    assert finite_mean([30.0, np.inf, 32.0]) == 31.0
    assert finite_mean([np.inf, np.inf]) == np.inf
    assert finite_mean([np.nan, 1.0, -np.inf]) == 1.0
    # preservation entries without images are NaN: left out, NaN if all are
    assert nan_mean([0.25, np.nan, 0.75, 0.5]) == 0.5
    assert np.isnan(nan_mean([np.nan, np.nan]))
    assert nan_mean([np.inf, 1.0]) == np.inf


def _random_spd(rng, d):
    a = rng.normal(size=(d, d + 3))
    return a @ a.T / d


def _scipy_frechet(mu1, s1, mu2, s2):
    covmean = scipy.linalg.sqrtm(s1 @ s2).real
    return float(((mu1 - mu2) ** 2).sum() + np.trace(s1) + np.trace(s2) - 2 * np.trace(covmean))


@pytest.mark.parametrize("d", [1, 4, 32, 128])
def test_frechet_distance_matches_scipy_sqrtm(d):
    rng = np.random.default_rng(d)
    mu1, mu2 = rng.normal(size=d), rng.normal(size=d)
    s1, s2 = _random_spd(rng, d), _random_spd(rng, d)
    got = frechet_distance(mu1, s1, mu2, s2)
    assert got == pytest.approx(_scipy_frechet(mu1, s1, mu2, s2), rel=1e-9, abs=1e-9)
    assert got > 0


def test_frechet_distance_singular_covariances_and_identity_cases():
    rng = np.random.default_rng(0)
    f = rng.normal(size=(10, 40))  # fewer samples than dimensions: singular covariance
    mu, s = f.mean(0), np.cov(f, rowvar=False)
    assert frechet_distance(mu, s, mu, s) == pytest.approx(0.0, abs=1e-9)
    # 1-D closed form: (m1 - m2)² + (σ1 - σ2)²
    assert frechet_distance([1.0], [[4.0]], [3.0], [[9.0]]) == pytest.approx(4.0 + 1.0)
    with pytest.raises(ValueError, match="shape mismatch"):
        frechet_distance(np.zeros(3), np.eye(3), np.zeros(2), np.eye(2))
