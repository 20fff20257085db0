import assert from "node:assert/strict";
import { TcpWebSocket } from "./tcp_websocket.ts";

/** A Deno.serve WebSocket server; `onSocket` gets each server-side socket. */
function serve(onSocket: (socket: WebSocket) => void) {
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, (req) => {
    const { socket, response } = Deno.upgradeWebSocket(req);
    onSocket(socket);
    return response;
  });
  const { port } = server.addr as Deno.NetAddr;
  return { url: `ws://127.0.0.1:${port}/ws`, server };
}

function opened(ws: WebSocket): Promise<void> {
  return new Promise((resolve, reject) => {
    ws.addEventListener("open", () => resolve(), { once: true });
    ws.addEventListener("close", () => reject(new Error("closed before open")), { once: true });
  });
}

function closed(ws: WebSocket): Promise<CloseEvent> {
  return new Promise((resolve) => ws.addEventListener("close", (e) => resolve(e as CloseEvent)));
}

Deno.test("TcpWebSocket: text and binary messages of every length encoding go both ways in order", async () => {
  const { url, server } = serve((socket) => {
    socket.binaryType = "arraybuffer";
    socket.onmessage = (event) => socket.send(event.data);
  });
  const ws = new TcpWebSocket(url);
  ws.binaryType = "arraybuffer";
  assert.throws(() => ws.send("too early"), { name: "InvalidStateError" });
  await opened(ws);
  const received: (string | ArrayBuffer)[] = [];
  ws.onmessage = (event) => received.push(event.data);
  const texts = ["héllo ✓", "x".repeat(300), "y".repeat(100_000)];
  for (const text of texts) ws.send(text); // one turn: one write
  ws.send(new Uint8Array([1, 2, 3]));
  while (received.length < 4) await new Promise((resolve) => setTimeout(resolve, 5));
  assert.deepEqual(received.slice(0, 3), texts);
  assert.deepEqual([...new Uint8Array(received[3] as ArrayBuffer)], [1, 2, 3]);
  const done = closed(ws);
  ws.close(4001, "bye");
  assert.equal(ws.readyState, TcpWebSocket.CLOSING);
  const event = await done;
  assert.deepEqual([event.code, event.reason, event.wasClean], [4001, "bye", true]);
  assert.equal(ws.readyState, TcpWebSocket.CLOSED);
  await server.shutdown();
});

Deno.test("TcpWebSocket: a close from the server is answered and reported with its code", async () => {
  let serverSide: WebSocket | undefined;
  const { url, server } = serve((socket) => (serverSide = socket));
  const ws = new TcpWebSocket(url);
  await opened(ws);
  const serverClosed = new Promise<CloseEvent>((resolve) =>
    serverSide!.addEventListener("close", (e) => resolve(e as CloseEvent))
  );
  const done = closed(ws);
  serverSide!.close(4002, "done");
  const event = await done;
  assert.deepEqual([event.code, event.reason, event.wasClean], [4002, "done", true]);
  assert.equal((await serverClosed).code, 4002, "the client echoed the close");
  await server.shutdown();
});

Deno.test("TcpWebSocket: refused connections and refused handshakes fail with error then close 1006", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr as Deno.NetAddr;
  listener.close();
  const refused = new TcpWebSocket(`ws://127.0.0.1:${port}/ws`);
  const events: string[] = [];
  refused.onerror = () => events.push("error");
  const refusedClose = await closed(refused);
  assert.deepEqual([events, refusedClose.code, refusedClose.wasClean], [["error"], 1006, false]);
  const http = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen: () => {} },
    () => new Response("no", { status: 403 }),
  );
  const ws = new TcpWebSocket(`ws://127.0.0.1:${(http.addr as Deno.NetAddr).port}/ws`);
  let errored = false;
  ws.addEventListener("error", () => (errored = true));
  const event = await closed(ws);
  assert.equal(event.code, 1006);
  assert.ok(errored);
  await http.shutdown();
  assert.throws(() => new TcpWebSocket("ftp://h/"), { name: "SyntaxError" });
});

/** A raw TCP server that completes the handshake and hands the connection to `run`. */
function rawServer(run: (conn: Deno.Conn, read: () => Promise<Uint8Array>) => Promise<void>) {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr as Deno.NetAddr;
  const done = (async () => {
    const conn = await listener.accept();
    listener.close();
    const buffer = new Uint8Array(64 * 1024);
    const read = async () => {
      const n = await conn.read(buffer);
      return buffer.slice(0, n ?? 0);
    };
    const head = new TextDecoder().decode(await read());
    const key = /Sec-WebSocket-Key: (.*)\r\n/.exec(head)![1];
    const digest = await crypto.subtle.digest(
      "SHA-1",
      new TextEncoder().encode(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"),
    );
    const accept = btoa(String.fromCharCode(...new Uint8Array(digest)));
    await conn.write(
      new TextEncoder().encode(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
          `Sec-WebSocket-Accept: ${accept}\r\n\r\n`,
      ),
    );
    await run(conn, read);
  })();
  return { url: `ws://127.0.0.1:${port}/`, done };
}

/** Unmasks a client frame (assumes a payload under 126 bytes). */
function unmask(frame: Uint8Array): { opcode: number; payload: Uint8Array } {
  assert.ok((frame[1] & 0x80) !== 0, "client frames are masked");
  const length = frame[1] & 0x7f;
  const mask = frame.subarray(2, 6);
  const payload = frame.slice(6, 6 + length).map((byte, i) => byte ^ mask[i & 3]);
  return { opcode: frame[0] & 0x0f, payload };
}

Deno.test("TcpWebSocket: answers pings, joins fragments, and fails a masked server frame with 1002", async () => {
  const { url, done } = rawServer(async (conn, read) => {
    await conn.write(new Uint8Array([0x89, 2, 0x68, 0x69])); // ping "hi"
    const pong = unmask(await read());
    assert.deepEqual([pong.opcode, new TextDecoder().decode(pong.payload)], [10, "hi"]);
    // "ab" + "cd" as two fragments, then a masked frame (forbidden from a server).
    await conn.write(new Uint8Array([0x01, 2, 0x61, 0x62, 0x80, 2, 0x63, 0x64]));
    await conn.write(new Uint8Array([0x81, 0x81, 0, 0, 0, 0, 0x7a]));
    const close = unmask(await read());
    assert.equal(close.opcode, 8);
    assert.equal((close.payload[0] << 8) | close.payload[1], 1002);
    conn.close();
  });
  const ws = new TcpWebSocket(url);
  const messages: string[] = [];
  ws.onmessage = (event) => messages.push(event.data);
  const event = await closed(ws);
  await done;
  assert.deepEqual(messages, ["abcd"]);
  assert.deepEqual([event.code, event.wasClean], [1002, false]);
});

/** Runs `openssl` with `args` in `dir`; fails the test with its message when it fails. */
async function openssl(dir: string, args: string[]): Promise<void> {
  const output = await new Deno.Command("openssl", {
    args,
    cwd: dir,
    stdout: "null",
    stderr: "piped",
  })
    .output();
  assert.ok(
    output.success,
    `openssl ${args[0]} failed: ${new TextDecoder().decode(output.stderr)}`,
  );
}

/** A test CA and a certificate it signed for localhost and 127.0.0.1, made with `openssl`. */
async function testCertificates(dir: string): Promise<{ ca: string; cert: string; key: string }> {
  const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
  await openssl(dir, [
    "req",
    "-x509",
    ...ec,
    "-days",
    "1",
    "-subj",
    "/CN=osqueue test CA",
    "-keyout",
    "ca.key",
    "-out",
    "ca.pem",
  ]);
  await openssl(dir, [
    "req",
    ...ec,
    "-subj",
    "/CN=localhost",
    "-keyout",
    "key.pem",
    "-out",
    "req.csr",
  ]);
  await Deno.writeTextFile(
    `${dir}/ext.cnf`,
    "basicConstraints=CA:FALSE\nsubjectAltName=DNS:localhost,IP:127.0.0.1\n",
  );
  await openssl(dir, [
    "x509",
    "-req",
    "-in",
    "req.csr",
    "-CA",
    "ca.pem",
    "-CAkey",
    "ca.key",
    "-CAcreateserial",
    "-days",
    "1",
    "-extfile",
    "ext.cnf",
    "-out",
    "cert.pem",
  ]);
  const read = (name: string) => Deno.readTextFile(`${dir}/${name}`);
  return { ca: await read("ca.pem"), cert: await read("cert.pem"), key: await read("key.pem") };
}

Deno.test("TcpWebSocket: wss: goes through TLS, trusting the given CA certificates", async () => {
  const dir = await Deno.makeTempDir();
  const { ca, cert, key } = await testCertificates(dir);
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, cert, key, onListen: () => {} },
    (req) => {
      const { socket, response } = Deno.upgradeWebSocket(req);
      socket.onmessage = (event) => socket.send(`tls:${event.data}`);
      return response;
    },
  );
  const { port } = server.addr as Deno.NetAddr;
  try {
    // Not trusted without the CA.
    const untrusted = new TcpWebSocket(`wss://localhost:${port}/ws`);
    assert.equal((await closed(untrusted)).code, 1006);

    const ws = new TcpWebSocket(`wss://localhost:${port}/ws`, { caCerts: [ca] });
    await opened(ws);
    const reply = new Promise<string>((resolve) => (ws.onmessage = (e) => resolve(e.data)));
    ws.send("hi");
    assert.equal(await reply, "tls:hi");
    assert.throws(() => ws.send(new Blob(["x"])), TypeError);
    const done = closed(ws);
    ws.close();
    assert.equal((await done).wasClean, true);
  } finally {
    await server.shutdown();
    await Deno.remove(dir, { recursive: true });
  }
});
