"""HTTP routes the app serves beside Gradio: chat pictures and export downloads, behind signed links.

Both check the link's signature (:class:`~ui.links.Links`); with login they also require the
signed-in user to be the link's owner, and an export additionally requires the session's stored
owner to be that owner. Refusals are a bare 403/404 that say nothing about other users' data.
"""

from __future__ import annotations

import inspect
import mimetypes
from collections.abc import Mapping
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, cast
from urllib.parse import quote, unquote

from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import FileResponse, PlainTextResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from agent.errors import PixelrsError
from ui.exports import build_export
from ui.links import EXPORT_ROUTE, PICTURE_ROUTE, ExportKind

if TYPE_CHECKING:
    from ui.protocols import ServedApp

SAFE_HEADERS: Mapping[str, str] = MappingProxyType({
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "default-src 'none'; sandbox",
})
"""Sent with every file: never sniffed as HTML, never run as a page."""

FILE_ROUTE = "/gradio_api/file="
"""Where Gradio serves files (the side picture and the session thumbnails among them)."""


async def signed_in_user(request: Request) -> tuple[bool, str | None]:
    """Whether the app has login, and the user this request is signed in as (Gradio's cookie)."""
    app: Any = request.app
    dependency = getattr(app, "auth_dependency", None)
    if dependency is not None:
        user = dependency(request)
        if inspect.isawaitable(user):
            user = await user
        return True, cast("str | None", user)
    if getattr(app, "auth", None) is None:
        return False, None
    cookie_id = getattr(app, "cookie_id", "")
    token = request.cookies.get(f"access-token-{cookie_id}") or request.cookies.get(f"access-token-unsecure-{cookie_id}")
    return True, getattr(app, "tokens", {}).get(token)


def _denied() -> Response:
    return PlainTextResponse("not found", status_code=404)


def picture_guard(ui: ServedApp) -> Middleware:
    """Middleware: with login, Gradio's file route serves a side picture or thumbnail only to the
    user it was shown to (other files, and everything without login, pass through)."""
    return Middleware(_PictureGuard, ui=ui)


class _PictureGuard:
    """ASGI middleware behind :func:`picture_guard`."""

    def __init__(self, app: ASGIApp, ui: ServedApp) -> None:
        self.app, self.ui = app, ui

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "") if scope["type"] == "http" else ""
        marker = path.find(FILE_ROUTE)
        if marker >= 0:
            name = self.ui.files.img_name(unquote(path[marker + len(FILE_ROUTE):]))
            if name is not None:
                request = Request(scope)
                login, user = await signed_in_user(request)
                if login and (user is None or not self.ui.files.granted(name, self.ui.links.owner_id(user))):
                    await _denied()(scope, receive, send)
                    return
        await self.app(scope, receive, send)


def build_routes(ui: ServedApp) -> list[Route]:
    """Return the routes of one app (pass them as ``app_kwargs={"routes": ...}`` to ``launch``)."""

    async def owner_allowed(request: Request, uid: str) -> bool:
        login, user = await signed_in_user(request)
        return not login or (user is not None and ui.links.owner_id(user) == uid)

    async def picture(request: Request) -> Response:
        name = str(request.path_params["name"])
        uid, sig = request.query_params.get("u", ""), request.query_params.get("s", "")
        if not ui.links.check_picture(name, uid, sig) or not await owner_allowed(request, uid):
            return _denied()
        path = ui.files.chat_file(name)
        if path is None:
            return _denied()
        media_type = mimetypes.guess_type(name)[0] or "application/octet-stream"
        headers = {**SAFE_HEADERS, "Cache-Control": "private, max-age=86400, immutable"}
        return FileResponse(path, media_type=media_type, headers=headers)

    async def export(request: Request) -> Response:
        session_id, kind = str(request.path_params["session_id"]), str(request.path_params["kind"])
        mask, uid, sig = (request.query_params.get(k, "") for k in ("m", "u", "s"))
        if not ui.links.check_export(session_id, kind, mask, uid, sig) or not await owner_allowed(request, uid):
            return _denied()

        def build() -> Response:
            try:
                history = ui.runtime.history(session_id)
            except PixelrsError:
                return _denied()
            if ui.links.owner_id(history.session.owner) != uid:
                return _denied()
            made = build_export(
                ui.runtime.memory, ui.files, history, cast("ExportKind", kind), mask_id=int(mask) if mask.isdigit() else None
            )
            if made is None:
                return _denied()
            disposition = f"attachment; filename=\"{made.name}\"; filename*=UTF-8''{quote(made.name)}"
            headers = {**SAFE_HEADERS, "Cache-Control": "no-store", "Content-Disposition": disposition}
            return Response(made.data, media_type=made.media_type, headers=headers)

        return await run_in_threadpool(build)

    return [
        Route(PICTURE_ROUTE, picture, methods=["GET"], name="pixelrs_picture"),
        Route(EXPORT_ROUTE, export, methods=["GET"], name="pixelrs_export"),
    ]
