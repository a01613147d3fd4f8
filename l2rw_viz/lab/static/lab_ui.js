/*
 * The Reweight Lab's page: the state (one object, also the URL's fragment), the trainer that runs plain SGD,
 * class-proportion weights and L2RW on the same batches, the views (canvas), the controls, and window.l2rwLab.
 * The numbers come from l2rw_core.js (L2RW).
 */
/* global L2RW */
(function () {
  "use strict";

  const METHODS = L2RW.METHODS;
  const METHOD_TITLES = { plain: "plain SGD", proportion: "class proportion", l2rw: "L2RW (Algorithm 1)" };
  const CLASS_RGB = [[31, 119, 180], [255, 127, 14]];   // label 0 (minority) blue, label 1 (majority) orange
  const GROUPS = ["noisy", "clean", "minority", "majority"];
  const GROUP_STYLE = {
    noisy: { color: "#d62728", dash: [], label: "flipped" },
    clean: { color: "#555555", dash: [], label: "clean" },
    minority: { color: "#1f77b4", dash: [6, 3], label: "minority (true)" },
    majority: { color: "#ff7f0e", dash: [6, 3], label: "majority (true)" },
  };
  const METHOD_COLORS = { plain: "#7f7f7f", proportion: "#9467bd", l2rw: "#2ca02c" };
  const VIEW = 3;   // the panels show [-VIEW, VIEW]^2 in standardised units
  const ACCURACY_EVERY = 5;   // steps between test-accuracy records
  const SMOOTH = 50;   // steps in the moving mean of the weight chart

  // ---------------------------------------------------------------------------------------------------------------
  // The state: every setting, the seed and the drawn points, in one serialisable object (TensorFlow Playground's
  // idea). SPEC says what each field allows; `reset` marks fields whose change starts training again.

  const SPEC = {
    dataset: { choices: L2RW.DATASETS, def: "moons", reset: true },
    nTrain: { int: true, min: 40, max: 1000, def: 400, reset: true },
    majority: { min: 0.5, max: 0.99, def: 0.9, reset: true },
    flip: { min: 0, max: 0.5, def: 0.2, reset: true },
    flipMode: { choices: L2RW.FLIP_MODES, def: "uniform", reset: true },
    nVal: { int: true, min: 2, max: 100, even: true, def: 20, reset: true },
    hidden: { int: true, min: 2, max: 64, def: 16, reset: true },
    activation: { choices: L2RW.ACTIVATIONS, def: "tanh", reset: true },
    seed: { int: true, min: 0, max: 2147483647, def: 0, reset: true },
    lr: { min: 0.01, max: 2, def: 0.05 },
    batch: { int: true, min: 4, max: 256, def: 64 },
    method: { choices: ["all"].concat(METHODS), def: "all" },
    speed: { int: true, min: 1, max: 50, def: 3 },
    drawClass: { int: true, min: 0, max: 1, def: 1 },
    points: { def: [], reset: true },
    toggle: { def: [], reset: true },
  };

  function defaults() {
    const s = {};
    for (const key of Object.keys(SPEC)) s[key] = Array.isArray(SPEC[key].def) ? [] : SPEC[key].def;
    return s;
  }

  function allowed(spec) {
    if (spec.choices) return spec.choices.map((c) => JSON.stringify(c)).join(" | ");
    return `${spec.int ? "an integer" : "a number"} in [${spec.min}, ${spec.max}]${spec.even ? ", even" : ""}`;
  }

  /** The checked value of one field, or throws an Error naming the field, the value and what is allowed. */
  function checkField(key, value, shown) {
    const spec = SPEC[key];
    if (!spec) throw new Error(`${key} is not a setting; allowed: ${Object.keys(SPEC).join(", ")}`);
    const text = shown === undefined ? JSON.stringify(value) : shown;
    const fail = (what) => new Error(`${key}=${text} is not allowed; allowed: ${what}`);
    if (key === "points") {
      const ok = Array.isArray(value) && value.every((p) => Array.isArray(p) && p.length === 4 &&
        Number.isFinite(p[0]) && Number.isFinite(p[1]) && Math.abs(p[0]) <= 10 && Math.abs(p[1]) <= 10 &&
        (p[2] === 0 || p[2] === 1) && (p[3] === 0 || p[3] === 1 || p[3] === true || p[3] === false));
      if (!ok) throw fail("an array of [x, y, label 0|1, flipped 0|1] with |x|, |y| <= 10");
      return value.map((p) => [p[0], p[1], p[2], p[3] ? 1 : 0]);
    }
    if (key === "toggle") {
      const ok = Array.isArray(value) && value.every((i) => Number.isInteger(i) && i >= 0 && i < 1000);
      if (!ok) throw fail("an array of indices of generated points (integers in [0, 999])");
      return Array.from(new Set(value)).sort((a, b) => a - b);
    }
    if (spec.choices) {
      if (!spec.choices.includes(value)) throw fail(allowed(spec));
      return value;
    }
    const ok = typeof value === "number" && Number.isFinite(value) && value >= spec.min && value <= spec.max &&
      (!spec.int || Number.isInteger(value)) && (!spec.even || value % 2 === 0);
    if (!ok) throw fail(allowed(spec));
    return value;
  }

  /** A full state: `base` with the fields of `partial` checked and set. */
  function checkState(partial, base) {
    if (!partial || typeof partial !== "object") throw new Error("state is not allowed; allowed: an object");
    const s = Object.assign({}, base || defaults());
    for (const key of Object.keys(partial)) s[key] = checkField(key, partial[key]);
    return s;
  }

  // The URL fragment: key=value pairs; points as "x,y,label,flipped" joined by ";", toggles joined by ",".
  function encodeState(s) {
    const q = new URLSearchParams();
    for (const key of Object.keys(SPEC)) {
      if (key === "points") q.set(key, s.points.map((p) => p.join(",")).join(";"));
      else if (key === "toggle") q.set(key, s.toggle.join(","));
      else q.set(key, String(s[key]));
    }
    return q.toString();
  }

  /** Parse a fragment; returns {state, errors}: a field that does not parse keeps its default and is reported. */
  function decodeState(fragment) {
    const q = new URLSearchParams(fragment.replace(/^#/, ""));
    const s = defaults();
    const errors = [];
    for (const [key, text] of q.entries()) {
      try {
        if (!SPEC[key]) throw new Error(`${key} is not a setting`);
        let value;
        if (key === "points") value = text ? text.split(";").map((p) => p.split(",").map(Number)) : [];
        else if (key === "toggle") value = text ? text.split(",").map(Number) : [];
        else if (SPEC[key].choices) value = text;
        else value = text.trim() === "" ? NaN : Number(text);
        s[key] = checkField(key, value, text);
      } catch (error) {
        errors.push(error.message);
      }
    }
    return { state: s, errors };
  }

  // ---------------------------------------------------------------------------------------------------------------
  // The trainer: three models from the same initial weights, trained on the same batches.

  function Trainer() {
    this.state = defaults();
  }

  /** Start again from `state`: new data, the same initial weights for every method, empty history. */
  Trainer.prototype.reset = function (state) {
    this.state = state;
    this.data = L2RW.makeData(state);
    this.dataVersion = (this.dataVersion || 0) + 1;
    const init = L2RW.initParams(2, state.hidden, 2, state.activation, L2RW.stream(state.seed, 5));
    this.models = {};
    for (const m of METHODS) this.models[m] = L2RW.copyParams(init);
    this.grad = L2RW.zeros(init);
    this.work = L2RW.workspace(init);
    this.sampler = new L2RW.BatchSampler(this.data.y.length, L2RW.stream(state.seed, 6));
    this.step = 0;
    this.trainedSteps = { plain: 0, proportion: 0, l2rw: 0 };
    this.zeroWeightSteps = 0;
    // per L2RW step: running sums over steps of each group's mean weight x B (NaN-free: steps without the group are
    // counted in `count` as 0), for the moving mean of the chart; and pooled totals over (step, example) pairs
    this.cumulative = {};
    this.totals = {};
    for (const g of GROUPS) {
      this.cumulative[g] = { sum: [0], count: [0], pooledSum: [0], pooledCount: [0] };
      this.totals[g] = { sum: 0, count: 0 };
    }
    this.accuracyHistory = { step: [], plain: [], proportion: [], l2rw: [] };
    this.recordAccuracy();
  };

  /** The data changed by hand (a point drawn or a label switched): rebuild the sets, keep the models training. */
  Trainer.prototype.dataChanged = function (state) {
    this.state = state;
    this.data = L2RW.makeData(state);
    this.dataVersion++;
    this.sampler = new L2RW.BatchSampler(this.data.y.length, L2RW.stream(state.seed + this.step, 6));
    this.recordAccuracy();
  };

  Trainer.prototype.activeMethods = function () {
    return this.state.method === "all" ? METHODS : [this.state.method];
  };

  /** One step of every active method on the same batch. Returns false when there is nothing to train on. */
  Trainer.prototype.trainStep = function () {
    const data = this.data;
    if (data.y.length === 0) return false;
    const batch = this.sampler.next(this.state.batch);
    for (const m of this.activeMethods()) {
      const { weights } = L2RW.batchWeights(m, this.models[m], data, batch, this.work);
      const stepped = L2RW.sgdStep(this.models[m], data.X, data.y, batch, weights, this.state.lr, this.grad,
        this.work);
      this.trainedSteps[m]++;
      if (m === "l2rw") {
        if (!stepped) this.zeroWeightSteps++;
        this.recordWeights(batch, weights);
      }
    }
    this.step++;
    if (this.step % ACCURACY_EVERY === 0) this.recordAccuracy();
    return true;
  };

  /** Record an L2RW batch's weights by group, in units of the uniform weight (w x B: 1 = plain SGD's weight). */
  Trainer.prototype.recordWeights = function (batch, weights) {
    const d = this.data;
    const B = batch.length;
    const member = {
      noisy: (i) => d.flipped[i] === 1, clean: (i) => d.flipped[i] === 0,
      minority: (i) => d.minorityClass >= 0 && d.minority[i] === 1,
      majority: (i) => d.minorityClass >= 0 && d.minority[i] === 0,
    };
    for (const g of GROUPS) {
      let sum = 0;
      let count = 0;
      batch.forEach((i, k) => {
        if (member[g](i)) {
          sum += weights[k] * B;
          count++;
        }
      });
      const c = this.cumulative[g];
      c.sum.push(c.sum[c.sum.length - 1] + (count ? sum / count : 0));
      c.count.push(c.count[c.count.length - 1] + (count ? 1 : 0));
      c.pooledSum.push(c.pooledSum[c.pooledSum.length - 1] + sum);
      c.pooledCount.push(c.pooledCount[c.pooledCount.length - 1] + count);
      this.totals[g].sum += sum;
      this.totals[g].count += count;
    }
  };

  /** Test accuracy of method m now (remembered until the next step or data change: a frame asks several times). */
  Trainer.prototype.accuracy = function (m) {
    if (this.data.ytest.length === 0) return null;
    const key = `${this.step}:${this.dataVersion}`;
    if (this.accuracyKey !== key) {
      this.accuracyKey = key;
      this.accuracyCache = {};
    }
    if (!(m in this.accuracyCache)) {
      this.accuracyCache[m] = L2RW.accuracy(this.models[m], this.data.Xtest, this.data.ytest, this.work);
    }
    return this.accuracyCache[m];
  };

  Trainer.prototype.recordAccuracy = function () {
    const h = this.accuracyHistory;
    h.step.push(this.step);
    for (const m of METHODS) h[m].push(this.trainedSteps[m] > 0 || this.step === 0 ? this.accuracy(m) : null);
  };

  /** Scores <grad l_i, grad L_val> of every training point under the L2RW model, clipped and divided by their mean:
   * the weight each point would get relative to an average point ("x N"; 1 = average, 0 = no weight). */
  Trainer.prototype.currentWeights = function () {
    const d = this.data;
    const N = d.y.length;
    if (N === 0 || d.yval.length === 0) return new Float64Array(N);
    const { scores } = L2RW.l2rwScores(this.models.l2rw, d.X, d.y, L2RW.range(N), d.Xval, d.yval, this.work);
    return L2RW.normalizeScores(scores).map((w) => w * N);
  };

  Trainer.prototype.snapshot = function () {
    const meanWeight = {};
    const meanWeightLastHalf = {};
    for (const g of GROUPS) {
      meanWeight[g] = this.totals[g].count ? this.totals[g].sum / this.totals[g].count : null;
      const c = this.cumulative[g];
      const T = c.pooledSum.length - 1;
      const t0 = Math.floor(T / 2);
      const n = c.pooledCount[T] - c.pooledCount[t0];
      meanWeightLastHalf[g] = n ? (c.pooledSum[T] - c.pooledSum[t0]) / n : null;
    }
    const testAccuracy = {};
    for (const m of METHODS) testAccuracy[m] = this.trainedSteps[m] > 0 || this.step === 0 ? this.accuracy(m) : null;
    const d = this.data;
    const count = (arr, v) => arr.reduce((s, x) => s + (x === v ? 1 : 0), 0);
    return {
      step: this.step, testAccuracy, meanWeight, meanWeightLastHalf,
      meanWeightUnit: "weight x batch size, pooled over every L2RW step so far (1 = plain SGD's 1/B)",
      zeroWeightSteps: this.zeroWeightSteps, trainedSteps: Object.assign({}, this.trainedSteps),
      counts: { train: d.y.length, flipped: count(d.flipped, 1), drawn: count(d.drawn, 1),
        minority: d.minorityClass >= 0 ? count(d.minority, 1) : 0, validation: d.yval.length, test: d.ytest.length },
      state: JSON.parse(JSON.stringify(this.state)),
    };
  };

  // ---------------------------------------------------------------------------------------------------------------
  // Views

  const $ = (id) => document.getElementById(id);

  // Canvas sizes in CSS pixels, read once per resize: reading clientWidth after a text change would force the
  // browser to lay out the page again, several times a frame.
  const canvasSizes = new Map();
  window.addEventListener("resize", () => {
    canvasSizes.clear();
    ui.dirty = true;
  });

  /** A canvas sized for the screen's pixel ratio; returns its 2-D context in CSS pixels. */
  function context2d(canvas) {
    const ratio = window.devicePixelRatio || 1;
    if (!canvasSizes.has(canvas) && canvas.clientWidth > 0) {
      canvasSizes.set(canvas, [canvas.clientWidth, canvas.clientHeight]);
    }
    const [w, h] = canvasSizes.get(canvas) || [canvas.clientWidth, canvas.clientHeight];
    if (canvas.width !== Math.round(w * ratio) || canvas.height !== Math.round(h * ratio)) {
      canvas.width = Math.round(w * ratio);
      canvas.height = Math.round(h * ratio);
    }
    const ctx = canvas.getContext("2d");
    ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
    return { ctx, w, h };
  }

  function toPixel(x, y, size) {
    return [(x + VIEW) / (2 * VIEW) * size, (VIEW - y) / (2 * VIEW) * size];
  }

  function toWorld(px, py, size) {
    return [px / size * 2 * VIEW - VIEW, VIEW - py / size * 2 * VIEW];
  }

  const GRID = 48;   // the heat map's resolution: (GRID + 1)^2 forward passes per panel and frame
  const heatCanvas = document.createElement("canvas");
  heatCanvas.width = GRID + 1;
  heatCanvas.height = GRID + 1;
  const point = new Float64Array(2);

  /** P(y = 1) on the (GRID + 1)^2 vertices of the view. */
  function probabilityGrid(p, work) {
    const grid = new Float64Array((GRID + 1) * (GRID + 1));
    for (let r = 0; r <= GRID; r++) {
      for (let c = 0; c <= GRID; c++) {
        point[0] = -VIEW + 2 * VIEW * c / GRID;
        point[1] = VIEW - 2 * VIEW * r / GRID;
        L2RW.forward(p, point, 0, work);
        grid[r * (GRID + 1) + c] = work.prob[1];
      }
    }
    return grid;
  }

  function drawHeat(ctx, grid, size) {
    const hctx = heatCanvas.getContext("2d");
    const image = hctx.createImageData(GRID + 1, GRID + 1);
    for (let k = 0; k < grid.length; k++) {
      const p1 = grid[k];
      const base = CLASS_RGB[p1 >= 0.5 ? 1 : 0];
      const t = 0.5 * Math.abs(2 * p1 - 1);   // how sure: white at P = 0.5, half the class colour at P = 0 or 1
      for (let ch = 0; ch < 3; ch++) image.data[4 * k + ch] = Math.round(255 + t * (base[ch] - 255));
      image.data[4 * k + 3] = 255;
    }
    hctx.putImageData(image, 0, 0);
    ctx.imageSmoothingEnabled = true;
    ctx.drawImage(heatCanvas, 0, 0, GRID + 1, GRID + 1, 0, 0, size, size);
  }

  /** The boundary P(y = 1) = 0.5 by marching squares over the grid: in each cell, the points where an edge crosses
   * 0.5 (linear interpolation), joined in pairs. */
  function drawBoundary(ctx, grid, size) {
    const n = GRID + 1;
    const cell = size / GRID;
    const cross = new Float64Array(8);
    ctx.beginPath();
    for (let r = 0; r < GRID; r++) {
      for (let c = 0; c < GRID; c++) {
        // corners clockwise from the top left; edge e runs from corner e to corner e + 1
        const v0 = grid[r * n + c] - 0.5;
        const v1 = grid[r * n + c + 1] - 0.5;
        const v2 = grid[(r + 1) * n + c + 1] - 0.5;
        const v3 = grid[(r + 1) * n + c] - 0.5;
        if ((v0 < 0) === (v1 < 0) && (v1 < 0) === (v2 < 0) && (v2 < 0) === (v3 < 0)) continue;
        let k = 0;
        if ((v0 < 0) !== (v1 < 0)) { cross[k++] = c + v0 / (v0 - v1); cross[k++] = r; }
        if ((v1 < 0) !== (v2 < 0)) { cross[k++] = c + 1; cross[k++] = r + v1 / (v1 - v2); }
        if ((v2 < 0) !== (v3 < 0)) { cross[k++] = c + 1 - v2 / (v2 - v3); cross[k++] = r + 1; }
        if ((v3 < 0) !== (v0 < 0)) { cross[k++] = c; cross[k++] = r + 1 - v3 / (v3 - v0); }
        for (let j = 0; j + 3 < k; j += 4) {
          ctx.moveTo(cross[j] * cell, cross[j + 1] * cell);
          ctx.lineTo(cross[j + 2] * cell, cross[j + 3] * cell);
        }
      }
    }
    ctx.strokeStyle = "#222";
    ctx.lineWidth = 1.6;
    ctx.stroke();
  }

  function rgb(c, alpha) {
    return `rgba(${c[0]}, ${c[1]}, ${c[2]}, ${alpha})`;
  }

  /** Training points (colour: observed label; a black cross: flipped), validation points (diamonds), and in the
   * L2RW panel each point's area proportional to its current weight (hollow when it is 0). One path per colour
   * and kind, so a frame costs a few fills, not one per point. */
  function drawPoints(ctx, size, data, weights, highlight) {
    const N = data.y.length;
    const radius = (i) => (weights ? (weights[i] > 0 ? Math.min(11, 1.8 + 2.6 * Math.sqrt(weights[i])) : 2.6) : 3.2);
    for (const label of [0, 1]) {
      const filled = new Path2D();
      const hollow = new Path2D();
      for (let i = 0; i < N; i++) {
        if (data.y[i] !== label) continue;
        const [px, py] = toPixel(data.X[2 * i], data.X[2 * i + 1], size);
        const path = weights && weights[i] === 0 ? hollow : filled;
        path.moveTo(px + radius(i), py);
        path.arc(px, py, radius(i), 0, 2 * Math.PI);
      }
      ctx.fillStyle = rgb(CLASS_RGB[label], 0.85);
      ctx.fill(filled);
      ctx.strokeStyle = "rgba(255, 255, 255, 0.8)";
      ctx.lineWidth = 0.6;
      ctx.stroke(filled);
      ctx.strokeStyle = rgb(CLASS_RGB[label], 1);
      ctx.lineWidth = 1.2;
      ctx.stroke(hollow);
    }
    const marks = new Path2D();
    for (let i = 0; i < N; i++) {
      const [px, py] = toPixel(data.X[2 * i], data.X[2 * i + 1], size);
      if (data.flipped[i]) {
        // a cross whose arms start outside the dot, so the dot's colour (the observed label) stays visible
        const a = (radius(i) + 0.8) / Math.SQRT2;
        const b = a + 3.5;
        for (const [sx, sy] of [[1, 1], [1, -1], [-1, 1], [-1, -1]]) {
          marks.moveTo(px + sx * a, py + sy * a);
          marks.lineTo(px + sx * b, py + sy * b);
        }
      }
    }
    for (const i of data.valIndex) {   // drawn data sets: validation points are training points, boxed
      const [px, py] = toPixel(data.X[2 * i], data.X[2 * i + 1], size);
      marks.rect(px - 6, py - 6, 12, 12);
    }
    ctx.strokeStyle = "#111";
    ctx.lineWidth = 1.3;
    ctx.stroke(marks);
    if (highlight) {
      const rings = new Path2D();
      for (const i of highlight) {
        const [px, py] = toPixel(data.X[2 * i], data.X[2 * i + 1], size);
        rings.moveTo(px + 7, py);
        rings.arc(px, py, 7, 0, 2 * Math.PI);
      }
      ctx.strokeStyle = "#000";
      ctx.lineWidth = 2;
      ctx.stroke(rings);
    }
    if (data.valIndex.length === 0) {   // generated validation sets: clean points that are not training points
      for (const label of [0, 1]) {
        const diamonds = new Path2D();
        for (let k = 0; k < data.yval.length; k++) {
          if (data.yval[k] !== label) continue;
          const [px, py] = toPixel(data.Xval[2 * k], data.Xval[2 * k + 1], size);
          diamonds.moveTo(px, py - 6);
          diamonds.lineTo(px + 6, py);
          diamonds.lineTo(px, py + 6);
          diamonds.lineTo(px - 6, py);
          diamonds.closePath();
        }
        ctx.fillStyle = rgb(CLASS_RGB[label], 1);
        ctx.fill(diamonds);
        ctx.strokeStyle = "#111";
        ctx.lineWidth = 1.4;
        ctx.stroke(diamonds);
      }
    }
  }

  /** A line chart: series [{label, color, dash, x: [], y: []}] (null/NaN y values leave gaps). */
  function drawLineChart(canvas, series, opts) {
    const { ctx, w, h } = context2d(canvas);
    const m = { left: 42, right: 10, top: 22, bottom: 28 };
    ctx.clearRect(0, 0, w, h);
    ctx.fillStyle = "#fff";
    ctx.fillRect(0, 0, w, h);
    const xMax = Math.max(opts.xMin + 1, opts.xMax);
    const X = (x) => m.left + (x - opts.xMin) / (xMax - opts.xMin) * (w - m.left - m.right);
    const Y = (y) => h - m.bottom - (y - opts.yMin) / (opts.yMax - opts.yMin) * (h - m.top - m.bottom);
    ctx.font = "11px system-ui, sans-serif";
    ctx.fillStyle = "#444";
    ctx.strokeStyle = "#e4e4e4";
    ctx.lineWidth = 1;
    for (const t of opts.yTicks) {
      ctx.beginPath();
      ctx.moveTo(m.left, Y(t));
      ctx.lineTo(w - m.right, Y(t));
      ctx.stroke();
      ctx.fillText(String(t), 4, Y(t) + 4);
    }
    ctx.fillText(`step ${Math.round(opts.xMin)}`, m.left, h - 8);
    const last = `step ${Math.round(xMax)}`;
    ctx.fillText(last, w - m.right - ctx.measureText(last).width, h - 8);
    ctx.fillStyle = "#222";
    ctx.font = "12px system-ui, sans-serif";
    ctx.fillText(opts.title, m.left, 14);
    if (opts.refLine !== undefined) {
      ctx.strokeStyle = "#999";
      ctx.setLineDash([2, 3]);
      ctx.beginPath();
      ctx.moveTo(m.left, Y(opts.refLine));
      ctx.lineTo(w - m.right, Y(opts.refLine));
      ctx.stroke();
      ctx.setLineDash([]);
    }
    let legendX = m.left;
    for (const s of series) {
      ctx.strokeStyle = s.color;
      ctx.lineWidth = 2;
      ctx.setLineDash(s.dash || []);
      ctx.beginPath();
      let open = false;
      for (let k = 0; k < s.x.length; k++) {
        const y = s.y[k];
        if (y === null || !Number.isFinite(y)) {
          open = false;
          continue;
        }
        const yy = Y(Math.min(opts.yMax, Math.max(opts.yMin, y)));
        if (open) ctx.lineTo(X(s.x[k]), yy);
        else ctx.moveTo(X(s.x[k]), yy);
        open = true;
      }
      ctx.stroke();
      // legend along the bottom edge of the plot area
      ctx.beginPath();
      ctx.moveTo(legendX, h - m.bottom - 8);
      ctx.lineTo(legendX + 16, h - m.bottom - 8);
      ctx.stroke();
      ctx.setLineDash([]);
      ctx.fillStyle = "#222";
      ctx.font = "11px system-ui, sans-serif";
      ctx.fillText(s.label, legendX + 19, h - m.bottom - 4);
      legendX += 26 + ctx.measureText(s.label).width;
    }
  }

  /** Sample at most `points` steps of the history: the moving mean over SMOOTH steps of a group's batch mean. */
  function smoothedGroup(c, points) {
    const T = c.sum.length - 1;
    const x = [];
    const y = [];
    const every = Math.max(1, Math.ceil(T / points));
    for (let t = Math.min(T, every); t <= T; t += every) {
      const t0 = Math.max(0, t - SMOOTH);
      const n = c.count[t] - c.count[t0];
      x.push(t);
      y.push(n > 0 ? (c.sum[t] - c.sum[t0]) / n : null);
    }
    return { x, y };
  }

  // ---------------------------------------------------------------------------------------------------------------
  // The page

  const trainer = new Trainer();
  const ui = { playing: false, dirty: true, frames: 0, explain: null, lastWeights: null, messages: [] };

  function panelCanvas(m) {
    return $(`panel-${m}`);
  }

  function fmt(x, digits) {
    return x === null || x === undefined || !Number.isFinite(x) ? "–" : x.toFixed(digits);
  }

  /** Losses and norms span many orders of magnitude once the model fits its validation set: significant digits. */
  function sig(x) {
    return x === null || x === undefined || !Number.isFinite(x) ? "–" : x.toPrecision(4);
  }

  function draw() {
    const started = performance.now();
    const data = trainer.data;
    ui.lastWeights = trainer.currentWeights();
    const active = trainer.activeMethods();
    for (const m of METHODS) {
      const { ctx, w } = context2d(panelCanvas(m));
      const grid = probabilityGrid(trainer.models[m], trainer.work);
      drawHeat(ctx, grid, w);
      drawBoundary(ctx, grid, w);
      const highlight = m === "l2rw" && ui.explain ? ui.explain.batch : null;
      drawPoints(ctx, w, data, m === "l2rw" ? ui.lastWeights : null, highlight);
      const acc = trainer.trainedSteps[m] > 0 || trainer.step === 0 ? trainer.accuracy(m) : null;
      $(`title-${m}`).textContent = `${METHOD_TITLES[m]} · accuracy ${fmt(acc, 3)}` +
        (active.includes(m) ? "" : " · paused");
    }
    const groups = GROUPS.map((g) => Object.assign({ label: GROUP_STYLE[g].label, color: GROUP_STYLE[g].color,
      dash: GROUP_STYLE[g].dash }, smoothedGroup(trainer.cumulative[g], 300)));
    const peak = groups.reduce((mx, s) => Math.max(mx, ...s.y.filter((v) => v !== null)), 2);
    drawLineChart($("chart-weights"), groups, { xMin: 0, xMax: trainer.step, yMin: 0, yMax: Math.ceil(peak),
      yTicks: Array.from({ length: Math.ceil(peak) + 1 }, (_, k) => k), refLine: 1,
      title: `L2RW mean weight x B, last ${SMOOTH} steps (1 = plain SGD)` });
    const h = trainer.accuracyHistory;
    drawLineChart($("chart-accuracy"), METHODS.map((m) => ({ label: m, color: METHOD_COLORS[m], x: h.step,
      y: h[m] })), { xMin: 0, xMax: trainer.step, yMin: 0.4, yMax: 1, yTicks: [0.4, 0.6, 0.8, 1],
      title: data.nGenerated ? "test accuracy (400 clean test points)" : "accuracy on your points' true labels" });
    const snap = trainer.snapshot();
    $("status").textContent = `step ${snap.step} · ${snap.counts.train} training points (${snap.counts.flipped} ` +
      `flipped, ${snap.counts.drawn} drawn) · ${snap.counts.validation} clean validation points · L2RW steps with ` +
      `all weights 0: ${snap.zeroWeightSteps}`;
    const notes = [];
    if (snap.counts.train === 0) notes.push("Click in a panel to draw training points (pick the class on the left).");
    else if (snap.counts.validation === 0 || new Set(trainer.data.yval).size < 2) {
      notes.push("L2RW needs clean validation points of both classes: draw unflipped points of each class.");
    }
    $("notes").textContent = ui.messages.concat(notes).join(" ");
    ui.frames++;
    ui.dirty = false;
    ui.drawMs = performance.now() - started;
  }

  // -------- one L2RW step, opened up

  /** Everything one L2RW step computes, for the next batch (the one `step` will take). */
  function explainNextStep() {
    const d = trainer.data;
    if (d.y.length === 0) return null;
    const p = trainer.models.l2rw;
    const work = trainer.work;
    const batch = trainer.sampler.peek(trainer.state.batch);
    const { scores, valGrad, valLoss } = L2RW.l2rwScores(p, d.X, d.y, batch, d.Xval, d.yval, work);
    const weights = L2RW.normalizeScores(scores);
    const gradNorms = batch.map((i) => {
      L2RW.forward(p, d.X, i, work);
      L2RW.backward(p, d.y[i], work);
      const g = L2RW.zeros(p);
      L2RW.addGradient(g, p, d.X, i, work, 1);
      return Math.sqrt(L2RW.TENSORS.reduce((s, t) => s + g[t].reduce((a, v) => a + v * v, 0), 0));
    });
    const valNorm = Math.sqrt(L2RW.TENSORS.reduce((s, t) => s + valGrad[t].reduce((a, v) => a + v * v, 0), 0));
    const lr = trainer.state.lr;
    // the update each way, and the validation loss after it
    const after = (w) => {
      const q = L2RW.copyParams(p);
      L2RW.sgdStep(q, d.X, d.y, batch, w, lr, L2RW.zeros(p), work);
      return L2RW.meanLoss(q, d.Xval, d.yval, work);
    };
    const uniform = new Float64Array(batch.length).fill(1 / batch.length);
    // Algorithm 1 as printed, for the example with the largest score: the validation loss after a look-ahead step
    // theta - lr * eps * grad l_i, differentiated in eps at 0 by a central difference. It equals lr * score.
    const top = scores.reduce((best, s, k) => (s > scores[best] ? k : best), 0);
    const lookAhead = (eps) => {
      const q = L2RW.copyParams(p);
      const one = new Float64Array(batch.length);
      one[top] = 1;
      L2RW.sgdStep(q, d.X, d.y, batch, one, lr * eps, L2RW.zeros(p), work);
      return L2RW.meanLoss(q, d.Xval, d.yval, work);
    };
    const h = 1e-4;
    const slope = -(lookAhead(h) - lookAhead(-h)) / (2 * h);
    return { batch, scores, weights, gradNorms, valNorm, valLoss, lossAfterL2rw: after(weights),
      lossAfterPlain: after(uniform), top, slope, lr };
  }

  function renderExplain() {
    const box = $("explain");
    const e = ui.explain;
    box.hidden = !e;
    if (!e) return;
    const d = trainer.data;
    const B = e.batch.length;
    const order = L2RW.range(B).sort((a, b) => e.scores[b] - e.scores[a]);
    const positive = e.scores.filter((s) => s > 0).length;
    const share = (pred) => e.batch.reduce((s, i, k) => s + (pred(i) ? e.weights[k] : 0), 0);
    const noisyCount = e.batch.filter((i) => d.flipped[i]).length;
    $("explain-1").textContent = `Batch of ${B} (ringed in the L2RW panel) and ${d.yval.length} clean validation ` +
      `points. Validation loss ${sig(e.valLoss)}, |∇L_val| = ${sig(e.valNorm)}.`;
    $("explain-2").textContent = `Score of example i = ∇ℓ_i · ∇L_val (−dL_val/dε_i at ε = 0, divided by lr). ` +
      `${positive} of ${B} scores are positive. Check, Algorithm 1 as printed, for the top example: a finite ` +
      `difference of the look-ahead validation loss gives −dL_val/dε = ${e.slope.toPrecision(6)}; lr × score = ` +
      `${(e.lr * e.scores[e.top]).toPrecision(6)}.`;
    $("explain-3").textContent = `Clip at 0 and divide by the sum: the flipped examples (${noisyCount} of ${B}, ` +
      `${fmt(100 * noisyCount / B, 0)}% of the batch) get ${fmt(100 * share((i) => d.flipped[i] === 1), 1)}% of ` +
      `the weight; the true minority class gets ${fmt(100 * share((i) => d.minority[i] === 1), 1)}%` +
      (e.weights.some((w) => w > 0) ? "." : ". Every score is <= 0: all weights are 0 and this step is skipped.");
    $("explain-4").textContent = `The update θ ← θ − lr Σ w_i ∇ℓ_i (lr ${e.lr}): validation loss ` +
      `${sig(e.valLoss)} → ${sig(e.lossAfterL2rw)} after this L2RW step; a plain step on the same batch ` +
      `would give ${sig(e.lossAfterPlain)}.`;
    drawBars($("chart-explain"), order, e, d);
    const body = $("explain-rows");
    body.textContent = "";
    for (const k of order) {
      const i = e.batch[k];
      const tr = document.createElement("tr");
      const cells = [String(i), String(d.y[i]), d.flipped[i] ? `flipped (true ${d.yClean[i]})` : "clean",
        d.minorityClass < 0 ? "–" : (d.minority[i] ? "minority" : "majority"), e.gradNorms[k].toPrecision(3),
        e.scores[k].toPrecision(3), Math.max(0, e.scores[k]).toPrecision(3), e.weights[k].toFixed(4)];
      for (const text of cells) {
        const td = document.createElement("td");
        td.textContent = text;
        tr.appendChild(td);
      }
      if (d.flipped[i]) tr.className = "flipped";
      body.appendChild(tr);
    }
  }

  /** Three rows of bars, one bar per batch example sorted by score: the score, the clipped score, the weight. */
  function drawBars(canvas, order, e, d) {
    const { ctx, w, h } = context2d(canvas);
    ctx.clearRect(0, 0, w, h);
    const rows = [["score ∇ℓ_i · ∇L_val", e.scores], ["clipped max(score, 0)", e.scores.map((s) => Math.max(0, s))],
      ["weight w_i (sums to 1)", e.weights]];
    const left = 150;
    const rowH = h / 3;
    const barW = (w - left - 10) / order.length;
    ctx.font = "12px system-ui, sans-serif";
    rows.forEach(([label, values], r) => {
      const top = r * rowH + 6;
      const height = rowH - 14;
      const maxAbs = Math.max(1e-12, ...Array.from(values, Math.abs));
      const hasNegative = Array.from(values).some((v) => v < 0);
      const zeroY = hasNegative ? top + height / 2 : top + height;
      const scale = (hasNegative ? height / 2 : height) / maxAbs;
      ctx.fillStyle = "#222";
      ctx.fillText(label, 4, top + height / 2 + 4);
      ctx.strokeStyle = "#999";
      ctx.beginPath();
      ctx.moveTo(left, zeroY);
      ctx.lineTo(w - 10, zeroY);
      ctx.stroke();
      order.forEach((k, pos) => {
        const i = e.batch[k];
        const v = values[k];
        const x = left + pos * barW;
        ctx.fillStyle = rgb(CLASS_RGB[d.y[i]], d.flipped[i] ? 1 : 0.75);
        ctx.fillRect(x + 0.5, Math.min(zeroY, zeroY - v * scale), Math.max(1, barW - 1), Math.abs(v * scale));
        if (d.flipped[i]) {   // flipped labels: a black mark under (or over) the bar
          ctx.fillStyle = "#111";
          ctx.fillRect(x + 0.5, v >= 0 ? zeroY + 1 : zeroY - 4, Math.max(1, barW - 1), 3);
        }
      });
    });
  }

  // -------- state, URL and controls

  let urlTimer = null;
  function writeUrl() {
    // one history entry: the fragment is replaced, not pushed (a long training run does not fill the back button)
    clearTimeout(urlTimer);
    urlTimer = setTimeout(() => {
      const fragment = "#" + encodeState(trainer.state);
      try {
        window.history.replaceState(null, "", fragment);
      } catch {   // some browsers refuse replaceState on file:// pages
        window.location.replace(fragment);
      }
    }, 0);
  }

  function currentUrlNow() {
    const fragment = "#" + encodeState(trainer.state);
    window.history.replaceState(null, "", fragment);
    return window.location.href;
  }

  function syncControls() {
    const s = trainer.state;
    const generatedOnly = ["nTrain", "majority", "flip", "flipMode"];   // no meaning for a drawn data set
    for (const el of document.querySelectorAll("[data-key]")) {
      const key = el.dataset.key;
      if (el.type === "radio") el.checked = String(s[key]) === el.value;
      else el.value = String(s[key]);
      el.disabled = s.dataset === "draw" && generatedOnly.includes(key);
    }
    for (const el of document.querySelectorAll("[data-show]")) el.textContent = String(s[el.dataset.show]);
    $("play").textContent = ui.playing ? "❚❚ pause" : "▶ play";
  }

  /** Apply a full, checked state: a change to a `reset` field starts again, others apply to the running models. */
  function applyState(next, forceReset) {
    const prev = trainer.state;
    const resetKeys = Object.keys(SPEC).filter((k) => SPEC[k].reset);
    const changed = (k) => JSON.stringify(prev[k]) !== JSON.stringify(next[k]);
    const dataOnly = ["points", "toggle"];
    if (forceReset || !trainer.data || resetKeys.some((k) => !dataOnly.includes(k) && changed(k))) {
      trainer.reset(next);
      ui.explain = null;
    } else if (dataOnly.some(changed)) {
      trainer.dataChanged(next);
      if (ui.explain) ui.explain = explainNextStep();
    } else {
      trainer.state = next;
    }
    syncControls();
    renderExplain();
    writeUrl();
    ui.dirty = true;
  }

  function setField(key, value) {
    try {
      applyState(checkState({ [key]: value }, trainer.state), false);
    } catch (error) {
      ui.messages = [error.message];
      ui.dirty = true;
    }
  }

  /** Click: add a point of the selected class. Shift-click: switch the label of the nearest point (marked flipped
   * when it differs from the truth). */
  function onCanvasClick(event) {
    const canvas = event.currentTarget;
    const rect = canvas.getBoundingClientRect();
    const px = event.clientX - rect.left;
    const py = event.clientY - rect.top;
    const [x, y] = toWorld(px, py, rect.width);
    const s = trainer.state;
    if (event.shiftKey) {
      const d = trainer.data;
      let best = -1;
      let bestDist = 12;   // pixels
      for (let i = 0; i < d.y.length; i++) {
        const [qx, qy] = toPixel(d.X[2 * i], d.X[2 * i + 1], rect.width);
        const dist = Math.hypot(qx - px, qy - py);
        if (dist < bestDist) {
          best = i;
          bestDist = dist;
        }
      }
      if (best < 0) return;
      if (best < d.nGenerated) {
        const toggle = s.toggle.includes(best) ? s.toggle.filter((i) => i !== best) : s.toggle.concat([best]);
        setField("toggle", toggle);
      } else {
        const points = s.points.map((p, k) => (k === best - d.nGenerated ? [p[0], p[1], p[2], 1 - p[3]] : p));
        setField("points", points);
      }
      return;
    }
    const round = (v) => Math.round(Math.max(-VIEW, Math.min(VIEW, v)) * 1000) / 1000;
    setField("points", s.points.concat([[round(x), round(y), s.drawClass, 0]]));
  }

  function bindControls() {
    for (const el of document.querySelectorAll("[data-key]")) {
      const key = el.dataset.key;
      const spec = SPEC[key];
      el.addEventListener(el.tagName === "SELECT" || el.type === "radio" ? "change" : "input", () => {
        if (el.type === "radio" && !el.checked) return;
        const value = spec.choices ? el.value : Number(el.value);
        setField(key, value);
      });
    }
    for (const m of METHODS) panelCanvas(m).addEventListener("click", onCanvasClick);
    $("play").addEventListener("click", () => {
      ui.playing = !ui.playing;
      syncControls();
    });
    $("step").addEventListener("click", () => {
      trainer.trainStep();
      if (ui.explain) ui.explain = explainNextStep();
      renderExplain();
      ui.dirty = true;
    });
    $("reset").addEventListener("click", () => applyState(trainer.state, true));
    $("clear").addEventListener("click", () => applyState(checkState({ points: [], toggle: [] }, trainer.state)));
    $("open-step").addEventListener("click", () => {
      ui.playing = false;
      ui.explain = explainNextStep();
      syncControls();
      renderExplain();
      ui.dirty = true;
    });
    $("close-step").addEventListener("click", () => {
      ui.explain = null;
      renderExplain();
      ui.dirty = true;
    });
    $("link").addEventListener("click", () => {
      const url = currentUrlNow();
      $("link-text").value = url;
      $("link-text").hidden = false;
      $("link-text").select();
      if (navigator.clipboard) navigator.clipboard.writeText(url).catch(() => {});
    });
  }

  /** The animation loop. `speed` is steps per 1/60 s: when frames come slower than 60 a second (a busy machine, a
   * slow screen), each frame takes proportionally more steps, so training runs at 60 x speed steps a second
   * whatever the redraw rate (up to a 250 ms catch-up per frame). */
  let lastFrame = null;
  let owed = 0;
  function loop(now) {
    if (ui.playing) {
      const elapsed = lastFrame === null ? 1000 / 60 : Math.min(250, now - lastFrame);
      owed += trainer.state.speed * elapsed * 60 / 1000;
      let trained = false;
      for (; owed >= 1; owed--) trained = trainer.trainStep() || trained;
      ui.dirty = ui.dirty || trained;
    } else {
      owed = 0;
    }
    lastFrame = now;
    if (ui.dirty) draw();
    window.requestAnimationFrame(loop);
  }

  // ---------------------------------------------------------------------------------------------------------------
  // window.l2rwLab: what the browser test, the benchmark and a curious student's console use.

  window.l2rwLab = {
    /** Normalised L2RW weights of a batch (see l2rw_core.js): equal to l2rw_viz.reweight.l2rw_weights. */
    l2rwWeights: L2RW.l2rwWeights,
    /** Start from `state` (unset fields take their defaults); throws an Error naming a bad field. Returns the state. */
    load(state) {
      const next = checkState(state, defaults());
      ui.messages = [];
      applyState(next, true);
      draw();
      return JSON.parse(JSON.stringify(trainer.state));
    },
    /** Train `steps` steps of every active method now (synchronously), redraw, and return snapshot(). */
    train(steps) {
      if (!Number.isInteger(steps) || steps < 1 || steps > 1000000) {
        throw new Error(`steps=${JSON.stringify(steps)} is not allowed; allowed: an integer in [1, 1000000]`);
      }
      for (let k = 0; k < steps; k++) if (!trainer.trainStep()) break;
      if (ui.explain) ui.explain = explainNextStep();
      renderExplain();
      draw();
      return trainer.snapshot();
    },
    /** {step, testAccuracy: {plain, proportion, l2rw}, meanWeight: {noisy, clean, minority, majority}, counts,
     * frames (redraws so far), drawMs (the last redraw's JavaScript time), playing, state, ...}. */
    snapshot() {
      return Object.assign(trainer.snapshot(), { frames: ui.frames, playing: ui.playing, drawMs: ui.drawMs });
    },
    /** Start (true) or stop (false) live training, as the play button does. */
    play(on) {
      ui.playing = Boolean(on);
      syncControls();
      return ui.playing;
    },
    /** The training points as [x, y, observed label, flipped 0|1, drawn 0|1], in the panels' coordinates. */
    points() {
      const d = trainer.data;
      return L2RW.range(d.y.length).map((i) => [d.X[2 * i], d.X[2 * i + 1], d.y[i], d.flipped[i], d.drawn[i]]);
    },
    /** The shareable link of the current state. */
    url: currentUrlNow,
    /** The state encoded as the URL's fragment, and back: {state, errors}. */
    encodeState, decodeState,
  };

  function start() {
    bindControls();
    const { state, errors } = decodeState(window.location.hash || "");
    ui.messages = errors.map((m) => `Link: ${m}; the default is used.`);
    applyState(state, true);
    window.requestAnimationFrame(loop);
    document.body.dataset.ready = "1";
  }

  start();
})();
