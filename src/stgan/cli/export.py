"""``stgan export``: a trained generator as an ONNX file (docs/export.md)."""

from __future__ import annotations

import argparse
from pathlib import Path

from stgan.cli import options

FORMATS = ("onnx",)


def register(sub) -> None:
    x = sub.add_parser(
        "export",
        help="export the generator to ONNX",
        description="Write the generator of a run (the weights its outputs use: EMA and "
        "recalibrated BatchNorm when the run has them) as an ONNX file with inputs image "
        "(N, 3, S, S) in [-1, 1] and att_diff (N, n_attrs), output edited (plus mask for a "
        "masked generator), a dynamic batch axis, and the attribute names, img_size and "
        "label coding in its metadata (docs/export.md). Needs pip install 'stgan[export]'.",
    )
    x.add_argument("--checkpoint", required=True, help="run folder (newest checkpoint) or .pt")
    x.add_argument("--format", choices=FORMATS, default="onnx", help="file format (onnx)")
    x.add_argument("--out", required=True, help="output file (.onnx)")
    x.add_argument(
        "--check",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="run the exported file with ONNX Runtime on a random batch of 2 and compare "
        "with PyTorch before writing it (default: on)",
    )
    options.add_overwrite(x, "an existing output file")
    x.set_defaults(func=cmd_export)


def cmd_export(args: argparse.Namespace) -> int:
    from stgan.checkpoint import resolve
    from stgan.export import CHECK_ATOL, CHECK_BATCH, export_checkpoint
    from stgan.outputs import check_output_file

    ckpt = resolve(args.checkpoint)
    out = check_output_file(
        args.out, "--out", [Path(args.checkpoint), ckpt], args.overwrite, suffixes=(".onnx",)
    )
    r = export_checkpoint(ckpt, out, check=args.check)
    if r.max_abs_error is not None:
        print(
            f"ONNX Runtime matches PyTorch on a random batch of {CHECK_BATCH}: max abs error "
            f"{r.max_abs_error:.2g} (limit {CHECK_ATOL:g})"
        )
    print(f"wrote {out} ({r.n_bytes / 1e6:.1f} MB; outputs: {', '.join(r.outputs)})")
    return 0
