"""Pack a small real-data subset for the GPU machine (it receives at most 64 MiB in all).

    python scripts/gpu_pack.py CELEBAHQ_TAR [--n 7000] [--out gpu_carry/celebahq128]

Copies the first N images of a CelebA-layout tar (e.g. the CelebA-HQ 128 px subset) and their
label rows into ``--out`` (an ignored folder: real CelebA data is never committed), in CelebA
layout, so that ``scripts/gpu_check.sh`` can train and judge on it there.
"""

from __future__ import annotations

import argparse
import sys
import tarfile
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("tar", help="a tar in CelebA layout (images + list_attr_celeba.txt)")
    p.add_argument("--n", type=int, default=7000, help="images to copy (default 7000)")
    p.add_argument("--out", default="gpu_carry/celebahq128", help="destination folder")
    args = p.parse_args(argv)
    out = Path(args.out)
    (out / "images").mkdir(parents=True, exist_ok=True)
    names: list[str] = []
    label_text = None
    with tarfile.open(args.tar) as tar:
        for m in tar:
            base = Path(m.name).name
            if base == "list_attr_celeba.txt":
                label_text = tar.extractfile(m).read().decode()
            elif m.isfile() and base.lower().endswith((".jpg", ".png")) and len(names) < args.n:
                (out / "images" / base).write_bytes(tar.extractfile(m).read())
                names.append(base)
    if label_text is None:
        print("no list_attr_celeba.txt in the tar", file=sys.stderr)
        return 2
    lines = label_text.splitlines()
    keep = set(names)
    rows = [r for r in lines[2:] if r.split() and r.split()[0] in keep]
    (out / "list_attr_celeba.txt").write_text("\n".join([str(len(rows)), lines[1], *rows]) + "\n")
    size = sum(f.stat().st_size for f in out.rglob("*") if f.is_file())
    print(f"packed {len(rows)} images into {out} ({size / 2**20:.1f} MiB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
