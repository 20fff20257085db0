/**
 * The dashboard script (served at `/ui/app.js`): hash routes for the overview,
 * job lists by state and job detail; data from `/ui/api` and `/v1` with the
 * API token; live updates from the `/ui/api/events` stream. Plain ES5-style
 * DOM code, no framework, no build step. (Kept free of backticks and dollar-brace
 * so it can live in this raw template string.)
 *
 * @module
 */

/** The script. */
export const APP_JS: string = String.raw`"use strict";
(function () {
  var STATES = ["ready", "delayed", "active", "dead", "completed", "cancelled"];
  var FINISHED = { dead: true, completed: true, cancelled: true };
  var COLORS = { pushed: "#3457d5", completed: "#12805c", failed: "#c01048", ready: "#3457d5",
    active: "#7a5af8", delayed: "#dc6803", commits: "#0e9384", commitMs: "#7a5af8", putMs: "#dc6803" };
  var overview = null;
  var history = [];
  var route = { name: "overview" };
  var list = null;
  var stream = null;
  var lastCommit = -1;

  // ---- helpers -------------------------------------------------------------
  function $(id) { return document.getElementById(id); }
  function h(tag, attrs) {
    var el = document.createElement(tag);
    if (attrs) {
      Object.keys(attrs).forEach(function (k) {
        var v = attrs[k];
        if (v === undefined || v === null || v === false) return;
        if (k === "text") el.textContent = String(v);
        else if (k.indexOf("on") === 0) el.addEventListener(k.slice(2), v);
        else el.setAttribute(k, v === true ? "" : String(v));
      });
    }
    for (var i = 2; i < arguments.length; i++) append(el, arguments[i]);
    return el;
  }
  function append(el) {
    for (var i = 1; i < arguments.length; i++) {
      var child = arguments[i];
      if (child === undefined || child === null || child === false) continue;
      if (Array.isArray(child)) { child.forEach(function (c) { append(el, c); }); continue; }
      el.appendChild(typeof child === "object" ? child : document.createTextNode(String(child)));
    }
  }
  function token() { return sessionStorage.getItem("osqueue-token") || ""; }
  function headers() {
    var hd = { "content-type": "application/json" };
    if (token()) hd.authorization = "Bearer " + token();
    return hd;
  }
  function api(method, path) {
    return fetch(path, { method: method, headers: headers() }).then(function (res) {
      return res.text().then(function (text) {
        var body = null;
        try { body = text ? JSON.parse(text) : null; } catch (e) { body = null; }
        if (res.status === 401) { showLogin(); throw new Error("token required"); }
        if (!res.ok) {
          var msg = body && body.error ? body.error.code + ": " + body.error.message : "HTTP " + res.status;
          throw new Error(msg);
        }
        return body;
      });
    });
  }
  function fmtNum(n) { return n === undefined || n === null ? "–" : Number(n).toLocaleString("en-US"); }
  function fmtMs(ms) {
    if (ms === undefined || ms === null) return "–";
    if (ms === Infinity) return "> 10 s";
    if (ms < 1) return ms.toFixed(2) + " ms";
    if (ms < 1000) return Math.round(ms) + " ms";
    return (ms / 1000).toFixed(ms < 10000 ? 2 : 1) + " s";
  }
  function fmtAgo(t) {
    if (!t) return "–";
    var d = Date.now() - t;
    var future = d < 0;
    d = Math.abs(d);
    var s;
    if (d < 1000) s = "now";
    else if (d < 60000) s = Math.round(d / 1000) + "s";
    else if (d < 3600000) s = Math.round(d / 60000) + "m";
    else if (d < 86400000) s = (d / 3600000).toFixed(1) + "h";
    else s = (d / 86400000).toFixed(1) + "d";
    if (s === "now") return s;
    return future ? "in " + s : s + " ago";
  }
  function fmtTime(t) {
    if (!t) return "–";
    var d = new Date(t);
    return d.toISOString().replace("T", " ").replace(/\.\d+Z$/, " UTC") + " (" + fmtAgo(t) + ")";
  }
  function message(text, info) {
    var el = $("message");
    el.textContent = text;
    el.className = "message" + (info ? " info" : "") + (text ? "" : " hidden");
    if (text && info) setTimeout(function () { if (el.textContent === text) message(""); }, 4000);
  }
  function showLogin() {
    $("login").classList.remove("hidden");
    $("view").classList.add("hidden");
  }

  // ---- routing -------------------------------------------------------------
  function parseRoute() {
    var hash = location.hash.replace(/^#/, "") || "/";
    var q = {};
    var qi = hash.indexOf("?");
    if (qi >= 0) {
      hash.slice(qi + 1).split("&").forEach(function (p) {
        var kv = p.split("=");
        if (kv[0]) q[decodeURIComponent(kv[0])] = decodeURIComponent(kv[1] || "");
      });
      hash = hash.slice(0, qi);
    }
    var parts = hash.split("/").filter(Boolean);
    if (parts[0] === "jobs") return { name: "jobs", state: STATES.indexOf(parts[1]) >= 0 ? parts[1] : "ready", type: q.type || "" };
    if (parts[0] === "job" && parts[1]) return { name: "job", id: decodeURIComponent(parts[1]) };
    return { name: "overview" };
  }
  function go() {
    route = parseRoute();
    document.querySelectorAll("nav a").forEach(function (a) {
      a.classList.toggle("active", a.getAttribute("data-nav") === (route.name === "overview" ? "overview" : "jobs"));
    });
    message("");
    render();
  }
  function render() {
    var view = $("view");
    view.textContent = "";
    if (route.name === "overview") renderOverview(view);
    else if (route.name === "jobs") renderJobs(view, true);
    else renderJob(view);
  }

  // ---- overview ------------------------------------------------------------
  function renderHeader() {
    var el = $("broker");
    el.textContent = "";
    if (!overview) return;
    var b = overview.broker;
    append(el, ["broker ", h("b", { text: b.brokerId }), " ",
      h("span", { "class": "badge " + (b.leader ? "leader" : "standby"), text: b.leader ? "leader" : (b.role || "standby") }),
      " epoch ", h("b", { text: b.epoch }), " commit ", h("b", { text: fmtNum(b.commit) })]);
  }
  function stateCount(state) {
    if (!overview) return 0;
    var m = overview.byStateAndType[state] || {};
    return Object.keys(m).reduce(function (s, k) { return s + m[k]; }, 0);
  }
  function rates(key) {
    var out = [];
    for (var i = 1; i < history.length; i++) {
      var a = history[i - 1], b = history[i];
      var dt = (b.t - a.t) / 1000;
      if (dt <= 0) continue;
      out.push([b.t, Math.max(0, (b[key] - a[key]) / dt)]);
    }
    return out;
  }
  function values(key) {
    return history.filter(function (s) { return s[key] !== null && s[key] !== undefined; })
      .map(function (s) { return [s.t, s[key]]; });
  }
  function chart(title, series, unit) {
    var W = 320, H = 120, L = 34, B = 16;
    var svgNS = "http://www.w3.org/2000/svg";
    var svg = document.createElementNS(svgNS, "svg");
    svg.setAttribute("viewBox", "0 0 " + W + " " + H);
    svg.setAttribute("preserveAspectRatio", "none");
    var now = overview ? overview.time : Date.now();
    // The window grows with the history: at least 1 minute, at most 5.
    var span = history.length ? now - history[0].t : 0;
    var windowMs = Math.min(5 * 60000, Math.max(60000, span));
    var t0 = now - windowMs;
    var max = 0;
    series.forEach(function (s) { s.points.forEach(function (p) { if (p[0] >= t0) max = Math.max(max, p[1]); }); });
    if (max <= 0) max = 1;
    var nice = Math.pow(10, Math.floor(Math.log10(max)));
    max = Math.ceil(max / nice) * nice;
    function x(t) { return L + (W - L - 4) * (t - t0) / (now - t0); }
    function y(v) { return 6 + (H - B - 6) * (1 - v / max); }
    [0, 0.5, 1].forEach(function (f) {
      var line = document.createElementNS(svgNS, "line");
      line.setAttribute("x1", L); line.setAttribute("x2", W - 4);
      line.setAttribute("y1", y(max * f)); line.setAttribute("y2", y(max * f));
      line.setAttribute("stroke", "#e4e7ec"); line.setAttribute("stroke-width", "1");
      svg.appendChild(line);
      var label = document.createElementNS(svgNS, "text");
      label.setAttribute("x", L - 4); label.setAttribute("y", y(max * f) + 3);
      label.setAttribute("text-anchor", "end"); label.setAttribute("font-size", "9"); label.setAttribute("fill", "#667085");
      var v = max * f;
      label.textContent = unit === "ms" ? (v >= 1000 ? (v / 1000) + "s" : v + "") : (v >= 1000 ? (v / 1000) + "k" : String(Math.round(v * 100) / 100));
      svg.appendChild(label);
    });
    var ago = function (ms) { return ms >= 60000 ? "-" + Math.round(ms / 6000) / 10 + "m" : "-" + Math.round(ms / 1000) + "s"; };
    [ago(windowMs), ago(windowMs / 2), "now"].forEach(function (text, i) {
      var label = document.createElementNS(svgNS, "text");
      label.setAttribute("x", L + (W - L - 4) * i / 2); label.setAttribute("y", H - 3);
      label.setAttribute("text-anchor", i === 0 ? "start" : i === 1 ? "middle" : "end");
      label.setAttribute("font-size", "9"); label.setAttribute("fill", "#667085");
      label.textContent = text;
      svg.appendChild(label);
    });
    series.forEach(function (s) {
      var pts = s.points.filter(function (p) { return p[0] >= t0; });
      if (pts.length === 0) return;
      var path = document.createElementNS(svgNS, "polyline");
      path.setAttribute("points", pts.map(function (p) { return x(p[0]).toFixed(1) + "," + y(p[1]).toFixed(1); }).join(" "));
      path.setAttribute("fill", "none"); path.setAttribute("stroke", s.color); path.setAttribute("stroke-width", "1.6");
      path.setAttribute("vector-effect", "non-scaling-stroke");
      svg.appendChild(path);
    });
    var legend = h("div", { "class": "legend" }, series.map(function (s) {
      var last = s.points.length ? s.points[s.points.length - 1][1] : null;
      var i = h("i"); i.style.background = s.color;
      return h("span", null, i, s.name + " " + (last === null ? "–" : unit === "ms" ? fmtMs(last) : (Math.round(last * 10) / 10) + (unit || "")));
    }));
    return h("div", { "class": "chart", "data-chart": title }, h("h3", { text: title }), svg, legend);
  }
  function renderOverview(view) {
    if (!overview) { append(view, h("p", { "class": "muted", text: "Loading…" })); return; }
    var st = overview.stats;
    var tiles = [
      ["ready", st.ready], ["delayed", st.delayed], ["active", st.active], ["dead", st.totals.dead, "total"],
      ["completed", st.totals.completed, "total"], ["pushed", st.totals.pushed, "total"], ["failed", st.totals.failed, "total"],
    ];
    append(view, h("div", { "class": "tiles" }, tiles.map(function (t) {
      var href = STATES.indexOf(t[0]) >= 0 ? "#/jobs/" + t[0] : "#/";
      return h("a", { "class": "tile " + t[0], href: href, "data-tile": t[0] },
        h("div", { "class": "n", text: fmtNum(t[1]) }), h("div", { "class": "l", text: t[0] + (t[2] ? " (" + t[2] + ")" : "") }));
    })));
    append(view, h("div", { "class": "charts" },
      chart("Throughput (jobs/s)", [
        { name: "pushed", color: COLORS.pushed, points: rates("pushed") },
        { name: "completed", color: COLORS.completed, points: rates("completed") },
        { name: "failed", color: COLORS.failed, points: rates("failed") }], "/s"),
      chart("Queue depth", [
        { name: "ready", color: COLORS.ready, points: values("ready") },
        { name: "active", color: COLORS.active, points: values("active") },
        { name: "delayed", color: COLORS.delayed, points: values("delayed") }], ""),
      chart("Commits (per s)", [{ name: "commits", color: COLORS.commits, points: rates("commits") }], "/s"),
      chart("Latency (mean per s)", [
        { name: "commit", color: COLORS.commitMs, points: values("commitMs") },
        { name: "store PUT", color: COLORS.putMs, points: values("putMs") }], "ms")));

    var types = {};
    STATES.forEach(function (s) { Object.keys(overview.byStateAndType[s] || {}).forEach(function (t) { types[t] = true; }); });
    var typeRows = Object.keys(types).sort().map(function (t) {
      return h("tr", null, h("td", null, h("a", { href: "#/jobs/ready?type=" + encodeURIComponent(t), text: t })),
        STATES.map(function (s) {
          var n = (overview.byStateAndType[s] || {})[t] || 0;
          return h("td", { "class": "num" }, n ? h("a", { href: "#/jobs/" + s + "?type=" + encodeURIComponent(t), text: fmtNum(n) }) : h("span", { "class": "muted", text: "0" }));
        }));
    });
    var byType = h("div", { "class": "card" }, h("h2", { text: "Jobs by type (in the state)" }),
      h("table", { id: "by-type" }, h("thead", null, h("tr", null, h("th", { text: "type" }), STATES.map(function (s) { return h("th", { "class": "num", text: s }); }))),
        h("tbody", null, typeRows.length ? typeRows : h("tr", null, h("td", { colspan: 7, "class": "muted", text: "no jobs" })))));
    var workers = h("div", { "class": "card" }, h("h2", { text: "Connections (" + overview.connections.length + ")" }),
      h("table", { id: "workers" }, h("thead", null, h("tr", null, ["connection", "worker", "types", "credits", "claims", "running"].map(function (c, i) { return h("th", { "class": i >= 3 ? "num" : null, text: c }); }))),
        h("tbody", null, overview.connections.length ? overview.connections.map(function (c) {
          return h("tr", null, h("td", { "class": "mono", text: c.label }), h("td", { "class": "mono", text: c.workerId || "–" }),
            h("td", { text: c.types ? c.types.join(", ") : (c.workerId ? "all" : "–") }),
            h("td", { "class": "num", text: c.credits }), h("td", { "class": "num", text: c.outstandingClaims }), h("td", { "class": "num", text: c.running }));
        }) : h("tr", null, h("td", { colspan: 6, "class": "muted", text: "no WebSocket connections" })))));
    var lat = overview.latency;
    var c = overview.counters;
    var brokerCard = h("div", { "class": "card" }, h("h2", { text: "Broker" }), h("dl", null,
      h("dt", { text: "broker id" }), h("dd", { "class": "mono", text: overview.broker.brokerId }),
      h("dt", { text: "role" }), h("dd", { text: overview.broker.leader ? "leader" : (overview.broker.role || "standby") }),
      overview.broker.leaderUrl ? [h("dt", { text: "leader URL" }), h("dd", { "class": "mono", text: overview.broker.leaderUrl })] : null,
      h("dt", { text: "epoch / commit" }), h("dd", { text: overview.broker.epoch + " / " + fmtNum(overview.broker.commit) }),
      h("dt", { text: "commits" }), h("dd", { text: fmtNum(c.commits) + " (" + fmtNum(c.committedRequests) + " requests)" }),
      h("dt", { text: "commit latency" }), h("dd", { text: lat.commit.count ? "p50 " + fmtMs(lat.commit.p50) + " · p95 " + fmtMs(lat.commit.p95) + " · p99 " + fmtMs(lat.commit.p99) : "–" }),
      h("dt", { text: "store PUT latency" }), h("dd", { text: lat.put.count ? "p50 " + fmtMs(lat.put.p50) + " · p95 " + fmtMs(lat.put.p95) + " · p99 " + fmtMs(lat.put.p99) : "–" }),
      h("dt", { text: "conflicts / ambiguous" }), h("dd", { text: fmtNum(c.conflicts) + " / " + fmtNum(c.ambiguousWrites) }),
      h("dt", { text: "archive writes" }), h("dd", { text: fmtNum(c.archiveWrites) }),
      h("dt", { text: "state size" }), h("dd", { text: fmtNum(c.stateBytes) + " bytes" })));
    append(view, h("div", { "class": "grid2" }, byType, brokerCard));
    append(view, workers);
  }

  // ---- job lists -----------------------------------------------------------
  function listUrl(l) {
    var q = "?state=" + l.state + "&limit=50";
    if (l.type) q += "&type=" + encodeURIComponent(l.type);
    if (l.source === "archive") return "/v1/archive" + q + (l.cursor ? "&cursor=" + encodeURIComponent(l.cursor) : "");
    return "/v1/jobs" + q + (l.cursor ? "&cursor=" + encodeURIComponent(l.cursor) : "");
  }
  function loadPage(l) {
    return api("GET", listUrl(l)).then(function (page) {
      page.jobs.forEach(function (j) { j.source = l.source; });
      l.jobs = l.jobs.concat(page.jobs);
      if (l.source === "state" && page.total !== undefined) l.total = page.total;
      if (page.next) { l.cursor = page.next; l.more = true; }
      else if (l.source === "state" && FINISHED[l.state]) { l.source = "archive"; l.cursor = ""; l.more = true; }
      else { l.more = false; }
    });
  }
  function fillPage(l) {
    // After the state runs out, fetch archived ones until the page has some.
    return loadPage(l).then(function () {
      if (l.more && l.source === "archive" && l.jobs.length < 50 && !l.archiveTried) { l.archiveTried = true; return loadPage(l); }
    });
  }
  function refreshList() {
    if (route.name !== "jobs") return;
    var l = { state: route.state, type: route.type, source: "state", cursor: "", jobs: [], more: false };
    return fillPage(l).then(function () {
      if (route.name !== "jobs" || route.state !== l.state || route.type !== l.type) return;
      list = l;
      drawList();
    }).catch(function (e) { message(e.message); });
  }
  function act(path, done) {
    return api("POST", path).then(function (r) { message(done(r), true); return refreshList(); })
      .catch(function (e) { message(e.message); });
  }
  function actionButtons(j) {
    var id = encodeURIComponent(j.id);
    var b = [];
    if (j.source === "archive") {
      if (j.state === "completed") return [h("span", { "class": "muted", text: "archived" })];
      return [h("button", { "data-action": "requeue", title: "push a copy of this archived job as a new job", text: "Requeue",
        onclick: function () { act("/v1/archive/" + id + "/requeue", function (r) { return "job " + j.id + " pushed again as job " + r.id + (r.duplicate ? " (already requeued)" : ""); }); } })];
    }
    if (j.state === "dead") b.push(h("button", { "data-action": "retry", text: "Retry", onclick: function () { act("/v1/jobs/" + id + "/retry", function () { return "job " + j.id + " is ready again"; }); } }));
    if (j.state === "delayed") b.push(h("button", { "data-action": "promote", text: "Run now", onclick: function () { act("/v1/jobs/" + id + "/promote", function () { return "job " + j.id + " promoted"; }); } }));
    if (j.state === "ready" || j.state === "delayed" || j.state === "active") b.push(h("button", { "data-action": "cancel", text: "Cancel", onclick: function () { act("/v1/jobs/" + id + "/cancel", function () { return "job " + j.id + " cancelled"; }); } }));
    if (j.state !== "active") b.push(h("button", { "class": "danger", "data-action": "delete", text: "Delete", onclick: function () { if (confirm("Delete job " + j.id + " for good?")) act("/v1/jobs/" + id + "/delete", function () { return "job " + j.id + " deleted"; }); } }));
    return b;
  }
  function renderJobs(view) {
    var tabs = h("div", { "class": "tabs" }, STATES.map(function (s) {
      var n = stateCount(s);
      var href = "#/jobs/" + s + (route.type ? "?type=" + encodeURIComponent(route.type) : "");
      return h("a", { href: href, "class": s === route.state ? "active" : null, "data-state": s }, s, h("span", { "class": "count", text: FINISHED[s] && s !== "dead" ? "" : n }));
    }));
    var types = {};
    if (overview) STATES.forEach(function (s) { Object.keys(overview.byStateAndType[s] || {}).forEach(function (t) { types[t] = true; }); });
    if (route.type) types[route.type] = true;
    var select = h("select", { id: "type-filter", onchange: function (e) {
      location.hash = "#/jobs/" + route.state + (e.target.value ? "?type=" + encodeURIComponent(e.target.value) : "");
    } }, h("option", { value: "", text: "all types" }), Object.keys(types).sort().map(function (t) {
      return h("option", { value: t, text: t, selected: t === route.type });
    }));
    var toolbar = h("div", { "class": "toolbar" }, h("label", { text: "type " }), select);
    if (route.state === "dead") {
      append(toolbar, h("button", { id: "retry-all", "class": "primary", disabled: !route.type, title: route.type ? null : "choose a type first",
        text: route.type ? "Retry all dead " + route.type : "Retry all dead (choose a type)",
        onclick: function () { act("/v1/retry?type=" + encodeURIComponent(route.type), function (r) { return r.retried.length + " job(s) of type " + route.type + " ready again"; }); } }));
    }
    append(view, tabs, toolbar, h("div", { id: "list", "class": "card" }, h("p", { "class": "muted", text: "Loading…" })));
    list = null;
    refreshList();
  }
  function drawList() {
    var box = $("list");
    if (!box || !list) return;
    box.textContent = "";
    var l = list;
    var cols = ["id", "type", "state", "attempts", "priority", l.state === "delayed" ? "runs" : FINISHED[l.state] ? "finished" : "created", l.state === "active" ? "held by" : "last error", ""];
    var rows = l.jobs.map(function (j) {
      var when = l.state === "delayed" ? fmtAgo(j.runAt) : FINISHED[l.state] ? fmtAgo(j.finishedAt) : fmtAgo(j.createdAt);
      return h("tr", { "data-job": j.id },
        h("td", { "class": "mono" }, h("a", { href: "#/job/" + encodeURIComponent(j.id), text: j.id })),
        h("td", { text: j.type }),
        h("td", null, h("span", { "class": "state " + j.state, text: j.state })),
        h("td", { "class": "num", text: j.attempts + "/" + j.maxAttempts }),
        h("td", { "class": "num", text: j.priority }),
        h("td", { text: when }),
        l.state === "active" ? h("td", { "class": "mono", text: j.lease ? j.lease.workerId + " (expires " + fmtAgo(j.lease.expiresAt) + ")" : "–" })
          : h("td", { "class": "err", title: j.lastError || "", text: j.lastError || "" }),
        h("td", null, h("div", { "class": "actions" }, actionButtons(j))));
    });
    append(box, h("table", { id: "jobs" }, h("thead", null, h("tr", null, cols.map(function (c) { return h("th", { "class": c === "attempts" || c === "priority" ? "num" : null, text: c }); }))),
      h("tbody", null, rows.length ? rows : h("tr", null, h("td", { colspan: cols.length, "class": "muted", text: "no " + l.state + " jobs" + (l.type ? " of type " + l.type : "") })))));
    var foot = h("div", { "class": "toolbar" }, h("span", { "class": "muted", text: l.jobs.length + " shown" + (l.total !== undefined ? ", " + l.total + " in the state" : "") + (FINISHED[l.state] ? " (older ones from the archive)" : "") }));
    if (l.more) append(foot, h("button", { id: "more", text: "Load more", onclick: function () { loadPage(l).then(drawList).catch(function (e) { message(e.message); }); } }));
    append(box, foot);
  }

  // ---- job detail ----------------------------------------------------------
  function renderJob(view) {
    var box = h("div", { "class": "card", id: "job" }, h("p", { "class": "muted", text: "Loading…" }));
    append(view, h("p", null, h("a", { href: "#/jobs/ready", text: "← jobs" })), box);
    api("GET", "/ui/api/jobs/" + encodeURIComponent(route.id)).then(function (r) {
      var j = r.job;
      j.source = r.archived ? "archive" : "state";
      box.textContent = "";
      append(box, h("h2", null, "Job ", h("span", { "class": "mono", text: j.id }), " ", h("span", { "class": "state " + j.state, text: j.state }), r.archived ? h("span", { "class": "muted", text: " (archived)" }) : null),
        h("dl", null,
          h("dt", { text: "type" }), h("dd", { text: j.type }),
          h("dt", { text: "attempts" }), h("dd", { text: j.attempts + " of " + j.maxAttempts }),
          h("dt", { text: "priority" }), h("dd", { text: j.priority }),
          h("dt", { text: "created" }), h("dd", { text: fmtTime(j.createdAt) }),
          h("dt", { text: "runs at" }), h("dd", { text: fmtTime(j.runAt) }),
          h("dt", { text: "updated" }), h("dd", { text: fmtTime(j.updatedAt) }),
          j.finishedAt ? [h("dt", { text: "finished" }), h("dd", { text: fmtTime(j.finishedAt) })] : null,
          j.lease ? [h("dt", { text: "held by" }), h("dd", { "class": "mono", id: "lease", text: j.lease.workerId + ", lease expires " + fmtTime(j.lease.expiresAt) })] : null,
          j.idempotencyKey ? [h("dt", { text: "idempotency key" }), h("dd", { "class": "mono", text: j.idempotencyKey })] : null,
          h("dt", { text: "backoff" }), h("dd", { text: j.backoff.type + " from " + fmtMs(j.backoff.delayMs) })),
        j.lastError ? [h("h2", { text: "Last error" }), h("pre", { "class": "error", id: "last-error", text: j.lastError })] : null,
        h("h2", { text: "Payload" }), h("pre", { id: "payload", text: JSON.stringify(j.payload, null, 2) }),
        j.result !== undefined ? [h("h2", { text: "Result" }), h("pre", { text: JSON.stringify(j.result, null, 2) })] : null,
        h("div", { "class": "toolbar" }, actionButtons(j)));
    }).catch(function (e) { box.textContent = ""; append(box, h("p", { "class": "message", text: e.message })); });
  }

  // ---- live updates --------------------------------------------------------
  function setLive(on) {
    var el = $("live");
    el.className = "live " + (on ? "on" : "off");
    el.textContent = on ? "live" : "offline";
  }
  function onOverview(data, initial) {
    overview = data;
    if (initial && data.history) history = data.history;
    if (data.sample) { history.push(data.sample); if (history.length > 900) history.shift(); }
    renderHeader();
    if (route.name === "overview") render();
    else if (route.name === "jobs") {
      document.querySelectorAll(".tabs a").forEach(function (a) {
        var s = a.getAttribute("data-state");
        var c = a.querySelector(".count");
        if (c && !(FINISHED[s] && s !== "dead")) c.textContent = stateCount(s);
      });
      if (data.broker.commit !== lastCommit && list && list.jobs.length <= 50) refreshList();
    }
    lastCommit = data.broker.commit;
  }
  function connect() {
    if (stream) stream.abort();
    var ctrl = new AbortController();
    stream = ctrl;
    fetch("/ui/api/events", { headers: headers(), signal: ctrl.signal }).then(function (res) {
      if (res.status === 401) { showLogin(); setLive(false); return; }
      if (!res.ok || !res.body) throw new Error("HTTP " + res.status);
      setLive(true);
      var reader = res.body.getReader();
      var decoder = new TextDecoder();
      var buffer = "";
      function pump() {
        return reader.read().then(function (r) {
          if (r.done) throw new Error("stream ended");
          buffer += decoder.decode(r.value, { stream: true });
          var at;
          while ((at = buffer.indexOf("\n\n")) >= 0) {
            var chunk = buffer.slice(0, at);
            buffer = buffer.slice(at + 2);
            var event = "message", data = "";
            chunk.split("\n").forEach(function (line) {
              if (line.indexOf("event: ") === 0) event = line.slice(7);
              else if (line.indexOf("data: ") === 0) data += line.slice(6);
            });
            if (data) onOverview(JSON.parse(data), event === "overview");
          }
          return pump();
        });
      }
      return pump();
    }).catch(function () {
      if (ctrl.signal.aborted) return;
      setLive(false);
      setTimeout(connect, 2000);
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    var m = /token=([^&]+)/.exec(location.hash);
    if (m) { sessionStorage.setItem("osqueue-token", decodeURIComponent(m[1])); location.hash = "#/"; }
    $("login-form").addEventListener("submit", function (e) {
      e.preventDefault();
      sessionStorage.setItem("osqueue-token", $("token").value);
      $("login").classList.add("hidden");
      $("view").classList.remove("hidden");
      connect();
      go();
    });
    window.addEventListener("hashchange", go);
    go();
    connect();
  });
})();
`;
