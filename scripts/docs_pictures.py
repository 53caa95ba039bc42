"""Redraw the README's two pictures of photo editing from a trained run (default: the
``make demo`` run), so that they show what the current demo model does.

- ``docs/img/photo_before_after.png``: scikit-image's astronaut photo (public domain,
  bundled with the package) before, then edited by ``stgan edit --align`` once per
  ``--edits`` entry, each pasted back at full resolution; panels side by side.
- ``docs/img/serve.png``: the ``stgan serve`` page in headless Chromium (Debian's
  ``chromium`` or ``STGAN_CHROMIUM``, driven by Playwright; nothing downloaded): the first
  bundled synthetic face ``--face`` picked and the slider ``--slider`` moved to +1.

Never run it on a model trained on CelebA: the pictures are committed, and nothing derived
from CelebA may be. Usage::

    python scripts/docs_pictures.py --run runs/demo --out docs/img
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

from stgan.cli import main as stgan

# what the astronaut has: a young woman with brown hair, mouth open in a smile
ASTRONAUT_SOURCE = "Young=1,Brown_Hair=1,Mouth_Slightly_Open=1,No_Beard=1"
PANEL = 320  # px per panel of the before/after picture


def before_after(run: Path, out: Path, edits: list[str]) -> None:
    from skimage.data import astronaut

    photo = astronaut()
    panels = [photo]
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "astronaut.png"
        Image.fromarray(photo).save(src)
        for k, edit in enumerate(edits):
            dst = Path(tmp) / f"edit{k}.png"
            argv = ["edit", "--checkpoint", str(run), "--image", str(src), "--align"]
            argv += ["--source", ASTRONAUT_SOURCE, "--set", edit, "--out", str(dst)]
            if stgan(argv) != 0:
                raise SystemExit(f"stgan edit failed for {edit}")
            with Image.open(dst) as im:
                panels.append(np.asarray(im.convert("RGB")))
    small = [np.asarray(Image.fromarray(p).resize((PANEL, PANEL), Image.LANCZOS)) for p in panels]
    gap = np.full((PANEL, 4, 3), 255, np.uint8)
    row = [x for p in small for x in (p, gap)][:-1]
    Image.fromarray(np.concatenate(row, axis=1)).save(out, optimize=True)
    print(f"wrote {out}")


def serve_screenshot(run: Path, out: Path, attribute: str, face: int) -> None:
    from playwright.sync_api import sync_playwright

    from stgan.inference import Editor
    from stgan.serve.app import create_app, serving

    chromium = os.environ.get("STGAN_CHROMIUM") or shutil.which("chromium")
    if not chromium:
        raise SystemExit("no Chromium: install Debian's `chromium` or set STGAN_CHROMIUM")
    app = create_app(Editor.from_checkpoint(run))
    with serving(app) as url, sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=chromium, headless=True, args=["--no-sandbox", "--disable-gpu"]
        )
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.goto(url)
        page.wait_for_selector("body[data-ready=true]", timeout=30_000)
        page.click(f"#faces button.face >> nth={face}")
        edits = _wait_for_edit(page, 0)
        page.fill(f"#slider-{attribute}", "1")
        _wait_for_edit(page, edits)
        page.screenshot(path=str(out), full_page=True)
        browser.close()
    print(f"wrote {out}")


def _wait_for_edit(page, after: int, timeout: float = 60.0) -> int:
    """Wait until the page shows an edit newer than number ``after`` (the page's CSP
    forbids Playwright's in-page polling, so poll from here)."""
    script = (
        "() => { const n = Number(document.getElementById('edited').dataset.edits || 0);"
        f" return n > {after} ? n : 0; }}"
    )
    deadline = time.monotonic() + timeout
    while not (n := page.evaluate(script)):
        if time.monotonic() > deadline:
            raise SystemExit("the page showed no edit in time")
        time.sleep(0.05)
    return n


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--run", type=Path, default=Path("runs/demo"), help="trained run folder")
    p.add_argument("--out", type=Path, default=Path("docs/img"), help="picture folder")
    p.add_argument(
        "--edits",
        default="Blond_Hair=1;Eyeglasses=1;Black_Hair=1",
        help="the photo's edits, ';'-separated --set values (default: %(default)s)",
    )
    p.add_argument("--slider", default="Blond_Hair", help="the slider moved in the screenshot")
    p.add_argument("--face", type=int, default=3, help="the bundled face picked (0-3)")
    return p.parse_args()


if __name__ == "__main__":
    args = parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    before_after(args.run, args.out / "photo_before_after.png", args.edits.split(";"))
    serve_screenshot(args.run, args.out / "serve.png", args.slider, args.face)
