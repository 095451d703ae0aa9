// One run: live curves (server-sent events from metrics.jsonl), settings, environment, history,
// Stop / Resume, and the test-split evaluation with a clickable confusion matrix.
"use strict";

const NAME = decodeURIComponent(location.pathname.split("/").pop());
const API = "/api/runs/" + encodeURIComponent(NAME);
const run = { records: [], offset: 0, source: null, detail: null, redraw: null };
const PANELS = [
  ["loss", ["train_loss", "val_loss", "test_loss"]],
  ["accuracy", ["train_accuracy", "val_accuracy", "test_accuracy"]],
  ["learning rate", ["lr"]],
];

async function startPage() {
  document.getElementById("name").textContent = NAME;
  document.title = NAME + " · cnnlab";
  let detail;
  try {
    if (!(await exists())) return;
    detail = await Lab.json(API);
  } catch (error) { Lab.show("error", error); return; }
  showDetail(detail);
  if (detail.damaged) return;
  const data = await Lab.json(API + "/metrics");
  run.records = data.records; run.offset = data.offset;
  drawCurves();
  if (detail.status === "running") follow(); else evaluate();
}

// A run queued from the Train page has no folder until its process starts: wait for it (asking
// the list and the queue, so that the wait is not a stream of failed requests).
async function exists() {
  const all = await Lab.json("/api/runs");
  const listed = all.runs.concat(all.damaged);
  if (listed.some((r) => r.run_id === NAME)) return true;
  const jobs = await Lab.json("/api/jobs");
  if (jobs.some((j) => j.run === NAME && (j.status === "queued" || j.status === "running"))) {
    document.getElementById("summary").textContent = "waiting for the run to start (it is queued, or its process is loading)...";
    setTimeout(startPage, 1000);
  } else {
    Lab.show("error", { message: `No run '${NAME}' in the runs directory.` });
  }
  return false;
}

function showDetail(detail) {
  run.detail = detail;
  document.getElementById("status").replaceChildren(Lab.status(detail.damaged ? "damaged" : detail.status));
  if (detail.damaged) { Lab.show("why", { message: "This run folder is damaged: " + detail.damaged }); document.getElementById("why").className = "error"; return; }
  const c = detail.config, r = detail.result;
  document.getElementById("summary").textContent = `${c.model} on ${c.dataset} · ${r.epochs_done ?? 0}/${c.epochs} epochs · seed ${c.seed}` + (c.group ? ` · group ${c.group}` : "") + (r.duration_s ? ` · ${Lab.seconds(r.duration_s)}` : "");
  const why = document.getElementById("why");
  why.className = r.error ? "error" : "";
  why.textContent = r.error ? `This run ${detail.status}: ${r.error}` : "";
  fill("settings", c);
  fill("environment", detail.environment);
  showHistory(detail.history);
  actions(detail);
}

// Settings and environment as a two-column table: nested objects become dotted keys
// ("data.train.images"), lists are joined, and null shows as "-" (what a reader expects, not JSON).
function fill(id, object) {
  const table = document.getElementById(id);
  const rows = Lab.flatten(object || {}).map(([key, value]) => Lab.el("tr", {}, Lab.el("th", { text: key }), Lab.el("td", { text: value })));
  table.replaceChildren(...(rows.length ? rows : [Lab.el("tr", {}, Lab.el("td", { class: "muted", text: "none recorded" }))]));
}

function showHistory(rows) {
  const table = document.getElementById("history");
  if (!rows.length) { table.replaceChildren(Lab.el("tr", {}, Lab.el("td", { class: "muted", text: "no epoch finished yet" }))); return; }
  const keys = [...new Set(rows.flatMap(Object.keys))];
  table.replaceChildren(Lab.el("tr", {}, keys.map((k) => Lab.el("th", { class: "num", text: k }))),
    ...rows.map((row) => Lab.el("tr", {}, keys.map((k) => Lab.el("td", { class: "num", text: Lab.metric(k, row[k]) })))));
}

async function actions(detail) {
  const box = document.getElementById("actions");
  box.querySelectorAll("button, code.resume").forEach((n) => n.remove());
  box.append(Lab.el("a", { class: "button", href: "/explore?run=" + encodeURIComponent(NAME), text: "Explore its network" }), " ",
             Lab.el("a", { class: "button", href: "/try?run=" + encodeURIComponent(NAME), text: "Try it" }));
  const jobs = await Lab.json("/api/jobs").catch(() => []);
  const job = jobs.find((j) => j.run === NAME && (j.status === "running" || j.status === "queued"));
  if (job) box.append(Lab.el("button", { id: "stop", onclick: () => stopJob(job.id), text: job.status === "queued" ? "Cancel" : "Stop (as Ctrl-C: checkpoint saved)" }));
  if (!job && detail.status === "interrupted" && detail.has_checkpoint) {
    box.append(Lab.el("button", { id: "resume", class: "primary", onclick: resume, text: "Resume" }),
               Lab.el("code", { class: "resume", text: detail.resume_command }));
  }
}

async function stopJob(id) {
  try { await Lab.post(`/api/jobs/${id}/stop`); document.getElementById("stop").disabled = true; } catch (error) { Lab.show("error", error); }
}

async function resume() {
  try {
    await Lab.post(API + "/resume");
    document.getElementById("resume").disabled = true;
    setTimeout(refreshThenFollow, 1500);
  } catch (error) { Lab.show("error", error); }
}

async function refreshThenFollow() {
  const detail = await Lab.json(API);
  showDetail(detail);
  if (detail.status === "running") follow(); else setTimeout(refreshThenFollow, 1000);
}

// The live stream: each record arrives as an event within a fraction of a second of its writing.
function follow() {
  if (run.source) return;
  const live = document.getElementById("live");
  live.textContent = "● live";
  const source = new EventSource(`${API}/stream?offset=${run.offset}`);
  run.source = source;
  source.addEventListener("metric", (event) => {
    const record = JSON.parse(event.data);
    run.offset = record.offset; delete record.offset;
    run.records.push(record);
    redrawSoon();
  });
  source.addEventListener("reset", () => { run.records = []; run.offset = 0; drawCurves(); });
  source.addEventListener("status", async (event) => {
    const status = JSON.parse(event.data).status;
    if (run.detail && status !== run.detail.status) showDetail(await Lab.json(API));
  });
  source.addEventListener("end", async () => {
    source.close(); run.source = null; live.textContent = "";
    showDetail(await Lab.json(API));
    evaluate();
  });
  source.onerror = () => { live.textContent = "● reconnecting"; };
}

// The records of one chunk of the stream arrive as many events: the curves are drawn once for
// them, at the next frame.
function redrawSoon() {
  if (run.redraw) return;
  run.redraw = requestAnimationFrame(() => { run.redraw = null; drawCurves(); });
}

function drawCurves() {
  const epochs = run.records.filter((r) => r.kind === "epoch");
  const steps = run.records.filter((r) => r.kind === "step");
  const perEpoch = epochs.length ? epochs[0].step / epochs[0].epoch : null;
  const x = (r) => (r.kind === "epoch" ? r.epoch : perEpoch ? r.step / perEpoch : r.step);
  const box = document.getElementById("curves");
  box.textContent = "";
  for (const [title, keys] of PANELS) {
    const series = [];
    const stepKey = title === "learning rate" ? "lr" : title;
    const stepPoints = steps.filter((r) => Number.isFinite(r[stepKey])).map((r) => [x(r), r[stepKey]]);
    if (stepPoints.length) series.push({ name: `train (steps)`, points: stepPoints, faint: true, color: "#8a96a3" });
    for (const key of keys) {
      const points = epochs.filter((r) => r[key] !== undefined).map((r) => [r.epoch, r[key]]);
      if (points.length) series.push({ name: key, points });
    }
    if (title === "learning rate" && !series.length) continue;
    const panel = Lab.el("div", { class: "panel", "data-panel": title });
    box.append(panel);
    Chart.draw(panel, { title, xLabel: perEpoch || !steps.length ? "epoch" : "step", series, percent: title === "accuracy" });
  }
}

async function evaluate() {
  const box = document.getElementById("evaluation");
  if (!run.detail || !run.detail.has_checkpoint) { box.textContent = "No checkpoint yet: the evaluation needs a finished epoch."; return; }
  box.textContent = "evaluating on the test split...";
  try {
    const e = await Lab.json(API + "/evaluation");
    box.replaceChildren(
      Lab.el("p", { text: `accuracy ${Lab.pct(e.accuracy)} (${e.correct} of ${e.images}), loss ${Lab.num(e.loss)}` }),
      Lab.el("div", { class: "row" }, confusion(e), perClass(e)),
      Lab.el("h3", { text: "Images of the chosen cell" }), Lab.el("div", { id: "cell", class: "gallery muted", text: "click a cell of the matrix" }),
      Lab.el("h3", { text: "Most confidently wrong" }), mistakes(e));
  } catch (error) { box.textContent = ""; Lab.show("eval-error", error); }
}

function confusion(e) {
  const counts = e.confusion_matrix.counts, classes = e.classes;
  const table = Lab.el("table", { class: "confusion", id: "confusion" });
  table.append(Lab.el("tr", {}, Lab.el("th", { text: "true \\ predicted" }), classes.map((c) => Lab.el("th", { text: c }))));
  counts.forEach((row, i) => {
    const total = row.reduce((a, b) => a + b, 0) || 1;
    table.append(Lab.el("tr", {}, Lab.el("td", { class: "label", text: classes[i] }), row.map((n, j) => {
      const share = n / total, hue = i === j ? "47,111,223" : "194,59,50";
      const cell = Lab.el("td", { "data-true": i, "data-predicted": j, title: `${n} images of ${classes[i]} predicted ${classes[j]}`, text: n,
                                  onclick: () => openCell(i, j, cell) });
      cell.style.background = `rgba(${hue},${Math.min(1, 0.08 + share)})`;
      if (share > 0.5) cell.style.color = "#fff";
      return cell;
    })));
  });
  return table;
}

async function openCell(i, j, cell) {
  document.querySelectorAll(".confusion td.picked").forEach((n) => n.classList.remove("picked"));
  cell.classList.add("picked");
  const gallery = document.getElementById("cell");
  try {
    const data = await Lab.json(`${API}/confusion?true=${i}&predicted=${j}`);
    gallery.className = "gallery";
    gallery.replaceChildren(Lab.el("div", { class: "muted", style: "width:100%", text: `${data.count} test images of ${data.true} predicted ${data.predicted}` + (data.count > data.indices.length ? ` (first ${data.indices.length})` : "") }),
      ...data.indices.map((k) => Lab.el("figure", {}, Lab.el("img", { src: `${API}/test-images/${k}.png`, alt: `test image ${k}` }), Lab.el("figcaption", { text: "#" + k }))));
  } catch (error) { gallery.textContent = error.message; }
}

function perClass(e) {
  return Lab.el("table", { class: "grid", style: "width:auto" },
    Lab.el("tr", {}, ["class", "precision", "recall", "F1", "images"].map((t) => Lab.el("th", { text: t }))),
    e.per_class.map((s) => Lab.el("tr", {}, Lab.el("td", { text: s.name }), [s.precision, s.recall, s.f1].map((v) => Lab.el("td", { class: "num", text: Lab.num(v, 3) })), Lab.el("td", { class: "num", text: s.support }))),
    Lab.el("tr", {}, Lab.el("td", { text: "macro average" }), ["precision", "recall", "f1"].map((k) => Lab.el("td", { class: "num", text: Lab.num(e.macro_average[k], 3) })), Lab.el("td")));
}

function mistakes(e) {
  return Lab.el("div", { class: "gallery" }, e.most_confidently_wrong.map((m) => Lab.el("figure", {},
    Lab.el("img", { src: `${API}/test-images/${m.index}.png`, alt: `test image ${m.index}` }),
    Lab.el("figcaption", { text: `${m.true_class} → ${m.predicted_class} (p ${m.probability.toFixed(2)})` }))));
}

document.getElementById("evaluate").addEventListener("click", evaluate);
startPage();
