// Training-Free Video: frontend extension. Draws FreeInit's low-pass filter, shows FIFO-Diffusion's cost,
// and renders reward rankings as a gallery. Uses only app.registerExtension hooks and per-instance
// widget callbacks (no prototype patching).
import { app } from "../../scripts/app.js";

const EXT = "training-free-video.ui";

// ---- FreeInit / Frequency Mix: filter profile --------------------------------------------------------
// The 1-D gain along one axis, as nodes/core/spectral.py computes it: r in [-1, 1] is the normalised
// frequency (Nyquist = 1), D = r / d with d = d_s (space) or d_t (time): gaussian exp(-D^2/2),
// butterworth 1/(1+D^(2n)), ideal and box 1 if |r| <= d. At d = 0 only the mean (r = 0) is kept.
export function filterProfile(kind, d, order, samples = 101) {
  const out = [];
  for (let i = 0; i < samples; i++) {
    const r = -1 + (2 * i) / (samples - 1);
    if (!(d > 0)) { out.push(Math.abs(r) < 1e-12 ? 1 : 0); continue; }
    const D = r / d;
    let v;
    if (kind === "gaussian") v = Math.exp(-(D * D) / 2);
    else if (kind === "butterworth") v = 1 / (1 + Math.pow(D * D, order));
    else if (kind === "ideal") v = Math.abs(D) <= 1 ? 1 : 0;
    else if (kind === "box") v = Math.abs(r) <= d ? 1 : 0;
    else v = 0;
    out.push(v);
  }
  return out;
}

function widget(node, name) {
  return node.widgets?.find((w) => w.name === name);
}

function onWidgetChange(node, names, fn) {
  for (const name of names) {
    const w = widget(node, name);
    if (!w) continue;
    const previous = w.callback;
    w.callback = function () {
      const r = previous?.apply(this, arguments);
      fn();
      return r;
    };
  }
}

const CURVES = {  // spatial drawn first, wide; temporal on top, thin and dashed: both show when d_s = d_t
  spatial: { label: "spatial (d_s)", colour: "#4fc3f7", width: 5, dash: [] },
  temporal: { label: "temporal (d_t)", colour: "#ffb74d", width: 2, dash: [6, 4] },
};
const CAPTION = "low-pass: kept from the previous pass";

// Text boxes of the caption (first line) and the legend (second line, entries side by side), so nothing
// overlaps at any width; measure(text) gives a text's width in px.
export function plotLabels(measure, pad = 16) {
  const boxes = [{ text: CAPTION, x: pad, y: 2, w: measure(CAPTION), h: 12 }];
  let x = pad;
  for (const [name, c] of Object.entries(CURVES)) {
    boxes.push({ text: c.label, curve: name, x: x + 14, y: 16, w: measure(c.label), h: 12 });
    x += 14 + measure(c.label) + 12;
  }
  return boxes;
}

function drawProfiles(canvas, profiles) {
  const ctx = canvas.getContext("2d");
  const W = canvas.width, H = canvas.height, pad = 16, top = 34;
  ctx.clearRect(0, 0, W, H);
  ctx.fillStyle = "#1e1e1e";
  ctx.fillRect(0, 0, W, H);
  ctx.strokeStyle = "#555";
  ctx.lineWidth = 1;
  ctx.setLineDash([]);
  ctx.beginPath();
  ctx.moveTo(pad, H - pad); ctx.lineTo(W - pad, H - pad);
  ctx.moveTo(W / 2, top); ctx.lineTo(W / 2, H - pad);
  ctx.stroke();
  for (const [name, values] of Object.entries(profiles)) {
    const c = CURVES[name];
    ctx.strokeStyle = c.colour;
    ctx.lineWidth = c.width;
    ctx.setLineDash(c.dash);
    ctx.beginPath();
    values.forEach((v, i) => {
      const x = pad + (i / (values.length - 1)) * (W - 2 * pad);
      const y = H - pad - v * (H - pad - top);
      if (i === 0) ctx.moveTo(x, y); else ctx.lineTo(x, y);
    });
    ctx.stroke();
  }
  ctx.setLineDash([]);
  ctx.font = "11px sans-serif";
  ctx.textBaseline = "top";
  const boxes = plotLabels((t) => ctx.measureText(t).width, pad);
  for (const b of boxes) {
    if (b.curve) {
      const c = CURVES[b.curve];
      ctx.strokeStyle = c.colour;
      ctx.lineWidth = c.width;
      ctx.setLineDash(c.dash);
      ctx.beginPath();
      ctx.moveTo(b.x - 12, b.y + 6); ctx.lineTo(b.x - 2, b.y + 6);
      ctx.stroke();
      ctx.setLineDash([]);
    }
    ctx.fillStyle = b.curve ? CURVES[b.curve].colour : "#aaa";
    ctx.fillText(b.text, b.x, b.y);
  }
  ctx.fillStyle = "#aaa";
  ctx.textBaseline = "alphabetic";
  ctx.fillText("-Nyquist", pad, H - 3);
  ctx.fillText("0", W / 2 - 3, H - 3);
  ctx.fillText("+Nyquist", W - pad - 44, H - 3);
  canvas.tfvLabels = boxes;
}

function setupFilterNode(node) {
  const canvas = document.createElement("canvas");
  canvas.width = 300;
  canvas.height = 140;
  canvas.className = "tfv-filter-profile";
  canvas.style.width = "100%";
  node.addDOMWidget("filter_profile", "tfv_filter_profile", canvas, { serialize: false, getMinHeight: () => 140 });
  const update = () => {
    const kind = widget(node, "filter")?.value ?? "gaussian";
    const order = widget(node, "butterworth_order")?.value ?? 4;
    const profiles = {
      spatial: filterProfile(kind, widget(node, "d_s")?.value ?? 0.25, order),
      temporal: filterProfile(kind, widget(node, "d_t")?.value ?? 0.25, order),
    };
    node.tfvProfile = profiles;
    drawProfiles(canvas, profiles);
    node.tfvLabels = canvas.tfvLabels;
  };
  onWidgetChange(node, ["filter", "d_s", "d_t", "butterworth_order"], update);
  node.tfvUpdate = update;
  update();
}

// ---- FIFO-Diffusion: derived step count and cost ---------------------------------------------------
export function fifoCost(f, n, lookahead, windowsPerCall) {
  const steps = f * n;
  const windows = lookahead ? 2 * n : n;
  const perCall = Math.max(1, windowsPerCall || 1);
  return { steps, windows, calls: Math.ceil(windows / perCall) };
}

function setupFifoNode(node) {
  const box = document.createElement("div");
  box.className = "tfv-fifo-cost";
  box.style.cssText = "font: 12px sans-serif; color: #ddd; padding: 4px 6px; background: #222; border-radius: 4px;";
  node.addDOMWidget("fifo_cost", "tfv_fifo_cost", box, { serialize: false, getMinHeight: () => 60 });
  const update = () => {
    const c = fifoCost(widget(node, "window_frames")?.value ?? 16, widget(node, "partitions")?.value ?? 4,
                       widget(node, "lookahead")?.value ?? true, widget(node, "windows_per_call")?.value ?? 1);
    node.tfvCost = c;
    box.textContent = `denoising steps f\u00b7n = ${c.steps} \u00b7 model calls per output frame = ${c.calls}` +
      ` (${c.windows} windows; CFG doubles the batch)`;
  };
  onWidgetChange(node, ["window_frames", "partitions", "lookahead", "windows_per_call"], update);
  node.tfvUpdate = update;
  update();
}

// ---- Rank by Reward: ranked gallery ------------------------------------------------------------------
function imageUrl(img) {
  const q = new URLSearchParams({ filename: img.filename, subfolder: img.subfolder ?? "", type: img.type ?? "temp" });
  return `/view?${q.toString()}`;
}

export function renderGallery(box, output) {
  const images = output?.tfv_candidates ?? [];
  const scores = output?.tfv_scores ?? [];
  const ranking = output?.tfv_ranking ?? [];
  const topK = (output?.tfv_top_k ?? [1])[0];
  box.replaceChildren();
  ranking.forEach((index, rank) => {
    const cell = document.createElement("figure");
    cell.className = "tfv-rank-cell" + (rank < topK ? " tfv-winner" : "");
    cell.dataset.index = index;
    cell.style.cssText = "margin: 2px; display: inline-block; width: 92px; text-align: center; font: 11px sans-serif;" +
      `color: #ddd; border: 2px solid ${rank < topK ? "#ffd54f" : "transparent"}; border-radius: 4px;`;
    const img = document.createElement("img");
    if (images[index]) img.src = imageUrl(images[index]);
    img.style.cssText = "width: 88px; height: 88px; object-fit: cover; display: block;";
    const label = document.createElement("figcaption");
    const score = scores[index];
    label.textContent = `#${rank + 1} \u00b7 idx ${index} \u00b7 ${typeof score === "number" ? score.toFixed(3) : score}` +
      (rank < topK ? " \u2605" : "");
    cell.append(img, label);
    box.append(cell);
  });
}

const CELL = 96; // px per gallery cell, thumbnail and label

function setupRankNode(node) {
  const box = document.createElement("div");
  box.className = "tfv-rank-gallery";
  box.style.cssText = "overflow-y: auto; max-height: 480px;";
  node.addDOMWidget("ranking_gallery", "tfv_rank_gallery", box, {
    serialize: false,
    getMinHeight: () => box.tfvHeight ?? 40,
  });
  const previous = node.onExecuted;
  node.onExecuted = function (output) {
    previous?.apply(this, arguments);
    renderGallery(box, output);
    const perRow = Math.max(1, Math.floor((this.size[0] - 20) / CELL));
    const rows = Math.ceil((output?.tfv_ranking ?? []).length / perRow);
    box.tfvHeight = Math.min(480, rows * (CELL + 20) + 8);
    this.setSize([this.size[0], Math.max(this.size[1], this.computeSize()[1])]);
    this.setDirtyCanvas?.(true, true);
  };
}

const SETUP = {
  TFV_FreeInit: setupFilterNode,
  TFV_FrequencyMix: setupFilterNode,
  TFV_FIFOSampler: setupFifoNode,
  TFV_RankByReward: setupRankNode,
};

app.registerExtension({
  name: EXT,
  async nodeCreated(node) {
    SETUP[node.comfyClass]?.(node);
  },
  loadedGraphNode(node) {
    node.tfvUpdate?.();
  },
});
