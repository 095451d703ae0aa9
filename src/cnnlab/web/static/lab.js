// cnnlab web lab: helpers every page uses (fetch with readable errors, elements, numbers, the menu).
"use strict";

const Lab = {
  // GET or POST JSON; a 4xx/5xx answer throws an Error carrying the server's one-line message.
  async json(url, options = {}) {
    const response = await fetch(url, options);
    if (!response.ok) throw await Lab.failure(response);
    return response.json();
  },
  // The answer's text (a page that compares it with the last one before parsing it).
  async text(url) {
    const response = await fetch(url);
    if (!response.ok) throw await Lab.failure(response);
    return response.text();
  },
  // The JSON text the server put into the page (a <script id="page-data">), once; null after.
  pageData() {
    const element = document.getElementById("page-data");
    if (!element) return null;
    element.remove();
    return element.textContent;
  },
  async failure(response) {
    let message = `${response.status} ${response.statusText}`;
    try { const body = await response.json(); if (body.detail) message = typeof body.detail === "string" ? body.detail : JSON.stringify(body.detail); } catch (e) { /* not JSON */ }
    const error = new Error(message); error.status = response.status; return error;
  },
  post(url, body) {
    const isForm = body instanceof FormData;
    return Lab.json(url, { method: "POST", body: isForm ? body : JSON.stringify(body || {}),
                           headers: isForm ? {} : { "Content-Type": "application/json" } });
  },
  el(tag, attrs = {}, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs)) {
      if (value === null || value === undefined || value === false) continue;
      if (key === "text") node.textContent = value;
      else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
      else node.setAttribute(key, value === true ? "" : value);
    }
    for (const child of children.flat()) if (child !== null && child !== undefined) node.append(child);
    return node;
  },
  show(target, error) { const box = typeof target === "string" ? document.getElementById(target) : target; box.textContent = error ? (error.message || String(error)) : ""; },
  pct(value) { return value === null || value === undefined ? "" : (100 * value).toFixed(2) + "%"; },
  num(value, digits = 4) { return value === null || value === undefined ? "" : (typeof value === "number" ? Number(value.toPrecision(digits)).toString() : String(value)); },
  // A metric as cnnlab writes it everywhere: accuracies as percentages (99.14%), the rest as numbers.
  metric(key, value) { return /accuracy$/.test(key) && typeof value === "number" ? Lab.pct(value) : Lab.num(value, 5); },
  // [["a.b", "text"], ...] for a nested object: the rows of a settings or environment table.
  flatten(object, prefix = "") {
    return Object.entries(object).flatMap(([key, value]) => {
      const name = prefix + key;
      if (value !== null && typeof value === "object" && !Array.isArray(value)) {
        return Object.keys(value).length ? Lab.flatten(value, name + ".") : [[name, "-"]];
      }
      if (Array.isArray(value)) {
        const items = value.map((v) => (v !== null && typeof v === "object" ? JSON.stringify(v) : String(v)));
        const joiner = key === "command" ? " " : Lab.isShape(value) ? "×" : ", ";
        return [[name, items.length ? items.join(joiner) : "-"]];
      }
      return [[name, value === null ? "-" : String(value)]];
    });
  },
  isShape(list) { return list.length >= 2 && list.length <= 4 && list.every((v) => Number.isInteger(v) && v > 0); },
  count(value) { if (value === null || value === undefined) return ""; for (const [d, s] of [[1e9, "G"], [1e6, "M"], [1e3, "K"]]) if (Math.abs(value) >= d) return (value / d).toFixed(2) + s; return String(value); },
  // Bytes in binary units, as `cnnlab explain` writes them (31.6 KiB).
  bytes(value) { if (value === null || value === undefined) return ""; for (const [d, s] of [[2 ** 30, "GiB"], [2 ** 20, "MiB"], [2 ** 10, "KiB"]]) if (Math.abs(value) >= d) return Number((value / d).toPrecision(3)) + " " + s; return value + " B"; },
  seconds(value) { if (value === null || value === undefined) return ""; return value < 90 ? value.toFixed(1) + " s" : (value / 60).toFixed(1) + " min"; },
  // One formatter for every date: toLocaleString builds a new one at each call (a third of the
  // runs page's time with 1,000 runs).
  when(epoch) { return epoch ? Lab.dates.format(new Date(epoch * 1000)) : ""; },
  dates: new Intl.DateTimeFormat(undefined, { year: "numeric", month: "numeric", day: "numeric", hour: "numeric", minute: "2-digit", second: "2-digit" }),
  // Text made safe to put in HTML (content or a quoted attribute).
  escape(value) {
    return String(value ?? "").replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
  },
  status(status) { return Lab.el("span", { class: "status " + status, text: status }); },
  params() { return new URLSearchParams(location.search); },
  menu() {
    const pages = [["/", "Runs"], ["/explore", "Explorer"], ["/try", "Try it"], ["/experiments", "Experiments"], ["/train", "Train"]];
    const here = location.pathname.startsWith("/run/") ? "/" : location.pathname;
    const bar = Lab.el("header", { class: "top" }, Lab.el("span", { class: "brand", text: "cnnlab" }),
      pages.map(([href, name]) => Lab.el("a", { href, class: href === here ? "here" : null, text: name })),
      Lab.el("a", { href: "/openapi.json", text: "API" }));
    document.body.prepend(bar);
  },
};
document.addEventListener("DOMContentLoaded", Lab.menu);
