/**
 * The dashboard's stylesheet (served at `/ui/app.css`).
 *
 * @module
 */

/** The styles. */
export const APP_CSS: string = `
:root { --bg:#f6f7f9; --card:#fff; --ink:#1d2330; --muted:#667085; --line:#e4e7ec;
  --accent:#3457d5; --ok:#12805c; --warn:#b54708; --bad:#c01048; --mono: ui-monospace, SFMono-Regular, Menlo, monospace; }
* { box-sizing: border-box; }
body { margin:0; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; background:var(--bg); color:var(--ink); }
header { display:flex; align-items:center; gap:20px; padding:10px 20px; background:#111827; color:#e5e7eb; }
header a { color:#e5e7eb; text-decoration:none; }
.brand { font-weight:700; font-size:17px; letter-spacing:.3px; }
nav { display:flex; gap:4px; }
nav a { padding:5px 10px; border-radius:6px; }
nav a.active, nav a:hover { background:#374151; }
.broker { margin-left:auto; font-size:13px; color:#cbd5e1; }
.broker b { color:#fff; }
.badge { display:inline-block; padding:1px 7px; border-radius:10px; font-size:12px; background:#e0e7ff; color:#3730a3; }
.badge.leader { background:#d1fadf; color:#05603a; }
.badge.standby { background:#fef0c7; color:#93370d; }
.live { font-size:12px; padding:2px 8px; border-radius:10px; background:#374151; }
.live.on { background:#05603a; color:#d1fadf; }
.live.off { background:#7a271a; color:#fee4e2; }
main { padding:18px 20px; max-width:1280px; margin:0 auto; }
h2 { font-size:15px; margin:0 0 10px; }
.card { background:var(--card); border:1px solid var(--line); border-radius:10px; padding:14px 16px; margin-bottom:16px; }
.hidden { display:none !important; }
.message { padding:10px 14px; border-radius:8px; margin-bottom:14px; background:#fef3f2; color:var(--bad); border:1px solid #fecdca; }
.message.info { background:#ecfdf3; color:var(--ok); border-color:#abefc6; }
.tiles { display:grid; grid-template-columns:repeat(auto-fit, minmax(130px, 1fr)); gap:12px; margin-bottom:16px; }
.tile { background:var(--card); border:1px solid var(--line); border-radius:10px; padding:10px 14px; text-decoration:none; color:inherit; }
.tile .n { font-size:24px; font-weight:650; font-variant-numeric: tabular-nums; }
.tile .l { color:var(--muted); font-size:12px; text-transform:uppercase; letter-spacing:.4px; }
.tile.dead .n { color:var(--bad); }
.tile.active .n { color:var(--accent); }
.charts { display:grid; grid-template-columns:repeat(auto-fit, minmax(300px, 1fr)); gap:12px; margin-bottom:16px; }
.chart { background:var(--card); border:1px solid var(--line); border-radius:10px; padding:10px 12px; }
.chart h3 { margin:0 0 4px; font-size:13px; font-weight:600; }
.chart svg { width:100%; height:120px; display:block; }
.legend { display:flex; gap:10px; font-size:12px; color:var(--muted); flex-wrap:wrap; }
.legend i { display:inline-block; width:10px; height:3px; margin-right:4px; vertical-align:middle; }
.grid2 { display:grid; grid-template-columns:repeat(auto-fit, minmax(420px, 1fr)); gap:16px; }
table { width:100%; border-collapse:collapse; font-size:13px; }
th { text-align:left; color:var(--muted); font-weight:600; font-size:12px; border-bottom:1px solid var(--line); padding:6px 8px; }
td { border-bottom:1px solid var(--line); padding:6px 8px; vertical-align:top; }
td.num, th.num { text-align:right; font-variant-numeric: tabular-nums; }
tr:last-child td { border-bottom:none; }
td.mono, .mono { font-family:var(--mono); font-size:12px; }
td.err { color:var(--bad); max-width:380px; overflow:hidden; text-overflow:ellipsis; white-space:nowrap; }
.muted { color:var(--muted); }
.tabs { display:flex; gap:6px; flex-wrap:wrap; margin-bottom:12px; align-items:center; }
.tabs a { padding:5px 12px; border-radius:16px; border:1px solid var(--line); background:var(--card); color:var(--ink); text-decoration:none; }
.tabs a.active { background:var(--accent); color:#fff; border-color:var(--accent); }
.tabs .count { font-size:11px; opacity:.8; margin-left:4px; }
.toolbar { display:flex; gap:8px; align-items:center; margin-bottom:10px; flex-wrap:wrap; }
select, input, button { font:inherit; }
select, input { padding:5px 8px; border:1px solid var(--line); border-radius:6px; background:#fff; }
button { padding:4px 10px; border-radius:6px; border:1px solid var(--line); background:#fff; cursor:pointer; }
button:hover { border-color:var(--accent); color:var(--accent); }
button.danger:hover { border-color:var(--bad); color:var(--bad); }
button.primary { background:var(--accent); color:#fff; border-color:var(--accent); }
button:disabled { opacity:.55; cursor:default; }
.actions { display:flex; gap:4px; }
.state { display:inline-block; padding:0 7px; border-radius:9px; font-size:12px; background:#f2f4f7; }
.state.dead { background:#fee4e2; color:#b42318; }
.state.completed { background:#d1fadf; color:#05603a; }
.state.active { background:#e0e7ff; color:#3730a3; }
.state.delayed { background:#fef0c7; color:#93370d; }
.state.cancelled { background:#f2f4f7; color:#475467; }
pre { background:#0f172a; color:#e2e8f0; padding:10px 12px; border-radius:8px; overflow:auto; font-family:var(--mono); font-size:12px; margin:0; max-height:420px; }
pre.error { background:#fef3f2; color:#912018; white-space:pre-wrap; }
dl { display:grid; grid-template-columns:160px 1fr; gap:6px 12px; margin:0; }
dt { color:var(--muted); }
dd { margin:0; }
a { color:var(--accent); }
`;
