// The reports of `cnnlab experiment` runs, rendered with their figures.
"use strict";

async function init() {
  const reports = await Lab.json("/api/experiments");
  const list = document.getElementById("reports");
  if (!reports.length) { list.textContent = "No reports yet: run `cnnlab experiment NAME`."; return; }
  const bySource = { runs: "Your experiment runs", docs: "Results folder" };
  for (const source of Object.keys(bySource)) {
    const mine = reports.filter((r) => r.source === source);
    if (!mine.length) continue;
    list.append(Lab.el("h2", { text: bySource[source] }), ...mine.map((r) =>
      Lab.el("a", { href: `?report=${source}/${encodeURIComponent(r.name)}`, "data-report": `${source}/${r.name}`, title: r.folder, text: r.title,
                    onclick: (event) => { event.preventDefault(); openReport(source, r.name); } })));
  }
  const wanted = Lab.params().get("report");
  const first = wanted ? wanted.split("/") : [reports[0].source, reports[0].name];
  await openReport(first[0], first[1]);
}

async function openReport(source, name) {
  document.querySelectorAll(".list a").forEach((a) => a.classList.toggle("here", a.dataset.report === `${source}/${name}`));
  history.replaceState(null, "", `?report=${source}/${encodeURIComponent(name)}`);
  try {
    const report = await Lab.json(`/api/experiments/${source}/${encodeURIComponent(name)}`);
    const box = document.getElementById("report");
    box.innerHTML = report.html;  // rendered by the server from the report's Markdown
    box.prepend(Lab.el("p", { class: "muted small", text: report.folder }));
  } catch (error) { Lab.show("error", error); }
}

init().catch((error) => Lab.show("error", error));
