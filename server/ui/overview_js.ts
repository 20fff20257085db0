/**
 * The dashboard's overview view: counts, charts of the history samples, workers, leadership.
 * A piece of the dashboard script (see `app_js.ts`, which joins the pieces
 * inside one function scope): plain ES5-style DOM code, kept free of
 * backticks and dollar-brace so it can live in this raw template string.
 *
 * @module
 */

/** This piece of the script. */
export const OVERVIEW_JS: string = String
  .raw`  // ---- overview ------------------------------------------------------------
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

`;
