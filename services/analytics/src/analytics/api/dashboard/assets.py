"""Static files of the dashboard, read once and kept in memory with their gzip form and an
ETag: a handful of files, so a browser revalidates cheaply and downloads each once."""

from __future__ import annotations

import gzip
import hashlib
import mimetypes
from dataclasses import dataclass
from pathlib import Path

STATIC = Path(__file__).parent / "static"
# services/analytics/web/node_modules, installed by `npm ci` (make setup, the Dockerfile)
VENDOR = Path(__file__).resolve().parents[4] / "web" / "node_modules"
VENDOR_FILES = {
    "vendor/echarts.min.js": "echarts/dist/echarts.min.js",
    "vendor/echarts-ru.js": "echarts/i18n/langRU.js",
}
TYPES = {".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8"}
# Files in static/ that belong to other pages, which serve them themselves: the operators'
# page `ops.*` (api/ops.py). Not under /static/, and no modulepreload in the dashboard.
OTHER_PAGES = frozenset({"ops"})


@dataclass(frozen=True)
class Asset:
    body: bytes
    gzipped: bytes
    etag: str
    content_type: str


def _asset(path: Path) -> Asset:
    body = path.read_bytes()
    kind = (
        TYPES.get(path.suffix) or mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    )
    etag = '"' + hashlib.sha256(body).hexdigest()[:20] + '"'
    return Asset(body, gzip.compress(body, 9, mtime=0), etag, kind)


def _other_page(path: Path) -> bool:
    return path.parent == STATIC and path.name.split(".", 1)[0] in OTHER_PAGES


class MissingAssets(RuntimeError):
    pass


def load_assets(vendor_dir: Path | None = None) -> dict[str, Asset]:
    """Every file under static/ by its relative path (but other pages' files), plus the
    vendored charting library. Raises MissingAssets naming the install step when the npm
    packages are not there."""
    assets = {
        str(p.relative_to(STATIC)): _asset(p)
        for p in STATIC.rglob("*")
        if p.is_file() and not _other_page(p)
    }
    root = vendor_dir or VENDOR
    for name, relative in VENDOR_FILES.items():
        path = root / relative
        if not path.is_file():
            raise MissingAssets(
                f"{path} is missing: run `make setup` (npm ci in services/analytics/web)"
            )
        assets[name] = _asset(path)
    return assets
