// `vxman ping`: fping-like, on the same ICMP engine as the server's monitor. Exit codes: 0 every
// host answered, 1 some did not, 2 bad arguments, 4 no ICMP socket could be opened.
import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { parseDuration } from "../config.ts";
import { IcmpUnavailableError, Pinger } from "../monitor/pinger.ts";
import { parseTarget } from "../monitor/sockaddr.ts";

const USAGE = `Usage: vxman ping [-c COUNT] [-t TIMEOUT] [-p PERIOD] [-q] [-f FILE] [--max-in-flight N] HOST...

Pings IP addresses (no DNS names) with vxman's ICMP engine, like fping.
  -c, --count COUNT       probes per host (default 1); then one summary line per host
  -t, --timeout TIMEOUT   wait this long for each reply (default 1s)
  -p, --period PERIOD     with -c, the least time between probes to one host (default 1s)
  -q, --quiet             print only a summary at the end
  -f, --file FILE         also read addresses from FILE, one per line ("#" starts a comment;
                          "-" reads standard input)
      --max-in-flight N   probes outstanding at once (default 1000)
TIMEOUT and PERIOD are durations as in every vxman setting: 250ms, 1.5s, 2m; a plain number
is SECONDS (-t 1 is one second; fping's -t 1000 is -t 1000ms here).
Exit status: 0 every host answered, 1 some did not, 2 bad arguments, 4 no ICMP access.`;

class UsageError extends Error {}

interface PingOptions {
  hosts: string[];
  count: number;
  timeoutMs: number;
  periodMs: number;
  quiet: boolean;
  maxInFlight: number;
}

interface HostReport {
  ip: string;
  sent: number;
  rtts: number[];
  detail?: string;
}

export async function runPing(args: string[]): Promise<number> {
  let opts: PingOptions;
  try {
    const parsed = parseOptions(args);
    if (!parsed) return (console.log(USAGE), 0);
    opts = parsed;
  } catch (err) {
    console.error(`vxman ping: ${(err as Error).message}\n\n${USAGE}`);
    return 2;
  }
  let pinger: Pinger;
  try {
    pinger = await Pinger.open({ maxInFlight: opts.maxInFlight });
  } catch (err) {
    if (!(err instanceof IcmpUnavailableError)) throw err;
    console.error(`vxman ping: ${err.message}\n\nHow to fix: ${err.howToFix}`);
    return 4;
  }
  try {
    return await pingAll(pinger, opts);
  } finally {
    await pinger.close();
  }
}

/** The options, or undefined for --help. Throws UsageError with a one-line reason. */
export function parseOptions(args: string[]): PingOptions | undefined {
  let parsed;
  try {
    parsed = parseArgs({
      args,
      allowPositionals: true,
      strict: true,
      options: {
        count: { type: "string", short: "c" },
        timeout: { type: "string", short: "t" },
        period: { type: "string", short: "p" },
        quiet: { type: "boolean", short: "q" },
        file: { type: "string", short: "f" },
        "max-in-flight": { type: "string" },
        help: { type: "boolean", short: "h" },
      },
    });
  } catch (err) {
    throw new UsageError(argumentProblem(err));
  }
  const v = parsed.values;
  if (v.help) return undefined;
  const hosts = [...parsed.positionals, ...(v.file === undefined ? [] : readHostFile(v.file))];
  if (hosts.length === 0) throw new UsageError("no hosts given");
  const notIp = hosts.find((h) => parseTarget(h) === undefined);
  if (notIp !== undefined) {
    throw new UsageError(`${JSON.stringify(notIp)} is not an IP address: vxman ping takes IPv4/IPv6 literals only (it does no DNS lookups)`);
  }
  return {
    hosts,
    count: integer("-c", v.count, 1, 1, 100_000),
    timeoutMs: duration("-t", v.timeout, 1000),
    periodMs: duration("-p", v.period, 1000),
    quiet: v.quiet === true,
    maxInFlight: integer("--max-in-flight", v["max-in-flight"], 1000, 1, 60_000),
  };
}

function integer(flag: string, raw: string | undefined, dflt: number, min: number, max: number): number {
  if (raw === undefined) return dflt;
  const n = /^\d+$/.test(raw) ? Number(raw) : NaN;
  if (!(n >= min && n <= max)) throw new UsageError(`${flag} takes a whole number from ${min} to ${max}, got ${JSON.stringify(raw)}`);
  return n;
}

/** The settings' duration syntax (a plain number is seconds), from 1 ms to 1 h. */
function duration(flag: string, raw: string | undefined, dflt: number): number {
  if (raw === undefined) return dflt;
  const ms = parseDuration(raw);
  if (ms === undefined || ms < 1 || ms > 3_600_000) {
    throw new UsageError(`${flag} takes a duration from 1ms to 1h such as 250ms, 2s or 1m (a plain number is seconds); got ${JSON.stringify(raw)}`);
  }
  return ms;
}

/** parseArgs's own messages quote unevenly ('--x' … "--x"); say it plainly. */
function argumentProblem(err: unknown): string {
  const { code, message } = err as { code?: string; message: string };
  const option = /'([^']+)'/.exec(message)?.[1];
  if (code === "ERR_PARSE_ARGS_UNKNOWN_OPTION" && option) return `unknown option ${option}`;
  if (code === "ERR_PARSE_ARGS_INVALID_OPTION_VALUE" && option) return `option ${option.split(",")[0]} needs a value`;
  return message;
}

/** One address per line; blank lines and "#" comments skipped. "-" is standard input. */
function readHostFile(path: string): string[] {
  let text: string;
  try {
    text = readFileSync(path === "-" ? 0 : path, "utf8");
  } catch (err) {
    throw new UsageError(`cannot read ${path === "-" ? "standard input" : path}: ${(err as Error).message}`);
  }
  return text
    .split("\n")
    .map((line) => line.replace(/#.*/, "").trim())
    .filter((line) => line !== "");
}

async function pingAll(pinger: Pinger, opts: PingOptions): Promise<number> {
  const started = performance.now();
  const out = new LineWriter();
  const report = (r: HostReport) => (opts.quiet || out.line(opts.count === 1 ? aliveLine(r) : summaryLine(r)), r);
  const reports = await Promise.all(opts.hosts.map((ip) => pingHost(pinger, ip, opts).then(report)));
  if (opts.quiet) out.line(totals(reports, performance.now() - started));
  await out.end();
  return reports.every((r) => r.rtts.length > 0) ? 0 : 1;
}

async function pingHost(pinger: Pinger, ip: string, opts: PingOptions): Promise<HostReport> {
  const report: HostReport = { ip, sent: 0, rtts: [] };
  for (let i = 0; i < opts.count; i++) {
    const begun = performance.now();
    const r = await pinger.probe(ip, opts.timeoutMs);
    report.sent++;
    if (r.rttMs !== null) report.rtts.push(r.rttMs);
    else if (r.detail) report.detail = r.detail;
    const wait = begun + opts.periodMs - performance.now();
    if (i + 1 < opts.count && wait > 0) await Bun.sleep(wait);
  }
  return report;
}

const ms = (x: number) => x.toFixed(x < 10 ? 3 : 2);

/** "198.18.0.5 is alive (0.42 ms)" / "198.18.0.9 is unreachable (host unreachable from …)". */
function aliveLine(r: HostReport): string {
  if (r.rtts.length > 0) return `${r.ip} is alive (${ms(r.rtts[0]!)} ms)`;
  return r.detail ? `${r.ip} is unreachable (${r.detail})` : `${r.ip} is unreachable`;
}

/** fping -c's per-host line: "127.0.0.1 : xmt/rcv/%loss = 3/3/0%, min/avg/max = 0.03/0.04/0.05". */
function summaryLine(r: HostReport): string {
  const loss = Math.round((100 * (r.sent - r.rtts.length)) / r.sent);
  const head = `${r.ip} : xmt/rcv/%loss = ${r.sent}/${r.rtts.length}/${loss}%`;
  if (r.rtts.length === 0) return r.detail ? `${head} (${r.detail})` : head;
  const avg = r.rtts.reduce((a, b) => a + b, 0) / r.rtts.length;
  return `${head}, min/avg/max = ${ms(Math.min(...r.rtts))}/${ms(avg)}/${ms(Math.max(...r.rtts))}`;
}

function totals(reports: HostReport[], wallMs: number): string {
  const alive = reports.filter((r) => r.rtts.length > 0).length;
  const sent = reports.reduce((n, r) => n + r.sent, 0);
  const received = reports.reduce((n, r) => n + r.rtts.length, 0);
  const lossPct = sent ? ((100 * (sent - received)) / sent).toFixed(1) : "0";
  return [
    `${reports.length} hosts, ${alive} alive, ${reports.length - alive} unreachable`,
    `${sent} sent, ${received} received, ${sent - received} lost (${lossPct}%)`,
    `wall time ${(wallMs / 1000).toFixed(3)} s`,
  ].join("\n");
}

/** Lines go out once per event-loop turn: 10,000 hosts are not 10,000 writes. */
class LineWriter {
  private lines: string[] = [];
  private scheduled = false;

  line(text: string): void {
    this.lines.push(text);
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(() => this.flush());
    }
  }

  private written: Promise<unknown> = Promise.resolve();

  flush(): void {
    this.scheduled = false;
    if (this.lines.length === 0) return;
    const text = this.lines.join("\n") + "\n";
    this.lines = [];
    // Chained so chunks stay in order; a closed pipe (| head) is not an error worth reporting.
    this.written = this.written.then(() => Bun.write(Bun.stdout, text)).catch(() => {});
  }

  /** Flush, and resolve once stdout has taken everything: the process exits right after. */
  end(): Promise<unknown> {
    this.flush();
    return this.written;
  }
}
