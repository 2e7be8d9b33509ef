// The beetles review page: a queue of photos, a zoomable view, draggable landmarks.
// Points are in the photo's own pixels, y down, as the server keeps them; every
// change is sent at once (the server writes the TPS file and its journal).

const token = window.REVIEW_TOKEN;
const canvas = document.getElementById("canvas");
const context = canvas.getContext("2d");
const HIT = 12;          // screen pixels within which a press grabs a landmark
const VIEW_SIZE = 2048;  // longer side of the whole-photo view; closer looks fetch crops

const page = {
  session: null,          // /api/session
  position: 0,            // index into session.queue
  photo: null,            // /api/photos/<i>
  selected: 0,            // landmark index
  undo: [], redo: [],     // snapshots {points, absent} of the current photo
  view: { scale: 1, x: 0, y: 0 },  // screen = photo * scale + (x, y)
  base: null, detail: null,         // images: {image, left, top, width, height} in photo pixels
  drag: null,
};

async function api(path, options = {}) {
  const response = await fetch(path, { ...options, headers: { "X-Review-Token": token, ...(options.headers || {}) } });
  if (!response.ok) throw new Error(`${response.status}: ${await response.text()}`);
  return response;
}

function imageUrl(index, kind, query) {
  return `api/photos/${index}/${kind}?${new URLSearchParams({ ...query, token })}`;
}

function loadImage(url) {
  return new Promise((resolve, reject) => {
    const image = new Image();
    image.onload = () => resolve(image);
    image.onerror = () => reject(new Error(`could not load ${url}`));
    image.src = url;
  });
}

// -- the queue -----------------------------------------------------------------
async function loadSession() {
  page.session = await (await api("api/session")).json();
  renderQueue();
}

function renderQueue() {
  const nav = document.getElementById("queue");
  nav.replaceChildren(...page.session.queue.map((entry, position) => {
    const link = document.createElement("a");
    link.href = "#";
    link.className = `${entry.status.replace(" ", "-")}${position === page.position ? " current" : ""}`;
    link.title = entry.uncertainty === null ? entry.name : `${entry.name}: largest 90 % radius ${entry.uncertainty} px`;
    link.append(entry.name);
    const status = document.createElement("span");
    status.className = "status";
    status.textContent = entry.status;
    link.append(status);
    link.onclick = (event) => { event.preventDefault(); openPhoto(position); };
    return link;
  }));
  const counts = page.session.counts;
  document.getElementById("counts").textContent =
    `${counts["edited"]} edited · ${counts["reviewed"]} reviewed · ${counts["not seen"]} not seen`;
}

async function openPhoto(position) {
  const queue = page.session.queue;
  if (!queue.length) return;
  page.position = Math.max(0, Math.min(queue.length - 1, position));
  const index = queue[page.position].index;
  page.photo = await (await api(`api/photos/${index}`)).json();
  page.undo = []; page.redo = [];
  page.selected = firstUnplaced() ?? 0;
  page.detail = null;
  page.base = null;
  fit();
  renderQueue();
  renderLandmarks();
  const image = await loadImage(imageUrl(index, "view", { size: VIEW_SIZE }));
  if (page.photo.index !== index) return;  // another photo was opened meanwhile
  page.base = { image, left: 0, top: 0, width: page.photo.width, height: page.photo.height };
  draw();
  requestDetail();
}

// -- landmarks -----------------------------------------------------------------
function label(k) {
  const names = page.session.names;
  return names ? `${k + 1} ${names[k]}` : `${k + 1}`;
}

function firstUnplaced() {
  const { points, absent } = page.photo;
  const k = points.findIndex((p, i) => p === null && !absent[i]);
  return k < 0 ? null : k;
}

function renderLandmarks() {
  const list = document.getElementById("landmarks");
  const { points, absent } = page.photo;
  list.replaceChildren(...points.map((point, k) => {
    const item = document.createElement("li");
    item.textContent = (page.session.names ? page.session.names[k] : `landmark ${k + 1}`)
      + (absent[k] ? " (missing)" : point === null ? " (not placed)" : "");
    item.className = [k === page.selected ? "selected" : "", absent[k] ? "absent" : point === null ? "unplaced" : ""]
      .join(" ").trim();
    item.onclick = () => { page.selected = k; renderLandmarks(); draw(); };
    return item;
  }));
  document.getElementById("title").textContent =
    `${page.photo.name} (${page.position + 1} of ${page.session.queue.length}, ${page.photo.status})`;
}

function snapshot() {
  return { points: page.photo.points.map((p) => (p ? [...p] : null)), absent: [...page.photo.absent] };
}

function change(apply, accept = false) {
  page.undo.push(snapshot());
  page.redo = [];
  apply();
  return save(accept);
}

async function save(accept = false) {
  const saved = document.getElementById("saved");
  saved.className = "saved";
  saved.textContent = "saving…";
  const index = page.photo.index;
  try {
    const body = JSON.stringify({ points: page.photo.points, absent: page.photo.absent, accept });
    const result = await (await api(`api/photos/${index}`, {
      method: "POST", body, headers: { "Content-Type": "application/json" } })).json();
    const entry = page.session.queue.find((e) => e.index === index);
    entry.status = result.status;
    page.session.counts = result.counts;
    if (page.photo.index === index) {
      page.photo.status = result.status;
      page.photo.accepted = result.accepted;
    }
    saved.textContent = `saved to ${page.session.out.split("/").pop()}`;
    renderQueue();
    renderLandmarks();
  } catch (error) {
    saved.className = "saved error";
    saved.textContent = `NOT SAVED (${error.message}); is beetles review still running?`;
  }
}

function restore(from, to) {
  if (!from.length) return;
  to.push(snapshot());
  const state = from.pop();
  page.photo.points = state.points;
  page.photo.absent = state.absent;
  draw();
  save();
}

function toggleMissing() {
  const k = page.selected;
  change(() => {
    const { points, absent, predicted } = page.photo;
    absent[k] = !absent[k];
    points[k] = absent[k] ? null : (predicted && predicted[k] ? [...predicted[k]] : null);
  });
  draw();
}

// -- the view ------------------------------------------------------------------
function resize() {
  const ratio = window.devicePixelRatio || 1;
  canvas.width = Math.round(canvas.clientWidth * ratio);
  canvas.height = Math.round(canvas.clientHeight * ratio);
  context.setTransform(ratio, 0, 0, ratio, 0, 0);
}

function fit() {
  resize();
  const { width, height } = page.photo;
  const scale = Math.min(canvas.clientWidth / width, canvas.clientHeight / height) * 0.96;
  page.view = { scale, x: (canvas.clientWidth - width * scale) / 2, y: (canvas.clientHeight - height * scale) / 2 };
  draw();
}

function toScreen(x, y) {
  return [x * page.view.scale + page.view.x, y * page.view.scale + page.view.y];
}

function toPhoto(sx, sy) {
  return [(sx - page.view.x) / page.view.scale, (sy - page.view.y) / page.view.scale];
}

function zoom(factor, sx = canvas.clientWidth / 2, sy = canvas.clientHeight / 2) {
  const [px, py] = toPhoto(sx, sy);
  page.view.scale = Math.max(0.01, Math.min(40, page.view.scale * factor));
  page.view.x = sx - px * page.view.scale;
  page.view.y = sy - py * page.view.scale;
  draw();
  requestDetail();
}

let detailTimer = null;
function requestDetail() {
  clearTimeout(detailTimer);
  detailTimer = setTimeout(async () => {
    if (!page.base) return;
    const needed = page.view.scale * page.photo.width > page.base.image.naturalWidth * 1.05;
    if (!needed) { page.detail = null; return; }
    const [left, top] = toPhoto(0, 0).map((v) => Math.max(0, Math.floor(v)));
    const [right, bottom] = toPhoto(canvas.clientWidth, canvas.clientHeight);
    const width = Math.min(page.photo.width, Math.ceil(right)) - left;
    const height = Math.min(page.photo.height, Math.ceil(bottom)) - top;
    if (width <= 0 || height <= 0) return;
    const index = page.photo.index;
    const size = Math.ceil(Math.max(canvas.width, canvas.height));
    const image = await loadImage(imageUrl(index, "crop", { x: left, y: top, w: width, h: height, size }));
    if (page.photo.index !== index) return;
    page.detail = { image, left, top, width, height };
    draw();
  }, 150);
}

function draw() {
  if (!page.photo) return;
  context.clearRect(0, 0, canvas.clientWidth, canvas.clientHeight);
  for (const layer of [page.base, page.detail]) {
    if (!layer) continue;
    const [x, y] = toScreen(layer.left, layer.top);
    context.drawImage(layer.image, x, y, layer.width * page.view.scale, layer.height * page.view.scale);
  }
  const { points, radius, predicted } = page.photo;
  context.font = "bold 13px system-ui, sans-serif";
  points.forEach((point, k) => {
    if (!point) return;
    const [x, y] = toScreen(point[0], point[1]);
    const selected = k === page.selected;
    const origin = predicted && predicted[k];
    if (origin && Math.hypot(origin[0] - point[0], origin[1] - point[1]) * page.view.scale > 2) {
      const [ox, oy] = toScreen(origin[0], origin[1]);  // where the model put it
      context.setLineDash([4, 3]);
      context.beginPath();
      context.moveTo(ox, oy);
      context.lineTo(x, y);
      context.strokeStyle = "rgba(255, 255, 255, 0.8)";
      context.lineWidth = 1;
      context.stroke();
      context.setLineDash([]);
      context.strokeRect(ox - 3, oy - 3, 6, 6);
    }
    if (radius[k] !== null) {  // the model's 90 % circle
      context.beginPath();
      context.arc(x, y, radius[k] * page.view.scale, 0, 2 * Math.PI);
      context.strokeStyle = "rgba(255, 210, 0, 0.7)";
      context.lineWidth = 1;
      context.stroke();
    }
    context.beginPath();
    context.arc(x, y, selected ? 6 : 4.5, 0, 2 * Math.PI);
    context.fillStyle = selected ? "#ffeb3b" : "#00e5ff";
    context.fill();
    context.strokeStyle = "#000";
    context.lineWidth = 1.5;
    context.stroke();
    context.lineWidth = 3;
    context.strokeStyle = "#000";
    context.strokeText(label(k), x + 8, y - 8);
    context.fillStyle = "#fff";
    context.fillText(label(k), x + 8, y - 8);
  });
}

function nearest(sx, sy) {
  let best = null, distance = HIT;
  page.photo.points.forEach((point, k) => {
    if (!point) return;
    const [x, y] = toScreen(point[0], point[1]);
    const d = Math.hypot(x - sx, y - sy);
    if (d <= distance) { best = k; distance = d; }
  });
  return best;
}

function local(event) {
  const box = canvas.getBoundingClientRect();
  return [event.clientX - box.left, event.clientY - box.top];
}

function inside([x, y]) {
  return [Math.max(0, Math.min(page.photo.width, x)), Math.max(0, Math.min(page.photo.height, y))];
}

canvas.addEventListener("pointerdown", (event) => {
  if (!page.photo) return;
  canvas.setPointerCapture(event.pointerId);
  const [sx, sy] = local(event);
  const k = nearest(sx, sy);
  page.drag = k === null
    ? { kind: "pan", sx, sy, x: page.view.x, y: page.view.y, moved: false }
    : { kind: "landmark", k, before: snapshot(), moved: false };
  if (k !== null) { page.selected = k; renderLandmarks(); draw(); }
});

canvas.addEventListener("pointermove", (event) => {
  const drag = page.drag;
  if (!drag) return;
  const [sx, sy] = local(event);
  if (drag.kind === "pan") {
    if (Math.hypot(sx - drag.sx, sy - drag.sy) > 3) drag.moved = true;
    page.view.x = drag.x + sx - drag.sx;
    page.view.y = drag.y + sy - drag.sy;
  } else {
    drag.moved = true;
    page.photo.points[drag.k] = inside(toPhoto(sx, sy));
  }
  draw();
});

canvas.addEventListener("pointerup", (event) => {
  const drag = page.drag;
  page.drag = null;
  if (!drag) return;
  if (drag.kind === "landmark" && drag.moved) {
    page.undo.push(drag.before);
    page.redo = [];
    save();
  } else if (drag.kind === "pan" && !drag.moved) {
    place(local(event));  // a click: place the selected (or next) landmark
  } else if (drag.kind === "pan") {
    requestDetail();
  }
});

function place([sx, sy]) {
  const { points, absent } = page.photo;
  let k = points[page.selected] === null && !absent[page.selected] ? page.selected : firstUnplaced();
  if (k === null) return;
  const point = inside(toPhoto(sx, sy));
  change(() => { points[k] = point; });
  page.selected = firstUnplaced() ?? k;
  renderLandmarks();
  draw();
}

canvas.addEventListener("wheel", (event) => {
  event.preventDefault();
  const [sx, sy] = local(event);
  zoom(event.deltaY < 0 ? 1.25 : 0.8, sx, sy);
}, { passive: false });

// -- buttons and keys ----------------------------------------------------------
async function accept() {
  await change(() => {}, true);
  if (page.position < page.session.queue.length - 1) openPhoto(page.position + 1);
}

function selectLandmark(step) {
  const n = page.photo.points.length;
  page.selected = (page.selected + step + n) % n;
  renderLandmarks();
  draw();
}

document.getElementById("prev").onclick = () => openPhoto(page.position - 1);
document.getElementById("next").onclick = () => openPhoto(page.position + 1);
document.getElementById("accept").onclick = accept;
document.getElementById("missing").onclick = toggleMissing;
document.getElementById("undo").onclick = () => restore(page.undo, page.redo);
document.getElementById("redo").onclick = () => restore(page.redo, page.undo);
document.getElementById("fit").onclick = fit;

document.addEventListener("keydown", (event) => {
  if (!page.photo) return;
  const key = event.key;
  const control = event.ctrlKey || event.metaKey;
  if (control && key.toLowerCase() === "z" && !event.shiftKey) restore(page.undo, page.redo);
  else if (control && (key.toLowerCase() === "y" || (key.toLowerCase() === "z" && event.shiftKey))) {
    restore(page.redo, page.undo);
  } else if (control) return;
  else if (key === "n" || key === "ArrowRight" || key === "PageDown") openPhoto(page.position + 1);
  else if (key === "p" || key === "ArrowLeft" || key === "PageUp") openPhoto(page.position - 1);
  else if (key === "Tab") selectLandmark(event.shiftKey ? -1 : 1);
  else if (key === "Enter" || key === "a") accept();
  else if (key === "m" || key === "Delete") toggleMissing();
  else if (key === "+" || key === "=") zoom(1.25);
  else if (key === "-") zoom(0.8);
  else if (key === "0" || key === "f") fit();
  else return;
  event.preventDefault();
});

window.addEventListener("resize", () => { if (page.photo) { resize(); draw(); } });

// For tests and for the curious: where a photo point is on the canvas.
window.reviewPage = { page, toScreen, ready: false };

loadSession().then(() => openPhoto(0)).then(() => { window.reviewPage.ready = true; }).catch((error) => {
  document.getElementById("saved").className = "saved error";
  document.getElementById("saved").textContent = error.message;
});
