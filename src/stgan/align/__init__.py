"""Faces in the user's own photos: read, detect, align like the training data, paste back.

The path of ``stgan edit --align`` and ``stgan serve`` (issue 11, parts 1 and 8)::

    photo = read_photo("me.jpg")                    # uint8 (H, W, 3), upright
    faces = detect_faces(photo)                     # largest first; [] when none
    aligned = align(photo, faces[0], eye_layout(cfg), cfg.model.img_size)
    edited = ...                                    # the model's output, uint8 (S, S, 3)
    result = paste_back(photo, aligned, edited)     # uint8 (H, W, 3), a new array

Coordinates are OpenCV's: ``(x, y)`` with the centre of pixel ``[row, col]`` at
``(col, row)``. How detection, the eye layouts and the blending work, and their limits:
``docs/photos.md``.
"""

from stgan.align.detect import Face, detect_faces
from stgan.align.layout import eye_layout
from stgan.align.photo import MAX_PIXELS, read_photo
from stgan.align.warp import Aligned, align, face_mask, paste_back

__all__ = [
    "MAX_PIXELS",
    "Aligned",
    "Face",
    "align",
    "detect_faces",
    "eye_layout",
    "face_mask",
    "paste_back",
    "read_photo",
]
