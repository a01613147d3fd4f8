/*
 * The Reweight Lab's numerical core: seeded data, a 2-layer MLP, and one step of plain SGD, class-proportion
 * weights or Learning to Reweight (Ren, Zeng, Yang & Urtasun, ICML 2018, Algorithm 1). No DOM in this file: the page
 * (lab_ui.js) draws what it computes, and the browser test holds l2rwWeights equal to the Python library
 * (l2rw_viz.reweight.l2rw_weights).
 *
 * Shapes and layout follow PyTorch's nn.Linear: W1 is H x D, W2 is C x H, stored row-major in Float64Arrays
 * (W1[j * D + d] is weight row j, input d). Points are flat Float64Arrays of length N * D (D = 2 here).
 */
/* exported L2RW */
const L2RW = (function () {
  "use strict";

  // ---------------------------------------------------------------------------------------------------------------
  // Seeded random numbers: one seed gives the same data, initial weights and batches in every browser.

  /** mulberry32: a small, fast 32-bit generator; returns a function giving floats in [0, 1). */
  function mulberry32(seed) {
    let a = seed >>> 0;
    return function () {
      a = (a + 0x6d2b79f5) >>> 0;
      let t = a;
      t = Math.imul(t ^ (t >>> 15), t | 1);
      t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
      return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    };
  }

  /** A separate stream per purpose (data, validation, test, flips, init, batches), so that changing one setting
   * (say the flip rate) does not move the points or the initial weights. */
  function stream(seed, purpose) {
    let h = (seed >>> 0) ^ Math.imul(purpose + 1, 0x9e3779b1);
    h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
    h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
    return mulberry32((h ^ (h >>> 16)) >>> 0);
  }

  /** A standard normal draw (Box-Muller). */
  function gaussian(rand) {
    let u = 0;
    while (u === 0) u = rand();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * rand());
  }

  /** Fisher-Yates shuffle of an array, in place; returns it. */
  function shuffle(array, rand) {
    for (let i = array.length - 1; i > 0; i--) {
      const j = Math.floor(rand() * (i + 1));
      const tmp = array[i];
      array[i] = array[j];
      array[j] = tmp;
    }
    return array;
  }

  function range(n) {
    return Array.from({ length: n }, (_, i) => i);
  }

  // ---------------------------------------------------------------------------------------------------------------
  // Data: the package's toy problems (l2rw_viz.data.toy: label 0 is the minority class, label 1 the majority one,
  // features standardised), the imbalance and the label flips (l2rw_viz.data.corrupt), plus points drawn by hand.

  const DATASETS = ["moons", "circles", "blobs", "draw"];
  const FLIP_MODES = ["uniform", "background"];
  const NOISE = { moons: 0.2, circles: 0.08, blobs: 1.0 };   // as l2rw_viz.data.toy.DEFAULT_NOISE
  const TEST_PER_CLASS = 200;
  const MAJORITY = 1;   // the majority class, and the target of background flips

  /** One raw point of class `label` of a toy problem, before standardising. */
  function rawPoint(kind, label, rand) {
    const noise = NOISE[kind];
    if (kind === "moons") {   // scikit-learn's make_moons: an upper half circle and a lower one, shifted
      const t = Math.PI * rand();
      const x = label === 0 ? Math.cos(t) : 1 - Math.cos(t);
      const y = label === 0 ? Math.sin(t) : 0.5 - Math.sin(t);
      return [x + noise * gaussian(rand), y + noise * gaussian(rand)];
    }
    if (kind === "circles") {   // make_circles(factor=0.5): label 0 the outer circle, label 1 the inner one
      const t = 2 * Math.PI * rand();
      const r = label === 0 ? 1 : 0.5;
      return [r * Math.cos(t) + noise * gaussian(rand), r * Math.sin(t) + noise * gaussian(rand)];
    }
    const cx = label === 0 ? -1.5 : 1.5;   // make_blobs with centres (-1.5, 0) and (1.5, 0)
    return [cx + noise * gaussian(rand), noise * gaussian(rand)];
  }

  /** Mean and standard deviation of each feature on a large balanced sample (a fixed seed): every data set of a kind
   * is standardised with the same numbers, so drawn points and a link's points keep their meaning. */
  const standardisers = {};
  function standardiser(kind) {
    if (!standardisers[kind]) {
      const rand = mulberry32(2018);
      const pts = [];
      for (let i = 0; i < 4000; i++) pts.push(rawPoint(kind, i % 2, rand));
      const mean = [0, 1].map((d) => pts.reduce((s, p) => s + p[d], 0) / pts.length);
      const std = [0, 1].map((d) => Math.sqrt(pts.reduce((s, p) => s + (p[d] - mean[d]) ** 2, 0) / pts.length));
      standardisers[kind] = { mean, std };
    }
    return standardisers[kind];
  }

  function toyPoints(kind, labels, rand) {
    const { mean, std } = standardiser(kind);
    const X = new Float64Array(labels.length * 2);
    labels.forEach((label, i) => {
      const p = rawPoint(kind, label, rand);
      X[2 * i] = (p[0] - mean[0]) / std[0];
      X[2 * i + 1] = (p[1] - mean[1]) / std[1];
    });
    return X;
  }

  /**
   * The training, validation and test sets of a lab state.
   *
   * state: {dataset, nTrain, majority, flip, flipMode, nVal, seed, points: [[x, y, label, flipped], ...],
   *   toggle: [indices of generated training points whose label is switched by hand]}.
   * Generated data sets: `nTrain` points, a share `majority` of them of class 1; then a fraction `flip` of the labels
   * flipped ("uniform": any point, to the other class; "background": points not in class 1, to class 1); then the
   * hand-drawn `points` appended. Validation: `nVal` clean points, balanced; test: 200 clean points per class.
   * "draw": only the drawn points; the validation set is up to nVal/2 unflipped drawn points of each class (they
   * stay in the training set; there is nothing else to take them from) and the test set is every drawn point with
   * its true label.
   *
   * Returns {X (N*2), y (observed labels, Int32Array N), yClean, flipped (Uint8Array N), minority (Uint8Array N),
   *   drawn (Uint8Array N), nGenerated, Xval, yval, valIndex (training indices used for validation, "draw" only),
   *   Xtest, ytest, classCounts ([count of observed label 0, label 1]), minorityClass (0, 1 or -1 for none)}.
   */
  function makeData(state) {
    const kind = state.dataset;
    const generated = kind !== "draw";
    let nGen = 0;
    let Xg = new Float64Array(0);
    let yg = [];
    let ygClean = [];
    if (generated) {
      const n0 = Math.max(1, Math.round((1 - state.majority) * state.nTrain));
      const labels = shuffle(range(state.nTrain).map((i) => (i < n0 ? 0 : 1)), stream(state.seed, 0));
      Xg = toyPoints(kind, labels, stream(state.seed, 1));
      nGen = labels.length;
      ygClean = labels;
      yg = flipLabels(labels, state.flip, state.flipMode, stream(state.seed, 2));
      for (const i of state.toggle) if (i >= 0 && i < nGen) yg[i] = 1 - yg[i];
    }
    const points = state.points;
    const N = nGen + points.length;
    const X = new Float64Array(2 * N);
    X.set(Xg);
    const y = new Int32Array(N);
    const yClean = new Int32Array(N);
    const flipped = new Uint8Array(N);
    const drawn = new Uint8Array(N);
    for (let i = 0; i < N; i++) {
      if (i < nGen) {
        y[i] = yg[i];
        yClean[i] = ygClean[i];
      } else {
        const [px, py, label, isFlipped] = points[i - nGen];
        X[2 * i] = px;
        X[2 * i + 1] = py;
        yClean[i] = label;
        y[i] = isFlipped ? 1 - label : label;
        drawn[i] = 1;
      }
      flipped[i] = y[i] !== yClean[i] ? 1 : 0;
    }
    const cleanCounts = [0, 0];
    const classCounts = [0, 0];
    for (let i = 0; i < N; i++) {
      cleanCounts[yClean[i]]++;
      classCounts[y[i]]++;
    }
    // the minority class by the truth the teacher knows (as is_minority in the library), none when balanced
    const minorityClass = cleanCounts[0] === cleanCounts[1] ? -1 : (cleanCounts[0] < cleanCounts[1] ? 0 : 1);
    const minority = new Uint8Array(N);
    for (let i = 0; i < N; i++) minority[i] = yClean[i] === minorityClass ? 1 : 0;

    let Xval, yval, Xtest, ytest;
    let valIndex = [];
    if (generated) {
      const valLabels = range(state.nVal).map((i) => i % 2);
      Xval = toyPoints(kind, valLabels, stream(state.seed, 3));
      yval = Int32Array.from(valLabels);
      const testLabels = range(2 * TEST_PER_CLASS).map((i) => i % 2);
      Xtest = toyPoints(kind, testLabels, stream(state.seed, 4));
      ytest = Int32Array.from(testLabels);
    } else {
      const rand = stream(state.seed, 3);
      for (const c of [0, 1]) {
        const clean = shuffle(range(N).filter((i) => !flipped[i] && yClean[i] === c), rand);
        valIndex = valIndex.concat(clean.slice(0, Math.floor(state.nVal / 2)));
      }
      Xval = new Float64Array(2 * valIndex.length);
      yval = new Int32Array(valIndex.length);
      valIndex.forEach((i, k) => {
        Xval[2 * k] = X[2 * i];
        Xval[2 * k + 1] = X[2 * i + 1];
        yval[k] = yClean[i];
      });
      Xtest = X;
      ytest = yClean;
    }
    return { X, y, yClean, flipped, minority, drawn, nGenerated: nGen, Xval, yval, valIndex, Xtest, ytest,
      classCounts, minorityClass };
  }

  /** Flip a fraction `rate` of the labels (exactly round(rate * eligible) of them), as l2rw_viz.data.corrupt does
   * with two classes: uniform flips move any label to the other class; background flips move labels that are not
   * the background (majority) class to it. Returns a new array. */
  function flipLabels(labels, rate, mode, rand) {
    const y = labels.slice();
    const eligible = range(y.length).filter((i) => mode === "uniform" || y[i] !== MAJORITY);
    const chosen = shuffle(eligible, rand).slice(0, Math.round(rate * eligible.length));
    for (const i of chosen) y[i] = mode === "uniform" ? 1 - y[i] : MAJORITY;
    return y;
  }

  // ---------------------------------------------------------------------------------------------------------------
  // The model: logits = W2 act(W1 x + b1) + b2, softmax cross-entropy. Gradients by hand: they are a few lines and
  // they are what L2RW compares.

  const ACTIVATIONS = ["tanh", "relu"];

  /** Fresh parameters, initialised like PyTorch's nn.Linear: every entry uniform in +-1/sqrt(fan_in). */
  function initParams(D, H, C, activation, rand) {
    const p = zeros({ D, H, C, activation });
    const fill = (arr, bound) => { for (let k = 0; k < arr.length; k++) arr[k] = (2 * rand() - 1) * bound; };
    fill(p.W1, 1 / Math.sqrt(D));
    fill(p.b1, 1 / Math.sqrt(D));
    fill(p.W2, 1 / Math.sqrt(H));
    fill(p.b2, 1 / Math.sqrt(H));
    return p;
  }

  /** Parameters (or a gradient) of the same shapes as `p`, all zero. */
  function zeros(p) {
    return { D: p.D, H: p.H, C: p.C, activation: p.activation, W1: new Float64Array(p.H * p.D),
      b1: new Float64Array(p.H), W2: new Float64Array(p.C * p.H), b2: new Float64Array(p.C) };
  }

  function copyParams(p) {
    return { D: p.D, H: p.H, C: p.C, activation: p.activation, W1: p.W1.slice(), b1: p.b1.slice(),
      W2: p.W2.slice(), b2: p.b2.slice() };
  }

  const TENSORS = ["W1", "b1", "W2", "b2"];

  /** Buffers for one example's forward and backward pass (re-used, so a step allocates nothing per example). */
  function workspace(p) {
    return { a: new Float64Array(p.H), h: new Float64Array(p.H), z: new Float64Array(p.C), prob: new Float64Array(p.C),
      dz: new Float64Array(p.C), da: new Float64Array(p.H), loss: 0 };
  }

  /** Forward pass of point i of X: hidden pre-activations a, activations h, logits z, softmax prob. */
  function forward(p, X, i, w) {
    const { D, H, C, W1, b1, W2, b2 } = p;
    const tanh = p.activation === "tanh";
    for (let j = 0; j < H; j++) {
      let s = b1[j];
      for (let d = 0; d < D; d++) s += W1[j * D + d] * X[i * D + d];
      w.a[j] = s;
      w.h[j] = tanh ? Math.tanh(s) : (s > 0 ? s : 0);
    }
    let max = -Infinity;
    for (let c = 0; c < C; c++) {
      let s = b2[c];
      for (let j = 0; j < H; j++) s += W2[c * H + j] * w.h[j];
      w.z[c] = s;
      if (s > max) max = s;
    }
    let sum = 0;
    for (let c = 0; c < C; c++) {
      w.prob[c] = Math.exp(w.z[c] - max);
      sum += w.prob[c];
    }
    for (let c = 0; c < C; c++) w.prob[c] /= sum;
    w.logSumExp = max + Math.log(sum);
  }

  /** Backward pass of the cross-entropy of label y (after forward): dz = prob - onehot(y) = dloss/dlogits and
   * da = (W2^T dz) * act'(a) = dloss/da. Sets w.loss = -log prob[y]. */
  function backward(p, y, w) {
    const { H, C, W2 } = p;
    const tanh = p.activation === "tanh";
    for (let c = 0; c < C; c++) w.dz[c] = w.prob[c] - (c === y ? 1 : 0);
    for (let j = 0; j < H; j++) {
      let s = 0;
      for (let c = 0; c < C; c++) s += W2[c * H + j] * w.dz[c];
      // relu'(0) = 0, as in PyTorch
      w.da[j] = s * (tanh ? 1 - w.h[j] * w.h[j] : (w.a[j] > 0 ? 1 : 0));
    }
    w.loss = w.logSumExp - w.z[y];
  }

  /** g += scale * (gradient of this example's loss), after forward and backward:
   * dW2 = dz h^T, db2 = dz, dW1 = da x^T, db1 = da. */
  function addGradient(g, p, X, i, w, scale) {
    const { D, H, C } = p;
    for (let c = 0; c < C; c++) {
      const s = scale * w.dz[c];
      g.b2[c] += s;
      for (let j = 0; j < H; j++) g.W2[c * H + j] += s * w.h[j];
    }
    for (let j = 0; j < H; j++) {
      const s = scale * w.da[j];
      g.b1[j] += s;
      for (let d = 0; d < D; d++) g.W1[j * D + d] += s * X[i * D + d];
    }
  }

  /** <gradient of this example's loss, g> without forming the gradient (after forward and backward). This dot
   * product is the L2RW score: the gradient-similarity identity below. */
  function dotGradient(g, p, X, i, w) {
    const { D, H, C } = p;
    let s = 0;
    for (let c = 0; c < C; c++) {
      let t = g.b2[c];
      for (let j = 0; j < H; j++) t += g.W2[c * H + j] * w.h[j];
      s += w.dz[c] * t;
    }
    for (let j = 0; j < H; j++) {
      let t = g.b1[j];
      for (let d = 0; d < D; d++) t += g.W1[j * D + d] * X[i * D + d];
      s += w.da[j] * t;
    }
    return s;
  }

  /** Mean cross-entropy of points `index` (all when null) of X with labels Y, and its gradient. */
  function meanLossAndGradient(p, X, Y, index, w) {
    const idx = index || range(Y.length);
    const g = zeros(p);
    let loss = 0;
    for (const i of idx) {
      forward(p, X, i, w);
      backward(p, Y[i], w);
      loss += w.loss;
      addGradient(g, p, X, i, w, 1 / idx.length);
    }
    return { loss: loss / Math.max(1, idx.length), grad: g };
  }

  function meanLoss(p, X, Y, w) {
    let loss = 0;
    for (let i = 0; i < Y.length; i++) {
      forward(p, X, i, w);
      loss += w.logSumExp - w.z[Y[i]];
    }
    return loss / Math.max(1, Y.length);
  }

  function accuracy(p, X, Y, w) {
    let right = 0;
    for (let i = 0; i < Y.length; i++) {
      forward(p, X, i, w);
      let best = 0;
      for (let c = 1; c < p.C; c++) if (w.z[c] > w.z[best]) best = c;
      if (best === Y[i]) right++;
    }
    return Y.length ? right / Y.length : NaN;
  }

  // ---------------------------------------------------------------------------------------------------------------
  // Learning to Reweight, Algorithm 1 (lines 4-11).
  //
  // Lines 4-10 perturb each training loss by eps_i = 0, take one look-ahead SGD step
  //   theta^(eps) = theta - lr * sum_i eps_i grad l_i(theta),
  // and differentiate the validation loss there with respect to eps. At eps = 0 the look-ahead parameters are theta
  // itself, so by the chain rule
  //   -dL_val(theta^(eps))/d eps_i = lr * <grad L_val(theta), grad l_i(theta)>:
  // an example's score is how well its gradient agrees with the clean validation gradient (the gradient-similarity
  // identity; l2rw_viz.reweight computes the same numbers with a forward-mode JVP). lr scales every score alike and
  // cancels in line 11, so the scores here are the dot products themselves.

  /**
   * Scores of the training points `batch` (indices into X, Y): <grad l_i, grad L_val>, with L_val the mean
   * cross-entropy over (Xval, yval). Returns {scores: Float64Array(batch.length), valGrad, valLoss}.
   */
  function l2rwScores(p, X, Y, batch, Xval, yval, w) {
    const val = meanLossAndGradient(p, Xval, yval, null, w);
    const scores = new Float64Array(batch.length);
    batch.forEach((i, k) => {
      forward(p, X, i, w);
      backward(p, Y[i], w);
      scores[k] = dotGradient(val.grad, p, X, i, w);
    });
    return { scores, valGrad: val.grad, valLoss: val.loss };
  }

  /** Algorithm 1, line 11: w = max(score, 0) / sum_j max(score_j, 0), or all zeros when no score is positive. */
  function normalizeScores(scores) {
    const clipped = Float64Array.from(scores, (s) => (s > 0 ? s : 0));
    const total = clipped.reduce((a, b) => a + b, 0);
    return total > 0 ? clipped.map((c) => c / total) : clipped;
  }

  // ---------------------------------------------------------------------------------------------------------------
  // The three methods and one SGD step.

  const METHODS = ["plain", "proportion", "l2rw"];

  /**
   * Per-example weights of one batch (Float64Array, summing to 1, or all zero for an L2RW step that finds no
   * helpful example). plain: 1/B. proportion: 1/count(observed label), normalised in the batch (the library's
   * "proportion" method). l2rw: Algorithm 1. Returns {weights, scores (l2rw only)}.
   */
  function batchWeights(method, p, data, batch, w) {
    const B = batch.length;
    if (method === "plain") return { weights: new Float64Array(B).fill(1 / B) };
    if (method === "proportion") {
      const raw = Float64Array.from(batch, (i) => 1 / data.classCounts[data.y[i]]);
      return { weights: normalizeScores(raw) };
    }
    const { scores } = l2rwScores(p, data.X, data.y, batch, data.Xval, data.yval, w);
    return { weights: normalizeScores(scores), scores };
  }

  /** theta <- theta - lr * sum_i w_i grad l_i (Algorithm 1, lines 12-14; plain SGD, no momentum). A batch whose
   * weights are all zero changes nothing (the library's default, on_zero_weights="skip"). Returns true if it
   * stepped. `g` is a gradient buffer (zeros(p)) re-used between steps. */
  function sgdStep(p, X, Y, batch, weights, lr, g, w) {
    for (const name of TENSORS) g[name].fill(0);
    let any = false;
    batch.forEach((i, k) => {
      if (weights[k] === 0) return;
      any = true;
      forward(p, X, i, w);
      backward(p, Y[i], w);
      addGradient(g, p, X, i, w, weights[k]);
    });
    if (!any) return false;
    for (const name of TENSORS) {
      const t = p[name];
      const d = g[name];
      for (let k = 0; k < t.length; k++) t[k] -= lr * d[k];
    }
    return true;
  }

  /** Epoch-wise batches: a seeded permutation of the training indices, cut into batches of `size`, drawn again
   * every epoch. `peek` shows the next batch without taking it (the step-through explains the step to come). */
  function BatchSampler(n, rand) {
    this.n = n;
    this.rand = rand;
    this.order = [];
    this.pos = 0;
    this.pending = null;
  }
  BatchSampler.prototype.peek = function (size) {
    const B = Math.min(size, this.n);
    if (this.pending && this.pending.length === B) return this.pending;
    const batch = [];
    while (batch.length < B) {
      if (this.pos >= this.order.length) {
        this.order = shuffle(range(this.n), this.rand);
        this.pos = 0;
      }
      batch.push(this.order[this.pos++]);
    }
    this.pending = batch;
    return batch;
  };
  BatchSampler.prototype.next = function (size) {
    const batch = this.peek(size);
    this.pending = null;
    return batch;
  };

  // ---------------------------------------------------------------------------------------------------------------
  // The public form of the algorithm: nested arrays in, plain arrays out (what the browser test calls).

  function checkMatrix(name, value, rows, cols) {
    const ok = Array.isArray(value) && (rows === null || value.length === rows) &&
      value.every((r) => Array.isArray(r) && r.length === cols && r.every(Number.isFinite));
    if (!ok) {
      throw new Error(`${name} is not allowed; allowed: an array of ${rows === null ? "any number of" : rows} ` +
        `rows of ${cols} finite numbers`);
    }
  }

  function checkLabels(name, value, n, C) {
    const ok = Array.isArray(value) && value.length === n && value.every((c) => Number.isInteger(c) && c >= 0 && c < C);
    if (!ok) throw new Error(`${name} is not allowed; allowed: ${n} integer labels in 0..${C - 1}`);
  }

  /** {W1: [H][D], b1: [H], W2: [C][H], b2: [C], activation} (PyTorch nn.Linear layout) -> flat parameters. */
  function paramsFromArrays(params) {
    if (!params || typeof params !== "object") throw new Error("params is not allowed; allowed: {W1, b1, W2, b2}");
    const activation = params.activation === undefined ? "tanh" : params.activation;
    if (!ACTIVATIONS.includes(activation)) {
      throw new Error(`params.activation=${JSON.stringify(activation)} is not allowed; allowed: ${ACTIVATIONS}`);
    }
    const H = Array.isArray(params.W1) ? params.W1.length : 0;
    const D = H && Array.isArray(params.W1[0]) ? params.W1[0].length : 0;
    const C = Array.isArray(params.W2) ? params.W2.length : 0;
    if (!H || !D || C < 2) {
      throw new Error("params.W1 / params.W2 are not allowed; allowed: W1 [H][D], W2 [C][H], C >= 2");
    }
    checkMatrix("params.W1", params.W1, H, D);
    checkMatrix("params.W2", params.W2, C, H);
    checkMatrix("params.b1", [params.b1], 1, H);
    checkMatrix("params.b2", [params.b2], 1, C);
    return { D, H, C, activation, W1: Float64Array.from(params.W1.flat()), b1: Float64Array.from(params.b1),
      W2: Float64Array.from(params.W2.flat()), b2: Float64Array.from(params.b2) };
  }

  /**
   * Normalised L2RW weights of a batch (Algorithm 1, lines 4-11), as l2rw_viz.reweight.l2rw_weights computes them.
   * params: {W1: [H][D], b1: [H], W2: [C][H], b2: [C], activation: "tanh" | "relu"}; X: [B][D]; y: B integer
   * labels; Xval: [M][D]; yval: M labels. Returns B numbers >= 0 summing to 1, or all 0 when every score is <= 0.
   */
  function l2rwWeights(params, X, y, Xval, yval) {
    const p = paramsFromArrays(params);
    checkMatrix("X", X, null, p.D);
    checkMatrix("Xval", Xval, null, p.D);
    if (X.length < 1 || Xval.length < 1) throw new Error("X and Xval are not allowed empty; allowed: >= 1 row each");
    checkLabels("y", y, X.length, p.C);
    checkLabels("yval", yval, Xval.length, p.C);
    const w = workspace(p);
    const { scores } = l2rwScores(p, Float64Array.from(X.flat()), Int32Array.from(y), range(X.length),
      Float64Array.from(Xval.flat()), Int32Array.from(yval), w);
    return Array.from(normalizeScores(scores));
  }

  return { mulberry32, stream, shuffle, range, DATASETS, FLIP_MODES, ACTIVATIONS, METHODS, makeData, initParams,
    zeros, copyParams, workspace, forward, backward, addGradient, dotGradient, meanLossAndGradient, meanLoss, accuracy,
    l2rwScores, normalizeScores, batchWeights, sgdStep, BatchSampler, l2rwWeights, TENSORS };
})();
