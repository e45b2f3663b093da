// Fleet jobs: one short command on 100 SSH hosts (OpenSSH servers on loopback addresses, 16 per
// server process), at parallelism 10 and 50, through the compiled binary (PostgreSQL), next to
// the OpenSSH client doing the same with `xargs -P` (wall time and the client side's CPU); and
// one host printing 50 MB, followed by a live-log WebSocket client: throughput to the client and
// vxman's memory meanwhile, next to `ssh host cmd > /dev/null`. Needs root (sshd's private mount
// namespace), openssh-server and openssh-client.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Run } from "../src/jobs/run-model.ts";
import { fleetApiAt, type FleetApi } from "../test/helpers/fleet.ts";
import { RunClient } from "../test/helpers/run-client.ts";
import { generateKeyPair, startLoopbackSshds } from "../test/helpers/sshd.ts";
import { ADMIN, median, procStats, requireTool, runAlone, startVxman, table } from "./lib.ts";

const HOSTS = Math.min(Number(process.env.BENCH_JOB_HOSTS ?? 100), 250);
const REPEATS = 3;
const STREAM_BYTES = 50 * 1024 * 1024;
const COMMAND = "echo hi";
// 100-character lines, 50 MB of them.
const STREAM = `yes "$(printf '%099d' 0)" | head -c ${STREAM_BYTES}`;

export async function runJobsBench(): Promise<string> {
  requireTool("ssh", "apt-get install openssh-client");
  requireTool("xargs", "apt-get install findutils");
  const addresses = Array.from({ length: HOSTS }, (_, i) => `127.0.2.${i + 1}`);
  const [sshds, key] = await Promise.all([startLoopbackSshds(addresses), generateKeyPair("ed25519")]);
  sshds.authorize(key.publicKey);
  const dir = mkdtempSync(join(tmpdir(), "vxman-bench-key-"));
  const keyFile = join(dir, "id");
  writeFileSync(keyFile, key.privateKey, { mode: 0o600 });
  const server = await startVxman("postgres", { JOB_OUTPUT_MAX: "64MiB", PING_INTERVAL: "1d", LOG_LEVEL: "warn" });
  try {
    const api = fleetApiAt(server.base, { authorization: `Bearer ${ADMIN}` });
    const cred = await api.keyCredential("bench", key.privateKey);
    await api.ok(201, "POST", "/api/ssh-defaults", { labels: ["bench=yes"], user: sshds.user, credential_id: cred.id });
    const ids: number[] = [];
    for (const ip of addresses) ids.push((await api.machine(ip, ["bench=yes"])).id);
    await timedRun(api, server.pid(), (await api.job({ name: "warm-up", script: "true", targets: { labels: ["bench=yes"] }, parallelism: 50 })).id); // host keys recorded

    const rows: (string | number)[][] = [];
    for (const parallelism of [10, 50]) {
      const job = await api.job({ name: `short-${parallelism}`, script: COMMAND, targets: { labels: ["bench=yes"] }, parallelism });
      const ours = await repeat(() => timedRun(api, server.pid(), job.id));
      const peer = await repeat(() => openssh(addresses, keyFile, sshds.user, parallelism));
      rows.push([parallelism, ours.wall, ours.cpu, peer.wall, peer.cpu, `${(ours.wall / peer.wall).toFixed(2)}×`, `${(ours.cpu / peer.cpu).toFixed(2)}×`]);
    }
    const stream = await streamToClient(api, server.base, server.pid(), ids[0]!);
    const peerStream = await repeat(() => openssh([addresses[0]!], keyFile, sshds.user, 1, STREAM));
    return [
      table(
        `Fleet jobs: \`${COMMAND}\` on ${HOSTS} SSH hosts (loopback sshd), median of ${REPEATS}`,
        ["parallelism", "vxman wall s", "vxman CPU s", "OpenSSH xargs -P wall s", "OpenSSH CPU s", "wall ratio", "CPU ratio"],
        rows,
      ),
      table(`One host printing ${STREAM_BYTES / 1024 / 1024} MB, followed live over WebSocket`, ["measure", "value"], [
        ["run wall time (first byte of the script to the end message)", `${stream.wall.toFixed(2)} s`],
        ["throughput to the WebSocket client", `${(stream.received / stream.wall / 1e6).toFixed(1)} MB/s`],
        ["text received by the client", `${(stream.received / 1e6).toFixed(1)} MB`],
        ["vxman CPU during the run", `${stream.cpu.toFixed(2)} s`],
        ["vxman RSS before → peak", `${stream.rssBefore.toFixed(0)} → ${stream.rssPeak.toFixed(0)} MB`],
        ["OpenSSH `ssh host cmd > /dev/null`, same output", `${peerStream.wall.toFixed(2)} s (${(STREAM_BYTES / peerStream.wall / 1e6).toFixed(1)} MB/s)`],
      ]),
    ].join("\n");
  } finally {
    await server.stop();
    await sshds.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

async function repeat(once: () => Promise<{ wall: number; cpu: number }>): Promise<{ wall: number; cpu: number }> {
  const results: { wall: number; cpu: number }[] = [];
  for (let i = 0; i < REPEATS; i++) results.push(await once());
  return { wall: median(results.map((r) => r.wall)), cpu: median(results.map((r) => r.cpu)) };
}

/** A run through the API, to its end (polled every 50 ms): wall seconds and vxman's CPU seconds. */
async function timedRun(api: FleetApi, pid: number, jobId: number): Promise<{ wall: number; cpu: number }> {
  const cpu0 = procStats(pid).cpuS;
  const t0 = performance.now();
  const { id } = await api.start(jobId);
  let run: Run;
  for (let i = 0; ; i++) {
    run = await api.get(id, false);
    if (run.status !== "running") break;
    if (i > 6000) throw new Error(`run ${id} did not end within 5 minutes`);
    await Bun.sleep(50);
  }
  const wall = (performance.now() - t0) / 1000;
  if (run.status !== "succeeded") throw new Error(`run ${id} ${run.status}: ${JSON.stringify(run.hosts_by_state)}`);
  return { wall, cpu: procStats(pid).cpuS - cpu0 };
}

/** The OpenSSH client on every address, `parallelism` at a time: wall seconds, and the CPU of ssh (and xargs). */
async function openssh(addresses: string[], keyFile: string, user: string, parallelism: number, command = COMMAND): Promise<{ wall: number; cpu: number }> {
  const options = "-o BatchMode=yes -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR";
  const cmd = `xargs -P ${parallelism} -I{} ssh -i ${keyFile} ${options} ${user}@{} '${command.replaceAll("'", "'\\''")}' > /dev/null`;
  const t0 = performance.now();
  const proc = Bun.spawn(["sh", "-c", cmd], { stdin: new TextEncoder().encode(`${addresses.join("\n")}\n`), stdout: "ignore", stderr: "pipe" });
  const code = await proc.exited;
  const wall = (performance.now() - t0) / 1000;
  if (code !== 0) throw new Error(`ssh via xargs failed (${code}): ${await new Response(proc.stderr).text()}`);
  const usage = proc.resourceUsage()!;
  return { wall, cpu: Number(usage.cpuTime.user + usage.cpuTime.system) / 1e6 };
}

/** One host prints STREAM_BYTES; a live-log client follows from the start. */
async function streamToClient(api: FleetApi, base: string, pid: number, machineId: number) {
  const job = await api.job({ name: "stream", script: STREAM, targets: { machine_ids: [machineId] }, timeout: 600 });
  const rssBefore = procStats(pid).rssMb;
  let rssPeak = rssBefore;
  const sampler = setInterval(() => (rssPeak = Math.max(rssPeak, procStats(pid).rssMb)), 100);
  const cpu0 = procStats(pid).cpuS;
  const t0 = performance.now();
  const { id } = await api.start(job.id);
  const client = await RunClient.open(base, id, ADMIN);
  await client.closed;
  const wall = (performance.now() - t0) / 1000;
  clearInterval(sampler);
  const end = client.messages.at(-1);
  if (end?.type !== "end" || end.run.status !== "succeeded") throw new Error(`the stream run did not succeed: ${JSON.stringify(end).slice(0, 300)}`);
  const received = client.chunks().reduce((n, c) => n + c.text.length, 0);
  return { wall, received, cpu: procStats(pid).cpuS - cpu0, rssBefore, rssPeak };
}

if (import.meta.main) await runAlone(runJobsBench);
