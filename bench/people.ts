// What people cost: a login (argon2id hashing, on purpose slow), and a request authenticated by
// the session cookie or a personal API token (one database lookup each) against the same
// request with the admin token (a digest compared in memory). PostgreSQL, loopback, wrk.
import { ADMIN, median, requireTool, runAlone, startVxman, table, wrk } from "./lib.ts";

const SECONDS = Number(process.env.BENCH_SECONDS ?? 8);
const PASSWORD = "a-measured-passphrase";

async function timed(n: number, fn: () => Promise<unknown>): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    await fn();
    out.push(performance.now() - t0);
  }
  return out;
}

const p90 = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length * 0.9)]!;

export async function runPeopleBench(): Promise<string> {
  requireTool("wrk", "apt-get install wrk");
  const server = await startVxman("postgres");
  try {
    const admin = { authorization: `Bearer ${ADMIN}`, "content-type": "application/json" };
    const post = (path: string, body: unknown, headers: Record<string, string> = { "content-type": "application/json" }) =>
      fetch(`${server.base}${path}`, { method: "POST", headers, body: JSON.stringify(body) });
    const made = await post("/api/users", { username: "bench", role: "admin", password: PASSWORD }, admin);
    if (made.status !== 201) throw new Error(`adding the bench user: ${made.status} ${await made.text()}`);

    const hash = await timed(10, () => Bun.password.hash(PASSWORD, { algorithm: "argon2id" }));
    const stored = await Bun.password.hash(PASSWORD, { algorithm: "argon2id" });
    const verify = await timed(10, () => Bun.password.verify(PASSWORD, stored));
    let cookie = "";
    const logins = await timed(20, async () => {
      const res = await post("/api/session", { username: "bench", password: PASSWORD });
      cookie = res.headers.get("set-cookie")!.split(";")[0]!;
    });
    const token = (await (await post("/api/tokens", { name: "bench" }, { cookie, "content-type": "application/json" })).json()).token as string;

    const rows: (string | number)[][] = [
      ["argon2id hash (Bun.password, in the bench process)", median(hash), p90(hash), ""],
      ["argon2id verify", median(verify), p90(verify), ""],
      ["POST /api/session (a login, over HTTP)", median(logins), p90(logins), "20 in a row"],
    ];
    const get = (header: string) => `request = function() return wrk.format("GET", "/api/machines?limit=1", {${header}}) end`;
    const kinds: [string, string][] = [
      ["admin token (in memory)", `["Authorization"] = "Bearer ${ADMIN}"`],
      ["personal API token (database)", `["Authorization"] = "Bearer ${token}"`],
      ["session cookie (database)", `["Cookie"] = "${cookie}"`],
    ];
    const results: { kind: string; rps: number; p50: number; p99: number; errors: number }[] = [];
    for (const [kind, header] of kinds) {
      const r = await wrk(server.base, get(header), { connections: 16, seconds: SECONDS });
      results.push({ kind, rps: r.rps, p50: r.p50, p99: r.p99, errors: r.errors + r.non2xx });
    }
    const base = results[0]!.rps;
    const auth = results.map((r) => [r.kind, r.rps, r.p50, r.p99, r.errors, `${(r.rps / base).toFixed(2)}× the admin token's rate`]);
    return [
      table("A login (milliseconds)", ["what", "median ms", "p90 ms", "note"], rows),
      table(`GET /api/machines?limit=1 by how it is authenticated (wrk, 16 connections, ${SECONDS} s, PostgreSQL)`, ["authenticated by", "req/s", "p50 ms", "p99 ms", "errors", "vs admin token"], auth),
    ].join("\n");
  } finally {
    await server.stop();
  }
}

if (import.meta.main) await runAlone(runPeopleBench);
