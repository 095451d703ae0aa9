// The network explorer: `cnnlab explain` as a diagram for any registry model at any input size,
// or for a run's model, with each layer's size formula; a run's layers show filters and feature maps.
"use strict";

const view = { run: null, convLayers: [] };

async function init() {
  const models = await Lab.json("/api/models");
  for (const id of ["model", "other"]) {
    const select = document.getElementById(id);
    for (const m of models) select.append(Lab.el("option", { value: m.name, "data-input": m.default_input.join("x"), text: `${m.name} (${m.family})` }));
  }
  const runs = (await Lab.json("/api/runs")).runs.filter((r) => r.epochs_done > 0);
  for (const r of runs) document.getElementById("run").append(Lab.el("option", { value: r.run_id, text: `${r.run_id} (${r.model})` }));
  const params = Lab.params();
  document.getElementById("model").value = params.get("model") || "tutorial-cnn";
  document.getElementById("input").value = params.get("input") || "";
  document.getElementById("run").value = params.get("run") || "";
  document.getElementById("other").value = params.get("compare") || "";
  document.getElementById("model").addEventListener("change", () => { document.getElementById("input").value = ""; });
  show();
}

async function show() {
  const model = document.getElementById("model").value, input = document.getElementById("input").value.trim();
  const runName = document.getElementById("run").value, other = document.getElementById("other").value;
  Lab.show("error", null);
  document.getElementById("details").hidden = true;
  const box = document.getElementById("networks"), comparison = document.getElementById("comparison");
  box.textContent = ""; comparison.textContent = "";
  history.replaceState(null, "", "/explore?" + new URLSearchParams(Object.entries({ model, input, run: runName, compare: other }).filter(([, v]) => v)));
  try {
    view.run = runName || null;
    let first;
    if (runName) {
      first = await Lab.json(`/api/runs/${encodeURIComponent(runName)}/explain`);
      view.convLayers = first.conv_layers;
      first.title = `${runName}: ${first.model} on ${first.input_shape.join("x")} (trained on ${first.dataset})`;
    } else {
      first = await Lab.json(`/api/explain?model=${encodeURIComponent(model)}` + (input ? `&input=${encodeURIComponent(input)}` : ""));
      first.title = `${first.model} on ${first.input_shape.join("x")}`;
      view.convLayers = [];
    }
    box.append(network(first, true));
    if (other) {
      const shape = input || first.input_shape.join("x");
      const second = await Lab.json(`/api/explain?model=${encodeURIComponent(other)}&input=${encodeURIComponent(shape)}`);
      second.title = `${second.model} on ${second.input_shape.join("x")}`;
      box.append(network(second, false));
      const names = runName ? [] : [first.model, other];
      if (names.length) comparison.append(await compareTable(names, shape));
    }
  } catch (error) { Lab.show("error", error); }
}

function network(summary, primary) {
  const leaves = summary.layers.filter((l) => l.is_leaf && l.output_shape);
  const maxSide = Math.max(...leaves.map((l) => (l.output_shape.length > 1 ? l.output_shape[1] : 1)), 1);
  const maxChannels = Math.max(...leaves.map((l) => l.output_shape[0]), 2);
  const rows = leaves.map((layer) => {
    const side = layer.output_shape.length > 1 ? layer.output_shape[1] : 1, channels = layer.output_shape[0];
    const box = Lab.el("div", { class: "box" });
    box.style.height = Math.max(4, 40 * Math.sqrt(side / maxSide)) + "px";
    box.style.width = Math.max(3, 160 * Math.log2(channels + 1) / Math.log2(maxChannels + 1)) + "px";
    const kind = /conv/i.test(layer.type) ? "conv" : /pool/i.test(layer.type) ? "pool" : "";
    return Lab.el("div", { class: "layer " + kind, "data-layer": layer.name, onclick: (e) => pick(layer, e.currentTarget, primary) },
      Lab.el("div", {}, box),
      Lab.el("div", { class: "what" }, Lab.el("b", { text: layer.name }), ` ${layer.type} ${layer.window} → ${layer.output_shape.join("×")}`,
        layer.formula ? Lab.el("div", { class: "formula", text: layer.formula }) : null));
  });
  return Lab.el("div", { class: "card" }, Lab.el("h2", { text: summary.title }),
    Lab.el("p", { class: "muted small", text: `params ${summary.params.toLocaleString()} (${Lab.count(summary.params)}) · MACs ${summary.macs.toLocaleString()} (${Lab.count(summary.macs)}) · activations ${Lab.bytes(summary.activation_bytes)} · output ${(summary.output_shape || []).join("×")}` }),
    Lab.el("div", { class: "layers" }, rows));
}

async function compareTable(names, shape) {
  const data = await Lab.json("/api/explain/compare?" + names.map((n) => "model=" + encodeURIComponent(n)).join("&") + "&input=" + encodeURIComponent(shape));
  return Lab.el("div", { class: "card" }, Lab.el("table", { class: "grid", style: "width:auto" },
    Lab.el("tr", {}, data.columns.map((c) => Lab.el("th", { text: c }))),
    data.rows.map((row) => Lab.el("tr", {}, data.columns.map((c) => Lab.el("td", { class: c === "metric" ? "" : "num", text: row[c] }))))));
}

function pick(layer, node, primary) {
  document.querySelectorAll(".layer.picked").forEach((n) => n.classList.remove("picked"));
  node.classList.add("picked");
  const details = document.getElementById("details");
  details.hidden = false;
  const items = [["layer", layer.name], ["type", layer.type], ["window", layer.window || "—"], ["output", layer.output_shape.join(" × ")],
    ["size formula", layer.formula || "—"], ["parameters", layer.params.toLocaleString()], ["MACs", layer.macs.toLocaleString()],
    ["receptive field", layer.receptive_field], ["jump", layer.jump]];
  details.replaceChildren(Lab.el("h2", { text: layer.name }),
    Lab.el("dl", { class: "kv" }, items.flatMap(([k, v]) => [Lab.el("dt", { text: k }), Lab.el("dd", { text: v })])));
  if (primary && view.run && view.convLayers.includes(layer.name)) details.append(trainedLayer(layer.name));
  else if (/conv/i.test(layer.type)) details.append(Lab.el("p", { class: "muted", text: "Pick a run's model above to see this layer's learned filters and its feature maps." }));
}

function trainedLayer(name) {
  const base = `/api/runs/${encodeURIComponent(view.run)}`;
  const maps = Lab.el("div", { id: "maps" });
  const index = Lab.el("input", { type: "number", min: 0, value: 0, size: 6, id: "test-index" });
  const file = Lab.el("input", { type: "file", accept: "image/*", id: "map-file" });
  const error = Lab.el("div", { class: "error" });
  async function showMaps() {
    const form = new FormData();
    form.append("layer", name);
    if (file.files.length) form.append("file", file.files[0]); else form.append("test_index", index.value || "0");
    error.textContent = "";
    const response = await fetch(base + "/feature-maps.png", { method: "POST", body: form });
    if (!response.ok) { error.textContent = (await Lab.failure(response)).message; return; }
    maps.replaceChildren(Lab.el("img", { src: URL.createObjectURL(await response.blob()), alt: `feature maps of ${name}`, style: "max-width:100%" }));
  }
  return Lab.el("div", {}, Lab.el("h3", { text: "Filters" }),
    Lab.el("img", { src: `${base}/filters.png?layer=${encodeURIComponent(name)}`, alt: `filters of ${name}`, style: "max-width:100%" }),
    Lab.el("h3", { text: "Feature maps" }),
    Lab.el("div", { class: "row" }, Lab.el("label", {}, "test image ", index), Lab.el("label", {}, "or your image ", file), Lab.el("button", { onclick: showMaps, text: "Show" })),
    error, maps);
}

document.getElementById("show").addEventListener("click", show);
init().catch((error) => Lab.show("error", error));
