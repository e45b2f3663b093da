// Real receivers for notification tests, all on loopback and all stopped by the test:
//  - startHttpReceiver: an HTTP server that records every request, verifies Standard Webhooks
//    signatures with the `standardwebhooks` package (independent of vxman's own signing), and
//    answers from a script (500, 500, then 200; a 429 with Retry-After; a reply that never comes).
//  - startSmtpServer: the `smtp-server` package under Node, with TLS from a throwaway CA, on an
//    implicit-TLS port and a STARTTLS port, both requiring AUTH; accepted messages are recorded.
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Webhook } from "standardwebhooks";
import { waitFor } from "./wait.ts";

export interface ReceivedRequest {
  method: string;
  path: string;
  headers: Record<string, string>;
  body: string;
  /** With a secret: whether the Standard Webhooks signature verified, and why not. */
  signature?: { valid: boolean; error?: string };
}

export interface ScriptedReply {
  status: number;
  headers?: Record<string, string>;
  body?: string;
  /** Never answer (the connection stays open until the receiver stops). */
  hang?: boolean;
}

export interface HttpReceiver {
  url: string;
  port: number;
  requests: ReceivedRequest[];
  /** Replies for the next requests (to `path` only, when given), in order; after them every request gets 200. */
  script(replies: ScriptedReply[], path?: string): void;
  /** Resolves once `count` requests arrived; fails after `ms`. */
  waitForRequests(count: number, ms?: number): Promise<ReceivedRequest[]>;
  stop(): Promise<void>;
}

export interface TlsFiles {
  dir: string;
  caPem: string;
  keyPem: string;
  certPem: string;
}

export async function startHttpReceiver(options: { secret?: string; tls?: TlsFiles } = {}): Promise<HttpReceiver> {
  const requests: ReceivedRequest[] = [];
  let replies: ScriptedReply[] = [];
  let repliesPath: string | undefined;
  const hanging: (() => void)[] = [];
  const verifier = options.secret ? new Webhook(options.secret) : null;
  const server = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    development: false,
    idleTimeout: 60,
    ...(options.tls ? { tls: { key: options.tls.keyPem, cert: options.tls.certPem } } : {}),
    async fetch(request) {
      const url = new URL(request.url);
      const body = await request.text();
      const headers = Object.fromEntries(request.headers.entries());
      const received: ReceivedRequest = { method: request.method, path: url.pathname + url.search, headers, body };
      if (verifier) received.signature = verify(verifier, body, headers);
      requests.push(received);
      const scripted = repliesPath === undefined || repliesPath === url.pathname ? replies.shift() : undefined;
      const reply = scripted ?? { status: 200, body: "ok" };
      if (reply.hang) return new Promise<Response>((resolve) => hanging.push(() => resolve(new Response("late", { status: 503 }))));
      return new Response(reply.body ?? "", { status: reply.status, headers: reply.headers });
    },
  });
  const scheme = options.tls ? "https" : "http";
  return {
    url: `${scheme}://127.0.0.1:${server.port}`,
    port: server.port!,
    requests,
    script: (next, path) => {
      replies = [...next];
      repliesPath = path;
    },
    waitForRequests: (count, ms = 5000) => waitFor(`${count} requests at the receiver`, () => requests.length >= count && requests, ms),
    async stop() {
      for (const release of hanging.splice(0)) release();
      await server.stop(true);
    },
  };
}

function verify(verifier: Webhook, body: string, headers: Record<string, string>): { valid: boolean; error?: string } {
  try {
    verifier.verify(body, headers);
    return { valid: true };
  } catch (err) {
    return { valid: false, error: String(err) };
  }
}

/** A throwaway CA and a server certificate it signed, for 127.0.0.1 and localhost (openssl). */
export function makeTestCertificates(): TlsFiles {
  const dir = mkdtempSync(join(tmpdir(), "vxman-tls-"));
  const openssl = (...args: string[]) => {
    const r = spawnSync("openssl", args, { cwd: dir, encoding: "utf8" });
    if (r.status !== 0) throw new Error(`openssl ${args[0]} failed: ${r.stderr}`);
  };
  const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
  writeFileSync(join(dir, "server.ext"), "basicConstraints=CA:FALSE\nsubjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n");
  openssl("req", "-x509", ...ec, "-keyout", "ca.key", "-out", "ca.pem", "-days", "2", "-subj", "/CN=vxman test CA",
    "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign");
  openssl("req", ...ec, "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=localhost");
  openssl("x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial", "-out", "server.pem", "-days", "2", "-extfile", "server.ext");
  const read = (name: string) => readFileSync(join(dir, name), "utf8");
  return { dir, caPem: read("ca.pem"), keyPem: read("server.key"), certPem: read("server.pem") };
}

export interface ReceivedMail {
  port: "tls" | "starttls";
  user: string;
  secure: boolean;
  from: string;
  to: string[];
  /** Lower-case names, folded lines joined. */
  headers: Record<string, string>;
  body: string;
  raw: string;
}

export interface SmtpServer {
  ports: { tls: number; starttls: number };
  caPem: string;
  user: string;
  password: string;
  messages(): ReceivedMail[];
  waitForMessages(count: number, ms?: number): Promise<ReceivedMail[]>;
  stop(): Promise<void>;
}

const SMTP_SCRIPT = join(import.meta.dir, "smtp-server.mjs");

/** The smtp-server package under Node (needs `node` and `openssl` on PATH). */
export async function startSmtpServer(): Promise<SmtpServer> {
  const tls = makeTestCertificates();
  const user = "alice";
  const password = `pw-${crypto.randomUUID()}`;
  // stdin stays a pipe: if this test process dies, the server sees it close and exits.
  const child = Bun.spawn(["node", SMTP_SCRIPT, tls.dir], {
    env: { PATH: process.env.PATH ?? "", SMTP_USER: user, SMTP_PASSWORD: password },
    stdin: "pipe",
    stdout: "pipe",
    stderr: "inherit",
  });
  const stop = async () => {
    child.kill();
    await Promise.race([child.exited, Bun.sleep(3000)]);
    rmSync(tls.dir, { recursive: true, force: true });
  };
  try {
    const ports = JSON.parse(await firstLine(child.stdout, 10_000)) as SmtpServer["ports"];
    const messages = (): ReceivedMail[] => {
      try {
        return readFileSync(join(tls.dir, "messages.jsonl"), "utf8").split("\n").filter(Boolean).map((l) => JSON.parse(l));
      } catch {
        return [];
      }
    };
    return {
      ports,
      caPem: tls.caPem,
      user,
      password,
      messages,
      waitForMessages: (count, ms = 5000) => waitFor(`${count} messages at the SMTP server`, () => messages().length >= count && messages(), ms),
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}

async function firstLine(stream: ReadableStream<Uint8Array>, ms: number): Promise<string> {
  const reader = stream.getReader();
  let timer: ReturnType<typeof setTimeout> | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`the SMTP server did not start within ${ms} ms`)), ms);
  });
  let text = "";
  try {
    while (!text.includes("\n")) {
      const { done, value } = await Promise.race([reader.read(), deadline]);
      if (done) throw new Error("the SMTP server exited before it listened");
      text += new TextDecoder().decode(value);
    }
  } finally {
    clearTimeout(timer);
    reader.releaseLock();
  }
  return text.slice(0, text.indexOf("\n"));
}
