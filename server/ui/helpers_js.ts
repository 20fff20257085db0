/**
 * The dashboard's helpers: DOM building, the API with the token, number and time formats, messages.
 * A piece of the dashboard script (see `app_js.ts`, which joins the pieces
 * inside one function scope): plain ES5-style DOM code, kept free of
 * backticks and dollar-brace so it can live in this raw template string.
 *
 * @module
 */

/** This piece of the script. */
export const HELPERS_JS: string = String
  .raw`  // ---- helpers -------------------------------------------------------------
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

`;
