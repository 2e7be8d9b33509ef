"""The review page's web server (Starlette, run by uvicorn).

Safe by default: it listens on 127.0.0.1 only; every request needs the
random token printed in the address (query ``token=`` or header
``X-Review-Token``); photos are addressed by their number in the review,
never by a path, so only the photos given are served; a request body over
:data:`MAX_BODY` bytes is refused; a port in use is reported, not taken
over.  Points travel as photo pixels, y down.

Routes: ``/`` the page, ``/static/<file>`` its script and style,
``/api/session`` the queue, ``/api/photos/<i>`` a photo's landmarks (GET) or
a change (POST ``{"points": [[x, y] | null, …], "absent": [bool, …],
"accept": bool}``), ``/api/photos/<i>/view?size=`` the whole photo scaled to
``size`` pixels on its longer side, ``/api/photos/<i>/crop?x=&y=&w=&h=&size=``
a region at up to full resolution.
"""
from __future__ import annotations

import errno
import io
import json
import secrets
import socket
import threading
from collections import OrderedDict
from pathlib import Path

from PIL import Image
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from beetles.core.errors import BeetlesError, DataError
from beetles.core.images import load_rgb

STATIC = Path(__file__).with_name("static")
#: The page's files, the only ones ``/static/`` serves.
STATIC_FILES = {"review.js": "text/javascript", "review.css": "text/css"}
#: The largest request body accepted (a photo's landmarks take a few kB).
MAX_BODY = 256 * 1024
#: Sizes (pixels, the longer side) a view or crop may ask for.
MIN_SIZE, MAX_SIZE = 64, 4096
#: Decoded full-resolution photos kept for crops.
CACHED_PHOTOS = 3
HOSTS = ("127.0.0.1", "localhost")


class _Guard:
    """ASGI middleware: the token on every request, bodies within :data:`MAX_BODY`."""

    def __init__(self, app, token: str):
        self.app, self.token = app, token

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        request = Request(scope)
        given = request.headers.get("x-review-token") or request.query_params.get("token") or ""
        if not secrets.compare_digest(given.encode(), self.token.encode()):
            return await PlainTextResponse("token required: open the address beetles review printed",
                                           403)(scope, receive, send)
        length = request.headers.get("content-length")
        if length is not None and (not length.isdigit() or int(length) > MAX_BODY):
            return await PlainTextResponse(f"request body over {MAX_BODY} bytes", 413)(scope, receive, send)
        return await self.app(scope, receive, send)


class _Photos:
    """Decoded photos for crops, the last :data:`CACHED_PHOTOS` kept."""

    def __init__(self):
        self.cache: OrderedDict = OrderedDict()
        self.lock = threading.Lock()

    def full(self, path: Path) -> Image.Image:
        with self.lock:
            if path in self.cache:
                self.cache.move_to_end(path)
                return self.cache[path]
        image = load_rgb(path)
        with self.lock:
            self.cache[path] = image
            while len(self.cache) > CACHED_PHOTOS:
                self.cache.popitem(last=False)
        return image


def _jpeg(image: Image.Image) -> Response:
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=88)
    return Response(buffer.getvalue(), media_type="image/jpeg", headers={"Cache-Control": "private, max-age=3600"})


def _number(request: Request, key: str, default=None) -> float:
    value = request.query_params.get(key)
    if value is None:
        if default is None:
            raise DataError(f"{key}: missing")
        return default
    try:
        return float(value)
    except ValueError:
        raise DataError(f"{key}: not a number ({value[:20]!r})") from None


def create_app(session, token: str, hosts=HOSTS) -> Starlette:
    """The Starlette application serving ``session`` (a
    :class:`~beetles.tool.review.session.ReviewSession`) to holders of ``token``;
    ``hosts``: the ``Host`` names it answers (a guard against DNS rebinding)."""
    lock = threading.Lock()
    photos = _Photos()

    def photo_at(request: Request):
        index = request.path_params["index"]
        if index not in session.served:
            raise DataError(f"photo {index}: not in this review")
        return index, session.photos[index]

    def page(request: Request):
        html = (STATIC / "review.html").read_text(encoding="utf-8")
        return HTMLResponse(html.replace("__TOKEN__", token), headers={"Cache-Control": "no-store"})

    def static(request: Request):
        name = request.path_params["name"]
        if name not in STATIC_FILES:
            return PlainTextResponse("not found", 404)
        return Response((STATIC / name).read_bytes(), media_type=STATIC_FILES[name])

    def state(request: Request):
        with lock:
            queue = session.queue()
            return JSONResponse({
                "landmarks": session.n_landmarks, "names": session.names, "mode": session.mode,
                "out": str(session.out), "counts": session.counts(),
                "queue": [{"index": i, "name": session.photos[i].name, "status": session.photos[i].status,
                           "uncertainty": None if session.photos[i].uncertainty == float("-inf")
                           else round(session.photos[i].uncertainty, 2)} for i in queue]})

    def photo(request: Request):
        index, item = photo_at(request)
        with lock:
            return JSONResponse({"index": index, **item.as_json()})

    async def change(request: Request):
        index, _ = photo_at(request)
        body = await request.body()
        if len(body) > MAX_BODY:
            return PlainTextResponse(f"request body over {MAX_BODY} bytes", 413)
        try:
            data = json.loads(body)
        except ValueError:
            raise DataError("the change is not JSON") from None
        if not isinstance(data, dict):
            raise DataError("the change must be a JSON object")
        with lock:
            item = session.update(index, data.get("points"), data.get("absent"), bool(data.get("accept", False)))
            return JSONResponse({"index": index, **item.as_json(), "counts": session.counts()})

    def view(request: Request):
        _, item = photo_at(request)
        size = int(min(MAX_SIZE, max(MIN_SIZE, _number(request, "size", 1600))))
        scale = min(1.0, size / max(item.width, item.height))
        target = (max(1, round(item.width * scale)), max(1, round(item.height * scale)))
        image = load_rgb(item.path, reduce_to=target)  # JPEG draft mode: decoded at no less than the target
        return _jpeg(image if image.size == target else image.resize(target, Image.Resampling.LANCZOS))

    def crop(request: Request):
        _, item = photo_at(request)
        x, y = _number(request, "x"), _number(request, "y")
        w, h = _number(request, "w"), _number(request, "h")
        size = min(MAX_SIZE, max(MIN_SIZE, _number(request, "size", 1600)))
        left, top = max(0, int(x)), max(0, int(y))
        right, bottom = min(item.width, int(x + w + 1)), min(item.height, int(y + h + 1))
        if right <= left or bottom <= top:
            raise DataError("crop: the region is outside the photo")
        region = photos.full(item.path).crop((left, top, right, bottom))
        scale = min(1.0, size / max(region.size))
        if scale < 1:
            region = region.resize((max(1, round(region.width * scale)), max(1, round(region.height * scale))),
                                   Image.Resampling.BILINEAR)
        response = _jpeg(region)
        response.headers["X-Crop"] = f"{left},{top},{right},{bottom}"
        return response

    async def bad_input(request: Request, error: Exception):
        return PlainTextResponse(str(error), 400)

    routes = [
        Route("/", page), Route("/static/{name}", static), Route("/api/session", state),
        Route("/api/photos/{index:int}", photo, methods=["GET"]),
        Route("/api/photos/{index:int}", change, methods=["POST"]),
        Route("/api/photos/{index:int}/view", view), Route("/api/photos/{index:int}/crop", crop),
    ]
    app = Starlette(routes=routes, exception_handlers={BeetlesError: bad_input},
                    middleware=[Middleware(TrustedHostMiddleware, allowed_hosts=list(hosts))])
    return _Guard(app, token)


def bind(port: int, host: str = "127.0.0.1") -> socket.socket:
    """A listening socket on ``host:port`` (0: any free port); a
    :class:`BeetlesError` when the port is in use."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.bind((host, port))
    except OSError as error:
        sock.close()
        if error.errno == errno.EADDRINUSE:
            raise BeetlesError(f"--port {port}: in use (another beetles review?); give another --port, or "
                               "--port 0 for any free one") from None
        raise BeetlesError(f"--port {port}: cannot listen on {host} ({error.strerror or error})") from None
    sock.listen(64)
    return sock


def serve(session, port: int, browser: bool = True, log=print) -> None:
    """Serve ``session`` on 127.0.0.1 until Ctrl-C, printing the address
    (with its token) and opening it in a browser when ``browser``."""
    import uvicorn

    token = secrets.token_urlsafe(18)
    sock = bind(port)
    address = f"http://127.0.0.1:{sock.getsockname()[1]}/?token={token}"
    counts = session.counts()
    log(f"beetles review: {len(session.served)} photo(s) ({counts['not seen']} not seen), {session.n_landmarks} "
        f"landmarks; every change is saved to {session.out} and {session.journal_path.name}")
    log(f"open {address}   (Ctrl-C to stop)")
    if browser:
        import webbrowser

        threading.Timer(0.8, webbrowser.open, [address]).start()
    app = create_app(session, token)
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off"))
    try:
        server.run(sockets=[sock])
    except KeyboardInterrupt:
        pass  # Ctrl-C is how a review ends: every change is already on disk
    finally:
        sock.close()
        log(f"beetles review stopped; the landmarks are in {session.out}")
