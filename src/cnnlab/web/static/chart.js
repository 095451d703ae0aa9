// cnnlab web lab: line charts in plain SVG (no library). A series is {name, points: [[x, y], ...],
// color, faint, band: [[x, low, high], ...]}; every point is a <circle> with data-x / data-y (the
// values as recorded, so a test or a curious user can read exactly what is drawn). `percent: true`
// shows the y values (fractions, as metrics.jsonl has accuracies) as percentages.
"use strict";

const Chart = (() => {
  const NS = "http://www.w3.org/2000/svg";
  const COLORS = ["#2f6fdf", "#d1495b", "#2a9d8f", "#e9a23b", "#6a4c93", "#3d5a80", "#8a5a44", "#43aa8b"];
  const W = 460, H = 250, M = { left: 52, right: 12, top: 26, bottom: 36 };

  function node(tag, attrs, parent) {
    const n = document.createElementNS(NS, tag);
    for (const [k, v] of Object.entries(attrs)) n.setAttribute(k, v);
    if (parent) parent.appendChild(n);
    return n;
  }
  function extent(values) {
    let lo = Math.min(...values), hi = Math.max(...values);
    if (!isFinite(lo)) return [0, 1];
    if (lo === hi) { lo -= lo === 0 ? 0.5 : Math.abs(lo) * 0.05; hi += hi === 0 ? 0.5 : Math.abs(hi) * 0.05; }
    return [lo, hi];
  }
  function ticks(lo, hi, count = 5) {
    const step0 = (hi - lo) / count, mag = Math.pow(10, Math.floor(Math.log10(step0)));
    const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => s >= step0) || step0;
    const out = [];
    for (let t = Math.ceil(lo / step) * step; t <= hi + step * 1e-9; t += step) out.push(Number(t.toPrecision(10)));
    return out;
  }
  function label(v) { return Math.abs(v) >= 1000 ? v.toExponential(1) : Number(v.toPrecision(3)).toString(); }
  function percentLabel(v) { return Number((100 * v).toPrecision(4)).toString() + "%"; }

  // Draw into `container` (emptied first); returns the <svg>.
  function draw(container, { title = "", xLabel = "", series = [], percent = false }) {
    const yLabel = percent ? percentLabel : label;
    container.textContent = "";
    const svg = node("svg", { class: "chart", width: W, height: H, viewBox: `0 0 ${W} ${H}`, "data-title": title });
    container.appendChild(svg);
    node("text", { x: M.left, y: 16, class: "title" }, svg).textContent = title;
    const all = series.flatMap((s) => s.points.concat((s.band || []).flatMap(([x, lo, hi]) => [[x, lo], [x, hi]])))
      .filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y));
    if (!all.length) {
      node("text", { x: W / 2, y: H / 2, "text-anchor": "middle" }, svg).textContent = "no points yet";
      return svg;
    }
    const [x0, x1] = extent(all.map((p) => p[0]).concat([0])), [y0, y1] = extent(all.map((p) => p[1]));
    const sx = (x) => M.left + ((x - x0) / (x1 - x0)) * (W - M.left - M.right);
    const sy = (y) => H - M.bottom - ((y - y0) / (y1 - y0)) * (H - M.top - M.bottom);
    const axis = node("g", { class: "axis" }, svg);
    for (const t of ticks(y0, y1)) {
      node("line", { x1: M.left, x2: W - M.right, y1: sy(t), y2: sy(t), class: "gridline" }, axis);
      node("text", { x: M.left - 5, y: sy(t) + 4, "text-anchor": "end" }, axis).textContent = yLabel(t);
    }
    for (const t of ticks(x0, x1)) node("text", { x: sx(t), y: H - M.bottom + 15, "text-anchor": "middle" }, axis).textContent = label(t);
    node("line", { x1: M.left, x2: W - M.right, y1: H - M.bottom, y2: H - M.bottom }, axis);
    node("line", { x1: M.left, x2: M.left, y1: M.top, y2: H - M.bottom }, axis);
    node("text", { x: (M.left + W - M.right) / 2, y: H - 6, "text-anchor": "middle" }, axis).textContent = xLabel;
    series.forEach((s, i) => {
      const color = s.color || COLORS[i % COLORS.length];
      const group = node("g", { class: "series", "data-series": s.name }, svg);
      if (s.band && s.band.length) {
        const upper = s.band.map(([x, , hi]) => `${sx(x)},${sy(hi)}`), lower = s.band.slice().reverse().map(([x, lo]) => `${sx(x)},${sy(lo)}`);
        node("polygon", { points: upper.concat(lower).join(" "), fill: color, "fill-opacity": 0.18, stroke: "none" }, group);
      }
      const points = s.points.filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y));
      if (points.length > 1) {
        node("polyline", { points: points.map(([x, y]) => `${sx(x)},${sy(y)}`).join(" "), fill: "none", stroke: color,
                           "stroke-width": s.faint ? 1 : 2, "stroke-opacity": s.faint ? 0.45 : 1 }, group);
      }
      if (!s.faint) {
        for (const [x, y] of points) {
          const c = node("circle", { cx: sx(x), cy: sy(y), r: 3, fill: color, class: "pt", "data-x": x, "data-y": y }, group);
          node("title", {}, c).textContent = `${s.name}: ${label(x)}, ${percent ? (100 * y).toFixed(2) + "%" : y}`;
        }
      }
    });
    const legend = document.createElement("div");
    legend.className = "legend";
    series.forEach((s, i) => {
      const item = document.createElement("span"), swatch = document.createElement("i");
      swatch.style.background = s.color || COLORS[i % COLORS.length];
      item.append(swatch, s.name);
      legend.appendChild(item);
    });
    container.appendChild(legend);
    return svg;
  }
  return { draw, COLORS };
})();
