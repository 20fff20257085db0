/**
 * What the benchmarks ran on: core count, CPU model, memory, load, Deno and
 * V8 versions.
 *
 * @module
 */

/** A description of the machine a benchmark ran on. */
export interface MachineInfo {
  /** Logical CPUs (`nproc`). */
  cpus: number;
  /** The CPU model from `/proc/cpuinfo`, or `unknown`. */
  cpuModel: string;
  /** Total memory in bytes, when known. */
  memoryBytes?: number;
  /** 1-minute load average at the start, when known. */
  load1?: number;
  /** Operating system and kernel, e.g. `linux 6.1.0`. */
  os: string;
  /** Deno's version. */
  deno: string;
  /** V8's version. */
  v8: string;
}

/** Reads the machine's description (never throws; unknown fields are left out or `unknown`). */
export function machineInfo(): MachineInfo {
  let cpuModel = "unknown";
  try {
    const cpuinfo = Deno.readTextFileSync("/proc/cpuinfo");
    const match = cpuinfo.match(/^model name\s*:\s*(.+)$/m) ??
      cpuinfo.match(/^Hardware\s*:\s*(.+)$/m);
    if (match) cpuModel = match[1].trim();
  } catch {
    // not Linux, or no permission
  }
  const info: MachineInfo = {
    cpus: navigator.hardwareConcurrency,
    cpuModel,
    os: `${Deno.build.os} ${safe(() => Deno.osRelease())}`,
    deno: Deno.version.deno,
    v8: Deno.version.v8,
  };
  const memory = safe(() => Deno.systemMemoryInfo().total);
  if (typeof memory === "number") info.memoryBytes = memory;
  const load = safe(() => Deno.loadavg()[0]);
  if (typeof load === "number") info.load1 = load;
  return info;
}

/** One markdown line describing `info`. */
export function describeMachine(info: MachineInfo): string {
  const parts = [
    `nproc ${info.cpus}`,
    `CPU ${info.cpuModel}`,
    info.memoryBytes === undefined
      ? undefined
      : `RAM ${(info.memoryBytes / 2 ** 30).toFixed(1)} GiB`,
    info.os,
    `deno ${info.deno} (V8 ${info.v8})`,
    info.load1 === undefined ? undefined : `load average at start ${info.load1.toFixed(2)}`,
  ];
  return parts.filter((part) => part !== undefined).join(", ");
}

function safe<T>(fn: () => T): T | string {
  try {
    return fn();
  } catch {
    return "unknown";
  }
}
