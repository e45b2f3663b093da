// Several compiled vxman processes on one PostgreSQL database, as an operator runs them behind a
// load balancer: the cluster tests and the cluster benchmark start them here.
import { ADMIN_TOKEN, machineBody } from "./app.ts";
import { serveBinary, type ServedBinary, type ServeOptions } from "./binary.ts";

export interface Instance {
  binary: ServedBinary;
  base: string;
  /** Its id (GET /health), as the instances table and the leases name it. */
  id: string;
}

export const admin = { authorization: `Bearer ${ADMIN_TOKEN}` };

/** Instances on one database share the key that seals secrets (docs/cluster.md): this one, for tests. */
export const SHARED_SECRET_KEY = Buffer.alloc(32, 9).toString("base64");

/** Start one instance of the binary on `databaseUrl`; resolves once it serves. */
export async function startInstance(databaseUrl: string, env: Record<string, string> = {}, opts: ServeOptions = {}): Promise<Instance> {
  const binary = await serveBinary({ DATABASE_URL: databaseUrl, ADMIN_TOKEN, SECRET_KEY: SHARED_SECRET_KEY, RATE_LIMIT: "0", LOG_LEVEL: "info", ...env }, opts);
  const base = binary.base;
  const health = (await (await fetch(`${base}/health`)).json()) as { instance: { id: string } };
  return { binary, base, id: health.instance.id };
}

/** `n` instances, started one after the other (as a rolling deploy would). */
export async function startInstances(n: number, databaseUrl: string, env: Record<string, string> = {}): Promise<Instance[]> {
  const started: Instance[] = [];
  try {
    for (let i = 0; i < n; i++) started.push(await startInstance(databaseUrl, env));
    return started;
  } catch (err) {
    await stopInstances(started);
    throw err;
  }
}

export async function stopInstances(instances: Instance[]): Promise<void> {
  await Promise.all(instances.map((i) => i.binary.stop().catch(() => {})));
}

/** Fetch JSON with the admin token. */
export async function call<T = unknown>(base: string, method: string, path: string, body?: unknown): Promise<{ status: number; body: T }> {
  const res = await fetch(`${base}${path}`, {
    method,
    headers: { ...admin, ...(body === undefined ? {} : { "content-type": "application/json" }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, body: (text ? JSON.parse(text) : null) as T };
}

/** Register every address, spread round-robin over the instances, `parallel` requests at a time. */
export async function registerSpread(instances: Instance[], ips: string[], parallel = 50): Promise<number[]> {
  const statuses: number[] = new Array(ips.length);
  let next = 0;
  const worker = async () => {
    for (let i = next++; i < ips.length; i = next++) {
      const base = instances[i % instances.length]!.base;
      statuses[i] = (await call(base, "PUT", `/api/machines/${ips[i]}`, machineBody(i))).status;
    }
  };
  await Promise.all(Array.from({ length: Math.min(parallel, ips.length) }, worker));
  return statuses;
}

export interface InstanceView {
  id: string;
  state: "live" | "dead" | "stopped";
  leases_held: number;
  machines_watched: number;
  this_instance: boolean;
}

/** GET /api/instances from one of them. */
export async function instancesSeenBy(base: string): Promise<InstanceView[]> {
  return (await call<{ items: InstanceView[] }>(base, "GET", "/api/instances")).body.items;
}
