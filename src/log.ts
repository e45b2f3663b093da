// The one logger: pino, JSON lines by default (what journald and log shippers want), a human
// format on a terminal. Every line has time, level, msg and the fields passed with it.
import pino from "pino";
import pretty from "pino-pretty";

export type Logger = pino.Logger;

export interface LogOptions {
  level: "debug" | "info" | "warn" | "error";
  format?: "json" | "pretty";
  /** Where lines go; defaults to stdout. Tests pass a collector. */
  destination?: pino.DestinationStream;
  /** Without a destination: 1 (stdout, the default) or 2 (stderr). */
  fd?: 1 | 2;
}

// Field names that may carry a credential; pino replaces their values before anything is written.
const SECRET_FIELDS = ["token", "authorization", "password", "*.token", "*.authorization", "*.password", "headers.authorization"];

export function createLogger({ level, format, destination, fd = 1 }: LogOptions): Logger {
  const options: pino.LoggerOptions = {
    level,
    base: undefined, // no pid/hostname on every line: systemd already records both
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label) => ({ level: label }) },
    redact: { paths: SECRET_FIELDS, censor: "[redacted]" },
  };
  const usePretty = (format ?? (process.stdout.isTTY ? "pretty" : "json")) === "pretty";
  if (destination) return pino(options, usePretty ? pretty({ destination, sync: true, colorize: false }) : destination);
  if (usePretty) return pino(options, pretty({ sync: true, destination: fd, colorize: Boolean((fd === 2 ? process.stderr : process.stdout).isTTY), ignore: "" }));
  return pino(options, pino.destination({ dest: fd, sync: true }));
}

/** A logger that drops everything: for CLI commands and tests that do not care. */
export const silentLogger: Logger = pino({ level: "silent" });
