// govchain explorer: the live parts. Pages are complete without this script;
// it keeps the home page and the DAG view current from the node's API and events.
"use strict";
(function () {
  const words = JSON.parse(document.getElementById("i18n").textContent || "{}");
  const w = (k) => words[k] || k;
  const SVG = "http://www.w3.org/2000/svg";
  const PALETTE = ["#0b5cad", "#136c3a", "#8a5300", "#6a1b9a", "#00796b", "#ad1457", "#37474f", "#5d4037"];
  const PENDING = "#b0b8c4";

  function el(tag, attrs, text) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, v);
    if (text !== undefined) node.textContent = text;
    return node;
  }
  function svg(tag, attrs) {
    const node = document.createElementNS(SVG, tag);
    for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, String(v));
    return node;
  }
  const fmt = (n) => (typeof n === "number" ? n.toLocaleString("en-US") : "—");
  const short = (h) => (h.length > 17 ? h.slice(0, 10) + "…" + h.slice(-6) : h);
  function utc(ms) {
    return new Date(ms).toISOString().replace("T", " ").replace(/\.\d+Z$/, " UTC");
  }
  async function getJSON(path) {
    const r = await fetch(path, { headers: { Accept: "application/json" } });
    if (!r.ok) throw new Error(path + " " + r.status);
    return r.json();
  }

  // -- the DAG, drawn as SVG: newest on the right, one lane per sender bucket ----------
  function drawDag(box, doc, opts) {
    const verts = doc.vertices.slice().reverse(); // oldest first, left to right
    const width = Math.max(box.clientWidth, 300);
    const height = box.clientHeight || 120;
    const lanes = opts.lanes;
    const step = Math.max(opts.minStep, (width - 20) / Math.max(verts.length, 1));
    const laneH = (height - 16) / lanes;
    const pos = new Map();
    verts.forEach((v, i) => {
      const lane = parseInt(v.id.slice(0, 4), 16) % lanes;
      pos.set(v.id, [10 + i * step, 8 + laneH * (lane + 0.5)]);
    });
    // role=group, not img: the vertices inside are links (an img's children are not reachable).
    const root = svg("svg", { viewBox: `0 0 ${Math.max(width, 20 + verts.length * step)} ${height}`, role: "group" });
    root.setAttribute("aria-label", `${verts.length} ${w("js_vertices")}`);
    const edges = svg("g", { stroke: "#c3ccd8", "stroke-width": 1 });
    for (const v of verts) {
      const [x, y] = pos.get(v.id);
      for (const p of v.parents) {
        const q = pos.get(p);
        if (q) edges.appendChild(svg("line", { x1: q[0], y1: q[1], x2: x, y2: y }));
      }
    }
    root.appendChild(edges);
    const r = Math.max(2.5, Math.min(6, step / 2.5, laneH / 2.5));
    for (const v of verts) {
      const [x, y] = pos.get(v.id);
      const link = svg("a", { href: "/txs/" + v.id });
      const title = svg("title");
      title.textContent = v.covered_by ? `${short(v.id)} · ${v.kind} · ${w("js_covered_by")} ${v.covered_by}` : `${short(v.id)} · ${v.kind} · ${w("js_pending")}`;
      const colour = v.covered_by ? PALETTE[v.covered_by % PALETTE.length] : "#ffffff";
      const dot = svg("circle", { cx: x, cy: y, r: r, fill: colour, stroke: v.covered_by ? colour : "#5b6573", "stroke-width": 1.5 });
      if (!v.covered_by) dot.setAttribute("stroke-dasharray", "2 1.5");
      link.appendChild(title);
      link.appendChild(dot);
      root.appendChild(link);
    }
    box.replaceChildren(root);
  }

  function liveDag(box, limit, opts, every) {
    let paused = false;
    const toggle = document.getElementById("dag-pause");
    if (toggle) toggle.addEventListener("click", () => {
      paused = !paused;
      toggle.textContent = paused ? w("js_resume") : w("js_pause");
      toggle.setAttribute("aria-pressed", String(paused));
    });
    async function tick() {
      if (!paused && !document.hidden) {
        try {
          const doc = await getJSON("/v1/dag/recent?limit=" + limit);
          drawDag(box, doc, opts);
          const counts = document.getElementById("dag-counts");
          if (counts) counts.textContent = `${fmt(doc.vertices.length)} / ${fmt(doc.total)} · ${w("js_pending")} ${fmt(doc.pending)}`;
        } catch (e) { /* the next tick retries */ }
      }
      setTimeout(tick, every);
    }
    tick();
  }

  // -- throughput chart ------------------------------------------------------------------
  const BUCKET_MS = 5000;
  function buckets(points) {
    const sums = new Map();
    for (const p of points) {
      const b = Math.floor(p.time_ms / BUCKET_MS) * BUCKET_MS;
      sums.set(b, (sums.get(b) || 0) + (p.txs || 0));
    }
    return [...sums.entries()].sort((a, b) => a[0] - b[0]).map(([t, n]) => [t, n / (BUCKET_MS / 1000)]);
  }
  function tpsChart(box, points) {
    if (!window.echarts) return null;
    const chart = window.echarts.init(box, null, { renderer: "svg" });
    const option = (pts) => ({
      animation: false,
      grid: { left: 48, right: 12, top: 16, bottom: 28 },
      tooltip: { trigger: "axis" },
      xAxis: { type: "time", axisLabel: { hideOverlap: true } },
      yAxis: { type: "value", name: w("js_tps"), nameTextStyle: { align: "left" } },
      series: [{ type: "bar", data: buckets(pts), itemStyle: { color: "#0b5cad" }, barMaxWidth: 14 }],
    });
    chart.setOption(option(points));
    window.addEventListener("resize", () => chart.resize());
    return { push(p) { points.push(p); const cut = p.time_ms - 300000; while (points.length && points[0].time_ms < cut) points.shift(); chart.setOption(option(points)); } };
  }

  // -- the home page -------------------------------------------------------------------------
  function home() {
    const heightEl = document.getElementById("height");
    const dataEl = document.getElementById("tps-data");
    const points = dataEl ? JSON.parse(dataEl.textContent || "[]") : [];
    const chartBox = document.getElementById("tps-chart");
    let chart = null;
    const startChart = () => { if (!chart && chartBox) chart = tpsChart(chartBox, points); };
    if (window.echarts) startChart(); else window.addEventListener("load", startChart);
    const strip = document.getElementById("dag-strip");
    if (strip) liveDag(strip, 80, { lanes: 5, minStep: 6 }, 2000);
    const table = document.querySelector("#latest-checkpoints tbody");

    function onCheckpoint(ev) {
      const shown = parseInt(heightEl.dataset.height || "0", 10);
      if (ev.height <= shown) return;
      heightEl.dataset.height = String(ev.height);
      heightEl.textContent = fmt(ev.height);
      if (table) {
        const tr = el("tr", { "data-height": String(ev.height) });
        const a = el("a", { href: "/checkpoints/" + ev.height }, fmt(ev.height));
        const td0 = el("td"); td0.appendChild(a); tr.appendChild(td0);
        tr.appendChild(el("td", {}, fmt(ev.txs)));
        tr.appendChild(el("td", {}, ev.time_ms ? utc(ev.time_ms) : "—"));
        const code = el("code", { title: ev.hash }, short(ev.hash));
        const td3 = el("td"); td3.appendChild(code); tr.appendChild(td3);
        table.prepend(tr);
        while (table.rows.length > 10) table.deleteRow(table.rows.length - 1);
      }
      if (chart && ev.time_ms) chart.push({ height: ev.height, time_ms: ev.time_ms, txs: ev.txs });
    }

    async function refresh() {
      try {
        const s = await getJSON("/v1/stats/recent?seconds=300");
        document.getElementById("tps").textContent = s.tps.toFixed(1);
        if (s.finality_ms) document.getElementById("finality").textContent = Math.round(s.finality_ms.p50) + " ms";
        const st = await getJSON("/v1/status");
        document.getElementById("dag-vertices").textContent = fmt(st.dag.vertices);
        document.getElementById("dag-pending").textContent = fmt(st.dag.pending);
        if (st.height > parseInt(heightEl.dataset.height || "0", 10)) {
          // The websocket missed some (or is down): fetch them, oldest first.
          const cp = await getJSON("/v1/checkpoints?limit=10");
          for (const c of cp.checkpoints.slice().reverse()) {
            onCheckpoint({ height: c.height, hash: c.hash, txs: c.txs, time_ms: c.time_ms });
          }
        }
      } catch (e) { /* the next refresh retries */ }
    }
    setInterval(refresh, 3000);

    function connect() {
      const proto = location.protocol === "https:" ? "wss:" : "ws:";
      // Only checkpoint events: the node then never encodes every receipt for this page.
      const ws = new WebSocket(`${proto}//${location.host}/v1/events?types=checkpoint`);
      ws.onmessage = (m) => {
        const ev = JSON.parse(m.data);
        if (ev.type === "checkpoint") onCheckpoint(ev);
      };
      ws.onclose = () => setTimeout(connect, 2000);
    }
    connect();
  }

  function dagPage() {
    const box = document.getElementById("dag-view");
    const limit = parseInt(box.dataset.limit || "300", 10);
    liveDag(box, limit, { lanes: 12, minStep: 9 }, 2000);
  }

  // Charts a page declares: <div data-chart="id-of-json-option">, the option built on the server.
  function declaredCharts() {
    if (!window.echarts) return;
    for (const box of document.querySelectorAll("[data-chart]")) {
      const src = document.getElementById(box.dataset.chart);
      if (!src) continue;
      const option = JSON.parse(src.textContent || "{}");
      const chart = window.echarts.init(box, null, { renderer: "svg" });
      chart.setOption(option);
      if (box.dataset.links === "true") {
        chart.on("click", (p) => { if (p.data && p.data.url) location.href = p.data.url; });
      }
      window.addEventListener("resize", () => chart.resize());
    }
  }

  // An emergency measure's clock: seconds until it lapses, counted down in the page.
  function countdowns() {
    const clocks = document.querySelectorAll(".countdown[data-seconds]");
    if (!clocks.length) return;
    const t0 = Date.now();
    const tick = () => {
      for (const c of clocks) {
        const left = Math.max(0, parseInt(c.dataset.seconds, 10) - Math.floor((Date.now() - t0) / 1000));
        const h = Math.floor(left / 3600), m = Math.floor((left % 3600) / 60), sec = left % 60;
        c.textContent = "≈ " + (h ? h + ":" : "") + String(m).padStart(h ? 2 : 1, "0") + ":" + String(sec).padStart(2, "0");
      }
    };
    tick();
    setInterval(tick, 1000);
  }

  function start() {
    countdowns();
    if (document.getElementById("tps-chart")) home();
    if (document.getElementById("dag-view")) dagPage();
    if (document.querySelector("[data-chart]")) {
      if (window.echarts) declaredCharts(); else window.addEventListener("load", declaredCharts);
    }
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start); else start();
})();
