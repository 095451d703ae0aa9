// Train from the page: the main settings of `cnnlab train`, a queue of runs one at a time.
"use strict";

async function init() {
  const options = await Lab.json("/api/train/options");
  const fill = (id, values) => document.getElementById(id).append(...values.map((v) => Lab.el("option", { value: v.name || v, title: v.summary || null, text: v.name || v })));
  fill("model", options.models); fill("dataset", options.datasets); fill("recipe", options.recipes); fill("optimizer", options.optimizers);
  document.getElementById("model").value = "lenet5";
  refresh();
  setInterval(refresh, 1500);
}

async function submit(event) {
  event.preventDefault();
  const settings = {};
  for (const [key, value] of new FormData(event.target).entries()) {
    if (value === "") continue;
    settings[key] = ["epochs", "batch_size", "subset", "test_subset", "seed"].includes(key) ? Number(value) : key === "lr" ? Number(value) : value;
  }
  Lab.show("error", null);
  try {
    const job = await Lab.post("/api/train", settings);
    location.href = "/run/" + encodeURIComponent(job.run);
  } catch (error) { Lab.show("error", error); }
}

async function refresh() {
  const jobs = await Lab.json("/api/jobs").catch(() => []);
  const table = document.getElementById("jobs");
  if (!jobs.length) { table.replaceChildren(Lab.el("tr", {}, Lab.el("td", { class: "muted", text: "nothing queued yet" }))); return; }
  table.replaceChildren(Lab.el("tr", {}, ["job", "run", "status", "command", ""].map((t) => Lab.el("th", { text: t }))),
    ...jobs.map((job) => Lab.el("tr", { "data-job": job.id },
      Lab.el("td", { text: job.id }), Lab.el("td", {}, Lab.el("a", { href: "/run/" + encodeURIComponent(job.run), text: job.run })),
      Lab.el("td", {}, Lab.status(job.status)), Lab.el("td", {}, Lab.el("code", { text: job.command })),
      Lab.el("td", {}, job.status === "running" || job.status === "queued"
        ? Lab.el("button", { onclick: () => Lab.post(`/api/jobs/${job.id}/stop`).then(refresh), text: job.status === "queued" ? "Cancel" : "Stop" })
        : Lab.el("details", {}, Lab.el("summary", { text: "log" }), Lab.el("pre", { class: "log", text: job.log }))))));
}

document.getElementById("form").addEventListener("submit", submit);
init().catch((error) => Lab.show("error", error));
