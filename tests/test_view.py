"""The viewer's server (slidesnake.view) on a small results folder made here: the slide list, layers and their missing
files, overlay tiles, the tile look-up, a slide that does not open, a port in use (the browser check is in
tests/test_workflow_demo.py, on the demo run)."""

from __future__ import annotations

import json
import shutil
import threading
import urllib.request

import cv2
import numpy as np
import pandas as pd
import pytest

from helpers import prepare_slide
from slidesnake.io.manifest import SLIDE_COLUMNS, write_manifest
from slidesnake.io.tile_classes import write_tile_classes
from slidesnake.io.tile_file import TileFile
from slidesnake.io.tile_scores import write_tile_scores
from slidesnake.view import assets
from slidesnake.view.server import LRU, PortInUseError, serve
from slidesnake.workflow import paths

SLIDE = "demo_test"


@pytest.fixture(scope="module")
def results(tumor_slide, tmp_path_factory):
    """results/ of a run with one tumor slide (masks, tiles, one MIL model's fold scores, PU scores, predictions)
    and one slide file that is not a slide."""
    work = tmp_path_factory.mktemp("view")
    results = work / paths.RESULTS

    def place(template, **wildcards):
        path = work / paths.fill(template, **wildcards)
        path.parent.mkdir(parents=True, exist_ok=True)
        return path

    shutil.copy(tumor_slide["slide"], place(paths.SLIDE, slide=SLIDE, ext="tiff"))
    shutil.copy(tumor_slide["truth"], place(paths.DEMO_TRUTH, slide=SLIDE))
    files = prepare_slide(place(paths.SLIDE, slide=SLIDE, ext="tiff"), place(paths.MASK, slide=SLIDE).parent, SLIDE)
    shutil.move(files["tiles"], place(paths.TILES, slide=SLIDE))
    place(paths.SLIDE, slide="broken", ext="tiff").write_bytes(b"not a slide")
    tiles = TileFile.read(place(paths.TILES, slide=SLIDE))
    ramp = np.linspace(0, 1, len(tiles))
    write_tile_scores(
        place(paths.FOLD_TILE_SCORES, task="tumor", model="abmil", fold=0),
        {SLIDE: {"score": ramp * 10 - 5, "attention": ramp}},
        {SLIDE: tiles.coords},
        {},
        box_size0=tiles.size0,
    )
    place(paths.METRICS, task="tumor", model="abmil", fold=1).write_text("{}")  # fold 1's scores are missing
    write_tile_scores(place(paths.PU_TILE_SCORES, task="tumor"), {SLIDE: {"nnpu": ramp}}, {SLIDE: tiles.coords}, {})
    place(paths.CLASSIFIER_MODEL, classifier="demo").write_bytes(b"")
    probabilities = np.eye(3, dtype=np.float32)[np.arange(len(tiles)) % 3]
    write_tile_classes(
        place(paths.TILE_CLASSES, classifier="demo", slide=SLIDE), tiles.coords, probabilities, ["a", "b", "c"], {}
    )
    pd.DataFrame({"slide_id": [SLIDE, "broken"], "label": ["tumor", "normal"], "fold0": ["test", "train"]}).to_csv(
        place(paths.SPLITS, task="tumor"), index=False
    )
    oof = {"slide_id": [SLIDE], "label": ["tumor"], "prob_normal": [0.2], "prob_tumor": [0.8], "prediction": ["tumor"]}
    pd.DataFrame(oof).to_csv(place(paths.OOF_SLIDE_PREDICTIONS, task="tumor", model="abmil"), index=False)
    row = {k: "" for k in SLIDE_COLUMNS}
    rows = [
        {**row, "slide_id": SLIDE, "slide": paths.fill(paths.SLIDE, slide=SLIDE, ext="tiff"), "status": "ok"},
        {**row, "slide_id": "broken", "slide": paths.fill(paths.SLIDE, slide="broken", ext="tiff"), "status": "ok"},
    ]
    rows[0].update(
        mask=paths.fill(paths.MASK, slide=SLIDE),
        tiles=paths.fill(paths.TILES, slide=SLIDE),
        truth=paths.fill(paths.DEMO_TRUTH, slide=SLIDE),
    )
    write_manifest(place(paths.SLIDE_MANIFEST, cohort=paths.TRAIN_COHORT), rows, SLIDE_COLUMNS)
    return results


@pytest.fixture(scope="module")
def server(results):
    server = serve(results, 0)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server
    server.shutdown()
    server.server_close()


def get(server, path: str):
    with urllib.request.urlopen(f"http://127.0.0.1:{server.server_address[1]}{path}") as reply:
        body = reply.read()
        return json.loads(body) if reply.headers["Content-Type"] == "application/json" else body


def test_slide_list_shows_label_prediction_qc_and_open_errors(server):
    listing = get(server, "/api/slides")
    slides = {s["slide_id"]: s for s in listing["slides"]}
    assert slides[SLIDE]["label"] == "tumor" and slides[SLIDE]["qc"]["status"] == "ok"
    assert slides[SLIDE]["predictions"]["tumor/abmil"] == {"prediction": "tumor", "probability": 0.8}
    assert slides[SLIDE]["error"] is None
    assert "broken.tiff" in slides["broken"]["error"] and listing["models"] == ["tumor/abmil"]


def test_layers_of_a_slide_and_the_missing_files_named(server, results):
    info = get(server, f"/api/slide/{SLIDE}")
    layers = {layer["key"]: layer for layer in info["layers"]}
    assert info["width"] == 4096 and info["height"] == 3584
    assert {"tissue", "grid", "truth", "tumor/abmil/score", "tumor/abmil/attention", "tumor/pu/nnpu"} <= set(layers)
    assert all(layers[k]["missing"] is None for k in ("tissue", "grid", "truth", "tumor/abmil/score"))
    assert "(fold0)" in layers["tumor/abmil/score"]["name"]
    assert [layer["kind"] for layer in info["layers"] if layer["key"] == "truth"] == ["labels"]
    # the slide's missing tissue mask is named; the slide and its other layers still show
    mask = results / "masks" / f"{SLIDE}.png"
    kept = mask.read_bytes()
    mask.unlink()
    try:
        info = get(server, f"/api/slide/{SLIDE}")
        missing = {layer["key"]: layer["missing"] for layer in info["layers"]}
        assert missing["tissue"] == f"missing file {mask}" and missing["tumor/pu/nnpu"] is None
        assert get(server, f"/tile/{SLIDE}/12/0_0.jpeg")[:2] == b"\xff\xd8"
    finally:
        mask.write_bytes(kept)


def test_a_missing_score_file_is_named(results):
    from slidesnake.view.results import Results

    index = Results(results)
    entry = next(e for e in index.slides() if e.slide_id == SLIDE)
    fold1 = results / "models/tumor/abmil/fold1/tile_scores.h5"
    (results / "splits/tumor.csv").write_text(f"slide_id,label,fold0,fold1\n{SLIDE},tumor,train,test\n")
    try:
        layers = {layer.key: layer for layer in index.layers(entry)}
        assert layers["tumor/abmil/score"].file == fold1 and not layers["tumor/abmil/score"].present
    finally:
        (results / "splits/tumor.csv").write_text(f"slide_id,label,fold0\n{SLIDE},tumor,test\nbroken,normal,train\n")


def decode(png: bytes) -> np.ndarray:
    return cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_UNCHANGED)


def test_overlay_tiles_colour_the_scored_tiles_only(server):
    tiles = TileFile.read(server.viewer.results.dir / "tiles" / f"{SLIDE}.h5")
    level = server.viewer.opened(SLIDE).deepzoom.level_count - 6  # 32x downsampled: the whole slide in one tile
    whole = decode(get(server, f"/overlay/{SLIDE}/tumor/pu/nnpu/{level}/0_0.png"))
    assert whole.shape == (112, 128, 4)
    covered = (whole[..., 3] > 0).sum() * 32 * 32
    assert covered == pytest.approx(len(tiles) * tiles.size0**2, rel=0.02)
    x, y = (int(v) // 32 + 4 for v in tiles.coords[-1])  # the last tile scores 1, the first 0
    first_x, first_y = (int(v) // 32 + 4 for v in tiles.coords[0])
    assert whole[y, x, 3] == 255 and not np.array_equal(whole[y, x], whole[first_y, first_x])
    magma = decode(get(server, f"/overlay/{SLIDE}/tumor/pu/nnpu/{level}/0_0.png?cmap=magma"))
    assert not np.array_equal(magma[y, x], whole[y, x]) and np.array_equal(magma[..., 3], whole[..., 3])
    grid = decode(get(server, f"/overlay/{SLIDE}/grid/{level}/0_0.png"))
    assert 0 < (grid[..., 3] > 0).mean() < (whole[..., 3] > 0).mean()
    coarse = decode(get(server, f"/overlay/{SLIDE}/grid/{level - 1}/0_0.png"))  # tiles of 4 px: no outlines
    assert not coarse[..., 3].any()
    truth = decode(get(server, f"/overlay/{SLIDE}/truth/{level}/0_0.png"))
    assert (truth[..., 3] > 0).any()
    classes = decode(get(server, f"/overlay/{SLIDE}/classes/demo/{level}/0_0.png"))  # argmax class, 3 colours
    assert np.array_equal(classes[..., 3], whole[..., 3])
    assert len(np.unique(classes[classes[..., 3] > 0][:, :3], axis=0)) == 3
    legend = next(layer for layer in get(server, f"/api/slide/{SLIDE}")["layers"] if layer["key"] == "classes/demo")
    assert [key["name"] for key in legend["legend"]] == ["a", "b", "c"]


def test_point_look_up_returns_the_tile_and_its_scores(server):
    tiles = TileFile.read(server.viewer.results.dir / "tiles" / f"{SLIDE}.h5")
    x, y = (int(v) + 5 for v in tiles.coords[-1])
    point = get(server, f"/api/point/{SLIDE}?x={x}&y={y}")
    assert point["tile"] == {
        "index": len(tiles) - 1,
        "x": int(tiles.coords[-1][0]),
        "y": int(tiles.coords[-1][1]),
        "size_level0": tiles.size0,
    }
    assert point["scores"]["tumor/pu/nnpu"]["value"] == pytest.approx(1.0)
    assert point["scores"]["tumor/abmil/score"] == {"value": pytest.approx(5.0), "shown": pytest.approx(1.0)}
    assert get(server, f"/api/point/{SLIDE}?x=-50&y=-50")["tile"] is None


def test_page_says_how_to_install_openseadragon_when_missing(server, monkeypatch):
    monkeypatch.setattr(assets, "osd_dir", lambda: None)
    page = get(server, "/").decode()
    assert 'id="osd-missing"' in page and "make setup" in page
    assert get(server, "/api/slides")["install_help"] == assets.INSTALL_HELP


def test_port_in_use_is_named(server, results):
    with pytest.raises(PortInUseError, match=f"port {server.server_address[1]} on 127.0.0.1 is in use"):
        serve(results, server.server_address[1])


def test_lru_cache_stays_under_its_size():
    cache = LRU(100, size=len)
    for i in range(10):
        cache.get(i, lambda i=i: bytes(30))
    assert cache.total <= 100 and list(cache.items) == [7, 8, 9]
    assert cache.get(9, lambda: b"new") == bytes(30)  # a hit does not make the value again


def test_command_line_names_the_port_in_use(server, results):
    from slidesnake.view.__main__ import main

    with pytest.raises(SystemExit, match="is in use"):
        main([str(results), "--port", str(server.server_address[1])])
    with pytest.raises(SystemExit, match="no such results folder"):
        main([str(results / "nothing"), "--port", "0"])
