// Small canvas charts shared by the lab page and the run page: line charts and histograms.
// No dependencies; everything is drawn on a <canvas> sized by CSS (sharp on HiDPI screens).
(() => {
"use strict";

function fitCanvas(canvas) {
  // Match the backing store to the displayed size times the device pixel ratio.
  const ratio = window.devicePixelRatio || 1;
  const width = Math.max(1, Math.round(canvas.clientWidth * ratio));
  const height = Math.max(1, Math.round(canvas.clientHeight * ratio));
  if (canvas.width !== width || canvas.height !== height) {
    canvas.width = width;
    canvas.height = height;
  }
  const ctx = canvas.getContext("2d");
  ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
  return { ctx, width: canvas.clientWidth, height: canvas.clientHeight };
}

function formatNumber(value) {
  if (value === null || value === undefined || !Number.isFinite(value)) return "–";
  const size = Math.abs(value);
  if (size !== 0 && (size >= 1e4 || size < 1e-3)) return value.toExponential(1);
  return value.toFixed(size >= 100 ? 0 : size >= 10 ? 1 : 3);
}

const BEST_COLOR = "#d6604d"; // the ring around a score's best value

function isSparse(ys) {
  // A column filled only every few rows (eval.every scores between metrics.csv rows of
  // train.log_every): fewer than half the rows between its first and last value hold one.
  let first = -1;
  let last = -1;
  let count = 0;
  for (let i = 0; i < ys.length; i++) {
    if (ys[i] === null) continue;
    if (first < 0) first = i;
    last = i;
    count++;
  }
  return count > 0 && count < 0.5 * (last - first + 1);
}

function lastValue(ys) {
  for (let i = ys.length - 1; i >= 0; i--) if (ys[i] !== null) return ys[i];
  return null;
}

class LineChart {
  // series: [{key, label, color}]; options: {range: [lo, hi] | null, reference: y | null,
  // maxPoints, percent, best}. Points beyond maxPoints are thinned by dropping every other
  // one, so a long run keeps its whole shape in bounded memory. Dense series are lines that
  // break at missing values; sparse ones (see isSparse) are points joined across the gaps.
  // best: {key, direction: "lower" | "higher", step | null, chosen} rings the best value of
  // series `key` (the server says which way is better; `step` pins the one it chose).
  constructor(canvas, series, options = {}) {
    this.canvas = canvas;
    this.series = series;
    this.range = options.range || null;
    this.reference = options.reference ?? null;
    this.maxPoints = options.maxPoints || 800;
    this.percent = options.percent || false;
    this.best = options.best || null;
    this.clear();
  }

  bestIndex(key) {
    // Index of the best value of series `key`, or -1 (no best asked for, or no values).
    if (!this.best || this.best.key !== key) return -1;
    const ys = this.ys[key];
    if (this.best.step !== null && this.best.step !== undefined) {
      const i = this.xs.indexOf(this.best.step);
      if (i >= 0 && ys[i] !== null) return i;
    }
    const sign = this.best.direction === "lower" ? -1 : 1;
    let found = -1;
    for (let i = 0; i < ys.length; i++) {
      if (ys[i] !== null && (found < 0 || sign * (ys[i] - ys[found]) > 0)) found = i;
    }
    return found;
  }

  clear() {
    this.xs = [];
    this.ys = Object.fromEntries(this.series.map((s) => [s.key, []]));
    this.canvas.dataset.points = "0";
    this.dirty = true;
  }

  push(x, values) {
    this.xs.push(x);
    for (const s of this.series) {
      const v = values[s.key];
      this.ys[s.key].push(Number.isFinite(v) ? v : null);
    }
    if (this.xs.length > this.maxPoints) {
      const keep = (_, i) => i % 2 === 0 || i === this.xs.length - 1;
      this.xs = this.xs.filter(keep);
      for (const s of this.series) this.ys[s.key] = this.ys[s.key].filter(keep);
    }
    this.canvas.dataset.points = String(this.xs.length);
    this.dirty = true;
  }

  setData(xs, columns) {
    // Replace everything (the run page redraws whole curves from metrics.csv).
    this.xs = xs.slice();
    for (const s of this.series) this.ys[s.key] = (columns[s.key] || []).slice();
    this.canvas.dataset.points = String(this.xs.length);
    this.dirty = true;
  }

  bounds() {
    if (this.range) return this.range;
    let lo = Infinity;
    let hi = -Infinity;
    for (const s of this.series) {
      for (const v of this.ys[s.key]) {
        if (v === null) continue;
        lo = Math.min(lo, v);
        hi = Math.max(hi, v);
      }
    }
    if (this.reference !== null) {
      lo = Math.min(lo, this.reference);
      hi = Math.max(hi, this.reference);
    }
    if (!Number.isFinite(lo)) return [0, 1];
    if (hi - lo < 1e-9) return [lo - 0.5, hi + 0.5];
    const pad = (hi - lo) * 0.05;
    return [lo - pad, hi + pad];
  }

  draw() {
    if (!this.dirty) return;
    this.dirty = false;
    const { ctx, width, height } = fitCanvas(this.canvas);
    const left = 44;
    const right = 8;
    const top = 18;
    const bottom = 16;
    const plotW = width - left - right;
    const plotH = height - top - bottom;
    ctx.clearRect(0, 0, width, height);
    ctx.font = "11px system-ui, sans-serif";
    const [lo, hi] = this.bounds();
    const x0 = this.xs.length ? this.xs[0] : 0;
    const x1 = this.xs.length > 1 ? this.xs[this.xs.length - 1] : x0 + 1;
    const px = (x) => left + ((x - x0) / (x1 - x0 || 1)) * plotW;
    const py = (y) => top + (1 - (y - lo) / (hi - lo)) * plotH;

    ctx.strokeStyle = "#ccc";
    ctx.lineWidth = 1;
    ctx.strokeRect(left, top, plotW, plotH);
    ctx.fillStyle = "#666";
    ctx.textAlign = "right";
    const label = (v) => (this.percent ? `${Math.round(v * 100)}%` : formatNumber(v));
    ctx.fillText(label(hi), left - 4, top + 9);
    ctx.fillText(label(lo), left - 4, top + plotH);
    ctx.textAlign = "left";
    if (this.xs.length) ctx.fillText(`step ${Math.round(x1)}`, left + plotW - 70, height - 3);

    if (this.reference !== null && this.reference >= lo && this.reference <= hi) {
      ctx.setLineDash([4, 4]);
      ctx.strokeStyle = "#999";
      ctx.beginPath();
      ctx.moveTo(left, py(this.reference));
      ctx.lineTo(left + plotW, py(this.reference));
      ctx.stroke();
      ctx.setLineDash([]);
    }

    let legendX = left;
    if (this.best === null) delete this.canvas.dataset.best;
    for (const s of this.series) {
      const ys = this.ys[s.key];
      if (this.xs.length && !ys.some((v) => v !== null)) continue; // a series this data lacks
      const at = (i) => [px(this.xs[i]), py(Math.min(Math.max(ys[i], lo), hi))];
      const sparse = isSparse(ys);
      if (this.canvas.dataset.sparse !== String(sparse)) this.canvas.dataset.sparse = String(sparse);
      ctx.strokeStyle = s.color;
      ctx.fillStyle = s.color;
      ctx.lineWidth = 1.5;
      ctx.beginPath();
      let pen = false;
      for (let i = 0; i < ys.length; i++) {
        if (ys[i] === null) {
          pen = pen && sparse; // a sparse series is joined across its empty rows
          continue;
        }
        if (pen) ctx.lineTo(...at(i));
        else ctx.moveTo(...at(i));
        pen = true;
      }
      ctx.stroke();
      for (let i = 0; sparse && i < ys.length; i++) {
        if (ys[i] === null) continue;
        ctx.beginPath();
        ctx.arc(...at(i), 3, 0, 2 * Math.PI);
        ctx.fill();
      }
      let text = `${s.label} ${formatOr(lastValue(ys), label)}`;
      const best = this.bestIndex(s.key);
      if (best >= 0) {
        ctx.strokeStyle = BEST_COLOR;
        ctx.lineWidth = 2;
        ctx.beginPath();
        ctx.arc(...at(best), 6, 0, 2 * Math.PI);
        ctx.stroke();
        text += ` · best ${label(ys[best])} at step ${Math.round(this.xs[best])}`;
        if (this.best.chosen) text += " (generator-best)";
        this.canvas.dataset.best = String(this.xs[best]);
      }
      ctx.fillStyle = s.color;
      ctx.fillText(text, legendX, 12);
      legendX += ctx.measureText(text).width + 14;
    }
  }
}

function formatOr(value, format) {
  return value === null ? "–" : format(value);
}

function drawHistogram(canvas, edges, groups) {
  // groups: [{counts, color, label}] sharing `edges`; bars drawn half-transparent on top
  // of each other so overlap shows.
  const { ctx, width, height } = fitCanvas(canvas);
  ctx.clearRect(0, 0, width, height);
  ctx.font = "11px system-ui, sans-serif";
  const left = 8;
  const top = 18;
  const bottom = 16;
  const plotW = width - 2 * left;
  const plotH = height - top - bottom;
  const bins = edges.length - 1;
  let peak = 1;
  for (const g of groups) for (const c of g.counts) peak = Math.max(peak, c);
  let legendX = left;
  for (const g of groups) {
    ctx.fillStyle = g.color;
    ctx.globalAlpha = 0.55;
    for (let i = 0; i < bins; i++) {
      const h = (g.counts[i] / peak) * plotH;
      ctx.fillRect(left + (i / bins) * plotW, top + plotH - h, plotW / bins - 1, h);
    }
    ctx.globalAlpha = 1;
    ctx.fillText(g.label, legendX, 12);
    legendX += ctx.measureText(g.label).width + 14;
  }
  ctx.fillStyle = "#666";
  ctx.fillText(formatNumber(edges[0]), left, height - 3);
  ctx.textAlign = "right";
  ctx.fillText(formatNumber(edges[edges.length - 1]), left + plotW, height - 3);
  ctx.textAlign = "left";
}

window.LabCharts = { LineChart, drawHistogram, fitCanvas, formatNumber };
})();
