"""The web demo in a real browser: headless Chromium driven by Playwright.

The browser is the system's Chromium (Debian package ``chromium``, or ``STGAN_CHROMIUM``),
never a download. Without Playwright or Chromium these tests skip and say why. The page
is served by uvicorn in a thread, from a checkpoint file, as ``stgan serve`` does.
"""

from __future__ import annotations

import os
import shutil
import time

import numpy as np
import pytest

pytest.importorskip("fastapi", reason="the serve extra (FastAPI) is not installed")
uvicorn = pytest.importorskip("uvicorn", reason="the serve extra (uvicorn) is not installed")

from serve_helpers import astronaut, decode, encode, save_run, tiny_editor  # noqa: E402

pytestmark = pytest.mark.slow

CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def _chromium() -> str:
    path = os.environ.get("STGAN_CHROMIUM") or shutil.which("chromium")
    if not path:
        pytest.skip(
            "no Chromium: install Debian's `chromium` package (make does it) or set "
            "STGAN_CHROMIUM to a Chromium binary; browser tests skipped"
        )
    return path


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """The demo of a checkpoint file on a free port of 127.0.0.1; yields its URL."""
    from stgan.inference import Editor
    from stgan.serve.app import create_app, serving

    run = save_run(tiny_editor(), tmp_path_factory.mktemp("serve") / "run")
    with serving(create_app(Editor.from_checkpoint(run), preview_side=384)) as url:
        yield url


@pytest.fixture(scope="module")
def browser():
    sync_api = pytest.importorskip(
        "playwright.sync_api", reason="Playwright is not installed; browser tests skipped"
    )
    path = _chromium()
    with sync_api.sync_playwright() as p:
        try:
            b = p.chromium.launch(executable_path=path, headless=True, args=CHROMIUM_ARGS)
        except Exception as e:  # a Chromium that cannot start here (libraries, sandbox)
            pytest.skip(f"Chromium at {path} does not start: {str(e).splitlines()[0]}")
        yield b
        b.close()


@pytest.fixture
def page(browser, server):
    context = browser.new_context(accept_downloads=True, viewport={"width": 1200, "height": 900})
    pg = context.new_page()
    errors = []
    pg.on("pageerror", lambda e: errors.append(str(e)))
    pg.goto(server)
    pg.wait_for_selector("body[data-ready=true]", timeout=30_000)
    yield pg
    context.close()
    assert errors == [], errors  # no JavaScript exception on the way


def _edited_digest(pg) -> str:
    """SHA-256 of the edited image's pixels as the page shows them (drawn into a canvas)."""
    return pg.evaluate(
        """async () => {
            const img = document.getElementById("edited");
            await img.decode();
            const canvas = document.createElement("canvas");
            canvas.width = img.naturalWidth;
            canvas.height = img.naturalHeight;
            const ctx = canvas.getContext("2d");
            ctx.drawImage(img, 0, 0);
            const pixels = ctx.getImageData(0, 0, canvas.width, canvas.height).data;
            const hash = await crypto.subtle.digest("SHA-256", pixels);
            return Array.from(new Uint8Array(hash), b => b.toString(16).padStart(2, "0")).join("");
        }"""
    )


def _wait_until(pg, script: str, timeout: float = 30.0):
    """Poll ``script`` (a JS function) until it returns something truthy. (Playwright's
    wait_for_function evaluates strings inside the page, which the page's Content Security
    Policy forbids; evaluate goes through the debugger protocol.)"""
    deadline = time.monotonic() + timeout
    while not (value := pg.evaluate(script)):
        assert time.monotonic() < deadline, f"timed out waiting for {script}"
        time.sleep(0.05)
    return value


def _wait_for_edit(pg, after: int) -> int:
    """Wait until the page shows an edit newer than number ``after``; returns its number."""
    return _wait_until(
        pg,
        f"() => {{ const n = Number(document.getElementById('edited').dataset.edits || 0);"
        f" return n > {after} ? n : 0; }}",
    )


def test_upload_slide_see_it_change_and_download(page, tmp_path):
    photo = tmp_path / "astronaut.jpg"
    photo.write_bytes(encode(astronaut(), "JPEG", quality=92))

    page.set_input_files("#file", str(photo))
    page.wait_for_selector("#work:not([hidden])", timeout=30_000)
    edits = _wait_for_edit(page, 0)  # the reconstruction, shown at once
    assert page.is_visible("#box")  # the face found is outlined
    box = page.locator("#box").bounding_box()
    frame = page.locator("#original").bounding_box()
    assert 0.1 * frame["width"] < box["width"] < 0.4 * frame["width"]
    assert "face found" in page.text_content("#located")
    assert page.is_hidden("#error")
    sliders = page.locator("input[type=range][data-attr]")
    assert sliders.count() == 4
    before_src, before = page.get_attribute("#edited", "src"), _edited_digest(page)

    page.fill("#slider-Blond_Hair", "1")  # sets the value and fires `input`
    edits = _wait_for_edit(page, edits)
    assert page.get_attribute("#edited", "src") != before_src
    after = _edited_digest(page)
    assert after != before  # a new image, not just a new URL
    assert page.text_content("#value-Blond_Hair") == "+1.00"

    page.fill("#slider-Blond_Hair", "-1")
    _wait_for_edit(page, edits)
    assert _edited_digest(page) not in (before, after)

    with page.expect_download(timeout=60_000) as info:
        page.click("#download")
    download = info.value
    assert download.suggested_filename == "stgan-edit.png"
    saved = tmp_path / "edited.png"
    download.save_as(saved)
    image = decode(saved.read_bytes())
    assert image.shape == (512, 512, 3)  # full resolution, not the 384 px preview
    from PIL import Image

    with Image.open(photo) as im:
        original = np.asarray(im.convert("RGB")).astype(int)
    assert np.abs(image.astype(int) - original).max() > 0

    shot = tmp_path / "serve.png"  # the artefact: pytest keeps its tmp dirs for a while
    page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 10_000
    print(f"screenshot: {shot}")


def test_a_bundled_face_and_the_source_toggles(page):
    page.click("#faces button.face >> nth=0")
    edits = _wait_for_edit(page, 0)
    assert "no detection" in page.text_content("#located")
    assert "true attributes" in page.text_content("#source-note")
    # toggling "has it" moves an untouched slider to the new rest position and re-edits
    checked = page.is_checked("#source-Bangs")
    rest = page.input_value("#slider-Bangs")
    page.click("#source-Bangs")
    _wait_for_edit(page, edits)
    assert page.is_checked("#source-Bangs") != checked
    assert float(page.input_value("#slider-Bangs")) == -float(rest)


def test_errors_are_shown_in_the_page(page, tmp_path):
    text = tmp_path / "notes.png"  # a name that lies about the content
    text.write_text("not a photo")
    page.set_input_files("#file", str(text))
    page.wait_for_selector("#error:not([hidden])", timeout=30_000)
    assert "upload a PNG, JPEG or WebP photo" in page.text_content("#error")

    flat = np.tile(np.linspace(40, 200, 300, dtype=np.uint8)[None, :, None], (200, 1, 3))
    no_face = tmp_path / "wall.png"
    no_face.write_bytes(encode(flat))
    page.set_input_files("#file", str(no_face))
    _wait_until(page, "() => document.getElementById('error').textContent.startsWith('no face')")
