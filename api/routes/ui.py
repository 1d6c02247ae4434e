"""/ui: the operators' page. Static HTML and JS, no data: the page asks for a key and calls the JSON API
with it, so what it shows is exactly what that key's role may see."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import FileResponse, Response

STATIC = Path(__file__).resolve().parents[1] / "static"

router = APIRouter(include_in_schema=False)

# The page pulls nothing from elsewhere and is never framed.
_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; style-src 'self'; script-src 'self'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-cache",
}


@router.get("/ui")
def page() -> FileResponse:
    return FileResponse(STATIC / "ui.html", media_type="text/html", headers=_HEADERS)


@router.get("/ui/ui.js")
def script() -> FileResponse:
    return FileResponse(STATIC / "ui.js", media_type="text/javascript", headers=_HEADERS)


@router.get("/ui/ui.css")
def style() -> FileResponse:
    return FileResponse(STATIC / "ui.css", media_type="text/css", headers=_HEADERS)


@router.get("/favicon.ico")
def favicon() -> Response:
    # Browsers ask for one; answering "nothing" keeps a 404 out of every page's console.
    return Response(status_code=204)
