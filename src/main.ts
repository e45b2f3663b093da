#!/usr/bin/env bun
// vxman's command line: serve | migrate | ping | user | run | secret | admin-token | version | help. Exit codes: 0 done, 1 failed,
// 2 bad usage or configuration (so systemd and scripts can tell a typo from an outage).
import { parseArgs } from "node:util";
import { ConfigError, describeSettings, loadConfig, type Config } from "./config.ts";
import type { Logger } from "./log.ts";
import { startWithEnv, WITHOUT_FTL } from "./start-with-env.ts";
import { BUILD_DATE, COMMIT, VERSION } from "./version.ts";

const USAGE = `vxman ${VERSION}: machine manager for VXLAN overlays

Usage:
  vxman [serve]                  start the server (the default)
  vxman migrate                  apply pending database migrations and exit
  vxman ping [-c COUNT] [-t TIMEOUT] [-q] [-f FILE] HOST...
                                 ping hosts with vxman's ICMP engine (fping-like)
  vxman user add|passwd|list|disable|enable …
                                 people and their roles (\`vxman user\` for details)
  vxman run JOB [--wait] [-p NAME=VALUE]...
                                 run a job on a vxman server (VXMAN_URL, VXMAN_TOKEN);
                                 --wait prints each host's output and exits 0 only if all succeeded
  vxman secret rotate            re-seal stored secrets (channels, SSH credentials) under a new key
  vxman admin-token reset        replace the generated admin token with a new one and print it
                                 (restart vxman afterwards; ADMIN_TOKEN, when set, wins)
  vxman version                  print version, commit and build date
  vxman help [config]            this text, or every setting with its default

Configuration comes from the environment; \`vxman help config\` lists it.
`;

class UsageError extends Error {}

/** What `serve` returns once the server is up: it runs until a stop signal (see the end of this file). */
const SERVING = "serving";

async function main(argv: string[]): Promise<number | typeof SERVING> {
  const [command = "serve", ...rest] = argv;
  switch (command) {
    case "serve":
      return serve(rest);
    case "migrate":
      return migrateCommand(rest);
    case "ping": {
      startWithEnv(WITHOUT_FTL);
      const { runPing } = await import("./cli/ping.ts");
      return runPing(rest);
    }
    case "admin-token":
      return adminTokenCommand(rest);
    case "user":
      return userCommand(rest);
    case "run":
      return runCommand(rest);
    case "secret":
      return secretCommand(rest);
    case "version":
    case "--version":
      noArgs(rest);
      console.log(`vxman ${VERSION} (commit ${COMMIT}, built ${BUILD_DATE})`);
      return 0;
    case "help":
    case "--help":
    case "-h":
      if (rest[0] === "config") return printConfigHelp();
      console.log(USAGE);
      return 0;
    default:
      throw new UsageError(`unknown command "${command}"`);
  }
}

function noArgs(args: string[]) {
  // parseArgs with no options rejects every flag and positional with a clear message.
  try {
    parseArgs({ args, options: {}, allowPositionals: false, strict: true });
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
}

// The logger (pino) is loaded only by the commands that log: `vxman ping` and `version` stay quick.
// Commands whose standard output is their result (a token) log to standard error.
async function configOrExit({ logTo = "stdout" }: { logTo?: "stdout" | "stderr" } = {}): Promise<{ config: Config; log: Logger }> {
  const config = loadConfig();
  const { createLogger } = await import("./log.ts");
  return { config, log: createLogger({ level: config.logLevel, format: config.logFormat, fd: logTo === "stderr" ? 2 : 1 }) };
}

/** A graceful stop must end within this; systemd's TimeoutStopSec is longer. */
const SHUTDOWN_LIMIT_MS = 10_000;

async function serve(args: string[]): Promise<typeof SERVING> {
  noArgs(args);
  const { config, log } = await configOrExit();
  const { survivePostgresEscapedErrors } = await import("./db/escaped-errors.ts");
  survivePostgresEscapedErrors({
    onConnectionError: (err) => log.warn({ err: (err as Error).message }, "database connection lost while it was opening; the server goes on"),
    onOther: (reason) => {
      log.fatal({ err: reason }, "unhandled promise rejection: a bug; exiting");
      process.exit(1);
    },
  });
  const { startServer } = await import("./server.ts");
  const server = await startServer(config, log);
  const stop = async (signal: string) => {
    log.info({ signal }, "shutting down: no new connections; closing dashboards, writing pending state");
    const watchdog = setTimeout(() => {
      log.error({ limit_ms: SHUTDOWN_LIMIT_MS }, "shutdown took too long; exiting anyway");
      process.exit(1);
    }, SHUTDOWN_LIMIT_MS);
    try {
      await server.stop();
    } catch (err) {
      log.fatal({ err }, "shutdown failed");
      process.exit(1);
    }
    clearTimeout(watchdog);
    log.info("stopped");
    process.exit(0);
  };
  process.once("SIGTERM", () => void stop("SIGTERM"));
  process.once("SIGINT", () => void stop("SIGINT"));
  return SERVING;
}

async function migrateCommand(args: string[]): Promise<number> {
  noArgs(args);
  const { config, log } = await configOrExit();
  const { openDatabase, describeStorage } = await import("./db/index.ts");
  const { migrate } = await import("./db/migrate.ts");
  const db = await openDatabase(config);
  try {
    const { applied, current } = await migrate(db);
    log.info({ storage: describeStorage(config), applied, schema_version: current }, applied.length ? "migrations applied" : "schema up to date");
    return 0;
  } finally {
    await db.close();
  }
}

async function userCommand(args: string[]): Promise<number> {
  const { runUserCommand, UserCommandError, USER_USAGE } = await import("./cli/user.ts");
  if (args.length === 0 || args[0] === "--help" || args[0] === "help") {
    console.log(USER_USAGE);
    return args.length === 0 ? 2 : 0;
  }
  const { config } = await configOrExit({ logTo: "stderr" });
  const { openDatabase } = await import("./db/index.ts");
  const { migrate } = await import("./db/migrate.ts");
  const db = await openDatabase(config);
  try {
    await migrate(db);
    return await runUserCommand(db, args);
  } catch (err) {
    if (err instanceof UserCommandError) {
      console.error(`vxman user: ${err.message}\n\n${USER_USAGE}`);
      return 2;
    }
    throw err;
  } finally {
    await db.close();
  }
}

/** A client of a server: its settings are VXMAN_URL and VXMAN_TOKEN, not the server's. */
async function runCommand(args: string[]): Promise<number> {
  const { runJobCommand, RunCommandError, RUN_USAGE } = await import("./cli/run.ts");
  if (args.length === 0 || args[0] === "--help" || args[0] === "help") {
    console.log(RUN_USAGE);
    return args.length === 0 ? 2 : 0;
  }
  try {
    return await runJobCommand(args);
  } catch (err) {
    if (!(err instanceof RunCommandError)) throw err;
    console.error(`vxman run: ${err.message}${err.code === 2 ? `\n\n${RUN_USAGE}` : ""}`);
    return err.code;
  }
}

async function secretCommand(args: string[]): Promise<number> {
  const { rotateSecrets, SECRET_USAGE } = await import("./cli/secret.ts");
  if (args[0] !== "rotate") {
    console.log(SECRET_USAGE);
    return args[0] === "--help" || args[0] === "help" ? 0 : 2;
  }
  noArgs(args.slice(1));
  const { config, log } = await configOrExit({ logTo: "stderr" });
  const { openDatabase } = await import("./db/index.ts");
  const { migrate } = await import("./db/migrate.ts");
  const db = await openDatabase(config);
  try {
    await migrate(db);
    return await rotateSecrets(db, config, log, (line) => console.log(line));
  } finally {
    await db.close();
  }
}

/** A lost generated admin token cannot be shown again (only its digest is kept): make a new one. */
async function adminTokenCommand(args: string[]): Promise<number> {
  if (args[0] !== "reset") throw new UsageError('admin-token takes one subcommand: "reset"');
  noArgs(args.slice(1));
  const { config, log } = await configOrExit({ logTo: "stderr" });
  const { openDatabase } = await import("./db/index.ts");
  const { migrate } = await import("./db/migrate.ts");
  const { resetAdminToken } = await import("./people/admin-token.ts");
  const db = await openDatabase(config);
  try {
    await migrate(db);
    const token = await resetAdminToken(db);
    console.log(token);
    log.warn("generated admin token replaced: restart every vxman on this database to use the new one");
    if (config.adminToken) log.warn("ADMIN_TOKEN is set: vxman uses it, not the generated one, until you unset it");
    return 0;
  } finally {
    await db.close();
  }
}

function printConfigHelp(): number {
  for (const s of describeSettings()) {
    console.log(`${s.name}  (default: ${s.default})\n    ${s.doc}\n    accepts ${s.accepts}\n`);
  }
  return 0;
}

/**
 * A failure that ends the command, said the way the logs are: one JSON object on a line when
 * LOG_FORMAT=json (or unset and not on a terminal, as under systemd), else plain text.
 */
function reportFatal(message: string, fields: Record<string, unknown> = {}): void {
  const format = process.env.LOG_FORMAT?.trim().toLowerCase() || (process.stderr.isTTY ? "pretty" : "json");
  if (format === "json") console.error(JSON.stringify({ level: "fatal", time: new Date().toISOString(), ...fields, msg: message }));
  else console.error(`vxman: ${message}`);
}

// The top-level await ends once a command is done or, for `serve`, once the server is up; the
// server then runs until its stop signal. Not until the signal: when the entry module finishes
// evaluating, Bun gives back the pages of the files embedded in the executable that were read so
// far (PGlite's WASM, its file bundle and the seed cluster, read while the database opened: ~20
// MiB of RSS the server otherwise keeps all its life; docs/performance.md, memory on PGlite).
try {
  const code = await main(process.argv.slice(2));
  // Exit now: a finished command should not wait on idle sockets or timers.
  if (code !== SERVING) process.exit(code);
} catch (err) {
  if (err instanceof UsageError) {
    console.error(`vxman: ${err.message}\n\n${USAGE}`);
    process.exit(2);
  } else if (err instanceof ConfigError) {
    reportFatal(err.message, { setting: err.variable });
    process.exit(2);
  } else {
    reportFatal(String((err as Error)?.message ?? err));
    process.exit(1);
  }
}
