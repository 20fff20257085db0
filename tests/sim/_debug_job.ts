import { runSimulation } from "./simulation.ts";
import { StoreWorld } from "./sim_store.ts";
const [seed, id] = [Number(Deno.args[0]), Deno.args[1]];
let world: StoreWorld | undefined;
const origPut = StoreWorld.prototype.put;
StoreWorld.prototype.put = function (...args) { world = this; return origPut.apply(this, args); };
const r = await runSimulation({ seed });
console.log(r.failure);
for (const rec of world!.records) {
  const hits: string[] = [];
  if (rec.effects.add.some((j) => j.id === id)) hits.push("add:" + JSON.stringify(rec.effects.add.find((j) => j.id === id)));
  if (rec.effects.set.some((j) => j.id === id)) hits.push("set:" + JSON.stringify(rec.effects.set.find((j) => j.id === id)));
  if (rec.effects.del.includes(id)) hits.push("del");
  if (rec.archived.includes(id)) hits.push("archived");
  if (hits.length) console.log(`seq ${rec.seq} epoch ${rec.epoch} ${rec.node} t=${(rec.landedAt - Date.UTC(2026,0,1))/1000} ${hits.join(" ")}`);
}
const head = await world!.inner.get("queue.json");
console.log(new TextDecoder().decode(head!.body));
for (const k of await world!.inner.list("")) if (!k.startsWith("log/")) console.log(k);
