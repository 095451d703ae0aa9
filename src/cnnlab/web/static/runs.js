// The runs page: every run in the index, sortable and filterable; ticked runs overlay their curves,
// seed groups show mean ± std bands, and two groups get `cnnlab runs compare`'s verdict.
"use strict";

const state = { runs: [], sort: "started", descending: true, selected: new Set() };
const COLUMNS = [
  ["", null], ["run_id", "run"], ["model", "model"], ["dataset", "dataset"], ["status", "status"],
  ["test_accuracy", "final acc."], ["best_accuracy", "best acc."], ["epochs_done", "epochs"],
  ["duration_s", "time"], ["group", "seed group"], ["seed", "seed"], ["started", "started"],
];
const NUMERIC = new Set(["test_accuracy", "best_accuracy", "epochs_done", "duration_s", "seed", "started"]);

async function load() {
  try {
    const data = await Lab.json("/api/runs");
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

function render() {
  const table = document.getElementById("runs");
  const rows = visibleRuns();
  document.getElementById("count").textContent = `${rows.length} of ${state.runs.length} runs`;
  const head = Lab.el("tr", {}, COLUMNS.map(([key, name]) => Lab.el("th", {
    class: (key ? "sortable " : "") + (NUMERIC.has(key) ? "num" : ""), "data-key": key,
    onclick: key ? () => { state.descending = state.sort === key ? !state.descending : true; state.sort = key; render(); } : null,
    text: name === null ? "" : name + (state.sort === key ? (state.descending ? " ▾" : " ▴") : ""),
  })));
  const body = rows.map((r) => Lab.el("tr", { "data-run": r.run_id },
    Lab.el("td", {}, Lab.el("input", { type: "checkbox", class: "pick", checked: state.selected.has(r.run_id),
      onchange: (e) => { e.target.checked ? state.selected.add(r.run_id) : state.selected.delete(r.run_id); overlay(); } })),
    Lab.el("td", {}, Lab.el("a", { href: "/run/" + encodeURIComponent(r.run_id), text: r.run_id })),
    Lab.el("td", { text: r.model }), Lab.el("td", { text: r.dataset }),
    Lab.el("td", { title: r.error || null }, Lab.status(r.status)),
    Lab.el("td", { class: "num", text: Lab.pct(r.test_accuracy ?? r.val_accuracy) }),
    Lab.el("td", { class: "num", text: Lab.pct(r.best_accuracy) }),
    Lab.el("td", { class: "num", text: `${r.epochs_done ?? 0}/${r.epochs ?? "?"}` }),
    Lab.el("td", { class: "num", text: Lab.seconds(r.duration_s) }),
    Lab.el("td", { text: r.group || "" }), Lab.el("td", { class: "num", text: r.seed ?? "" }),
    Lab.el("td", { class: "num", text: Lab.when(r.started) })));
  table.replaceChildren(head, ...body);
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
    Chart.draw(chart, { title: metric.replace("_", " "), xLabel: "epoch", series });
    if (groups.length === 2) await compareGroups(groups, metric, verdict);
  } catch (error) { Lab.show("error", error); }
}

async function compareGroups([a, b], metric, box) {
  try {
    const result = await Lab.json(`/api/compare?a=${encodeURIComponent(a)}&b=${encodeURIComponent(b)}`);
    const rows = Object.entries(result.metrics).map(([name, c]) => Lab.el("tr", { class: name === metric ? "picked" : null },
      Lab.el("td", { text: name }), Lab.el("td", { class: "num", text: Lab.num(c.a.mean) + (c.a.std !== null ? " ± " + Lab.num(c.a.std, 2) : "") }),
      Lab.el("td", { class: "num", text: Lab.num(c.b.mean) + (c.b.std !== null ? " ± " + Lab.num(c.b.std, 2) : "") }),
      Lab.el("td", { class: "num", text: Lab.num(c.difference) }), Lab.el("td", { class: "verdict", text: c.verdict })));
    box.replaceChildren(Lab.el("h2", { text: `A = ${a} (n=${result.n[0]})  vs  B = ${b} (n=${result.n[1]}), Welch's t-test` }),
      Lab.el("table", { class: "grid" }, Lab.el("tr", {}, ["metric", "A mean ± std", "B mean ± std", "A - B", "verdict"].map((t) => Lab.el("th", { text: t }))), rows));
  } catch (error) { box.replaceChildren(Lab.el("div", { class: "error", text: error.message })); }
}

document.getElementById("filter").addEventListener("input", render);
document.getElementById("status").addEventListener("change", render);
document.getElementById("metric").addEventListener("change", overlay);
load();
setInterval(load, 5000);  // new runs and changed statuses appear without a reload
