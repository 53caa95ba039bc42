"""Options shared by several commands (a leaf: imports no other CLI module)."""

from __future__ import annotations

import argparse

from stgan.config import PRESETS, RECIPES, SHIPPED

CROPS = ("celeba", "celeba-170", "none", "center")


def add_config(p: argparse.ArgumentParser, default_note: str, preset: bool = True) -> None:
    """--config, --preset and --set, the three ways to choose a configuration."""
    p.add_argument(
        "--config", help=f"shipped config ({', '.join(SHIPPED)}) or a TOML file; {default_note}"
    )
    if preset:
        p.add_argument("--preset", choices=list(PRESETS), help="generator variant (default stgan)")
    add_set(p)


def add_recipe(p: argparse.ArgumentParser) -> None:
    """--recipe: the training procedure (stgan.config.RECIPES)."""
    p.add_argument(
        "--recipe",
        choices=list(RECIPES),
        help="training recipe (default: the config file's own; tiny: fast, celeba128: paper; "
        "docs/recipes.md): fast (1 D step, EMA, recalibrated BN, resize upsampling) for short "
        "runs, paper for the paper's recipe bit for bit",
    )


def add_set(
    p: argparse.ArgumentParser,
    metavar: str = "SECTION.KEY=VALUE",
    help: str = "override a config field, e.g. --set train.batch_size=16 (repeatable)",
) -> None:
    p.add_argument("--set", action="append", default=[], metavar=metavar, help=help)


def add_data(p: argparse.ArgumentParser, help: str | None = None, **kw) -> None:
    p.add_argument(
        "--data",
        help=help
        or "'synthetic' (default) or a folder in CelebA layout (list_attr_celeba.txt) or with "
        "images and a CSV of labels",
        **kw,
    )


def add_device(p: argparse.ArgumentParser, default: str | None = "auto") -> None:
    p.add_argument("--device", default=default, help="auto | cpu | cuda | cuda:N | mps")


def add_quiet(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--quiet", action="store_true", help="no progress bars (results are still printed)"
    )


def add_overwrite(p: argparse.ArgumentParser, what: str = "existing output files") -> None:
    p.add_argument("--overwrite", action="store_true", help=f"replace {what}")


def add_crop(p: argparse.ArgumentParser, help: str) -> None:
    p.add_argument("--crop", choices=CROPS, help=help)


def int_at_least(low: int, too_small: str | None = None):
    """argparse type: an integer ≥ ``low``; ``too_small`` says what a smaller one lacks."""

    def parse(text: str) -> int:
        try:
            v = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an integer ≥ {low}, got {text!r}") from None
        if v < low:
            raise argparse.ArgumentTypeError(f"{too_small or f'must be ≥ {low}'}, got {v}")
        return v

    return parse


#: argparse type: an integer ≥ 1 (``--max-steps 0`` is an error before any work).
positive_int = int_at_least(1)


def positive_float(text: str) -> float:
    """argparse type: a finite number > 0."""
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number > 0, got {text!r}") from None
    if not 0 < v < float("inf"):
        raise argparse.ArgumentTypeError(f"must be a finite number > 0, got {text}")
    return v


def with_data(sets: list[str], data: str | None) -> list[str]:
    """``--data DIR`` is the override ``data.dataset=DIR``, applied after the other --set."""
    return [*sets, f"data.dataset={data}"] if data else list(sets)
