"""The web demo's HTTP side: a FastAPI app around :class:`stgan.serve.demo.Demo`.

One page (``static/``: plain HTML, JS and CSS, every asset served from here, no CDN) and a
small JSON/PNG API. Errors are ``{"error": "<one line>"}`` with a 4xx status, which the
page shows as they are.

====== ====================================== ==============================================
method path                                   answer
====== ====================================== ==============================================
GET    ``/``                                  the page
GET    ``/api/info``                          attribute names, model size, limits, slider rest
GET    ``/api/faces``                         the bundled synthetic faces (index, image, source)
GET    ``/api/faces/{i}.png``                 a bundled face
POST   ``/api/faces/{i}/open``                open a bundled face → photo summary (JSON)
POST   ``/api/upload[?aligned=true]``         the photo's bytes as the body → photo summary
GET    ``/api/uploads/{id}/photo.png``        the opened photo (display size)
GET    ``/api/uploads/{id}/face.png``         the aligned face (the model's input)
POST   ``/api/uploads/{id}/edit``             ``{"source": {A: 0|1}, "values": {A: t}}`` →
                                              the edited photo, display size (PNG)
POST   ``/api/uploads/{id}/download``         the same body → full resolution PNG (attachment)
====== ====================================== ==============================================

Uploads are the raw request body (``fetch(url, {method: "POST", body: file})`` or
``curl --data-binary @photo.jpg``), read in chunks up to the size limit and kept in memory
only: nothing is written to disk (multipart forms are not used because their parser spools
large files to a temporary file).
"""

# no `from __future__ import annotations`: FastAPI reads the routes' annotations
# (Request, int) at definition time, and they are imported inside create_app

import contextlib
from pathlib import Path

from stgan.errors import UserError
from stgan.serve.demo import MAX_PIXELS, MAX_UPLOAD_BYTES, N_FACES, PREVIEW_SIDE, Demo

STATIC = Path(__file__).parent / "static"
MAX_JSON_BYTES = 64 * 1024
SECURITY_HEADERS = {
    # the page loads nothing from elsewhere: only this server, and blob: URLs for edits
    "Content-Security-Policy": "default-src 'self'; img-src 'self' blob: data:; "
    "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


def require_serve() -> None:
    """Fail with one line when the ``serve`` extra is not installed."""
    try:
        import fastapi  # noqa: F401
        import uvicorn  # noqa: F401
    except ImportError as e:
        raise UserError(
            f"the web demo needs FastAPI and uvicorn ({e.name or 'a module'} is missing): "
            "pip install 'stgan[serve]'"
        ) from None


def create_app(
    editor,
    judge=None,
    *,
    max_upload_bytes: int = MAX_UPLOAD_BYTES,
    max_pixels: int = MAX_PIXELS,
    cache_size: int = 8,
    preview_side: int = PREVIEW_SIDE,
    n_faces: int = N_FACES,
):
    """The demo as an ASGI app (run it with uvicorn, test it with ``TestClient``).

    Args:
        editor: a loaded :class:`~stgan.inference.Editor`.
        judge: a :class:`~stgan.judge.Judge` predicting the source attributes of opened
            photos; without one the user sets them on the page.
        max_upload_bytes: largest upload accepted (413 beyond).
        max_pixels: largest decoded image, width × height (413 beyond).
        cache_size: photos kept in memory, least recently used dropped first.
        preview_side: longest side of the photo shown while sliders move (the download is
            full resolution).
        n_faces: bundled synthetic faces offered on the page.

    Raises:
        UserError: FastAPI or uvicorn missing (``pip install 'stgan[serve]'``), or a judge
            that does not know the generator's attributes.
    """
    require_serve()
    from stgan.align.cv import opencv

    opencv()  # face detection: a missing OpenCV is said now, not at the first upload
    from fastapi import FastAPI, Request
    from fastapi.exceptions import RequestValidationError
    from fastapi.responses import FileResponse, JSONResponse, Response
    from starlette.concurrency import run_in_threadpool
    from starlette.exceptions import HTTPException
    from starlette.staticfiles import StaticFiles

    from stgan.serve.demo import RequestError

    demo = Demo(
        editor,
        judge,
        max_upload_bytes=max_upload_bytes,
        max_pixels=max_pixels,
        cache_size=cache_size,
        preview_side=preview_side,
        n_faces=n_faces,
    )
    app = FastAPI(title="stgan demo", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.demo = demo

    def error(status: int, message: str) -> JSONResponse:
        return JSONResponse({"error": message}, status_code=status)

    @app.exception_handler(RequestError)
    async def _request_error(request, e: RequestError):
        return error(e.status, str(e))

    @app.exception_handler(HTTPException)
    async def _http_error(request, e: HTTPException):
        message = e.detail if isinstance(e.detail, str) else "request refused"
        if e.status_code == 404:
            message = f"no such page or API path: {request.url.path[:80]}"
        return error(e.status_code, message)

    @app.exception_handler(RequestValidationError)
    async def _validation_error(request, e: RequestValidationError):
        first = e.errors()[0] if e.errors() else {}
        where = ".".join(str(p) for p in first.get("loc", ()) if p not in ("query", "path"))
        return error(422, f"invalid {where or 'request'}: {first.get('msg', 'bad value')}")

    @app.exception_handler(Exception)
    async def _bug(request, e: Exception):  # still logged by the server
        why = str(e).splitlines()[0][:160] if str(e) else ""
        return error(500, f"the server failed on this request ({type(e).__name__}: {why}); "
                     "see the server's output")  # fmt: skip

    @app.middleware("http")
    async def _headers(request: Request, call_next):
        response = await call_next(request)
        response.headers.update(SECURITY_HEADERS)
        if request.url.path.startswith("/api/"):
            response.headers["Cache-Control"] = "no-store"
        return response

    def png(data: bytes, download: str | None = None) -> Response:
        headers = {"Content-Disposition": f'attachment; filename="{download}"'} if download else {}
        return Response(data, media_type="image/png", headers=headers)

    async def read_body(request: Request, limit: int, too_big) -> bytes:
        """The request body, refused as soon as it passes ``limit`` (not buffered beyond)."""
        length = request.headers.get("content-length", "")
        if length.isdigit() and int(length) > limit:
            too_big(int(length))
        chunks, total = [], 0
        async for chunk in request.stream():
            total += len(chunk)
            if total > limit:
                too_big(total)
            chunks.append(chunk)
        return b"".join(chunks)

    async def read_json(request: Request) -> dict:
        import json

        def too_big(n: int):
            raise RequestError(413, f"the request body is too large (over {MAX_JSON_BYTES} B)")

        body = await read_body(request, MAX_JSON_BYTES, too_big)
        try:
            data = json.loads(body or b"{}")
        except ValueError:
            raise RequestError(400, "the request body is not valid JSON") from None
        if not isinstance(data, dict):
            raise RequestError(400, 'expected a JSON object {"source": {...}, "values": {...}}')
        return data

    @app.get("/", include_in_schema=False)
    async def page():
        return FileResponse(STATIC / "index.html", media_type="text/html")

    @app.get("/api/info")
    async def info():
        return demo.info()

    @app.get("/api/faces")
    async def faces():
        return demo.face_list()

    @app.get("/api/faces/{index:int}.png")
    async def face_image(index: int):
        return png(await run_in_threadpool(demo.face_png, index))

    @app.post("/api/faces/{index:int}/open")
    async def open_face(index: int):
        return await run_in_threadpool(demo.open_face, index)

    @app.post("/api/upload")
    async def upload(request: Request, aligned: bool = False):
        data = await read_body(request, demo.max_upload_bytes, demo.check_size)
        return await run_in_threadpool(demo.open_photo, data, aligned)

    @app.get("/api/uploads/{uid}/photo.png")
    async def photo(uid: str):
        return png(await run_in_threadpool(demo.photo_png, uid))

    @app.get("/api/uploads/{uid}/face.png")
    async def face(uid: str):
        return png(await run_in_threadpool(demo.face_crop_png, uid))

    @app.post("/api/uploads/{uid}/edit")
    async def edit(uid: str, request: Request):
        body = await read_json(request)
        return png(await run_in_threadpool(demo.edit, uid, body.get("source"), body.get("values")))

    @app.post("/api/uploads/{uid}/download")
    async def download(uid: str, request: Request):
        body = await read_json(request)
        data = await run_in_threadpool(demo.edit, uid, body.get("source"), body.get("values"), True)
        return png(data, download="stgan-edit.png")

    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    return app


def listen(host: str, port: int):
    """A listening TCP socket on ``host``:``port`` (0: a free port chosen by the system).

    Raises:
        UserError: ``host`` is not an address of this machine, or the port is taken.
    """
    import socket

    try:
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
    except socket.gaierror as e:
        raise UserError(f"--host {host}: not an address of this machine ({e.strerror})") from None
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(128)
    except OSError as e:
        sock.close()
        raise UserError(
            f"cannot listen on {host}:{port} ({e.strerror or e}); pick another --port "
            "(0 picks a free one) or --host"
        ) from None
    return sock


def page_url(sock) -> str:
    """The demo page's URL on listening socket ``sock`` (an IPv6 address in brackets)."""
    host, port = sock.getsockname()[:2]
    return f"http://{f'[{host}]' if ':' in host else host}:{port}/"


def uvicorn_server(app):
    """The uvicorn server of ``app``: warnings only, no lifespan events."""
    import uvicorn

    return uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))


@contextlib.contextmanager
def serving(app, host: str = "127.0.0.1", timeout: float = 30.0):
    """Serve ``app`` with uvicorn in a background thread on a free port of ``host`` (a
    notebook, a script, a browser test); yields the page's URL, stops the server on exit.

    Raises:
        UserError: ``host`` cannot be listened on (:func:`listen`).
        RuntimeError: the server did not start within ``timeout`` seconds.
    """
    import threading
    import time

    sock = listen(host, 0)
    server = uvicorn_server(app)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + timeout
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"the demo server did not start within {timeout:g} s")
            time.sleep(0.05)
        yield page_url(sock)
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()
