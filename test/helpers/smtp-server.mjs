// A real SMTP server for the e-mail channel's tests, run under Node (smtp-server is a Node
// library; running it under Bun would test Bun twice). Started by startSmtpServer() in
// receivers.ts with:
//   node smtp-server.mjs <dir>   (dir holds server.key, server.pem; messages go to dir/messages.jsonl)
// and SMTP_USER / SMTP_PASSWORD in the environment. Listens on 127.0.0.1 only, on two ports:
// implicit TLS (465-style) and STARTTLS (587-style, refusing AUTH and MAIL before the upgrade).
// Prints one JSON line {"tls": port, "starttls": port} when both listen.
//
// Scripted failures, chosen by the recipient's local part, let tests see how the client
// classifies SMTP replies: tempfail@… → 451 (try again later), reject@… → 550 (permanent).
import { appendFileSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { SMTPServer } from "smtp-server";

const dir = process.argv[2];
const { SMTP_USER: user, SMTP_PASSWORD: password } = process.env;
if (!dir || !user || !password) throw new Error("usage: SMTP_USER=… SMTP_PASSWORD=… node smtp-server.mjs <dir>");
const key = readFileSync(join(dir, "server.key"));
const cert = readFileSync(join(dir, "server.pem"));
const MAX_MESSAGE_BYTES = 1024 * 1024;

function options(secure) {
  return {
    secure,
    key,
    cert,
    name: "smtp.test",
    authMethods: ["PLAIN", "LOGIN"],
    authOptional: false, // every message needs AUTH, on both ports
    allowInsecureAuth: false, // on the STARTTLS port, AUTH only after the upgrade
    size: MAX_MESSAGE_BYTES,
    disabledCommands: [],
    logger: false,
    onAuth(auth, _session, callback) {
      if (auth.username === user && auth.password === password) return callback(null, { user });
      const err = new Error("5.7.8 Authentication credentials invalid");
      err.responseCode = 535;
      callback(err);
    },
    onRcptTo(address, _session, callback) {
      const local = address.address.split("@")[0];
      if (local === "tempfail") return callback(Object.assign(new Error("4.3.0 Try again later"), { responseCode: 451 }));
      if (local === "reject") return callback(Object.assign(new Error("5.1.1 No such user"), { responseCode: 550 }));
      callback();
    },
    onData(stream, session, callback) {
      const chunks = [];
      stream.on("data", (c) => chunks.push(c));
      stream.on("end", () => {
        const raw = Buffer.concat(chunks).toString("utf8");
        record(raw, session, secure ? "tls" : "starttls");
        callback(null, "Queued");
      });
    },
  };
}

/** One JSON line per accepted message: envelope, unfolded headers (lower-case names), body. */
function record(raw, session, port) {
  const split = raw.indexOf("\r\n\r\n");
  const head = split === -1 ? raw : raw.slice(0, split);
  const body = split === -1 ? "" : raw.slice(split + 4);
  const headers = {};
  for (const line of head.replace(/\r\n[ \t]+/g, " ").split("\r\n")) {
    const colon = line.indexOf(":");
    if (colon > 0) headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  const message = {
    port,
    user: session.user,
    secure: session.secure,
    from: session.envelope.mailFrom && session.envelope.mailFrom.address,
    to: session.envelope.rcptTo.map((r) => r.address),
    headers,
    body,
    raw,
  };
  appendFileSync(join(dir, "messages.jsonl"), `${JSON.stringify(message)}\n`);
}

function listen(server) {
  return new Promise((resolve, reject) => {
    server.on("error", (err) => console.error(`smtp-server: ${err.message}`));
    server.server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve(server.server.address().port));
  });
}

const implicit = new SMTPServer(options(true));
const starttls = new SMTPServer(options(false));
const ports = { tls: await listen(implicit), starttls: await listen(starttls) };
process.stdout.write(`${JSON.stringify(ports)}\n`);

// Stop when told to, or when the parent test process goes away (stdin closes).
const stop = () => {
  implicit.close();
  starttls.close();
  setTimeout(() => process.exit(0), 200).unref();
};
process.on("SIGTERM", stop);
process.stdin.on("end", stop);
process.stdin.resume();
