"""``stgan serve``: the browser demo (one page, one slider per attribute) on a local port."""

from __future__ import annotations

import argparse
import contextlib

from stgan.cli import options

LOOPBACK = ("127.0.0.1", "localhost", "::1")


def register(sub) -> None:
    s = sub.add_parser(
        "serve",
        help="browser demo: upload a photo, move one slider per attribute",
        description="Serve a one-page demo of a trained checkpoint: open a photo (or a "
        "bundled synthetic face), see the face found and its source attributes, move one "
        "slider per attribute and watch the edit, download it at full resolution. Photos "
        "stay in memory only. Needs the serve extra: pip install 'stgan[serve]'. See "
        "docs/serve.md.",
    )
    s.add_argument("--checkpoint", required=True, help="run folder (newest checkpoint) or .pt")
    s.add_argument(
        "--classifier",
        help="judge from `stgan train-classifier`: predicts each photo's source attributes "
        "(without it the user ticks them on the page)",
    )
    s.add_argument(
        "--host",
        default="127.0.0.1",
        help="address to listen on (default 127.0.0.1: this machine only; 0.0.0.0 opens the "
        "demo to the network)",
    )
    s.add_argument(
        "--port", type=_port, default=8000, help="port (default 8000; 0 picks a free one)"
    )
    s.add_argument(
        "--max-upload-mb",
        type=options.positive_float,
        default=10.0,
        help="largest photo file accepted, in MB (default 10)",
    )
    s.add_argument(
        "--max-megapixels",
        type=options.positive_float,
        default=40.0,
        help="largest decoded photo, width × height in millions (default 40; Pillow's "
        "decompression-bomb limit is set to it)",
    )
    options.add_device(s)
    s.set_defaults(func=cmd_serve)


def _port(text: str) -> int:
    try:
        v = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a port number, got {text!r}") from None
    if not 0 <= v <= 65535:
        raise argparse.ArgumentTypeError(f"must be 0..65535 (0: a free port), got {v}")
    return v


def cmd_serve(args: argparse.Namespace) -> int:
    from stgan.serve.app import require_serve

    require_serve()  # before the model loads: a missing extra is the first thing to hear
    from PIL import Image

    from stgan.inference import Editor
    from stgan.judge import Judge
    from stgan.runtime import resolve_device
    from stgan.serve.app import create_app, listen, page_url, uvicorn_server

    max_pixels = int(args.max_megapixels * 1e6)
    Image.MAX_IMAGE_PIXELS = max_pixels  # Pillow's own bomb check agrees with ours
    sock = listen(args.host, args.port)  # a busy port fails before the model loads
    try:
        device = resolve_device(args.device)
        editor = Editor.from_checkpoint(args.checkpoint, device)
        judge = Judge.from_file(args.classifier, device) if args.classifier else None
        app = create_app(
            editor,
            judge,
            max_upload_bytes=int(args.max_upload_mb * 2**20),
            max_pixels=max_pixels,
        )
        url = page_url(sock)
        if args.host not in LOOPBACK:
            print(
                f"stgan serve: listening on {args.host}: anyone who can reach this machine "
                "can open the demo"
            )
        print(
            f"stgan serve: open {url} ({len(editor.attr_names)} attributes; Ctrl-C stops)",
            flush=True,
        )
        server = uvicorn_server(app)
        with contextlib.suppress(KeyboardInterrupt):  # uvicorn re-raises the Ctrl-C it
            server.run(sockets=[sock])  # shut down on, once it has stopped cleanly
    finally:
        sock.close()
    print("stgan serve: stopped", flush=True)
    return 0
