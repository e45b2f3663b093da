// Every setting vxman reads, parsed and validated in one place.
//
// Hand-written rather than a schema library because each failure must be ONE line that names
// the variable and what it accepts, and durations take unit suffixes ("30s", "250ms"), which
// no schema validator parses. The table below is also what `vxman help config` prints and what
// the README's config table is checked against (test/config.test.ts).

import { parseSecretKey, SECRET_KEY_ACCEPTS } from "./secrets/key-format.ts";

export class ConfigError extends Error {
  constructor(
    readonly variable: string,
    readonly accepts: string,
    got: string,
    secret: boolean,
  ) {
    // Secrets (tokens, URLs with passwords) are never echoed, not even when wrong.
    const shown = secret ? "(value hidden)" : JSON.stringify(got);
    super(`${variable}=${shown} is invalid: ${variable} accepts ${accepts}`);
  }
}

type Parser<T> = { accepts: string; parse: (raw: string) => T | undefined };

const DURATION_UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** "1500ms" | "30s" | "5m" | "1h" | "7d" | "60" (plain number = seconds) → milliseconds. */
export function parseDuration(raw: string): number | undefined {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)?$/.exec(raw.trim());
  if (!m) return undefined;
  const ms = Number(m[1]) * DURATION_UNITS[m[2] ?? "s"]!;
  return Number.isFinite(ms) ? Math.round(ms) : undefined;
}

const duration = (min: number, max: number): Parser<number> => ({
  accepts: `a duration from ${fmtMs(min)} to ${fmtMs(max)}: seconds, or a number with ms/s/m/h/d (e.g. 30s, 250ms)`,
  parse: (raw) => {
    const ms = parseDuration(raw);
    return ms !== undefined && ms >= min && ms <= max ? ms : undefined;
  },
});

const integer = (min: number, max: number): Parser<number> => ({
  accepts: `a whole number from ${min} to ${max}`,
  parse: (raw) => {
    if (!/^\d+$/.test(raw.trim())) return undefined;
    const n = Number(raw);
    return n >= min && n <= max ? n : undefined;
  },
});

const oneOf = <T extends string>(...values: T[]): Parser<T> => ({
  accepts: values.join(" | "),
  parse: (raw) => values.find((v) => v === raw.trim().toLowerCase()),
});

const bool: Parser<boolean> = {
  accepts: "true | false (also 1/0, yes/no, on/off)",
  parse: (raw) => {
    const v = raw.trim().toLowerCase();
    if (["1", "true", "yes", "on"].includes(v)) return true;
    if (["0", "false", "no", "off"].includes(v)) return false;
    return undefined;
  },
};

const BYTE_UNITS: Record<string, number> = { "": 1, b: 1, kib: 1024, mib: 1024 ** 2, gib: 1024 ** 3 };

/** "1048576" | "512KiB" | "1MiB" → bytes, within [min, max]. */
const bytes = (min: number, max: number): Parser<number> => ({
  accepts: `a size from ${fmtBytes(min)} to ${fmtBytes(max)}: bytes, or a number with KiB/MiB/GiB (e.g. 1MiB)`,
  parse: (raw) => {
    const m = /^(\d+)\s*(b|kib|mib|gib)?$/i.exec(raw.trim());
    const n = m ? Number(m[1]) * BYTE_UNITS[(m[2] ?? "").toLowerCase()]! : NaN;
    return Number.isSafeInteger(n) && n >= min && n <= max ? n : undefined;
  },
});

const text = (accepts = "any text"): Parser<string> => ({ accepts, parse: (raw) => raw });

const token: Parser<string> = {
  accepts: "at least 16 printable characters without spaces",
  parse: (raw) => (/^[\x21-\x7e]{16,}$/.test(raw) ? raw : undefined),
};

const databaseUrl: Parser<string> = {
  accepts: "a postgres:// or postgresql:// URL",
  parse: (raw) => {
    try {
      const url = new URL(raw);
      return ["postgres:", "postgresql:"].includes(url.protocol) ? raw : undefined;
    } catch {
      return undefined;
    }
  },
};

const host: Parser<string> = {
  accepts: "an IP address or host name to listen on (0.0.0.0 for all IPv4, :: for all)",
  parse: (raw) => (/^[\w.:-]+$/.test(raw.trim()) ? raw.trim() : undefined),
};

const origins: Parser<string[]> = {
  accepts: "a comma-separated list of origins such as https://admin.example.org, or *",
  parse: (raw) => {
    const list = raw.split(",").map((s) => s.trim()).filter(Boolean);
    const ok = list.every((o) => o === "*" || /^https?:\/\/[^/\s]+$/.test(o));
    return ok ? list : undefined;
  },
};

const groupBy: Parser<string> = {
  accepts: "vni-or-subnet | vni | subnet | label:KEY",
  parse: (raw) => {
    const v = raw.trim();
    return ["vni-or-subnet", "vni", "subnet"].includes(v) || /^label:[A-Za-z0-9][A-Za-z0-9_.\-/]{0,62}$/.test(v) ? v : undefined;
  },
};

const publicUrl: Parser<string> = {
  accepts: "the dashboard's URL as people open it, e.g. https://vxman.example.org",
  parse: (raw) => {
    try {
      const url = new URL(raw.trim());
      return ["http:", "https:"].includes(url.protocol) ? url.href.replace(/\/+$/, "") : undefined;
    } catch {
      return undefined;
    }
  },
};

const secretKey: Parser<string> = {
  accepts: SECRET_KEY_ACCEPTS,
  parse: (raw) => (parseSecretKey(raw) ? raw.trim() : undefined),
};

const hostNames: Parser<string[]> = {
  accepts: "a comma-separated list of host names and IP addresses this server is reached by (no port), e.g. vxman.example.org,198.18.0.1",
  parse: (raw) => {
    const list = raw.split(",").map((s) => s.trim().toLowerCase().replace(/^\[(.*)\]$/, "$1")).filter(Boolean);
    return list.length > 0 && list.every((h) => /^[a-z0-9.:-]{1,253}$/.test(h)) ? list : undefined;
  },
};

interface Setting<T> {
  name: string;
  doc: string;
  default: T;
  /** How the default reads in docs when it is not just the value. */
  defaultText?: string;
  parser: Parser<T>;
  secret: boolean;
}

const setting = <T>(name: string, parser: Parser<T>, dflt: T, doc: string, defaultText?: string): Setting<T> => ({
  name,
  parser,
  default: dflt,
  doc,
  defaultText,
  secret: parser === (token as Parser<unknown>) || parser === (databaseUrl as Parser<unknown>) || parser === (secretKey as Parser<unknown>),
});

const SECOND = 1000;
const DAY = 86_400_000;

/** The settings, in the order they are documented. */
export const SETTINGS = {
  host: setting("HOST", host, "0.0.0.0", "Address the HTTP server listens on."),
  port: setting("PORT", integer(0, 65535), 8080, "HTTP port (0 picks a free one)."),
  databaseUrl: setting<string | undefined>("DATABASE_URL", databaseUrl as Parser<string | undefined>, undefined,
    "PostgreSQL URL. Unset: the embedded PGlite database in DATA_DIR.", "unset: embedded PGlite"),
  dataDir: setting("DATA_DIR", text("a directory path"), "./vxman-data", "Folder of the embedded database (and its lock)."),
  adminToken: setting<string | undefined>("ADMIN_TOKEN", token as Parser<string | undefined>, undefined,
    "Bearer token for admin actions. Unset: generated on first start, printed once, kept (hashed) in the database.", "generated"),
  registrationToken: setting<string | undefined>("REGISTRATION_TOKEN", token as Parser<string | undefined>, undefined,
    "When set, PUT and heartbeat require it as a Bearer token.", "unset: open"),
  readToken: setting<string | undefined>("READ_TOKEN", token as Parser<string | undefined>, undefined,
    "A shared bearer token with viewer rights (wall displays, scripts); people log in instead.", "unset: none"),
  anonymousRead: setting("ANONYMOUS_READ", bool, false, "Let anyone read the machine list, events and live updates without logging in."),
  sessionIdleTimeout: setting("SESSION_IDLE_TIMEOUT", duration(60 * SECOND, 366 * DAY), 12 * 3600 * SECOND,
    "A dashboard session unused this long ends.", "12h"),
  sessionLifetime: setting("SESSION_LIFETIME", duration(60 * SECOND, 366 * DAY), 7 * DAY, "A dashboard session ends this long after login, used or not.", "7d"),
  maxMachines: setting("MAX_MACHINES", integer(1, 1_000_000), 1000, "Most machines stored; a new IP past it gets 503."),
  corsOrigins: setting("CORS_ORIGINS", origins, [] as string[], "Origins allowed to call the API from a browser.", "none"),
  allowedHosts: setting("ALLOWED_HOSTS", hostNames, [] as string[],
    "Host names and addresses the server answers to; a request for any other Host gets 421 (DNS rebinding).", "any"),
  logLevel: setting("LOG_LEVEL", oneOf("debug", "info", "warn", "error"), "info", "Least severe level logged."),
  logFormat: setting<"json" | "pretty" | undefined>("LOG_FORMAT", oneOf("json", "pretty") as Parser<"json" | "pretty" | undefined>,
    undefined, "Log lines as JSON, or for people.", "pretty on a TTY, else json"),
  pingInterval: setting("PING_INTERVAL", duration(10, DAY), 60 * SECOND, "Time between checks of a healthy machine.", "60s"),
  pingTimeout: setting("PING_TIMEOUT", duration(10, 60 * SECOND), 1 * SECOND, "How long to wait for an echo reply.", "1s"),
  backoffMax: setting("BACKOFF_MAX", duration(10, 7 * DAY), 3600 * SECOND, "Longest interval after repeated failures.", "3600s"),
  monitorWriteInterval: setting<number | undefined>("MONITOR_WRITE_INTERVAL", duration(10, 60 * SECOND) as Parser<number | undefined>, undefined,
    "How often healthy machines' check results are written (failing ones within 1 s); a crash loses at most this much.",
    "half of PING_INTERVAL, 5s to 30s"),
  failureThreshold: setting("FAILURE_THRESHOLD", integer(1, 100), 3, "Consecutive failures that make a machine unreachable."),
  maxParallelPings: setting("MAX_PARALLEL_PINGS", integer(1, 10_000), 100, "Echo requests in flight at most."),
  sampleRetention: setting("SAMPLE_RETENTION", duration(60 * SECOND, 366 * DAY), 7 * DAY, "How long RTT samples are kept.", "7d"),
  rateLimit: setting("RATE_LIMIT", integer(0, 1_000_000), 120, "Requests per minute per client IP (0: no limit)."),
  trustProxy: setting("TRUST_PROXY", bool, false, "Take the client IP from X-Forwarded-For (only behind your own proxy)."),
  wsMaxPerIp: setting("WS_MAX_PER_IP", integer(1, 10_000), 20, "Open WebSocket connections per client IP."),
  metricsPublic: setting("METRICS_PUBLIC", bool, false, "Serve /metrics without the admin token."),
  secretKey: setting<string | undefined>("SECRET_KEY", secretKey as Parser<string | undefined>, undefined,
    "The key that seals secrets at rest (channel settings, SSH credentials). Unset: DATA_DIR/secret.key, made on first start.", "unset: a key file"),
  publicUrl: setting<string | undefined>("PUBLIC_URL", publicUrl as Parser<string | undefined>, undefined,
    "The dashboard's URL, for links in notifications.", "unset: no links"),
  leasePeriod: setting("LEASE_PERIOD", duration(3 * SECOND, 10 * 60 * SECOND), 15 * SECOND,
    "With several instances on one PostgreSQL: an instance silent this long is dead, and its machines are checked by the others within twice this.", "15s"),
  groupBy: setting("GROUP_BY", groupBy, "vni-or-subnet", "What one message groups machines by: their VNI (else subnet), subnet, or a label key."),
  subnetPrefixV4: setting("SUBNET_PREFIX_V4", integer(8, 32), 24, "Prefix length of the built-in IPv4 subnet groups."),
  subnetPrefixV6: setting("SUBNET_PREFIX_V6", integer(16, 128), 64, "Prefix length of the built-in IPv6 subnet groups."),
  groupWait: setting("GROUP_WAIT", duration(0, DAY), 30 * SECOND, "How long the first change of a group waits for others before its message goes out.", "30s"),
  groupInterval: setting("GROUP_INTERVAL", duration(0, DAY), 5 * 60 * SECOND, "Later changes of a group go out together at most this often.", "5m"),
  repeatInterval: setting("REPEAT_INTERVAL", duration(0, 30 * DAY), 0, "Remind this often while machines stay down (0: never).", "0 (off)"),
  notifyRetryBase: setting("NOTIFY_RETRY_BASE", duration(10, DAY), 30 * SECOND, "The first retry of a failed delivery waits this long; each next one twice as long.", "30s"),
  notifyMaxAttempts: setting("NOTIFY_MAX_ATTEMPTS", integer(1, 100), 8, "Tries of a delivery before it is marked failed."),
  jobOutputMax: setting("JOB_OUTPUT_MAX", bytes(1024, 1024 ** 3), 1024 ** 2, "Output kept per host of a job run (stdout and stderr together); past it, a truncation mark.", "1MiB"),
  jobConnectTimeout: setting("JOB_CONNECT_TIMEOUT", duration(100, 5 * 60 * SECOND), 10 * SECOND, "How long connecting and logging in to a machine over SSH may take.", "10s"),
  jobCatchUp: setting("JOB_CATCH_UP", bool, true, "After downtime, start a scheduled job's latest missed run once (never more than one); false: skip missed runs."),
} satisfies Record<string, Setting<unknown>>;

type Settings = typeof SETTINGS;
export type Config = { readonly [K in keyof Settings]: Settings[K]["default"] };

/** Parse the environment. Throws ConfigError for the first invalid value. Empty means unset. */
export function loadConfig(env: Record<string, string | undefined> = process.env): Config {
  const out: Record<string, unknown> = {};
  for (const [key, s] of Object.entries(SETTINGS) as [string, Setting<unknown>][]) {
    const raw = env[s.name];
    if (raw === undefined || raw === "") {
      out[key] = s.default;
      continue;
    }
    const value = s.parser.parse(raw);
    if (value === undefined) throw new ConfigError(s.name, s.parser.accepts, raw, s.secret);
    out[key] = value;
  }
  return out as Config;
}

/** Rows of the config table: name, default, what it accepts, meaning. */
export function describeSettings(): { name: string; default: string; accepts: string; doc: string }[] {
  return Object.values(SETTINGS).map((s: Setting<unknown>) => ({
    name: s.name,
    default: s.defaultText ?? String(s.default),
    accepts: s.parser.accepts,
    doc: s.doc,
  }));
}

function fmtBytes(n: number): string {
  for (const [unit, size] of [["GiB", 1024 ** 3], ["MiB", 1024 ** 2], ["KiB", 1024]] as const) if (n % size === 0) return `${n / size}${unit}`;
  return `${n} bytes`;
}

function fmtMs(ms: number): string {
  if (ms % DAY === 0) return `${ms / DAY}d`;
  if (ms % 3_600_000 === 0) return `${ms / 3_600_000}h`;
  if (ms % 60_000 === 0) return `${ms / 60_000}m`;
  if (ms % 1000 === 0) return `${ms / 1000}s`;
  return `${ms}ms`;
}
