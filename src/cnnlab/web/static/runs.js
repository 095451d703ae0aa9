// The runs page: every run in the index, sortable and filterable; ticked runs overlay their curves,
// seed groups show mean ± std bands, and two groups get `cnnlab runs compare`'s verdict.
"use strict";

// A page of PAGE_ROWS rows at first, more on request: a browser takes most of a second to lay out a
// table of 1,000 runs on a small machine (docs/web.md), and a list is read from its top.
const PAGE_ROWS = 100;
const state = { runs: [], text: null, sort: "started", descending: true, selected: new Set(), shown: PAGE_ROWS };
const COLUMNS = [
  ["", null], ["run_id", "run"], ["model", "model"], ["dataset", "dataset"], ["status", "status"],
  ["test_accuracy", "final acc."], ["best_accuracy", "best acc."], ["epochs_done", "epochs"],
  ["duration_s", "time"], ["group", "seed group"], ["seed", "seed"], ["started", "started"],
];
const NUMERIC = new Set(["test_accuracy", "best_accuracy", "epochs_done", "duration_s", "seed", "started"]);

async function load() {
  try {
    const text = Lab.pageData() ?? await Lab.text("/api/runs");  // the first list comes in the page
    if (text === state.text) return;  // the refresh found nothing new: the table stays as it is
    state.text = text;
    const data = JSON.parse(text);
    state.runs = data.runs;
    showDamaged(data.damaged);
    render();
  } catch (error) { Lab.show("error", error); }
}

function showDamaged(damaged) {
  const box = document.getElementById("damaged");
  box.textContent = "";
  if (!damaged.length) return;
  box.append(Lab.el("div", { class: "note" }, Lab.el("b", { text: `${damaged.length} damaged run folder(s)` }),
    " (the others list as usual):", Lab.el("ul", {}, damaged.map((d) =>
      Lab.el("li", { class: "damaged-run" }, Lab.status("damaged"), " ", Lab.el("code", { text: d.run_id }), ": " + d.error)))));
}

function visibleRuns() {
  const text = document.getElementById("filter").value.trim().toLowerCase();
  const status = document.getElementById("status").value;
  const rows = state.runs.filter((r) => (!status || r.status === status) &&
    (!text || [r.run_id, r.model, r.dataset, r.group].some((v) => v && String(v).toLowerCase().includes(text))));
  const key = state.sort, sign = state.descending ? -1 : 1;
  return rows.sort((a, b) => {
    const x = a[key], y = b[key];
    if (x === y) return 0;
    if (x === null || x === undefined) return 1;
    if (y === null || y === undefined) return -1;
    return (x < y ? -1 : 1) * sign;
  });
}

// The table is one HTML string set at once (no element, listener or layout per row: 1,000 runs
// show in a few tens of milliseconds); the clicks are handled by the table itself (see below).
function render() {
  const rows = visibleRuns();
  document.getElementById("count").textContent = `${rows.length} of ${state.runs.length} runs`
    + (rows.length > state.shown ? `, the first ${state.shown} shown` : "");
  const head = COLUMNS.map(([key, name]) => `<th class="${key ? "sortable " : ""}${NUMERIC.has(key) ? "num" : ""}" data-key="${key}">`
    + (name === null ? "" : Lab.escape(name) + (state.sort === key ? (state.descending ? " ▾" : " ▴") : "")) + "</th>").join("");
  const body = rows.slice(0, state.shown).map(rowHtml).join("");
  document.getElementById("runs").innerHTML = `<thead><tr>${head}</tr></thead><tbody>${body}</tbody>`;
  const more = document.getElementById("more"), hidden = rows.length - Math.min(rows.length, state.shown);
  more.hidden = hidden === 0;
  more.textContent = `Show ${Math.min(hidden, PAGE_ROWS)} more (${hidden} not shown)`;
}

function showMore() {
  state.shown += PAGE_ROWS;
  render();
}

function rowHtml(r) {
  const id = Lab.escape(r.run_id), num = (text) => `<td class="num">${Lab.escape(text)}</td>`;
  return `<tr data-run="${id}"><td><input type="checkbox" class="pick"${state.selected.has(r.run_id) ? " checked" : ""}></td>`
    + `<td><a href="/run/${Lab.escape(encodeURIComponent(r.run_id))}">${id}</a></td>`
    + `<td>${Lab.escape(r.model)}</td><td>${Lab.escape(r.dataset)}</td>`
    + `<td${r.error ? ` title="${Lab.escape(r.error)}"` : ""}><span class="status ${Lab.escape(r.status)}">${Lab.escape(r.status)}</span></td>`
    + num(Lab.pct(r.test_accuracy ?? r.val_accuracy)) + num(Lab.pct(r.best_accuracy))
    + num(`${r.epochs_done ?? 0}/${r.epochs ?? "?"}`) + num(Lab.seconds(r.duration_s))
    + `<td>${Lab.escape(r.group || "")}</td>` + num(r.seed ?? "") + num(Lab.when(r.started)) + "</tr>";
}

function tableClicked(event) {
  const header = event.target.closest("th.sortable");
  if (!header) return;
  const key = header.dataset.key;
  state.descending = state.sort === key ? !state.descending : true;
  state.sort = key;
  render();
}

function tablePicked(event) {
  if (!event.target.matches("input.pick")) return;
  const run = event.target.closest("tr").dataset.run;
  event.target.checked ? state.selected.add(run) : state.selected.delete(run);
  overlay();
}

async function overlay() {
  const metric = document.getElementById("metric").value;
  const box = document.getElementById("overlay"), verdict = document.getElementById("verdict");
  const picked = state.runs.filter((r) => state.selected.has(r.run_id));
  verdict.textContent = "";
  if (!picked.length) { box.textContent = ""; return; }
  try {
    const series = [];
    for (const run of picked) {
      const data = await Lab.json(`/api/runs/${encodeURIComponent(run.run_id)}/metrics`);
      const points = data.records.filter((r) => r.kind === "epoch" && r[metric] !== undefined).map((r) => [r.epoch, r[metric]]);
      series.push({ name: run.run_id, points });
    }
    const groups = [...new Set(picked.map((r) => r.group).filter(Boolean))];
    for (const group of groups) {
      const curve = await Lab.json(`/api/groups/${encodeURIComponent(group)}/curve?metric=${metric}`);
      const band = curve.points.map((p) => [p.epoch, p.mean - (p.std || 0), p.mean + (p.std || 0)]);
      series.push({ name: `${group}: mean ± std (n=${curve.runs.length})`, points: curve.points.map((p) => [p.epoch, p.mean]), band });
    }
    const chart = Lab.el("div");
    box.replaceChildren(chart);
    Chart.draw(chart, { title: metric.replace("_", " "), xLabel: "epoch", series, percent: metric.endsWith("accuracy") });
    if (groups.length === 2) await compareGroups(groups, metric, verdict);
  } catch (error) { Lab.show("error", error); }
}

async function compareGroups([a, b], metric, box) {
  try {
    const result = await Lab.json(`/api/compare?a=${encodeURIComponent(a)}&b=${encodeURIComponent(b)}`);
    // The cells are the text `cnnlab runs compare` prints: accuracies in percent, their difference in points.
    const rows = result.rows.map((cells) => Lab.el("tr", { class: cells[0] === metric ? "picked" : null },
      cells.map((text, column) => Lab.el("td", { class: column ? "num" : null, text })),
      Lab.el("td", { class: "verdict", text: result.metrics[cells[0]].verdict })));
    box.replaceChildren(Lab.el("h2", { text: `A = ${a} (n=${result.n[0]})  vs  B = ${b} (n=${result.n[1]}), Welch's t-test` }),
      Lab.el("table", { class: "grid" }, Lab.el("tr", {}, [...result.columns, "verdict"].map((t) => Lab.el("th", { text: t }))), rows));
  } catch (error) { box.replaceChildren(Lab.el("div", { class: "error", text: error.message })); }
}

document.getElementById("runs").addEventListener("click", tableClicked);
document.getElementById("runs").addEventListener("change", tablePicked);
document.getElementById("filter").addEventListener("input", render);
document.getElementById("more").addEventListener("click", showMore);
document.getElementById("status").addEventListener("change", render);
document.getElementById("metric").addEventListener("change", overlay);
load();
setInterval(load, 5000);  // new runs and changed statuses appear without a reload
