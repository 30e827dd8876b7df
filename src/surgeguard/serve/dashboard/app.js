// surgeguard dashboard: polls the API (/api/v1), draws the map and the charts as inline SVG.
// No external assets: everything here is drawn by hand.
"use strict";

const API = "/api/v1";
const SVGNS = "http://www.w3.org/2000/svg";
// ColorBrewer YlOrRd, 6 classes (colour-blind safe); bins of utilisation
const BINS = [0.3, 0.5, 0.7, 0.9, 1.0];
const COLOURS = ["#ffffb2", "#fed976", "#feb24c", "#fd8d3c", "#f03b20", "#bd0026"];
const BIN_LABELS = ["< 30 %", "30-50 %", "50-70 %", "70-90 %", "90-100 %", "> 100 %"];
// Okabe-Ito, for chart series
const SERIES = ["#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#000000"];

const S = {
  token: "", net: null, linkByName: {}, nodeByName: {}, latest: null, worst: {}, lastDs: null,
  mode: "live", whatif: null, poll: 2000, busy: false,
};

// ------------------------------------------------------------------ helpers
function el(tag, attrs, parent) {
  const e = tag.startsWith("svg:") ? document.createElementNS(SVGNS, tag.slice(4)) : document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === "text") e.textContent = v; else e.setAttribute(k, v);
  }
  if (parent) parent.appendChild(e);
  return e;
}
const $ = (id) => document.getElementById(id);
function bin(u) {
  if (u === null || u === undefined || !isFinite(u)) return -1;
  let k = 0;
  while (k < BINS.length && u >= BINS[k]) k++;
  return k;
}
function colour(u) { const b = bin(u); return b < 0 ? "#7b8794" : COLOURS[b]; }
function width(u) { return (u === null || !isFinite(u)) ? 2 : 2 + 7 * Math.min(u, 1.5) / 1.5; }
const pct = (u) => (u === null || u === undefined || !isFinite(u)) ? "-" : (100 * u).toFixed(1) + " %";
const gbps = (b) => (b === null || b === undefined || !isFinite(b)) ? "-" : (b / 1e9).toFixed(b < 1e10 ? 2 : 1) + " Gbit/s";
const hhmm = (t) => t ? t.slice(0, 16).replace("T", " ") : "-";
function esc(s) { return String(s).replace(/[&<>"']/g, (c) => ({"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;"}[c])); }

async function api(path, opts) {
  const o = Object.assign({headers: {}}, opts || {});
  if (o.body !== undefined) {
    o.method = o.method || "POST";
    o.headers["Content-Type"] = "application/json";
    o.body = JSON.stringify(o.body);
  }
  if (S.token && o.method === "POST") o.headers["Authorization"] = "Bearer " + S.token;
  const r = await fetch(API + path, o);
  let data = null;
  try { data = await r.json(); } catch (e) { data = null; }
  if (!r.ok) {
    const msg = data && data.message ? data.message : ("HTTP " + r.status);
    const err = new Error(msg); err.status = r.status; throw err;
  }
  return data;
}

async function runJob(path, body, progressEl) {
  const acc = await api(path, {body});
  for (;;) {
    const job = await api("/jobs/" + acc.id);
    if (progressEl) {
      const p = job.progress === null ? "" : ` ${Math.round(100 * job.progress)} %`;
      progressEl.textContent = `${job.status}${p}: ${job.message}`;
    }
    if (job.status === "done") { if (progressEl) progressEl.textContent = ""; return job.result; }
    if (job.status === "failed") throw new Error(job.error ? job.error.message : job.message);
    await new Promise((res) => setTimeout(res, 300));
  }
}

// ------------------------------------------------------------------ token
function initToken() {
  const m = location.hash.match(/token=([^&]+)/);
  if (m) {
    sessionStorage.setItem("surgeguard-token", decodeURIComponent(m[1]));
    history.replaceState(null, "", location.pathname + location.search);
  }
  S.token = sessionStorage.getItem("surgeguard-token") || "";
  const form = $("token-form");
  form.hidden = !!S.token;
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    S.token = $("token-input").value.trim();
    sessionStorage.setItem("surgeguard-token", S.token);
    form.hidden = !!S.token;
  });
}

// ------------------------------------------------------------------ map
function drawMap(net) {
  const box = $("map");
  box.textContent = "";
  const W = 640, H = 560, pad = 34;
  const nodes = net.nodes.filter((n) => n.lon !== null && n.lat !== null);
  const lats = nodes.map((n) => n.lat), lons = nodes.map((n) => n.lon);
  const k = Math.cos((Math.min(...lats) + Math.max(...lats)) / 2 * Math.PI / 180);
  const x0 = Math.min(...lons) * k, x1 = Math.max(...lons) * k, y0 = Math.min(...lats), y1 = Math.max(...lats);
  const sc = Math.min((W - 2 * pad) / Math.max(x1 - x0, 1e-9), (H - 2 * pad) / Math.max(y1 - y0, 1e-9));
  const ox = (W - sc * (x1 - x0)) / 2, oy = (H - sc * (y1 - y0)) / 2;
  const pos = {};
  for (const n of net.nodes) {
    if (n.lon === null || n.lat === null) continue;
    pos[n.name] = [ox + (n.lon * k - x0) * sc, H - oy - (n.lat - y0) * sc];
  }
  const svg = el("svg:svg", {viewBox: `0 0 ${W} ${H}`, role: "img", "aria-label": `map of ${net.name}`}, box);
  const gl = el("svg:g", {id: "links"}, svg);
  for (const l of net.links) {
    const a = pos[l.src], b = pos[l.dst];
    if (!a || !b) continue;
    const dx = b[0] - a[0], dy = b[1] - a[1], len = Math.hypot(dx, dy) || 1;
    const off = 3.2, nx = -dy / len * off, ny = dx / len * off;   // each direction on its own side
    const line = el("svg:line", {
      class: "link", "data-link": l.name, "data-circuit": l.circuit,
      x1: (a[0] + nx).toFixed(1), y1: (a[1] + ny).toFixed(1), x2: (b[0] + nx).toFixed(1), y2: (b[1] + ny).toFixed(1),
      stroke: "#7b8794", "stroke-width": 2, "data-bin": -1,
    }, gl);
    line.addEventListener("mousemove", (ev) => showLink(l.name, ev));
    line.addEventListener("mouseleave", hideTip);
    line.addEventListener("click", () => failCircuit(l.circuit));
  }
  const gn = el("svg:g", {id: "nodes"}, svg);
  for (const n of net.nodes) {
    const p = pos[n.name];
    if (!p) continue;
    const c = el("svg:circle", {class: "node", "data-node": n.name, cx: p[0].toFixed(1), cy: p[1].toFixed(1), r: 5}, gn);
    c.addEventListener("mousemove", (ev) => showNode(n.name, ev));
    c.addEventListener("mouseleave", hideTip);
    c.addEventListener("click", () => failNode(n.name));
    el("svg:text", {class: "label", x: (p[0] + 7).toFixed(1), y: (p[1] - 6).toFixed(1), text: n.name}, gn);
  }
  const lg = $("legend");
  lg.textContent = "";
  COLOURS.forEach((c, i) => {
    const k2 = el("span", {class: "key"}, lg);
    el("span", {class: "sw", style: `background:${c}`}, k2);
    el("span", {text: BIN_LABELS[i]}, k2);
  });
  const kn = el("span", {class: "key"}, lg);
  el("span", {class: "sw", style: "background:#7b8794"}, kn);
  el("span", {text: "not measured / failed"}, kn);
}

function paintLinks(utilByLink, failed) {
  for (const line of document.querySelectorAll("#map .link")) {
    const name = line.getAttribute("data-link");
    const u = utilByLink[name];
    const down = failed && failed.has(name);
    line.classList.toggle("failed", !!down);
    line.setAttribute("stroke", down ? "#9aa5b1" : colour(u));
    line.setAttribute("stroke-width", down ? 2 : width(u).toFixed(2));
    line.setAttribute("data-bin", down ? -1 : bin(u));
    line.setAttribute("data-util", u === undefined || u === null ? "" : u.toFixed(4));
  }
}

function paintLive() {
  if (!S.latest) return;
  const u = {};
  for (const l of S.latest.links) u[l.link] = l.util;
  paintLinks(u, null);
  for (const c of document.querySelectorAll("#map .node")) c.classList.remove("failed");
  $("map-title").textContent = `Link utilisation (measured, interval ${hhmm(S.latest.ds)} UTC)`;
}

// ------------------------------------------------------------------ hover
function tip(html, ev) {
  const t = $("tooltip");
  t.innerHTML = html;
  t.hidden = false;
  const x = Math.min(ev.clientX + 14, window.innerWidth - t.offsetWidth - 8);
  const y = Math.min(ev.clientY + 14, window.innerHeight - t.offsetHeight - 8);
  t.style.left = x + "px"; t.style.top = y + "px";
}
function hideTip() { $("tooltip").hidden = true; }

function linkHtml(name) {
  const l = S.linkByName[name];
  let rate = null, util = null, stale = false, head = "live";
  if (S.mode === "whatif" && S.whatif) {
    const m = S.whatif.map[$("whatif-policy").value] || Object.values(S.whatif.map)[0];
    const i = S.whatif.links.indexOf(name);
    rate = m.load_bps[i]; util = m.util[i]; head = `what-if (${esc(S.whatif.failure.name)})`;
  } else if (S.latest) {
    const r = S.latest.links.find((x) => x.link === name);
    if (r) { rate = r.bps; util = r.util; stale = r.stale; }
  }
  const w = S.worst[name];
  let html = `<b>${esc(name)}</b> <span class="muted">(${head})</span><br>load ${gbps(rate)} of ${gbps(l.capacity_bps)}` +
    `<br>utilisation <b>${pct(util)}</b>${stale ? " (stale: carried forward)" : ""}`;
  if (w) html += `<br>worst single failure: ${pct(w.worst_util)} if <b>${esc(w.worst_failure)}</b>`;
  html += `<br>fibre ${esc(l.circuit)}, ${l.length_km ? l.length_km.toFixed(0) + " km" : ""}, metric ${l.metric}`;
  return html;
}
function showLink(name, ev) {
  const html = linkHtml(name);
  tip(html, ev);
  $("details").innerHTML = html;
  $("details").classList.remove("muted");
}
function showNode(name, ev) {
  const n = S.nodeByName[name];
  const out = S.net.links.filter((l) => l.src === name);
  let html = `<b>${esc(name)}</b>${n.region ? " (" + esc(n.region) + ")" : ""}<br>${out.length} links out`;
  if (n.population) html += `, population ${(n.population / 1e6).toFixed(2)} M`;
  html += "<br>click to fail the node";
  tip(html, ev);
}

// ------------------------------------------------------------------ what-if on the map
async function runWhatIf(failure, label) {
  if (!S.token) { showWhatIfError("a what-if writes: give the API token (top right)"); return; }
  const box = $("whatif-result");
  box.classList.remove("muted");
  box.innerHTML = `running: ${esc(label)} ...`;
  try {
    const res = await runJob("/whatif", {failure, policies: ["shortest", "optimal"]}, box);
    S.whatif = res;
    S.mode = "whatif";
    $("whatif-bar").hidden = false;
    paintWhatIf();
  } catch (e) { showWhatIfError(e.message); }
}
function showWhatIfError(msg) {
  const box = $("whatif-result");
  box.classList.remove("muted");
  box.innerHTML = `<span class="bad">${esc(msg)}</span>`;
}
function failCircuit(circuit) {
  const links = S.net.links.filter((l) => l.circuit === circuit).map((l) => l.name);
  runWhatIf({links}, circuit);
}
function failNode(name) { runWhatIf({nodes: [name]}, "node " + name); }

function paintWhatIf() {
  const res = S.whatif;
  if (!res) return;
  const pol = $("whatif-policy").value;
  const m = res.map[pol] || Object.values(res.map)[0];
  const u = {};
  res.links.forEach((n, i) => { u[n] = m.util[i]; });
  paintLinks(u, new Set(res.failure.links));
  for (const c of document.querySelectorAll("#map .node")) {
    c.classList.toggle("failed", res.failure.nodes.includes(c.getAttribute("data-node")));
  }
  $("map-title").textContent = `What-if: ${res.failure.name} down, re-routed by ${pol} (matrix of ${hhmm(res.ds)} UTC)`;
  const rows = Object.entries(res.map).map(([p, x]) => {
    const b = res.baseline[p];
    return `<tr><td>${esc(p)}</td><td class="num">${pct(b.mlu)}</td><td class="num ${x.mlu > 1 ? "bad" : ""}">${pct(x.mlu)}</td>` +
      `<td class="num ${x.lost_bps > 0 ? "bad" : ""}">${gbps(x.lost_bps)}</td><td class="num">${x.over.length}</td></tr>`;
  }).join("");
  $("whatif-result").innerHTML = `<div id="whatif-summary"><b>${esc(res.failure.name)}</b> down` +
    ` (${res.failure.links.length} directed links${res.failure.nodes.length ? ", nodes " + esc(res.failure.nodes.join(", ")) : ""})</div>` +
    `<table><thead><tr><th>re-routing</th><th class="num">MLU before</th><th class="num">MLU after</th>` +
    `<th class="num">lost</th><th class="num">links &gt; 100 %</th></tr></thead><tbody>${rows}</tbody></table>` +
    `<p class="small muted">lost = traffic with no path plus traffic dropped on overloaded links (one loss model).</p>`;
}

// ------------------------------------------------------------------ charts
function lineChart(boxId, opts) {
  const box = $(boxId);
  box.textContent = "";
  const W = 400, H = opts.height || 200, L = 44, R = 10, T = 10, B = 20;
  const svg = el("svg:svg", {viewBox: `0 0 ${W} ${H}`, role: "img", "aria-label": opts.label || "chart"}, box);
  const times = (opts.times || []).map((t) => Date.parse(t));
  if (!times.length) { el("svg:text", {x: W / 2, y: H / 2, "text-anchor": "middle", class: "empty", text: opts.empty || "no data yet"}, svg); return; }
  const vals = [];
  for (const s of opts.series) for (const v of s.values) if (v !== null && isFinite(v)) vals.push(v);
  let lo = opts.ymin !== undefined ? opts.ymin : Math.min(...vals, 0), hi = opts.ymax !== undefined ? opts.ymax : Math.max(...vals, 1e-9);
  if (opts.ymaxAtLeast !== undefined) hi = Math.max(hi, opts.ymaxAtLeast);
  if (hi <= lo) hi = lo + 1;
  const raw = (hi - lo) / 4, mag = Math.pow(10, Math.floor(Math.log10(raw)));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((x) => x >= raw) || raw;
  hi = lo + step * Math.ceil((hi - lo) / step - 1e-9);
  const nTicks = Math.round((hi - lo) / step);
  const t0 = Math.min(...times), t1 = Math.max(...times, t0 + 1);
  const X = (t) => L + (t - t0) / (t1 - t0) * (W - L - R), Y = (v) => T + (1 - (v - lo) / (hi - lo)) * (H - T - B);
  for (let i = 0; i <= nTicks; i++) {
    const v = lo + step * i, y = Y(v);
    el("svg:line", {class: "grid", x1: L, x2: W - R, y1: y, y2: y}, svg);
    el("svg:text", {x: L - 4, y: y + 3, "text-anchor": "end", text: opts.fmt(v)}, svg);
  }
  el("svg:line", {class: "axis", x1: L, x2: W - R, y1: H - B, y2: H - B}, svg);
  for (let i = 0; i <= 3; i++) {
    const t = t0 + (t1 - t0) * i / 3;
    el("svg:text", {x: X(t), y: H - B + 13, "text-anchor": i === 0 ? "start" : i === 3 ? "end" : "middle", text: new Date(t).toISOString().slice(5, 16).replace("T", " ")}, svg);
  }
  for (const m of opts.marks || []) {
    const x = X(Date.parse(m.time));
    const ln = el("svg:line", {class: "mark", x1: x, x2: x, y1: T, y2: H - B}, svg);
    el("svg:title", {text: m.text}, ln);
  }
  if (opts.refLine !== undefined && opts.refLine <= hi) {
    el("svg:line", {x1: L, x2: W - R, y1: Y(opts.refLine), y2: Y(opts.refLine), stroke: "#bd0026", "stroke-dasharray": "6 3", "stroke-width": 1}, svg);
  }
  const legend = [];
  opts.series.forEach((s, i) => {
    const c = s.colour || SERIES[i % SERIES.length];
    let d = "", pen = false;
    s.values.forEach((v, j) => {
      if (v === null || !isFinite(v)) { pen = false; return; }
      d += (pen ? "L" : "M") + X(times[j]).toFixed(1) + " " + Y(v).toFixed(1);
      pen = true;
    });
    if (d) el("svg:path", {d, fill: "none", stroke: c, "stroke-width": s.width || 1.8, "stroke-dasharray": s.dash || "", "data-series": s.name}, svg);
    legend.push([s.name, c, s.dash]);
  });
  if (opts.marks && opts.marks.length) legend.push([opts.markName || "alert", "#D55E00", "3 2"]);
  const lg = el("div", {class: "chart-legend"}, box);
  for (const [name, c, dash] of legend) {
    const k = el("span", {class: "key"}, lg);
    const sw = el("svg:svg", {viewBox: "0 0 18 8", width: 18, height: 8}, k);
    el("svg:line", {x1: 0, x2: 18, y1: 4, y2: 4, stroke: c, "stroke-width": 3, "stroke-dasharray": dash || ""}, sw);
    el("span", {text: name}, k);
  }
}

function barChart(boxId, rows, opts) {
  const box = $(boxId);
  box.textContent = "";
  if (!rows.length) return;
  const W = 520, bh = 14, L = 150, R = 60, T = 6;
  const H = T + rows.length * (bh + 4) + 20;
  const svg = el("svg:svg", {viewBox: `0 0 ${W} ${H}`, role: "img", "aria-label": opts.label}, box);
  const hi = Math.max(...rows.map((r) => r.value), 1e-9);
  rows.forEach((r, i) => {
    const y = T + i * (bh + 4);
    el("svg:text", {x: L - 4, y: y + bh - 3, "text-anchor": "end", text: r.name.length > 24 ? r.name.slice(0, 23) + "…" : r.name}, svg);
    const w = (W - L - R) * r.value / hi;
    if (r.base !== undefined) {
      el("svg:rect", {x: L, y, width: Math.max(1, (W - L - R) * r.base / hi), height: bh, fill: "#56B4E9"}, svg);
      el("svg:rect", {x: L + (W - L - R) * r.base / hi, y, width: Math.max(1, (W - L - R) * (r.value - r.base) / hi), height: bh, fill: "#E69F00"}, svg);
    } else {
      el("svg:rect", {x: L, y, width: Math.max(1, w), height: bh, fill: r.colour || "#0072B2"}, svg);
    }
    el("svg:text", {x: L + w + 4, y: y + bh - 3, text: r.label}, svg);
  });
  el("svg:text", {x: L, y: H - 4, text: opts.caption || ""}, svg);
}

const fmtPct = (v) => (100 * v).toFixed(0) + "%";
const fmtG = (v) => (v / 1e9).toFixed(0) + "G";

async function refreshCharts() {
  const [mlu, alerts] = await Promise.all([api("/charts/mlu?hours=24"), null]);
  const series = [{name: "measured (IGP routing)", values: mlu.measured, colour: SERIES[0]}];
  let i = 1;
  for (const [p, v] of Object.entries(mlu.policies)) series.push({name: `decided: ${p} (predicted)`, values: v, colour: SERIES[i++]});
  if (mlu.lower_bound.some((v) => v !== null)) series.push({name: "certified lower bound", values: mlu.lower_bound, colour: SERIES[5], dash: "4 3"});
  lineChart("chart-mlu", {times: mlu.times, series, fmt: fmtPct, ymin: 0, ymaxAtLeast: 1.0, refLine: 1.0, label: "MLU over time"});
  const node = $("traffic-node").value;
  const tr = await api("/charts/traffic?hours=24" + (node ? "&node=" + encodeURIComponent(node) : ""));
  const marks = tr.alerts.map((a) => ({time: a.time, text: `${a.place} ${a.direction} ${(100 * a.shift).toFixed(0)} % (${a.detector})`}));
  lineChart("chart-traffic", {
    times: tr.times, marks, fmt: fmtG, ymin: 0, label: "traffic",
    series: [{name: node ? "ingress" : "total measured", values: tr.ingress_bps, colour: SERIES[0]},
             {name: "forecast", values: tr.forecast_bps, colour: SERIES[1], dash: "5 3"}].concat(
             node ? [{name: "egress", values: tr.egress_bps, colour: SERIES[2]}] : []),
  });
  const cl = await api("/classes?hours=24");
  if (!cl.configured) {
    lineChart("chart-classes", {times: [], series: [], fmt: fmtPct, empty: "no traffic classes configured"});
    $("classes-note").textContent = "";
  } else {
    lineChart("chart-classes", {times: cl.times, fmt: fmtPct, ymin: 0, ymax: 1.0, label: "served share per class",
      series: cl.classes.map((c, k) => ({name: `${c.name}${c.bound && c.bound !== "none" ? " (" + c.bound + ")" : ""}`, values: c.served_share, colour: SERIES[k % SERIES.length], width: k === 0 ? 2.6 : 1.6}))});
    const ok = cl.critical_ok;
    $("classes-note").innerHTML = cl.critical ? `critical class <b>${esc(cl.critical)}</b>: ` +
      (ok === null ? "no decision yet" : ok ? '<span class="good">fully served</span>' : '<span class="bad">NOT fully served</span>') : "";
  }
}

// ------------------------------------------------------------------ worst failures, run-out, plan
async function runWorst() {
  if (!S.token) { $("worst-progress").textContent = "give the API token (top right) to run what-ifs"; return; }
  try {
    const res = await runJob("/whatif", {all_single: "link", policies: ["shortest", "optimal"], top: 12}, $("worst-progress"));
    const pol = res.summary.policies;
    const rows = (pol.shortest || pol[Object.keys(pol)[0]]).worst_failures;
    const opt = {};
    if (pol.optimal) {
      for (const r of pol.optimal.worst_failures) opt[r.failure] = r;
    }
    let html = `<table id="worst"><thead><tr><th>fibre cut</th><th class="num">MLU (IGP)</th><th class="num">lost (IGP)</th>` +
      `<th class="num">MLU (TE)</th><th class="num">lost (TE)</th><th>worst link (IGP)</th></tr></thead><tbody>`;
    for (const r of rows) {
      const o = opt[r.failure];
      html += `<tr class="clickable" data-failure="${esc(r.failure)}"><td>${esc(r.failure)}</td><td class="num ${r.mlu > 1 ? "bad" : ""}">${pct(r.mlu)}</td>` +
        `<td class="num">${gbps(r.lost_bps)}</td><td class="num">${o ? pct(o.mlu) : "-"}</td><td class="num">${o ? gbps(o.lost_bps) : "-"}</td>` +
        `<td>${esc(r.worst_link)}</td></tr>`;
    }
    html += `</tbody></table><p class="small muted">${res.failures} fibre cuts on the matrix of ${hhmm(res.ds)} UTC; ` +
      `IGP = reconvergence with ECMP, TE = re-optimised; click a row to see it on the map. TE column: the cut's row when it is among TE's worst too.</p>`;
    $("worst-table").innerHTML = html;
    for (const tr of document.querySelectorAll("#worst tr.clickable")) tr.addEventListener("click", () => failCircuit(tr.getAttribute("data-failure")));
  } catch (e) { $("worst-progress").innerHTML = `<span class="bad">${esc(e.message)}</span>`; }
}

async function runRunout(ev) {
  if (ev) ev.preventDefault();
  if (!S.token) { $("runout-progress").textContent = "give the API token (top right)"; return; }
  try {
    const growth = parseFloat($("runout-growth").value);
    const res = await runJob("/capacity/runout", {growth, model: "compound"}, $("runout-progress"));
    const now = Date.parse(res.now);
    const top = res.links.slice(0, 12);
    const days = (d) => d ? Math.max(0, (Date.parse(d) - now) / 864e5) : null;
    barChart("runout-chart", top.filter((r) => r.critical_date).map((r) => ({name: r.link, value: Math.max(days(r.critical_date), 0.5),
      label: r.critical_status === "crossed" ? "crossed" : `${(days(r.critical_date) / 365.25).toFixed(1)} y`, colour: r.critical_status === "crossed" ? "#bd0026" : "#0072B2"})),
      {label: "years to the critical threshold", caption: `time until ${pct(res.thresholds.critical)} (growth ${(100 * growth).toFixed(0)} %/yr)`});
    let html = `<table id="runout"><thead><tr><th>link</th><th class="num">peak now</th><th>warning (${pct(res.thresholds.warning)})</th><th>critical (${pct(res.thresholds.critical)})</th></tr></thead><tbody>`;
    for (const r of top) {
      html += `<tr><td>${esc(r.link)}</td><td class="num">${pct(r.peak_util)}</td><td>${r.warning_date ? r.warning_date.slice(0, 10) : "-"}${r.warning_status === "crossed" ? " (crossed)" : ""}</td>` +
        `<td>${r.critical_date ? r.critical_date.slice(0, 10) : "-"}${r.critical_status === "crossed" ? " (crossed)" : ""}</td></tr>`;
    }
    $("runout-table").innerHTML = html + `</tbody></table><p class="small muted">${res.intervals} stored estimates, ${res.source} (${res.model}); soonest critical first.</p>`;
  } catch (e) { $("runout-progress").innerHTML = `<span class="bad">${esc(e.message)}</span>`; }
}

async function runPlan(ev) {
  if (ev) ev.preventDefault();
  if (!S.token) { $("plan-progress").textContent = "give the API token (top right)"; return; }
  try {
    const body = {target_util: parseFloat($("plan-target").value), failures: $("plan-failures").checked ? "single-link" : "none"};
    const res = await runJob("/capacity/plan", body, $("plan-progress"));
    const add = res.additions;
    barChart("plan-chart", add.map((a) => ({name: a.fibre, base: a.capacity_before_bps / 1e9, value: a.capacity_after_bps / 1e9,
      label: `+${(a.added_bps / 1e9).toFixed(0)}G`})), {label: "capacity before and after", caption: "Gbit/s: blue = now, orange = added"});
    let html = `<p class="small">cost <b>${res.cost.toFixed(3)}</b> cu (${esc(res.method)}, gap ${(100 * res.gap).toFixed(2)} %); ` +
      `${res.scenarios_checked} scenarios; worst MLU ${pct(res.worst_mlu_before)} → ${pct(res.worst_mlu_after)}</p>`;
    if (!add.length) html += "<p>No addition needed: every scenario fits.</p>";
    else {
      html += `<table id="plan"><thead><tr><th>fibre</th><th>modules</th><th class="num">added</th><th class="num">after</th><th class="num">cost</th></tr></thead><tbody>`;
      for (const a of add) {
        const mods = Object.keys(a).filter((k) => k.startsWith("n_") && a[k] > 0).map((k) => `${a[k]} × ${k.slice(2)}`).join(", ");
        html += `<tr><td>${esc(a.fibre)}</td><td>${esc(mods)}</td><td class="num">${gbps(a.added_bps)}</td><td class="num">${gbps(a.capacity_after_bps)}</td><td class="num">${a.cost.toFixed(2)}</td></tr>`;
      }
      html += "</tbody></table>";
    }
    $("plan-table").innerHTML = html;
  } catch (e) { $("plan-progress").innerHTML = `<span class="bad">${esc(e.message)}</span>`; }
}

// ------------------------------------------------------------------ SR export of the latest decision
async function refreshExport() {
  const fmt = $("export-format").value;
  const a = $("export-download");
  try {
    const d = await api("/export/sr?format=" + encodeURIComponent(fmt));
    a.href = d.download;
    a.setAttribute("download", "");
    a.setAttribute("aria-disabled", "false");
    a.dataset.format = fmt;
    const m = d.mlu;
    $("export-summary").innerHTML = `decision of ${hhmm(d.ds)} UTC (${esc(d.policy)}${d.status !== "ok" ? ", fallback" : ""}): ` +
      `<b>${d.policies}</b> policies on ${d.headends} head-ends, ${d.segment_lists} segment lists (at most ${d.max_depth} SIDs); ` +
      `MLU routing ${pct(m.routing)}, these ${esc(fmt)} files ${pct(d.mlu_of_format)}, IGP alone ${pct(m.igp)}` +
      (d.unexpressible.length ? `; <span class="bad">${d.unexpressible.length} path(s) too deep</span>` : "") +
      ` · ${esc(d.expresses)}`;
    const rows = [];
    for (const f of d.files.slice(0, 12)) {
      rows.push(`<tr><td>${esc(f.headend)}</td><td>${esc(f.name)}</td><td class="num">${f.bytes}</td></tr>`);
    }
    $("export-table").innerHTML = d.files.length ? `<table id="export-files"><thead><tr><th>head-end</th><th>file</th>` +
      `<th class="num">bytes</th></tr></thead><tbody>${rows.join("")}</tbody></table>` +
      (d.files.length > 12 ? `<p class="small muted">... and ${d.files.length - 12} more files in the zip.</p>` : "") :
      "<p class=\"small\">No OD pair needs a policy: the IGP routes as the decision does.</p>";
    document.body.setAttribute("data-export", fmt + " " + d.ds);
  } catch (e) {
    a.setAttribute("aria-disabled", "true");
    $("export-summary").innerHTML = `<span class="bad">${esc(e.message)}</span>`;
  }
}

// ------------------------------------------------------------------ live loop
async function refresh() {
  S.latest = await api("/utilisation/latest");
  if (S.mode === "live") paintLive();
  const dec = await api("/decisions?limit=1&offset=0&start=" + encodeURIComponent(S.latest.ds));
  const d = dec.rows[0];
  if (d) {
    $("decision").innerHTML = `decision: <b>${esc(d.policy)}</b>, predicted MLU ${pct(d.mlu)}` +
      (d.lower_bound !== null ? ` (bound ${pct(d.lower_bound)})` : "") + (d.status !== "ok" ? ` <span class="bad">FALLBACK</span>` : "");
  }
  try {
    const w = await api("/utilisation/worst-case");
    S.worst = {};
    for (const r of w.links) S.worst[r.link] = r;
  } catch (e) { /* no estimate yet */ }
  await refreshCharts();
  await refreshExport();
}

async function poll() {
  if (S.busy) return;
  S.busy = true;
  try {
    const h = await api("/health");
    const st = $("status");
    st.textContent = h.status;
    st.setAttribute("data-status", h.status);
    $("interval").textContent = h.last_interval ? `last interval ${hhmm(h.last_interval)} UTC · ${h.intervals} stored` : "no interval stored yet";
    if (h.last_interval && h.last_interval !== S.lastDs) {
      await refresh();
      S.lastDs = h.last_interval;
      document.body.setAttribute("data-last-interval", h.last_interval);
    }
  } catch (e) {
    $("status").textContent = "unreachable";
    $("status").setAttribute("data-status", "error");
  } finally { S.busy = false; }
}

async function main() {
  initToken();
  const net = await api("/network");
  S.net = net;
  for (const l of net.links) S.linkByName[l.name] = l;
  for (const n of net.nodes) S.nodeByName[n.name] = n;
  $("net-name").textContent = `· ${net.name}: ${net.nodes.length} nodes, ${net.links.length} links`;
  const sel = $("traffic-node");
  for (const n of net.nodes.map((x) => x.name).sort()) el("option", {value: n, text: n}, sel);
  sel.addEventListener("change", () => refreshCharts());
  drawMap(net);
  $("whatif-policy").addEventListener("change", paintWhatIf);
  $("back-live").addEventListener("click", () => { S.mode = "live"; $("whatif-bar").hidden = true; paintLive(); });
  $("run-worst").addEventListener("click", runWorst);
  $("runout-form").addEventListener("submit", runRunout);
  $("plan-form").addEventListener("submit", runPlan);
  $("export-format").addEventListener("change", refreshExport);
  const h = await api("/health");
  S.poll = Math.max(500, 1000 * (h.poll_seconds || 2));
  await poll();
  document.body.setAttribute("data-ready", "1");
  setInterval(poll, S.poll);
}

main().catch((e) => { $("status").textContent = "error: " + e.message; $("status").setAttribute("data-status", "error"); });
