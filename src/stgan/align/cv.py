"""OpenCV, imported on first use: ``import stgan`` and the commands without photos work
without it."""

from __future__ import annotations

from stgan.errors import UserError


def opencv():
    """The ``cv2`` module.

    Raises:
        UserError: OpenCV is not installed (it is the extra ``stgan[photo]``).
    """
    try:
        import cv2
    except ImportError:
        raise UserError(
            "face alignment needs OpenCV (opencv-python-headless<5); pip install 'stgan[photo]'"
        ) from None
    return cv2
