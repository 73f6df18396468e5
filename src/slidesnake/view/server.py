"""The viewer's HTTP server (standard library, one thread per request, 127.0.0.1 only).

Routes: `/` the page; `/osd/...` OpenSeadragon's files; `/static/...` the page's script and style;
`/api/slides` the cohort (label, predictions, QC status, open errors); `/api/slide/<id>` a slide's size, deep-zoom
geometry and layers (with the missing files named); `/tile/<id>/<level>/<col>_<row>.jpeg` a deep-zoom tile of the
slide; `/overlay/<id>/<layer>/<level>/<col>_<row>.png?cmap=<name>` a layer drawn over the same tile;
`/api/point/<id>?x=&y=` the tile under a level-0 point with every score of it.

Slides are read on demand through OpenSlide's deep-zoom generator (only the pyramid level that serves a view tile
is decoded); encoded view tiles, open slides and layer rasters are kept in LRU caches of bounded size.
"""

from __future__ import annotations

import errno
import json
import math
import mimetypes
import threading
from collections import OrderedDict
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from io import BytesIO
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlparse

import h5py
import numpy as np
import openslide
from openslide.deepzoom import DeepZoomGenerator

from slidesnake.core.errors import SlidesnakeError
from slidesnake.io.slide import describe_file
from slidesnake.io.tile_file import COORDS, TileFile
from slidesnake.io.tile_scores import rank_within_slide
from slidesnake.view import assets, layers
from slidesnake.view.results import GRID, RAW_SCORES, SCORES, TISSUE, Results, SlideEntry, qc_status
from slidesnake.workflow import paths

HOST = "127.0.0.1"
DEFAULT_PORT = 8765
TILE_SIZE, OVERLAP = 254, 1
JPEG_QUALITY = 80
STATIC = Path(__file__).parent / "static"


class PortInUseError(SlidesnakeError):
    """The port the viewer should listen on is taken."""

    def __init__(self, port: int):
        super().__init__(f"port {port} on {HOST} is in use (another viewer?): start with --port <another port>")
        self.port = port


class LRU:
    """A thread-safe least-recently-used cache bounded by the summed `size` of its values."""

    def __init__(self, max_size: int, size=lambda value: 1):
        self.max_size, self.size = max_size, size
        self.items: OrderedDict = OrderedDict()
        self.total = 0
        self.lock = threading.Lock()

    def get(self, key, make):
        with self.lock:
            if key in self.items:
                self.items.move_to_end(key)
                return self.items[key]
        value = make()
        with self.lock:
            if key not in self.items:
                self.items[key] = value
                self.total += self.size(value)
            while self.total > self.max_size and len(self.items) > 1:
                _, old = self.items.popitem(last=False)
                self.total -= self.size(old)
        return value


class OpenedSlide:
    def __init__(self, entry: SlideEntry):
        self.handle = openslide.OpenSlide(str(entry.file))
        self.handle.set_cache(openslide.OpenSlideCache(32 << 20))
        self.deepzoom = DeepZoomGenerator(self.handle, TILE_SIZE, OVERLAP, limit_bounds=False)
        self.size = self.handle.dimensions

    def box(self, level: int, col: int, row: int) -> tuple[tuple[float, float, float, float], tuple[int, int]]:
        """The level-0 box a deep-zoom tile covers (with its overlap) and the tile's size in pixels."""
        scale = 2.0 ** (self.deepzoom.level_count - 1 - level)
        width, height = self.deepzoom.get_tile_dimensions(level, (col, row))
        x = col * TILE_SIZE - (OVERLAP if col else 0)
        y = row * TILE_SIZE - (OVERLAP if row else 0)
        return (x * scale, y * scale, width * scale, height * scale), (width, height)


class Viewer:
    """The state behind the server: the results index and the caches."""

    def __init__(self, results_dir: str | Path, cache_mb: int = 256):
        self.results = Results(results_dir)
        self.tiles = LRU(cache_mb << 20, size=len)
        self.slides = LRU(8)  # an evicted slide closes when no request holds it any more (garbage collection)
        self.checked: dict[str, tuple[int | None, str | None]] = {}  # slide -> (file mtime, open error)
        self.rasters = LRU(64 << 20, size=lambda raster: raster.nbytes)
        self.layers: dict[str, dict[str, layers.Layer]] = {}
        self.lock = threading.Lock()
        self.refresh()

    def refresh(self) -> None:
        self.entries = {e.slide_id: e for e in self.results.slides()}

    def opened(self, slide: str) -> OpenedSlide:
        entry = self.entries[slide]
        if entry.file is None or not entry.file.exists():
            missing = entry.file or paths.fill(paths.SLIDE, slide=slide, ext="*")
            raise FileNotFoundError(f"slide file {missing} is missing")
        return self.slides.get(slide, lambda: OpenedSlide(entry))

    def open_error(self, slide: str) -> str | None:
        """Why the slide cannot be opened (None: it opens); checked once per version of the file."""
        file = self.entries[slide].file
        mtime = file.stat().st_mtime_ns if file is not None and file.exists() else None
        known = self.checked.get(slide)
        if known is not None and known[0] == mtime and mtime is not None:
            return known[1]
        try:
            self.opened(slide)
            error = None
        except (openslide.OpenSlideError, OSError) as failure:
            error = f"OpenSlide cannot open {describe_file(file) if file else slide}: {failure}"
        self.checked[slide] = (mtime, error)
        return error

    def slide_list(self) -> dict:
        slides = []
        for entry in self.entries.values():
            slides.append(
                {
                    "slide_id": entry.slide_id,
                    "cohort": entry.cohort,
                    "label": entry.label,
                    "predictions": entry.predictions,
                    "qc": qc_status(entry),
                    "error": self.open_error(entry.slide_id),
                }
            )
        # classification models first (the page shows the first one's predictions), then risks and values
        endpoint = {m for s in slides for m, p in s["predictions"].items() if p["probability"] is None}
        models = sorted({m for s in slides for m in s["predictions"]}, key=lambda m: (m in endpoint, m))
        return {"results": str(self.results.dir), "slides": slides, "models": models, **assets.status()}

    def layer_index(self, slide: str, fresh: bool = False) -> dict[str, layers.Layer]:
        """The slide's layers by key, found again when `fresh` (the page asks for a slide's info on opening it)."""
        with self.lock:
            known = self.layers.get(slide)
        if known is None or fresh:
            known = {layer.key: layer for layer in self.results.layers(self.entries[slide])}
            with self.lock:
                self.layers[slide] = known
        return known

    def slide_info(self, slide: str) -> dict:
        opened = self.opened(slide)
        info = []
        for layer in self.layer_index(slide, fresh=True).values():
            item = {"key": layer.key, "name": layer.name, "kind": layer.kind, "file": str(layer.file)}
            item["missing"] = None if layer.present else f"missing file {layer.file}"
            if layer.present:
                try:
                    raster = self._layer_raster(slide, layer)
                    item["legend"] = layers.legend(layer, raster)
                except (OSError, KeyError, ValueError, SlidesnakeError) as error:
                    item["missing"] = f"unreadable file {layer.file}: {error}"
            info.append(item)
        width, height = opened.size
        return {
            "slide_id": slide,
            "width": width,
            "height": height,
            "tile_size": TILE_SIZE,
            "overlap": OVERLAP,
            "max_level": opened.deepzoom.level_count - 1,
            "mpp": opened.handle.properties.get(openslide.PROPERTY_NAME_MPP_X),
            "layers": info,
        }

    def _layer_raster(self, slide: str, layer: layers.Layer) -> layers.Raster:
        """A present layer's raster (the slide's tiles file gives the grid of score and class layers)."""
        key = (slide, layer.key, layer.file.stat().st_mtime_ns)

        def make():
            tiles_layer = self.layer_index(slide)[GRID]
            tiles = TileFile.read(tiles_layer.file) if tiles_layer.present and layer.kind != TISSUE else None
            return layers.load(layer, self.opened(slide).size, tiles)

        return self.rasters.get(key, make)

    def slide_tile(self, slide: str, level: int, col: int, row: int) -> bytes:
        def make():
            image = self.opened(slide).deepzoom.get_tile(level, (col, row))
            buffer = BytesIO()
            image.convert("RGB").save(buffer, "JPEG", quality=JPEG_QUALITY)
            return buffer.getvalue()

        return self.tiles.get(("slide", slide, level, col, row), make)

    def overlay_tile(self, slide: str, key: str, level: int, col: int, row: int, cmap: str) -> bytes:
        layer = self.layer_index(slide)[key]

        def make():
            raster = self._layer_raster(slide, layer)
            box, size = self.opened(slide).box(level, col, row)
            return layers.encode_png(layers.render(layer, raster, box, size, cmap))

        return self.tiles.get(("overlay", slide, key, level, col, row, cmap), make)

    def point(self, slide: str, x: float, y: float) -> dict:
        """The tile under level-0 (x, y): its coordinates and every score and class of it."""
        index = self.layer_index(slide)
        grid = index.get(GRID)
        if grid is None or not grid.present:
            return {"slide_id": slide, "x": x, "y": y, "tile": None, "missing": f"missing file {grid and grid.file}"}
        tiles = TileFile.read(grid.file)
        inside = np.flatnonzero(
            (tiles.coords[:, 0] <= x)
            & (x < tiles.coords[:, 0] + tiles.size0)
            & (tiles.coords[:, 1] <= y)
            & (y < tiles.coords[:, 1] + tiles.size0)
        )
        if not len(inside):
            return {"slide_id": slide, "x": x, "y": y, "tile": None}
        i = int(inside[0])
        tx, ty = (int(v) for v in tiles.coords[i])
        scores = {}
        for layer in index.values():
            if layer.kind != SCORES or not layer.present:
                continue
            with h5py.File(layer.file, "r") as h5:
                group = h5[layer.group]
                coords, values = group[COORDS][:], group[layer.score][:]
            hit = np.flatnonzero((coords[:, 0] <= x) & (x < coords[:, 0] + tiles.size0) & (coords[:, 1] <= y))
            hit = hit[y < coords[hit, 1] + tiles.size0]
            if len(hit):
                j = int(hit[0])
                shown = values if layer.score in RAW_SCORES else rank_within_slide(values)
                scores[layer.key] = {"value": float(values[j]), "shown": float(shown[j])}
        return {
            "slide_id": slide,
            "x": x,
            "y": y,
            "tile": {"index": i, "x": tx, "y": ty, "size_level0": tiles.size0},
            "scores": scores,
        }


def make_handler(viewer: Viewer):
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format, *args):  # one line per error only, not per tile
            pass

        def send(self, body: bytes, content_type: str, status: int = 200, cache: bool = False) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "max-age=3600" if cache else "no-store")
            self.end_headers()
            self.wfile.write(body)

        def send_json(self, value, status: int = 200) -> None:
            self.send(json.dumps(value, default=_json_default).encode(), "application/json", status)

        def do_GET(self):
            url = urlparse(self.path)
            parts = [unquote(p) for p in url.path.strip("/").split("/")]
            query = parse_qs(url.query)
            try:
                self.route(parts, query)
            except KeyError as error:
                self.send_json({"error": f"not found: {error}"}, 404)
            except (OSError, openslide.OpenSlideError, ValueError, SlidesnakeError) as error:
                self.send_json({"error": f"{type(error).__name__}: {error}"}, 500)

        def route(self, parts, query):
            head = parts[0] if parts else ""
            if head == "":
                self.send(assets.page().encode(), "text/html; charset=utf-8")
            elif head == "static" and len(parts) == 2:
                self.send_file(STATIC, parts[1])
            elif head == "osd" and assets.osd_dir() is not None:
                self.send_file(assets.osd_dir(), "/".join(parts[1:]), cache=True)
            elif head == "api" and parts[1:] == ["slides"]:
                viewer.refresh()
                self.send_json(viewer.slide_list())
            elif head == "api" and len(parts) == 3 and parts[1] == "slide":
                self.send_json(viewer.slide_info(_known(viewer, parts[2])))
            elif head == "api" and len(parts) == 3 and parts[1] == "point":
                x, y = float(query["x"][0]), float(query["y"][0])
                self.send_json(viewer.point(_known(viewer, parts[2]), x, y))
            elif head == "tile" and len(parts) == 4:
                level, col, row = _address(parts[2], parts[3], "jpeg")
                self.send(viewer.slide_tile(_known(viewer, parts[1]), level, col, row), "image/jpeg", cache=True)
            elif head == "overlay" and len(parts) >= 5:
                level, col, row = _address(parts[-2], parts[-1], "png")
                cmap = query.get("cmap", [layers.DEFAULT_COLORMAP])[0]
                key = "/".join(parts[2:-2])
                body = viewer.overlay_tile(_known(viewer, parts[1]), key, level, col, row, cmap)
                self.send(body, "image/png", cache=True)
            else:
                raise KeyError(self.path)

        def send_file(self, folder: Path, name: str, cache: bool = False) -> None:
            path = (folder / name).resolve()
            if folder.resolve() not in path.parents or not path.is_file():
                raise KeyError(name)
            kind = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
            self.send(path.read_bytes(), kind, cache=cache)

    return Handler


def _known(viewer: Viewer, slide: str) -> str:
    if slide not in viewer.entries:
        viewer.refresh()
    if slide not in viewer.entries:
        raise KeyError(f"slide {slide}")
    return slide


def _address(level: str, name: str, ext: str) -> tuple[int, int, int]:
    stem, _, suffix = name.partition(".")
    if suffix != ext:
        raise KeyError(name)
    col, row = stem.split("_")
    return int(level), int(col), int(row)


def _json_default(value):
    if isinstance(value, (np.integer, np.floating)):
        return None if isinstance(value, np.floating) and math.isnan(value) else value.item()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(type(value))


def serve(results_dir: str | Path, port: int = 8765, cache_mb: int = 256) -> ThreadingHTTPServer:
    """A started-up server (not yet serving: call serve_forever); port 0 picks a free port."""
    viewer = Viewer(results_dir, cache_mb)
    try:
        server = ThreadingHTTPServer((HOST, port), make_handler(viewer))
    except OSError as error:
        if error.errno == errno.EADDRINUSE:
            raise PortInUseError(port) from error
        raise
    server.daemon_threads = True
    server.viewer = viewer
    return server
