/**
 * The dashboard script (served at `/ui/app.js`): hash routes for the overview,
 * job lists by state and job detail; data from `/ui/api` and `/v1` with the
 * API token; live updates from the `/ui/api/events` stream. Plain ES5-style
 * DOM code, no framework, no build step. (Kept free of backticks and dollar-brace
 * so it can live in this raw template string.)
 *
 * The views live in their own pieces (`helpers_js.ts`, `overview_js.ts`,
 * `jobs_js.ts`); this module holds the state, routing and live updates, and
 * joins the pieces inside the one function scope they share.
 *
 * @module
 */
import { HELPERS_JS } from "./helpers_js.ts";
import { JOBS_JS } from "./jobs_js.ts";
import { OVERVIEW_JS } from "./overview_js.ts";

/** The head of the script: its state. */
const HEAD = String.raw`"use strict";
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

`;

/** Routing between the views. */
const ROUTING = String
  .raw`  // ---- routing -------------------------------------------------------------
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

`;

/** Live updates from the event stream, and start-up. */
const LIVE = String
  .raw`  // ---- live updates --------------------------------------------------------
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

/** The script. */
export const APP_JS: string = HEAD + HELPERS_JS + ROUTING + OVERVIEW_JS + JOBS_JS + LIVE;
