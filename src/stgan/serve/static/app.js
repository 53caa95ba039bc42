// The stgan demo page: open a photo, set its source attributes, move sliders, download.
// Plain JS, no libraries. The server keeps the photo and its encoding; every slider move
// asks for one edited preview (debounced, at most one request in flight, the latest wins).
"use strict";

const $ = (id) => document.getElementById(id);
const DEBOUNCE_MS = 60;
const SOURCE_NOTES = {
  classifier: "“has it”: predicted by the classifier from the aligned face; correct it if wrong.",
  synthetic: "“has it”: the synthetic face's true attributes.",
  user: "“has it”: tick what the photo already has (no classifier was given to predict it).",
};

const state = {
  info: null, // /api/info
  photo: null, // the opened photo's summary (id, box, source...)
  source: {}, // {name: 0|1}: what the photo has
  values: {}, // {name: t}: sliders the user moved
  inFlight: false,
  queued: false,
  timer: 0,
  url: "", // object URL of the edited image shown
  edits: 0,
};

async function api(path, options) {
  let response;
  try {
    response = await fetch(path, options);
  } catch (e) {
    throw new Error("the server cannot be reached (is `stgan serve` still running?)");
  }
  if (!response.ok) {
    let message = `${response.status} ${response.statusText}`;
    try {
      const body = await response.json();
      if (body.error) message = body.error;
    } catch (e) { /* not JSON: keep the status line */ }
    throw new Error(message);
  }
  return response;
}

function showError(message) {
  $("error").textContent = message || "";
  $("error").hidden = !message;
}

function setStatus(text) {
  $("status").textContent = text;
}

const label = (name) => name.replaceAll("_", " ");
const restValue = (name) => (state.source[name] ? state.info.rest.on : state.info.rest.off);
const signed = (v) => (v > 0 ? "+" : v < 0 ? "−" : "") + Math.abs(v).toFixed(2);

function element(tag, props = {}, children = []) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (key === "text") el.textContent = value;
    else el.setAttribute(key, value);
  }
  el.append(...children);
  return el;
}

function buildRows() {
  const body = $("attrs").querySelector("tbody");
  for (const name of state.info.attributes) {
    const slider = element("input", {
      type: "range", id: `slider-${name}`, "data-attr": name,
      min: "-1", max: "1", step: "0.05", list: "ticks",
    });
    const has = element("input", {
      type: "checkbox", id: `source-${name}`, "data-attr": name,
      "aria-label": `has ${label(name)}`,
    });
    const row = element("tr", { "data-attr": name }, [
      element("th", { scope: "row" }, [element("label", { for: slider.id, text: label(name) })]),
      element("td", {}, [has]),
      element("td", {}, [slider]),
      element("td", {}, [element("output", { id: `value-${name}`, for: slider.id })]),
    ]);
    body.append(row);
    slider.addEventListener("input", () => {
      state.values[name] = Number(slider.value);
      showValue(name);
      scheduleEdit();
    });
    has.addEventListener("change", () => {
      state.source[name] = has.checked ? 1 : 0;
      if (!(name in state.values)) slider.value = restValue(name);
      showValue(name);
      scheduleEdit();
    });
  }
}

function showValue(name) {
  const moved = name in state.values;
  const v = moved ? state.values[name] : restValue(name);
  $(`value-${name}`).textContent = moved ? signed(v) : `${signed(v)} (as is)`;
  $(`slider-${name}`).closest("tr").classList.toggle("moved", moved);
}

function resetSliders() {
  state.values = {};
  for (const name of state.info.attributes) {
    $(`source-${name}`).checked = Boolean(state.source[name]);
    $(`slider-${name}`).value = restValue(name);
    showValue(name);
  }
}

function place(el, x, y, w, h, summary) {
  el.style.left = `${(100 * x) / summary.width}%`;
  el.style.top = `${(100 * y) / summary.height}%`;
  if (w !== undefined) {
    el.style.width = `${(100 * w) / summary.width}%`;
    el.style.height = `${(100 * h) / summary.height}%`;
  }
  el.hidden = false;
}

function opened(summary) {
  state.photo = summary;
  state.source = { ...summary.source };
  resetSliders();
  $("original").src = summary.photo;
  $("face").src = summary.face;
  for (const id of ["box", "eye-left", "eye-right"]) $(id).hidden = true;
  if (summary.box) place($("box"), ...summary.box, summary);
  if (summary.eyes) {
    place($("eye-left"), ...summary.eyes[0], undefined, undefined, summary);
    place($("eye-right"), ...summary.eyes[1], undefined, undefined, summary);
  }
  const size = `${summary.full_width}×${summary.full_height} px`;
  if (summary.method === "detected") {
    const others = summary.faces_found > 1 ? ` (the largest of ${summary.faces_found})` : "";
    const eyes = summary.eyes_found ? "eyes found" : "eyes not found: placed from the face box";
    $("located").textContent = `${size}: face found${others}, ${eyes}`;
  } else {
    $("located").textContent = `${size}: used as an aligned face crop (no detection)`;
  }
  $("source-note").textContent = SOURCE_NOTES[summary.source_from];
  $("work").hidden = false;
  state.edits = 0;
  runEdit();
}

async function openWith(request, what) {
  showError("");
  setStatus(`opening ${what}…`);
  try {
    opened(await (await request()).json());
  } catch (e) {
    setStatus("");
    showError(e.message);
  }
}

function upload(file) {
  if (!file) return;
  if (file.size > state.info.max_upload_bytes) {
    const mb = state.info.max_upload_bytes / 2 ** 20;
    showError(`the file is too large: at most ${mb} MB are accepted`);
    return;
  }
  const aligned = $("aligned").checked;
  openWith(
    () => api(`/api/upload?aligned=${aligned}`, {
      method: "POST",
      body: file,
      headers: { "Content-Type": "application/octet-stream" },
    }),
    file.name,
  );
}

function scheduleEdit() {
  clearTimeout(state.timer);
  state.timer = setTimeout(runEdit, DEBOUNCE_MS);
}

function editBody() {
  return JSON.stringify({ source: state.source, values: state.values });
}

async function runEdit() {
  if (!state.photo) return;
  if (state.inFlight) {
    state.queued = true; // sent when the current one is back: the newest values win
    return;
  }
  state.inFlight = true;
  const id = state.photo.id;
  const start = performance.now();
  try {
    const response = await api(`/api/uploads/${id}/edit`, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: editBody(),
    });
    const blob = await response.blob();
    if (state.photo && state.photo.id === id) {
      const old = state.url;
      state.url = URL.createObjectURL(blob);
      $("edited").src = state.url;
      $("edited").dataset.edits = String(++state.edits);
      if (old) URL.revokeObjectURL(old);
      setStatus(`edited in ${Math.round(performance.now() - start)} ms (${state.info.path})`);
      showError("");
    }
  } catch (e) {
    showError(e.message);
  } finally {
    state.inFlight = false;
    if (state.queued) {
      state.queued = false;
      runEdit();
    }
  }
}

async function download() {
  if (!state.photo) return;
  const button = $("download");
  button.disabled = true;
  setStatus("preparing the full-resolution PNG…");
  try {
    const response = await api(`/api/uploads/${state.photo.id}/download`, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: editBody(),
    });
    const url = URL.createObjectURL(await response.blob());
    const a = document.createElement("a");
    a.href = url;
    a.download = "stgan-edit.png";
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 60000);
    setStatus("downloaded stgan-edit.png");
  } catch (e) {
    showError(e.message);
  } finally {
    button.disabled = false;
  }
}

async function showFaces() {
  const faces = await (await api("/api/faces")).json();
  for (const face of faces) {
    const button = document.createElement("button");
    button.type = "button";
    button.className = "face";
    button.dataset.index = face.index;
    const img = document.createElement("img");
    img.src = face.image;
    img.alt = `synthetic face ${face.index + 1}`;
    button.append(img);
    button.addEventListener("click", () =>
      openWith(() => api(`/api/faces/${face.index}/open`, { method: "POST" }),
        `synthetic face ${face.index + 1}`));
    $("faces").append(button);
  }
  if (!faces.length) $("faces").textContent = "(none for this model size)";
}

async function init() {
  try {
    state.info = await (await api("/api/info")).json();
  } catch (e) {
    showError(e.message);
    return;
  }
  const info = state.info;
  $("limit").textContent = `${info.max_upload_bytes / 2 ** 20} MB`;
  $("model").textContent =
    `${info.attributes.length} attributes, ${info.img_size} px faces; ` +
    (info.classifier
      ? "a classifier predicts what an uploaded photo already has."
      : "no classifier: you tick what an uploaded photo already has.");
  $("scale-note").textContent =
    `Slider = the attribute's target on the model's scale: −1 fully off, +1 fully on ` +
    `(×${info.strength} test strength), 0 neutral; at rest it is what the photo has ` +
    `(${signed(info.rest.on)} or ${signed(info.rest.off)}). No conflict rules: ` +
    `move two hair colours yourself.`;
  buildRows();
  $("file").addEventListener("change", (e) => upload(e.target.files[0]));
  const drop = $("drop");
  drop.addEventListener("dragover", (e) => {
    e.preventDefault();
    drop.classList.add("over");
  });
  drop.addEventListener("dragleave", () => drop.classList.remove("over"));
  drop.addEventListener("drop", (e) => {
    e.preventDefault();
    drop.classList.remove("over");
    upload(e.dataTransfer.files[0]);
  });
  $("reset").addEventListener("click", () => {
    resetSliders();
    scheduleEdit();
  });
  $("download").addEventListener("click", download);
  try {
    await showFaces();
  } catch (e) {
    showError(e.message);
  }
  document.body.dataset.ready = "true";
}

init();
