// The run page: a read-only view of a `ganforge train` run folder (see lab/runview.py).
// It polls /api/run for curves, samples and alarms, and /api/run/diagnostics when a new
// checkpoint appears.
"use strict";

(() => {
  const { LineChart, drawHistogram, formatNumber } = window.LabCharts;
  const $ = (id) => document.getElementById(id);
  const BASE_COLUMNS = new Set(["step", "seconds", "d_loss", "g_loss", "d_real", "d_fake", "lr_d", "lr_g"]);
  const view = { samples: [], followLatest: true, checkpoint: null, extra: {} };
  window.runView = view; // for the browser tests

  const lossChart = new LineChart($("run-loss-chart"), [
    { key: "d_loss", label: "D loss", color: "#1b7837" },
    { key: "g_loss", label: "G loss", color: "#5e3c99" },
  ]);
  const dChart = new LineChart($("run-d-chart"), [
    { key: "d_real", label: "D(x)", color: "#1b7837" },
    { key: "d_fake", label: "D(G(z))", color: "#5e3c99" },
  ]);

  function escapeText(text) {
    const span = document.createElement("span");
    span.textContent = text;
    return span.innerHTML;
  }

  function showAlarms(alarms) {
    const box = $("alarms");
    if (!alarms.length) {
      box.innerHTML = '<span class="ok">no known failure mode detected</span>';
      return;
    }
    box.innerHTML = alarms.map((a) => `<div class="alarm ${a.level}" data-kind="${escapeText(a.kind)}">`
      + `<strong>${escapeText(a.title)}</strong>${escapeText(a.detail)}</div>`).join("");
  }

  function showSample(index) {
    const name = view.samples[index];
    if (!name) return;
    $("sample").src = `/api/run/samples/${encodeURIComponent(name)}`;
    $("history-label").textContent = name.replace(/^step_0*/, "step ").replace(".png", "");
  }

  function bestMark(name, scores) {
    // Ring the best value of an evaluation score; the server says which way is better and
    // which score (at which step) chose generator-best.
    const direction = scores.directions[name];
    if (!direction) return null;
    const chosen = scores.best !== null && scores.best.metric === name;
    return { key: name, direction, step: chosen ? scores.best.step : null, chosen };
  }

  function showCurves(metrics, probabilistic, scores) {
    const steps = metrics.step || [];
    lossChart.setData(steps, metrics);
    dChart.range = probabilistic ? [0, 1] : null;
    dChart.reference = probabilistic ? 0.5 : null;
    dChart.setData(steps, metrics);
    lossChart.draw();
    dChart.draw();
    // One small chart per extra column (gp, metrics such as FID or modes_covered).
    for (const name of Object.keys(metrics)) {
      if (BASE_COLUMNS.has(name)) continue;
      if (!view.extra[name]) {
        const canvas = document.createElement("canvas");
        canvas.className = "chart";
        canvas.dataset.column = name;
        $("extra-charts").append(canvas);
        view.extra[name] = new LineChart(canvas, [{ key: name, label: name, color: "#0571b0" }]);
      }
      view.extra[name].best = bestMark(name, scores);
      view.extra[name].setData(steps, metrics);
      view.extra[name].draw();
    }
  }

  async function refresh() {
    let summary;
    try {
      summary = await (await fetch("/api/run")).json();
    } catch (error) {
      $("run-state").textContent = "server unreachable";
      return;
    }
    $("run-name").textContent = summary.name;
    $("run-step").textContent = summary.step;
    $("run-state").textContent = summary.finished ? "finished" : "running (or stopped)";
    $("run-loss").textContent = (summary.config.train || {}).loss || "–";
    showCurves(summary.metrics, summary.probabilistic, summary.scores);
    const previous = view.samples.length;
    view.samples = summary.samples;
    const slider = $("history");
    slider.max = Math.max(0, view.samples.length - 1);
    if (view.followLatest && view.samples.length !== previous) {
      slider.value = slider.max;
      showSample(view.samples.length - 1);
    }
    view.alarms = summary.alarms;
    if (summary.checkpoint && summary.checkpoint !== view.checkpoint) {
      view.checkpoint = summary.checkpoint;
      await loadDiagnostics();
      loadWalk();
    }
    showAlarms(view.alarms.concat(view.diagnosticAlarms || []));
  }

  function showNorms(result) {
    const rows = [];
    const all = [...(result.d_norms || []).map((n) => ({ ...n, net: "d" })),
      ...(result.g_norms || []).map((n) => ({ ...n, net: "g" }))];
    const peak = Math.max(1e-12, ...all.map((n) => n.norm || 0));
    for (const n of all) {
      const width = Math.max(1, (100 * (n.norm || 0)) / peak);
      rows.push(`<div class="row"><span class="name">${n.net.toUpperCase()} ${escapeText(n.name)}</span>`
        + `<span><span class="bar ${n.net}" style="width:${width}%; display:block"></span></span>`
        + `<span>${formatNumber(n.norm)}</span></div>`);
    }
    const totals = `total: D ${formatNumber(result.d_total)} · G ${formatNumber(result.g_total)}`;
    $("grad-norms").innerHTML = `<p>${totals}</p>${rows.join("")}`;
  }

  async function loadDiagnostics() {
    const response = await fetch("/api/run/diagnostics");
    const result = await response.json();
    if (!response.ok) {
      $("diag-note").textContent = result.error;
      return;
    }
    view.diagnostics = result;
    view.diagnosticAlarms = result.alarms;
    $("diag-checkpoint").textContent = result.checkpoint;
    const groups = [];
    if (result.logits.real) groups.push({ counts: result.logits.real, color: "#1b7837", label: "real" });
    groups.push({ counts: result.logits.fake, color: "#5e3c99", label: "fake" });
    drawHistogram($("logits"), result.logits.edges, groups);
    const notes = [`loss ${result.loss}`];
    if (!result.real_available) notes.push("real data not found here: fake batch only");
    if (result.diversity) {
      notes.push(`mean pairwise distance: fake ${formatNumber(result.diversity.fake)}, real ${formatNumber(result.diversity.real)}`);
    }
    $("diag-note").textContent = notes.join(" · ");
    showNorms(result);
  }

  let walkTimer = null;
  function loadWalk() {
    const t = Number($("walk").value) / 100;
    $("walk-label").textContent = t.toFixed(2);
    clearTimeout(walkTimer);
    walkTimer = setTimeout(async () => {
      const response = await fetch(`/api/run/walk?t=${t}`);
      if (!response.ok) {
        $("walk-error").textContent = (await response.json()).error;
        $("walk-error").hidden = false;
        return;
      }
      $("walk-error").hidden = true;
      const url = URL.createObjectURL(await response.blob());
      const image = $("walk-image");
      if (image.dataset.url) URL.revokeObjectURL(image.dataset.url);
      image.dataset.url = url;
      image.src = url;
    }, 80);
  }

  $("history").addEventListener("input", () => {
    const index = Number($("history").value);
    view.followLatest = index === view.samples.length - 1;
    showSample(index);
  });
  $("walk").addEventListener("input", loadWalk);

  refresh();
  setInterval(refresh, 3000);
})();
