// WebSocket fan-out: 200 dashboards on one vxman (the compiled binary), and the time from a
// change (a real HTTP PUT) to the moment the LAST of them has it. Loopback only.
//
//   node_modules/.bin/bun bench/ws-fanout.ts            (CLIENTS=200 CHANGES=50 to change)
import { encodeTokenProtocol } from "../src/live/protocol.ts";
import { ADMIN, procStats, runAlone, startVxman, table } from "./lib.ts";

const CLIENTS = Number(process.env.CLIENTS ?? 200);
const CHANGES = Number(process.env.CHANGES ?? 50);
/** Between changes, longer than the hub's 100 ms coalescing window. The monitor's own status
 *  updates (it pings each new machine) can still hold a window open when a change arrives:
 *  then the change waits for that window, as it would in production. */
const PAUSE_MS = 250;
let shuttingDown = false;

function percentile(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)]!;
}

interface Dashboard {
  ws: WebSocket;
  /** marker → arrival time (performance.now()) */
  seen: Map<string, number>;
}

async function openDashboard(url: string, markers: Set<string>): Promise<Dashboard> {
  // Signed in as a dashboard is (reads need a login): the token rides in a subprotocol.
  const ws = new WebSocket(url, ["vxman", encodeTokenProtocol(ADMIN)]);
  const seen = new Map<string, number>();
  let ready!: () => void;
  const snapshot = new Promise<void>((resolve) => (ready = resolve));
  ws.onmessage = (ev) => {
    const at = performance.now();
    const data = String(ev.data);
    if (data.startsWith('{"type":"snapshot"')) return ready();
    // A substring test, not JSON.parse: 200 clients share this process with the clock.
    for (const m of markers) if (!seen.has(m) && data.includes(m)) seen.set(m, at);
  };
  ws.onclose = (ev) => {
    if (!shuttingDown && ev.code !== 1000) console.error(`dashboard socket closed: ${ev.code} ${ev.reason}`);
  };
  await Promise.race([snapshot, Bun.sleep(30_000).then(() => Promise.reject(new Error("no snapshot within 30 s")))]);
  return { ws, seen };
}

export async function runWsFanoutBench(): Promise<string> {
  const server = await startVxman("pglite", { WS_MAX_PER_IP: String(CLIENTS + 10), LOG_LEVEL: "warn" });
  const dashboards: Dashboard[] = [];
  try {
    const markers = new Set<string>();
    const wsUrl = `${server.base.replace("http", "ws")}/ws/status`;
    // A first start on PGlite peaks and then gives memory back for a while: wait until RSS holds
    // still (2 s apart within 1 MiB, at most 60 s), so the sockets' cost is not lost in it.
    let rssNoSockets = procStats(server.pid()).rssMb;
    for (let i = 0; i < 30; i++) {
      await Bun.sleep(2000);
      const now = procStats(server.pid()).rssMb;
      if (Math.abs(now - rssNoSockets) < 1) break;
      rssNoSockets = now;
    }
    for (let i = 0; i < CLIENTS; i++) dashboards.push(await openDashboard(wsUrl, markers));
    const rssBefore = procStats(server.pid()).rssMb;

    const toLast: number[] = [];
    const toFirst: number[] = [];
    const putMs: number[] = [];
    for (let i = 0; i < CHANGES; i++) {
      const marker = `fanout-${i}-${Date.now().toString(36)}`;
      markers.add(marker);
      // A new machine each time (loopback 127.7.x.y): one machine_registered event.
      const ip = `127.7.${Math.floor(i / 250)}.${(i % 250) + 1}`;
      const t0 = performance.now();
      const res = await fetch(`${server.base}/api/machines/${ip}`, {
        method: "PUT",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ hostname: marker, mac_address: "52:54:00:77:00:01" }),
      });
      putMs.push(performance.now() - t0);
      if (res.status !== 201) throw new Error(`PUT ${ip}: ${res.status} ${await res.text()}`);
      const deadline = Date.now() + 10_000;
      while (dashboards.some((d) => !d.seen.has(marker))) {
        if (Date.now() > deadline) throw new Error(`change ${i} did not reach every dashboard within 10 s`);
        await Bun.sleep(1);
      }
      const arrivals = dashboards.map((d) => d.seen.get(marker)! - t0);
      toLast.push(Math.max(...arrivals));
      toFirst.push(Math.min(...arrivals));
      markers.delete(marker);
      await Bun.sleep(PAUSE_MS);
    }
    const rssAfter = procStats(server.pid()).rssMb;
    const row = (what: string, xs: number[]) => [what, percentile(xs, 50), percentile(xs, 99), Math.max(...xs)];
    return table(
      `WebSocket fan-out: ${CLIENTS} dashboards, ${CHANGES} changes (each a real PUT of a new machine), compiled binary on PGlite, loopback`,
      ["measure", "p50 ms", "p99 ms", "max ms"],
      [row("PUT sent → LAST dashboard has the event", toLast), row("PUT sent → first dashboard has it", toFirst), row("PUT round trip (201 received)", putMs)],
    ) + `\nServer RSS: ${rssNoSockets.toFixed(0)} MiB before the sockets; with ${CLIENTS} open ${rssBefore.toFixed(0)} MiB before the changes, ${rssAfter.toFixed(0)} MiB after (the ${CLIENTS} cost ${(rssAfter - rssNoSockets).toFixed(1)} MiB; target < 20 MiB). Target (seed): under 1 s from change to client; issue 14: p99 < 50 ms to the last.\n`;
  } finally {
    shuttingDown = true;
    for (const d of dashboards) d.ws.close(1000);
    await server.stop();
  }
}

if (import.meta.main) await runAlone(runWsFanoutBench);
