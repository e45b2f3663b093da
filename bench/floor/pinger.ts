// The ICMP core's floor, for bench/floor.ts: vxman's own Pinger (one raw socket, its receiver
// Worker) checking the hosts of HOSTS_FILE (one address a line) every INTERVAL_S, woken every
// 1 % of the interval as vxman's scheduler is, with no database, HTTP, change feed or metrics.
import { readFileSync } from "node:fs";
import { Pinger } from "../../src/monitor/pinger.ts";

const hosts = readFileSync(process.env.HOSTS_FILE!, "utf8").split("\n").filter(Boolean);
const intervalMs = Number(process.env.INTERVAL_S ?? 60) * 1000;
const tickMs = Math.min(1000, Math.max(100, intervalMs / 100));
const pinger = await Pinger.open({ maxInFlight: 100 });
// Each host's first check spread over one interval, then every interval after its last.
const due = hosts.map((_, i) => Date.now() + (intervalMs * i) / hosts.length);
let replies = 0;
setInterval(() => {
  const now = Date.now();
  for (let i = 0; i < hosts.length; i++) {
    if (due[i]! > now) continue;
    due[i] = now + intervalMs;
    void pinger.probe(hosts[i]!, 1000).then((r) => void (r.outcome === "reply" && replies++));
  }
}, tickMs);
console.log(`pinging ${hosts.length} hosts every ${intervalMs / 1000} s`);
process.on("SIGTERM", () => void pinger.close().then(() => process.exit(0)));
