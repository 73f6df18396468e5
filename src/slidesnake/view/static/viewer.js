// The viewer's page: a slide list, OpenSeadragon showing the slide's deep-zoom tiles and one tiled image per
// shown layer (drawn by the server per view tile), each with its opacity slider; clicks ask for the tile's scores.
"use strict";
const state = { slides: [], slide: null, info: null, shown: {}, cmap: "viridis" };
const COLORMAPS = ["viridis", "magma", "inferno", "turbo", "jet", "hot"];
const el = (id) => document.getElementById(id);
let viewer = null;

function text(tag, content, cls) {
  const node = document.createElement(tag);
  node.textContent = content;
  if (cls) node.className = cls;
  return node;
}

function source(info, url) {
  return {
    width: info.width, height: info.height, tileSize: info.tile_size, tileOverlap: info.overlap,
    minLevel: 0, maxLevel: info.max_level, getTileUrl: url,
  };
}

function predictionText(entry) {
  const model = el("model").value;
  const p = entry.predictions[model];
  if (!p) return "prediction: none";
  const prob = p.probability == null ? "" : ` (${p.probability.toFixed(2)})`;
  return `prediction: ${p.prediction}${prob}`;
}

function renderSlides() {
  const list = el("slides");
  list.replaceChildren();
  for (const entry of state.slides) {
    const item = document.createElement("li");
    item.dataset.slide = entry.slide_id;
    if (entry.slide_id === state.slide) item.className = "current";
    item.append(text("b", entry.slide_id));
    const qc = entry.qc.status ? `QC: ${entry.qc.status}` + (entry.qc.reason ? ` (${entry.qc.stage}: ${entry.qc.reason})` : "") : "QC: no table";
    const meta = [`${entry.cohort || "?"} cohort`, `label: ${entry.label || "none"}`, predictionText(entry), qc];
    for (const line of meta) item.append(text("span", line, "meta"));
    if (entry.error) item.append(text("span", `cannot open: ${entry.error}`, "meta error"));
    item.onclick = () => { if (!entry.error) openSlide(entry.slide_id); };
    list.append(item);
  }
}

async function loadSlides() {
  const data = await (await fetch("/api/slides")).json();
  state.slides = data.slides;
  el("results").textContent = `results: ${data.results}`;
  const select = el("model");
  if (!select.options.length) {
    for (const m of data.models) select.append(new Option(m, m));
    select.onchange = renderSlides;
  }
  renderSlides();
  return data;
}

function overlayUrl(key) {
  const slide = encodeURIComponent(state.slide);
  const path = key.split("/").map(encodeURIComponent).join("/");
  return (level, x, y) => `/overlay/${slide}/${path}/${level}/${x}_${y}.png?cmap=${state.cmap}`;
}

function opacityOf(key) {
  const input = document.querySelector(`input.opacity[data-layer="${CSS.escape(key)}"]`);
  return input ? Number(input.value) / 100 : 0.5;
}

function showLayer(key, on) {
  const old = state.shown[key];
  if (old) { viewer.world.removeItem(old); delete state.shown[key]; }
  if (!on) return;
  viewer.addTiledImage({
    tileSource: source(state.info, overlayUrl(key)), opacity: opacityOf(key),
    success: (event) => { state.shown[key] = event.item; },
  });
}

function renderLayers(info) {
  const list = el("layers");
  list.replaceChildren();
  const missing = [];
  for (const layer of info.layers) {
    const item = document.createElement("li");
    item.dataset.layer = layer.key;
    if (layer.missing) {
      item.append(text("span", `${layer.name}: ${layer.missing}`, "missing"));
      missing.push(layer.missing);
      list.append(item);
      continue;
    }
    const box = document.createElement("input");
    box.type = "checkbox"; box.className = "show"; box.dataset.layer = layer.key;
    box.onchange = () => showLayer(layer.key, box.checked);
    const slider = document.createElement("input");
    slider.type = "range"; slider.min = 0; slider.max = 100;
    slider.value = layer.kind === "scores" ? 60 : 35;
    slider.className = "opacity"; slider.dataset.layer = layer.key; slider.title = "opacity";
    slider.oninput = () => { const item = state.shown[layer.key]; if (item) item.setOpacity(Number(slider.value) / 100); };
    const label = document.createElement("label");
    label.append(box, ` ${layer.name} `);
    item.append(label, slider);
    for (const key of layer.legend || []) {
      const swatch = text("span", "", "swatch");
      swatch.style.background = `rgb(${key.rgb.join(",")})`;
      item.append(swatch, key.name);
    }
    list.append(item);
  }
  el("missing").replaceChildren(...missing.map((m) => text("p", m, "missing")));
}

async function openSlide(slide) {
  const info = await (await fetch(`/api/slide/${encodeURIComponent(slide)}`)).json();
  if (info.error) { el("missing").replaceChildren(text("p", info.error, "error")); return info; }
  state.slide = slide; state.info = info; state.shown = {};
  el("slide-name").textContent = slide;
  renderSlides();
  renderLayers(info);
  const opened = new Promise((resolve) => viewer.addOnceHandler("open", resolve));
  viewer.open(source(info, (level, x, y) => `/tile/${encodeURIComponent(slide)}/${level}/${x}_${y}.jpeg`));
  await opened;
  return info;
}

async function showPoint(x, y) {
  const data = await (await fetch(`/api/point/${encodeURIComponent(state.slide)}?x=${x}&y=${y}`)).json();
  el("point").textContent = JSON.stringify(data, null, 1);
  return data;
}

// for scripts and tests: wait until every shown image has all the tiles of the current view
function ready() {
  return new Promise((resolve) => {
    const check = () => {
      const n = viewer.world.getItemCount();
      let done = n > 0;
      for (let i = 0; i < n; i++) done = done && viewer.world.getItemAt(i).getFullyLoaded();
      if (done) setTimeout(resolve, 300); else setTimeout(check, 100);
    };
    check();
  });
}

function zoomTo(x, y, w, h) {
  const rect = viewer.world.getItemAt(0).imageToViewportRectangle(x, y, w, h);
  viewer.viewport.fitBounds(rect, true);
}

function imageToWindow(x, y) {
  const point = viewer.world.getItemAt(0).imageToWindowCoordinates(new OpenSeadragon.Point(x, y));
  return [point.x, point.y];
}

async function start() {
  const select = el("cmap");
  for (const c of COLORMAPS) select.append(new Option(c, c));
  select.onchange = () => {
    state.cmap = select.value;
    for (const key of Object.keys(state.shown)) showLayer(key, true);
  };
  const data = await loadSlides();
  if (!data.openseadragon) return;
  viewer = OpenSeadragon({ element: el("view"), prefixUrl: "/osd/images/", showNavigator: true, animationTime: 0.4, drawer: "canvas" });
  viewer.addHandler("canvas-click", (event) => {
    if (!event.quick || !state.slide) return;
    const point = viewer.world.getItemAt(0).viewportToImageCoordinates(viewer.viewport.pointFromPixel(event.position));
    showPoint(Math.round(point.x), Math.round(point.y));
  });
  const first = state.slides.find((s) => !s.error);
  if (first) await openSlide(first.slide_id);
  window.slidesnakeView.started = true;
}

window.slidesnakeView = { openSlide, showLayer, showPoint, ready, zoomTo, imageToWindow, started: false };
start();
