"""What a data folder says about itself: ``stgan-data.json``, written by ``stgan data synth``.

The file records how the folder's images are framed, e.g. ``{"crop": "none", ...}`` for the
synthetic faces, which are rendered square and already framed like the training crop.
:func:`resolve_crop` uses it when ``data.crop`` is left at its default ``celeba``: that crop
cannot apply to square images (it needs CelebA's 178:218 aspect), so the recorded crop is
the only one that reads the folder, and the caller prints the note it returns. An explicit
``data.crop=none`` or ``center`` is always kept. Folders without the file (CelebA itself, your
own photos) are read with ``data.crop`` as given.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from stgan.data.transforms import CROPS
from stgan.errors import UserError

if TYPE_CHECKING:
    from stgan.config import DataConfig

INFO_FILE = "stgan-data.json"


def info_text(crop: str, **extra: Any) -> str:
    """The contents of an ``stgan-data.json`` recording ``crop`` (and ``extra`` fields)."""
    if crop not in CROPS:
        raise ValueError(f"unknown crop {crop!r}; valid: {', '.join(CROPS)}")
    return json.dumps({"crop": crop, **extra}, indent=1) + "\n"


def recorded_crop(folder: str | Path) -> str | None:
    """The crop ``folder/stgan-data.json`` records, or None without that file.

    Raises:
        UserError: the file is unreadable, not JSON, or records no valid crop.
    """
    path = Path(folder) / INFO_FILE
    if not path.is_file():
        return None
    try:
        info = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as e:
        raise UserError(
            f"cannot read {path} ({e}); delete it or restore it (it records the crop of the "
            "folder's images)"
        ) from None
    crop = info.get("crop") if isinstance(info, dict) else None
    if crop not in CROPS:
        raise UserError(
            f"{path} records crop {crop!r}, not one of {', '.join(CROPS)}; fix or delete it"
        )
    return crop


def resolve_crop(cfg: DataConfig) -> tuple[DataConfig, str]:
    """``cfg`` with the crop its data folder records, if ``cfg.crop`` is the default.

    Returns:
        ``(config, note)``: the config to read (and record in a run) and a one-line note
        to print when the crop was changed, else ``(cfg, "")``.

    Raises:
        UserError: an unreadable ``stgan-data.json``.
    """
    from stgan.config import DataConfig

    if cfg.dataset == "synthetic" or cfg.crop != DataConfig().crop:
        return cfg, ""
    crop = recorded_crop(Path(cfg.dataset).expanduser())
    if crop is None or crop == cfg.crop:
        return cfg, ""
    note = (
        f"{cfg.dataset} records data.crop={crop} in {INFO_FILE} (its images are already "
        f"framed); reading it with data.crop={crop}"
    )
    return replace(cfg, crop=crop), note
