// Temporary CPU-profiling wrapper (not committed).
import { Session } from "node:inspector";
const s = new Session();
s.connect();
const out = Deno.env.get("PROF_OUT") ?? "/tmp/profw/broker.cpuprofile";
s.post("Profiler.enable");
s.post("Profiler.setSamplingInterval", { interval: 200 });
s.post("Profiler.start");
let done = false;
function stop() {
  if (done) return;
  done = true;
  // deno-lint-ignore no-explicit-any
  s.post("Profiler.stop", (e: unknown, r: any) => {
    if (!e) Deno.writeTextFileSync(out, JSON.stringify(r.profile));
  });
}
globalThis.addEventListener("unload", stop);
setTimeout(stop, Number(Deno.env.get("PROF_SECONDS") ?? 8) * 1000);
const { main } = await import("./main.ts");
const code = await main(Deno.args);
stop();
Deno.exit(code);
