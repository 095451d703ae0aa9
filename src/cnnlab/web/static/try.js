// Try a trained model: draw a digit or drop an image; top-k probabilities, the preprocessing done
// (as `cnnlab predict` says it), and Grad-CAM overlays for the predicted and a chosen class.
"use strict";

const tryIt = { run: null, lastImage: null, drawing: false, drawn: false };

async function init() {
  const runs = (await Lab.json("/api/runs")).runs.filter((r) => r.epochs_done > 0);
  const select = document.getElementById("run");
  for (const r of runs) select.append(Lab.el("option", { value: r.run_id, text: `${r.run_id} (${r.model} on ${r.dataset})` }));
  const wanted = Lab.params().get("run");
  if (wanted) select.value = wanted;
  if (!runs.length) { Lab.show("error", { message: "No trained run yet: train one (Train page, or `cnnlab train`) to try it here." }); return; }
  await chooseRun();
}

async function chooseRun() {
  const name = document.getElementById("run").value;
  tryIt.run = name;
  try {
    const info = await Lab.json(`/api/runs/${encodeURIComponent(name)}/explain`);
    const [channels, height, width] = info.input_shape;
    document.getElementById("model-info").textContent = `${info.model}, input ${channels}x${height}x${width}, classes: ${info.classes.join(", ")}`;
    document.getElementById("draw-card").hidden = channels !== 1;
    const classes = document.getElementById("class");
    classes.replaceChildren(Lab.el("option", { value: "", text: "(predicted only)" }), ...info.classes.map((c) => Lab.el("option", { value: c, text: c })));
    // Grad-CAM's layer: the last conv layer whose maps are still spatial (LeNet-5's last is 1x1).
    const shapes = Object.fromEntries(info.layers.map((l) => [l.name, l.output_shape]));
    const spatial = info.conv_layers.filter((name) => shapes[name] && shapes[name].length === 3 && shapes[name][1] * shapes[name][2] > 1);
    const layers = document.getElementById("layer");
    layers.replaceChildren(...info.conv_layers.map((name) => Lab.el("option", { value: name, text: name })));
    layers.value = spatial.length ? spatial[spatial.length - 1] : info.conv_layers[info.conv_layers.length - 1];
  } catch (error) { Lab.show("error", error); }
}

async function predict(blob, filename) {
  tryIt.lastImage = [blob, filename];
  const form = new FormData();
  form.append("file", blob, filename);
  form.append("invert", document.getElementById("invert").checked);
  const chosen = document.getElementById("class").value;
  if (chosen) form.append("class", chosen);
  form.append("layer", document.getElementById("layer").value);
  Lab.show("error", null);
  try {
    const answer = await Lab.post(`/api/runs/${encodeURIComponent(tryIt.run)}/predict`, form);
    showAnswer(answer);
  } catch (error) { Lab.show("error", error); }
}

function showAnswer(answer) {
  document.getElementById("conversion").textContent = `${answer.file}: ${answer.conversion}`;
  document.getElementById("hint").replaceChildren(...(answer.hint ? [Lab.el("div", { class: "note", text: "hint: " + answer.hint })] : []));
  document.getElementById("bars").replaceChildren(...answer.top_k.map((entry) => {
    const fill = Lab.el("div", { class: "fill" }); fill.style.width = (100 * entry.probability).toFixed(1) + "%";
    return Lab.el("div", { class: "bar", "data-class": entry.class }, Lab.el("b", { text: entry.class }), Lab.el("div", { class: "track" }, fill),
      Lab.el("span", { class: "num", text: (100 * entry.probability).toFixed(1) + "%" }));
  }));
  const cams = document.getElementById("cams");
  cams.textContent = "";
  for (const cam of answer.gradcam) cams.append(camFigure(answer.input_png, cam));
}

// The model's input with the Grad-CAM heat map over it (red = what speaks for the class).
function camFigure(inputPng, cam) {
  const size = 168, canvas = Lab.el("canvas", { width: size, height: size, class: "cam" });
  const picture = new Image();
  picture.onload = () => {
    const ctx = canvas.getContext("2d");
    ctx.imageSmoothingEnabled = false;
    ctx.drawImage(picture, 0, 0, size, size);
    const rows = cam.heatmap.length, cols = cam.heatmap[0].length;
    const overlay = ctx.createImageData(cols, rows);
    cam.heatmap.forEach((row, y) => row.forEach((v, x) => {
      const k = 4 * (y * cols + x);
      overlay.data[k] = 255; overlay.data[k + 1] = Math.round(255 * (1 - v) * 0.8); overlay.data[k + 2] = 0; overlay.data[k + 3] = Math.round(170 * v);
    }));
    const layer = document.createElement("canvas"); layer.width = cols; layer.height = rows;
    layer.getContext("2d").putImageData(overlay, 0, 0);
    ctx.imageSmoothingEnabled = true;
    ctx.drawImage(layer, 0, 0, size, size);
  };
  picture.src = "data:image/png;base64," + inputPng;
  const caption = `Grad-CAM for '${cam.class}' (p ${cam.probability.toFixed(3)}) at ${cam.layer}` + (cam.has_evidence ? "" : ": nothing at this layer speaks for it");
  return Lab.el("figure", { class: "gradcam", "data-class": cam.class }, canvas, Lab.el("figcaption", { class: "small", text: caption }));
}

// Drawing with the mouse (or a finger): white strokes on black, predicted when the stroke ends.
function setUpCanvas() {
  const canvas = document.getElementById("canvas"), ctx = canvas.getContext("2d");
  const clear = () => { ctx.fillStyle = "#000"; ctx.fillRect(0, 0, canvas.width, canvas.height); tryIt.drawn = false; };
  clear();
  const at = (event) => { const box = canvas.getBoundingClientRect(); return [(event.clientX - box.left) * canvas.width / box.width, (event.clientY - box.top) * canvas.height / box.height]; };
  canvas.addEventListener("pointerdown", (event) => {
    tryIt.drawing = true; canvas.setPointerCapture(event.pointerId);
    ctx.strokeStyle = "#fff"; ctx.lineWidth = 22; ctx.lineCap = "round"; ctx.lineJoin = "round";
    ctx.beginPath(); ctx.moveTo(...at(event)); ctx.lineTo(...at(event)); ctx.stroke();
  });
  canvas.addEventListener("pointermove", (event) => { if (!tryIt.drawing) return; ctx.lineTo(...at(event)); ctx.stroke(); tryIt.drawn = true; });
  const end = () => { if (!tryIt.drawing) return; tryIt.drawing = false; canvas.toBlob((blob) => predict(blob, "drawing.png"), "image/png"); };
  canvas.addEventListener("pointerup", end);
  canvas.addEventListener("pointerleave", end);
  document.getElementById("clear").addEventListener("click", clear);
}

function setUpDrop() {
  const drop = document.getElementById("drop"), file = document.getElementById("file");
  drop.addEventListener("dragover", (event) => { event.preventDefault(); drop.classList.add("over"); });
  drop.addEventListener("dragleave", () => drop.classList.remove("over"));
  drop.addEventListener("drop", (event) => { event.preventDefault(); drop.classList.remove("over"); const f = event.dataTransfer.files[0]; if (f) predict(f, f.name); });
  file.addEventListener("change", () => { if (file.files.length) predict(file.files[0], file.files[0].name); });
}

document.getElementById("run").addEventListener("change", chooseRun);
for (const id of ["invert", "class", "layer"]) document.getElementById(id).addEventListener("change", () => { if (tryIt.lastImage) predict(...tryIt.lastImage); });
setUpCanvas();
setUpDrop();
init().catch((error) => Lab.show("error", error));
