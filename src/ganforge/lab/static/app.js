// The lab page: one WebSocket to the server, which trains real ganforge models and sends
// binary frames (see ganforge/lab/protocol.py). This file only draws and sends commands.
"use strict";

const { LineChart, formatNumber } = window.LabCharts;

const SPEEDS = [1, 2, 5, 10, 20, 50, 100, 200, 500]; // iterations per visual update
const COLORS = { real: "#1b7837", fake: "#5e3c99", arrow: "#e66101", mesh: "rgba(94,60,153,0.38)" };
const ARROW_MAX_PX = 20; // the longest gradient arrow of a frame, in CSS pixels
// Inputs whose id differs from the setting's name only by "-" vs "_".
const SETTING_INPUTS = ["data", "loss", "lr_d", "lr_g", "d_steps", "batch_size", "z_dim",
  "noise", "hidden_layers", "width", "optimizer", "seed"];
const DATA_LABELS = { drawn: "draw your own…" };

const $ = (id) => document.getElementById(id);
const lab = {
  ws: null,
  spec: null,
  settings: null,
  limits: null,
  frame: null, // the latest frame received (header + arrays)
  pendingDraw: false,
  run: null, // run id of the game the charts belong to
  real: null, // Float32Array [x0, y0, x1, y1, ...] of real points shown
  drawing: false, // the user picked "draw your own"
  drawn: [], // points the user drew, in data coordinates
  renderTimes: [], // when frames were drawn, for the visual-updates/s figure
  charts: {},
  heatCanvas: document.createElement("canvas"),
};
window.lab = lab; // a handle for the browser tests and for curious users

// --- frames --------------------------------------------------------------------------------

function decodeFrame(buffer) {
  const length = new DataView(buffer).getUint32(0, true);
  const header = JSON.parse(new TextDecoder().decode(new Uint8Array(buffer, 4, length)));
  const arrays = {};
  let offset = 4 + length;
  for (const [name, size] of header.arrays) {
    arrays[name] = new Float32Array(buffer, offset, size);
    offset += 4 * size;
  }
  return { header, arrays, bytes: buffer.byteLength };
}

function onFrame(frame) {
  const h = frame.header;
  if (h.run !== lab.run) {
    lab.run = h.run;
    for (const chart of Object.values(lab.charts)) chart.clear();
  }
  if (frame.arrays.real) lab.real = frame.arrays.real;
  // Charts take every frame's statistics, even frames that are never drawn.
  if (h.stats) {
    lab.charts.loss.push(h.iteration, h.stats);
    lab.charts.d.push(h.iteration, h.stats);
    const q = h.quality || {};
    if (q.modes_total) {
      lab.charts.quality.push(h.iteration, { modes: q.modes_covered / q.modes_total, hq: q.hq_share });
    } else {
      lab.charts.quality.push(h.iteration, { js: q.js });
    }
  }
  lab.frame = frame;
  if (!lab.pendingDraw) {
    lab.pendingDraw = true;
    requestAnimationFrame(render);
  }
}

function render() {
  lab.pendingDraw = false;
  const frame = lab.frame;
  if (!frame) return;
  const h = frame.header;
  drawDataSpace(frame);
  updateOverview(h);
  configureCharts(h);
  for (const chart of Object.values(lab.charts)) chart.draw();
  $("iteration").textContent = h.iteration;
  $("d-updates").textContent = h.d_updates;
  $("status").textContent = h.diverged ? "diverged" : h.playing ? "training" : "paused";
  setPlaying(h.playing);
  if (h.rate !== null) lab.lastRate = h.rate; // paused frames carry no rate: keep the last
  $("ips").textContent = lab.lastRate === undefined ? "–" : Math.round(lab.lastRate);
  $("frame-kb").textContent = (frame.bytes / 1024).toFixed(1);
  $("arrows-mean").textContent = formatNumber(h.arrows_mean);
  const now = performance.now();
  lab.renderTimes.push(now);
  while (lab.renderTimes.length && lab.renderTimes[0] < now - 2000) lab.renderTimes.shift();
  send({ type: "ack", seq: h.seq });
}

setInterval(() => {
  // Visual updates per second over the last two seconds, as the page actually drew them.
  const now = performance.now();
  while (lab.renderTimes.length && lab.renderTimes[0] < now - 2000) lab.renderTimes.shift();
  const n = lab.renderTimes.length;
  $("fps").textContent = n < 2 ? "0" : ((n - 1) / ((now - lab.renderTimes[0]) / 1000)).toFixed(1);
}, 500);

// --- the data-space canvas -------------------------------------------------------------------

function heatColor(value) {
  // 0 -> purple (looks fake), 0.5 -> white, 1 -> green (looks real).
  const t = Math.min(Math.max(value, 0), 1) * 2 - 1;
  const [r, g, b] = t >= 0 ? [27, 120, 55] : [94, 60, 153];
  const a = Math.abs(t);
  return [255 + (r - 255) * a, 255 + (g - 255) * a, 255 + (b - 255) * a];
}

function drawHeat(ctx, heat, res, size) {
  const canvas = lab.heatCanvas;
  canvas.width = res;
  canvas.height = res;
  const hctx = canvas.getContext("2d");
  const image = hctx.createImageData(res, res);
  for (let i = 0; i < res * res; i++) {
    const [r, g, b] = heatColor(Number.isFinite(heat[i]) ? heat[i] : 0.5);
    image.data[4 * i] = r;
    image.data[4 * i + 1] = g;
    image.data[4 * i + 2] = b;
    image.data[4 * i + 3] = 150;
  }
  hctx.putImageData(image, 0, 0);
  ctx.imageSmoothingEnabled = true;
  ctx.drawImage(canvas, 0, 0, size, size);
}

function dots(ctx, points, toPx, color, radius) {
  ctx.fillStyle = color;
  ctx.beginPath();
  for (let i = 0; i + 1 < points.length; i += 2) {
    const [x, y] = toPx(points[i], points[i + 1]);
    ctx.moveTo(x + radius, y);
    ctx.arc(x, y, radius, 0, 2 * Math.PI);
  }
  ctx.fill();
}

function drawMesh(ctx, mesh, rows, cols, toPx) {
  ctx.strokeStyle = COLORS.mesh;
  ctx.lineWidth = 1;
  ctx.beginPath();
  const at = (r, c) => toPx(mesh[2 * (r * cols + c)], mesh[2 * (r * cols + c) + 1]);
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) {
      const [x, y] = at(r, c);
      if (c === 0) ctx.moveTo(x, y);
      else ctx.lineTo(x, y);
    }
  }
  if (rows > 1) {
    for (let c = 0; c < cols; c++) {
      for (let r = 0; r < rows; r++) {
        const [x, y] = at(r, c);
        if (r === 0) ctx.moveTo(x, y);
        else ctx.lineTo(x, y);
      }
    }
  }
  ctx.stroke();
}

function drawArrows(ctx, fake, arrows, toPx, scale) {
  // Arrow length is relative: the frame's largest -gradient gets ARROW_MAX_PX.
  let peak = 0;
  for (let i = 0; i + 1 < arrows.length; i += 2) peak = Math.max(peak, Math.hypot(arrows[i], arrows[i + 1]));
  if (!(peak > 0) || !Number.isFinite(peak)) return;
  ctx.strokeStyle = COLORS.arrow;
  ctx.fillStyle = COLORS.arrow;
  ctx.lineWidth = 1.2;
  for (let i = 0; i + 1 < arrows.length; i += 2) {
    const gx = arrows[i] * scale[0];
    const gy = -arrows[i + 1] * scale[1]; // canvas y grows downwards
    const norm = Math.hypot(gx, gy);
    if (!(norm > 0)) continue;
    const length = (ARROW_MAX_PX * Math.hypot(arrows[i], arrows[i + 1])) / peak;
    if (length < 1.5) continue;
    const [x, y] = toPx(fake[i], fake[i + 1]);
    const ux = gx / norm;
    const uy = gy / norm;
    const tx = x + ux * length;
    const ty = y + uy * length;
    ctx.beginPath();
    ctx.moveTo(x, y);
    ctx.lineTo(tx, ty);
    ctx.stroke();
    ctx.beginPath();
    ctx.moveTo(tx, ty);
    ctx.lineTo(tx - ux * 5 - uy * 3, ty - uy * 5 + ux * 3);
    ctx.lineTo(tx - ux * 5 + uy * 3, ty - uy * 5 - ux * 3);
    ctx.fill();
  }
}

function drawDataSpace(frame) {
  const canvas = $("data-canvas");
  const { ctx, width } = window.LabCharts.fitCanvas(canvas);
  const size = width;
  ctx.clearRect(0, 0, size, size);
  const h = frame ? frame.header : null;
  const showingDrawing = lab.drawing && (!h || h.data !== "drawn");
  const bounds = showingDrawing ? lab.limits.draw_bounds : h.bounds;
  const [x0, x1, y0, y1] = bounds;
  const toPx = (x, y) => [((x - x0) / (x1 - x0)) * size, ((y1 - y) / (y1 - y0)) * size];
  if (!showingDrawing) {
    const a = frame.arrays;
    if ($("show-heat").checked) drawHeat(ctx, a.heat, h.heat.res, size);
    if ($("show-manifold").checked) drawMesh(ctx, a.manifold, h.manifold.rows, h.manifold.cols, toPx);
    if ($("show-real").checked && lab.real) dots(ctx, lab.real, toPx, COLORS.real, 2);
    if ($("show-fake").checked) dots(ctx, a.fake, toPx, COLORS.fake, 2.4);
    if ($("show-arrows").checked) drawArrows(ctx, a.fake, a.arrows, toPx, [size / (x1 - x0), size / (y1 - y0)]);
  }
  if (lab.drawing) {
    const flat = lab.drawn.flat();
    dots(ctx, flat, toPx, "rgba(27,120,55,0.35)", 6);
    dots(ctx, flat, toPx, COLORS.real, 2.5);
  }
  ctx.strokeStyle = "#bbb";
  ctx.strokeRect(0.5, 0.5, size - 1, size - 1);
}

// --- model overview and charts ----------------------------------------------------------------

function updateOverview(h) {
  const s = lab.settings;
  const prob = h.probabilistic;
  const stats = h.stats || {};
  $("ov-noise").textContent = `${s.noise === "uniform" ? "U[-1,1]" : "N(0,1)"}^${s.z_dim}`;
  $("ov-g-shape").textContent = `${s.hidden_layers}×${s.width}`;
  const value = (v) => (v === undefined ? null : v);
  if (h.stats) {
    $("ov-dx").textContent = formatNumber(value(stats.d_real));
    $("ov-dgz").textContent = formatNumber(value(stats.d_fake));
    if (stats.d_loss !== undefined) $("ov-dloss").textContent = formatNumber(stats.d_loss);
    if (stats.g_loss !== undefined) $("ov-gloss").textContent = formatNumber(stats.g_loss);
  }
  $("ov-loss-name").textContent = `loss: ${h.loss}${prob ? "" : " (D outputs are critic scores)"}`;
  $("ov-d").classList.toggle("active", h.phase === "d" || h.phase === "iteration");
  $("ov-g").classList.toggle("active", h.phase === "g" || h.phase === "iteration");
  $("heat-label").textContent = prob ? "D(x): fake → real" : "critic score (scaled to view): low → high";
}

function configureCharts(h) {
  const d = lab.charts.d;
  d.range = h.probabilistic ? [0, 1] : null;
  d.reference = h.probabilistic ? 0.5 : null;
  // Mixtures: shares of modes and of good samples; other data: a divergence in nats.
  const quality = lab.charts.quality;
  quality.percent = Boolean(h.quality && h.quality.modes_total);
  quality.range = quality.percent ? [0, 1] : [0, Math.log(2)];
}

function makeCharts() {
  lab.charts.loss = new LineChart($("chart-loss"), [
    { key: "d_loss", label: "D loss", color: "#1b7837" },
    { key: "g_loss", label: "G loss", color: "#5e3c99" },
  ]);
  lab.charts.d = new LineChart($("chart-d"), [
    { key: "d_real", label: "D(x)", color: "#1b7837" },
    { key: "d_fake", label: "D(G(z))", color: "#5e3c99" },
  ], { range: [0, 1], reference: 0.5 });
  lab.charts.quality = new LineChart($("chart-quality"), [
    { key: "modes", label: "modes covered", color: "#0571b0" },
    { key: "hq", label: "high-quality samples", color: "#e66101" },
    { key: "js", label: "JS divergence (nats)", color: "#444" },
  ], { range: [0, 1], percent: true });
}

// --- controls -------------------------------------------------------------------------------

function send(message) {
  if (lab.ws && lab.ws.readyState === WebSocket.OPEN) lab.ws.send(JSON.stringify(message));
}

function showMessage(text, isError) {
  const box = $("message");
  box.textContent = text;
  box.classList.toggle("error", Boolean(isError));
  box.hidden = false;
  clearTimeout(showMessage.timer);
  showMessage.timer = setTimeout(() => { box.hidden = true; }, 6000);
}

function setPlaying(playing) {
  const button = $("play");
  button.dataset.playing = playing ? "true" : "false";
  button.innerHTML = playing ? "&#10073;&#10073; Pause" : "&#9654; Play";
}

function inputFor(name) {
  return $(name.replace(/_/g, "-"));
}

function setupControls(spec) {
  for (const name of SETTING_INPUTS) {
    const input = inputFor(name);
    const s = spec[name];
    input.title = s.help;
    if (input.tagName === "SELECT") {
      input.innerHTML = "";
      for (const choice of s.choices) {
        const option = document.createElement("option");
        option.value = choice;
        option.textContent = name === "data" ? DATA_LABELS[choice] || choice : choice;
        input.append(option);
      }
    } else {
      input.min = s.min;
      input.max = s.max;
    }
    input.addEventListener("change", () => onSettingChange(name, input));
  }
}

function onSettingChange(name, input) {
  if (name === "data" && input.value === "drawn") {
    enterDrawing();
    return;
  }
  if (name === "data") leaveDrawing();
  let value = input.value;
  if (lab.spec[name].kind !== "str") {
    value = Number(input.value);
    if (input.value.trim() === "" || !Number.isFinite(value)) {
      showMessage(`${name}: enter a number`, true);
      return;
    }
  }
  send({ type: "set", values: { [name]: value } });
}

function syncControls(settings, force = false) {
  lab.settings = settings;
  for (const name of SETTING_INPUTS) {
    const input = inputFor(name);
    if (!force && document.activeElement === input && input.tagName !== "SELECT") continue;
    if (name === "data" && lab.drawing) continue;
    input.value = settings[name];
  }
  const index = SPEEDS.indexOf(settings.speed);
  if (index >= 0) $("speed").value = index;
  $("speed-value").textContent = settings.speed;
}

function enterDrawing() {
  lab.drawing = true;
  $("draw-tools").hidden = false;
  $("data").value = "drawn";
  send({ type: "pause" });
  drawDataSpace(lab.frame);
}

function leaveDrawing() {
  lab.drawing = false;
  $("draw-tools").hidden = true;
}

function canvasToData(event) {
  const canvas = $("data-canvas");
  const rect = canvas.getBoundingClientRect();
  const h = lab.frame && lab.frame.header;
  const bounds = h && h.data === "drawn" ? h.bounds : lab.limits.draw_bounds;
  const [x0, x1, y0, y1] = bounds;
  const x = x0 + ((event.clientX - rect.left) / rect.width) * (x1 - x0);
  const y = y1 - ((event.clientY - rect.top) / rect.height) * (y1 - y0);
  return [Math.min(Math.max(x, x0), x1), Math.min(Math.max(y, y0), y1)];
}

function addDrawnPoint(event, minDistance) {
  if (lab.drawn.length >= lab.limits.max_points) {
    showMessage(`at most ${lab.limits.max_points} points`, true);
    return;
  }
  const point = canvasToData(event);
  const last = lab.drawn[lab.drawn.length - 1];
  if (last && minDistance > 0 && Math.hypot(point[0] - last[0], point[1] - last[1]) < minDistance) return;
  lab.drawn.push(point);
  $("draw-count").textContent = lab.drawn.length;
  drawDataSpace(lab.frame);
}

function setupCanvas() {
  const canvas = $("data-canvas");
  let pressed = false;
  canvas.addEventListener("pointerdown", (event) => {
    if (!lab.drawing) return;
    pressed = true;
    addDrawnPoint(event, 0);
  });
  canvas.addEventListener("pointermove", (event) => {
    if (lab.drawing && pressed) addDrawnPoint(event, 0.06);
  });
  window.addEventListener("pointerup", () => { pressed = false; });
  $("draw-train").addEventListener("click", () => {
    if (lab.drawn.length < 2) {
      showMessage("draw at least 2 points first", true);
      return;
    }
    send({ type: "draw", points: lab.drawn.map(([x, y]) => [+x.toFixed(4), +y.toFixed(4)]) });
  });
  $("draw-clear").addEventListener("click", () => {
    lab.drawn = [];
    $("draw-count").textContent = "0";
    drawDataSpace(lab.frame);
  });
  for (const id of ["show-heat", "show-manifold", "show-real", "show-fake", "show-arrows"]) {
    $(id).addEventListener("change", () => drawDataSpace(lab.frame));
  }
}

function setupTransport() {
  $("play").addEventListener("click", () => {
    send({ type: $("play").dataset.playing === "true" ? "pause" : "play" });
  });
  $("step").addEventListener("click", () => send({ type: "step", unit: $("step-unit").value }));
  $("reset").addEventListener("click", () => send({ type: "reset" }));
  $("speed").addEventListener("input", () => {
    const speed = SPEEDS[Number($("speed").value)];
    $("speed-value").textContent = speed;
    send({ type: "set", values: { speed } });
  });
}

// --- connection ------------------------------------------------------------------------------

function connect() {
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  const ws = new WebSocket(`${scheme}://${location.host}/ws`);
  ws.binaryType = "arraybuffer";
  lab.ws = ws;
  ws.addEventListener("open", () => { $("connection").textContent = "connected"; });
  ws.addEventListener("close", (event) => {
    $("connection").textContent = `disconnected${event.reason ? `: ${event.reason}` : ""}`;
    $("status").textContent = "offline";
    setPlaying(false);
  });
  ws.addEventListener("message", (event) => {
    if (typeof event.data !== "string") {
      onFrame(decodeFrame(event.data));
      return;
    }
    const message = JSON.parse(event.data);
    if (message.type === "hello") {
      lab.spec = message.spec;
      lab.limits = message.limits;
      setupControls(message.spec);
      syncControls(message.settings);
    } else if (message.type === "settings") {
      syncControls(message.settings);
      if (message.settings.data !== "drawn") leaveDrawing();
    } else if (message.type === "error") {
      showMessage(message.message, true);
      if (lab.settings) syncControls(lab.settings, true); // undo a refused edit in the inputs
    }
  });
}

makeCharts();
setupTransport();
setupCanvas();
connect();
