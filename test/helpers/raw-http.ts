// Raw HTTP/1.1 over a socket, for requests no client library would send (bad Host headers,
// request lines over the limits, CONNECT): nothing normalises what is written.
import { connect } from "node:net";

/** Raw HTTP over a socket, so nothing (no URL parser, no fetch) normalises what is sent. Bounded. */
export function rawHttp(
  server: { port: number },
  request: string | Uint8Array,
  /** The loopback address to send from: a client of its own, e.g. for the rate limit. */
  from?: string,
): Promise<{ status: number; headers: string; body: string }> {
  return new Promise((resolve, reject) => {
    const socket = connect({ port: server.port, host: "127.0.0.1", localAddress: from });
    let data = "";
    const timer = setTimeout(() => finish(), 5000);
    const finish = () => {
      clearTimeout(timer);
      socket.destroy();
      const [head = "", ...rest] = data.split("\r\n\r\n");
      const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(head)?.[1] ?? 0);
      if (!status) reject(new Error(`no HTTP answer: ${JSON.stringify(data.slice(0, 200))}`));
      else resolve({ status, headers: head.toLowerCase(), body: rest.join("\r\n\r\n") });
    };
    socket.on("data", (d) => {
      data += d;
      // One response is enough: stop once its body is complete (Content-Length) or chunked ends.
      const [head = "", ...rest] = data.split("\r\n\r\n");
      const length = /content-length: (\d+)/i.exec(head);
      if (rest.length && ((length && Buffer.byteLength(rest.join("\r\n\r\n")) >= Number(length[1])) || /\r\n0\r\n\r\n$/.test(data))) finish();
    });
    socket.on("end", finish);
    socket.on("error", () => finish());
    socket.write(request);
  });
}


/** The body of a chunked response, joined. Bounded: at most 1,000 chunks. */
export function dechunk(text: string): string {
  let out = "";
  let rest = text;
  for (let i = 0; i < 1000 && rest; i++) {
    const eol = rest.indexOf("\r\n");
    const size = parseInt(rest.slice(0, eol), 16);
    if (!size) break;
    out += rest.slice(eol + 2, eol + 2 + size);
    rest = rest.slice(eol + 2 + size + 2);
  }
  return out;
}

/** A plain request from a given loopback address (a client of its own): status and JSON body. */
export async function requestFrom(
  from: string,
  server: { port: number },
  method: string,
  path: string,
  headers: Record<string, string> = {},
  body?: string,
): Promise<{ status: number; headers: string; json: unknown }> {
  const lines = [`${method} ${path} HTTP/1.1`, "Host: 127.0.0.1", "Connection: close", ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`)];
  if (body !== undefined) lines.push(`Content-Length: ${Buffer.byteLength(body)}`);
  const res = await rawHttp(server, `${lines.join("\r\n")}\r\n\r\n${body ?? ""}`, from);
  const text = /transfer-encoding: chunked/.test(res.headers) ? dechunk(res.body) : res.body;
  return { status: res.status, headers: res.headers, json: text ? JSON.parse(text) : null };
}
