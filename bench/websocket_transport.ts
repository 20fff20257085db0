/**
 * Round trips of the two WebSocket clients a Deno process can use against a
 * Deno.serve echo server: Deno's built-in `WebSocket` (Nagle's algorithm on)
 * and {@linkcode TcpWebSocket} (Nagle off). Per case, p50 / p90 ms of one
 * 200-byte message, one 2 KiB message, and ten 200-byte messages sent in one
 * turn (answered once all ten arrived).
 *
 * ```sh
 * deno run -A bench/websocket_transport.ts [ROUNDS]
 * ```
 *
 * @module
 */
import { TcpWebSocket } from "../worker/tcp_websocket.ts";

const rounds = Number(Deno.args[0] ?? 40);

const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, (req) => {
  const { socket, response } = Deno.upgradeWebSocket(req);
  let seen = 0;
  socket.onmessage = (event) => {
    const [count] = String(event.data).split(":", 1);
    if (++seen >= Number(count)) {
      seen = 0;
      socket.send("ok");
    }
  };
  return response;
});
const url = `ws://127.0.0.1:${(server.addr as Deno.NetAddr).port}/ws`;

async function measure(ws: WebSocket, messages: number, bytes: number): Promise<string> {
  const text = `${messages}:`.padEnd(bytes, "x");
  const times: number[] = [];
  for (let i = 0; i < rounds; i++) {
    const reply = new Promise((resolve) => ws.addEventListener("message", resolve, { once: true }));
    const started = performance.now();
    for (let m = 0; m < messages; m++) ws.send(text);
    await reply;
    times.push(performance.now() - started);
  }
  times.sort((a, b) => a - b);
  const at = (q: number) => times[Math.min(times.length - 1, Math.floor(q * times.length))];
  return `${at(0.5).toFixed(2)} / ${at(0.9).toFixed(2)}`;
}

console.log(`${rounds} round trips per case, p50 / p90 ms\n`);
console.log("| client | 1 × 200 B | 1 × 2 KiB | 10 × 200 B in one turn |");
console.log("| --- | --- | --- | --- |");
for (
  const [name, Socket] of [["Deno WebSocket", WebSocket], ["TcpWebSocket", TcpWebSocket]] as const
) {
  const ws: WebSocket = new Socket(url);
  await new Promise((resolve) => ws.addEventListener("open", resolve, { once: true }));
  const cells = [await measure(ws, 1, 200), await measure(ws, 1, 2048), await measure(ws, 10, 200)];
  console.log(`| ${name} | ${cells.join(" | ")} |`);
  const closed = new Promise((resolve) => ws.addEventListener("close", resolve, { once: true }));
  ws.close();
  await closed;
}
await server.shutdown();
