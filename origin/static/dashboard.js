// The live dashboard: one WebSocket (/dashboard/ws, authenticated by the cookie the page set),
// history first, then a point a second and the active alerts when they change. Reconnects by
// itself and says when data is stale.
"use strict";
(function () {
  const HOUR = 3600, DAY = 1440, STALE_S = 3;
  const state = { seconds: [], minutes: [], alerts: null, lastMessageAt: 0, lastPoint: null, retries: 0, socket: null };
  window.vsearchDashboard = state; // for the browser test and the curious

  // The token was only needed to load the page: keep it out of history and screenshots.
  if (location.search.includes("token=")) history.replaceState(null, "", location.pathname);

  const $ = (id) => document.getElementById(id);
  const fmt = {
    num: (v) => (v == null ? "–" : v >= 100 ? v.toFixed(0) : v.toFixed(1)),
    ms: (v) => (v == null ? "–" : v.toFixed(v < 10 ? 2 : 1) + " ms"),
    pct: (v) => (v == null ? "–" : (v * 100).toFixed(1) + "%"),
  };

  function chart(id, series, height) {
    const el = $(id);
    const opts = {
      width: Math.max(360, el.clientWidth - 10), height: height || 180,
      series: [{}].concat(series.map(([label, stroke]) => ({ label, stroke, width: 1.5, spanGaps: false }))),
      axes: [{}, { size: 50 }],
      legend: { live: false },
    };
    return new uPlot(opts, [[], ...series.map(() => [])], el);
  }
  const charts = {
    rps: chart("chart-rps", [["req/s", "#2f6fde"]]),
    latency: chart("chart-latency", [["p50", "#2a9d5b"], ["p95", "#e39b16"], ["p99", "#d3423a"]]),
    hits: chart("chart-hits", [["L1", "#2f6fde"], ["Redis", "#8e5bd6"], ["origin", "#2a9d5b"]]),
    edge: chart("chart-edge", [["KV", "#2f6fde"], ["cache", "#2a9d5b"], ["stale", "#e39b16"], ["miss", "#d3423a"]]),
    dayRps: chart("chart-day-rps", [["req/s", "#2f6fde"]]),
    dayLatency: chart("chart-day-latency", [["p50", "#2a9d5b"], ["p95", "#e39b16"], ["p99", "#d3423a"]]),
  };
  const column = (points, key) => points.map((p) => (p[key] == null ? null : p[key]));
  // Charts start at the first point with data: a fresh deployment is not an hour of blanks.
  const recorded = (points) => {
    const first = points.findIndex((p) => p.instances > 0);
    return first < 0 ? [] : points.slice(first);
  };
  function draw() {
    const s = recorded(state.seconds), m = recorded(state.minutes);
    const st = column(s, "t"), mt = column(m, "t");
    charts.rps.setData([st, column(s, "rps")]);
    charts.latency.setData([st, column(s, "p50_ms"), column(s, "p95_ms"), column(s, "p99_ms")]);
    charts.hits.setData([st, column(s, "hit_l1"), column(s, "hit_redis"), column(s, "hit_origin")]);
    charts.edge.setData([st, column(s, "hit_edge_kv"), column(s, "hit_edge_cache"), column(s, "edge_stale"), column(s, "edge_miss")]);
    charts.dayRps.setData([mt, column(m, "rps")]);
    charts.dayLatency.setData([mt, column(m, "p50_ms"), column(m, "p95_ms"), column(m, "p99_ms")]);
  }

  function tiles(p) {
    const has = p && p.instances > 0;
    $("rps").textContent = has ? fmt.num(p.rps) : "–";
    $("p50").textContent = has ? fmt.ms(p.p50_ms) : "–";
    $("p95").textContent = has ? fmt.ms(p.p95_ms) : "–";
    $("p99").textContent = has ? fmt.ms(p.p99_ms) : "–";
    $("errors").textContent = has ? fmt.pct(p.error_rate) : "–";
    $("edge-rps").textContent = has ? fmt.num(p.edge_rps) : "–";
    $("hit-edge-kv").textContent = has ? fmt.pct(p.hit_edge_kv) : "–";
    $("hit-edge-cache").textContent = has ? fmt.pct(p.hit_edge_cache) : "–";
    $("edge-stale").textContent = has ? fmt.pct(p.edge_stale) : "–";
    $("edge-miss").textContent = has ? fmt.pct(p.edge_miss) : "–";
    $("hit-l1").textContent = has ? fmt.pct(p.hit_l1) : "–";
    $("hit-redis").textContent = has ? fmt.pct(p.hit_redis) : "–";
    $("hit-origin").textContent = has ? fmt.pct(p.hit_origin) : "–";
    $("pool").textContent = has ? `${fmt.num(p.pool_in_use)} (${fmt.pct(p.pool_use)})` : "–";
    $("outbox").textContent = has && p.outbox != null ? String(p.outbox) : "–";
    $("purge").textContent = has ? fmt.ms(p.purge_p95_ms) : "–";
    $("instances").textContent = has ? fmt.num(p.instances) : "0";
  }

  const ago = (iso) => {
    const s = Math.max(0, Math.round((Date.now() - Date.parse(iso)) / 1000));
    if (Number.isNaN(s)) return "";
    const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60);
    return h ? `${h}h ${m}m` : m ? `${m}m ${s % 60}s` : `${s}s`;
  };
  function alertItem(a) {
    const li = document.createElement("li");
    li.className = "alert " + (a.severity === "page" ? "page" : "ticket");
    const part = (cls, text) => {
      const span = document.createElement("span");
      span.className = cls;
      span.textContent = text;
      li.append(span);
    };
    part("name", a.name);
    part("severity", a.severity || "no severity");
    const started = new Date(a.since);
    part("since", Number.isNaN(started.getTime()) ? "" : `for ${ago(a.since)}, since ${started.toLocaleTimeString()}`);
    if (a.summary) part("summary", a.summary);
    return li;
  }
  // Built with textContent only: alert labels come from outside and are never parsed as HTML.
  function showAlerts() {
    const msg = state.alerts;
    if (!msg) return;
    const note = $("alerts-status");
    note.className = "note" + (msg.status === "unavailable" ? " warn" : "");
    if (msg.status === "off") note.textContent = "not configured (VSEARCH_ALERTMANAGER_URL)";
    else if (msg.status === "unavailable") note.textContent = `alerts unavailable: ${msg.detail}`;
    else note.textContent = msg.alerts.length ? `${msg.alerts.length} firing` : "none firing";
    $("alert-list").replaceChildren(...msg.alerts.map(alertItem));
  }

  function status(kind, text) {
    const el = $("status");
    el.className = "status " + kind;
    el.textContent = text;
  }

  function push(list, p, max) {
    if (list.length && list[list.length - 1].t >= p.t) return; // a replay after reconnecting
    list.push(p);
    if (list.length > max) list.splice(0, list.length - max);
  }

  function onMessage(event) {
    const msg = JSON.parse(event.data);
    state.lastMessageAt = Date.now();
    if (msg.type === "history") {
      state.seconds = msg.seconds.slice(-HOUR);
      state.minutes = msg.minutes.slice(-DAY);
      state.lastPoint = state.seconds[state.seconds.length - 1] || null;
    } else if (msg.type === "second") {
      push(state.seconds, msg.point, HOUR);
      state.lastPoint = msg.point;
    } else if (msg.type === "minute") {
      push(state.minutes, msg.point, DAY);
    } else if (msg.type === "alerts") {
      state.alerts = msg;
      showAlerts();
      refreshStatus();
      return;
    }
    tiles(state.lastPoint);
    draw();
    refreshStatus();
  }

  function refreshStatus() {
    if (!state.socket || state.socket.readyState !== WebSocket.OPEN) return;
    const age = (Date.now() - state.lastMessageAt) / 1000;
    if (age > STALE_S) status("stale", `stale: no data for ${age.toFixed(0)} s`);
    else if (state.lastPoint && state.lastPoint.instances === 0) status("stale", "stale: no origin reported this second");
    else status("live", "live");
  }

  function connect() {
    const proto = location.protocol === "https:" ? "wss" : "ws";
    const socket = new WebSocket(`${proto}://${location.host}/dashboard/ws`);
    state.socket = socket;
    socket.onopen = () => { state.retries = 0; status("live", "live"); };
    socket.onmessage = onMessage;
    socket.onclose = () => {
      const wait = Math.min(30, 2 ** state.retries++);
      status("down", `disconnected: reconnecting in ${wait} s (data shown is stale)`);
      setTimeout(connect, wait * 1000);
    };
  }

  setInterval(() => { refreshStatus(); showAlerts(); }, 1000); // "for 3m 12s" keeps counting
  connect();
})();
