/**
 * The dashboard's HTML shell (served at `/ui`). It holds no data: the script
 * fetches everything from `/ui/api` and `/v1` with the API token.
 *
 * @module
 */

/** The page. */
export const INDEX_HTML: string = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>osqueue</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="/ui/app.css">
<script src="/ui/app.js" defer></script>
</head>
<body>
<header>
  <a class="brand" href="#/">osqueue</a>
  <nav>
    <a href="#/" data-nav="overview">Overview</a>
    <a href="#/jobs/ready" data-nav="jobs">Jobs</a>
  </nav>
  <div id="broker" class="broker"></div>
  <div id="live" class="live off" title="live updates">offline</div>
</header>
<main>
  <section id="login" class="card hidden">
    <h2>Token required</h2>
    <p>This broker needs its API token (the broker's <code>--token</code> / <code>OSQUEUE_TOKEN</code>).
    It is kept in this tab only.</p>
    <form id="login-form"><input id="token" type="password" autocomplete="off" placeholder="token">
    <button type="submit">Open</button></form>
  </section>
  <div id="message" class="message hidden"></div>
  <section id="view"></section>
</main>
</body>
</html>
`;
