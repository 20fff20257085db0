/**
 * The dashboard's job views: lists by state (with archived finished jobs) and one job's detail, with its actions.
 * A piece of the dashboard script (see `app_js.ts`, which joins the pieces
 * inside one function scope): plain ES5-style DOM code, kept free of
 * backticks and dollar-brace so it can live in this raw template string.
 *
 * @module
 */

/** This piece of the script. */
export const JOBS_JS: string = String
  .raw`  // ---- job lists -----------------------------------------------------------
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

`;
