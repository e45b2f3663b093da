// /ws/status against what a hostile client does, on the compiled binary: big inbound messages
// (the dashboard sends none), and a bearer token offered as the only subprotocol (which Bun
// would otherwise echo back in the handshake).
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { encodeTokenProtocol } from "../../src/live/protocol.ts";
import { MAX_WS_MESSAGE_BYTES } from "../../src/server.ts";
import { serveBinary, type ServedBinary } from "../helpers/binary.ts";
import { LiveClient, upgradeAnswer } from "./live-client.ts";

const READ_TOKEN = "ws-abuse-read-token-0123456789";

/** Resident memory of a process, from /proc (MiB). */
const rssMiB = (pid: number) => Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))![1]) / 1024;

describe("WebSocket abuse (compiled binary)", () => {
  let served: ServedBinary;
  let url: string;
  beforeAll(async () => {
    served = await serveBinary({ READ_TOKEN, ADMIN_TOKEN: "ws-abuse-admin-token-0123456789" });
    url = `${served.base.replace("http", "ws")}/ws/status`;
  }, 60_000);
  afterAll(() => served?.stop());

  test("a bearer token offered as the only subprotocol is refused, never echoed back", async () => {
    const tokenOnly = await upgradeAnswer(url, { "sec-websocket-protocol": encodeTokenProtocol(READ_TOKEN) });
    expect(tokenOnly.status).toBe(400);
    expect(tokenOnly.body).toMatchObject({ error: "unsupported_protocol" });
    expect(JSON.stringify(tokenOnly.body)).not.toContain(encodeTokenProtocol(READ_TOKEN));

    const client = await LiveClient.connect(url, ["vxman", encodeTokenProtocol(READ_TOKEN)]);
    expect(client.ws.protocol).toBe("vxman");
    client.close();
    const other = await upgradeAnswer(url, { "sec-websocket-protocol": "chat, superchat", authorization: `Bearer ${READ_TOKEN}` });
    expect(other.status).toBe(400);
  });

  test(`messages from a dashboard are not read: a small one is ignored, one over ${MAX_WS_MESSAGE_BYTES} bytes closes the socket (1009)`, async () => {
    const client = await LiveClient.connect(url, ["vxman", encodeTokenProtocol(READ_TOKEN)]);
    client.ws.send("hello?");
    await Bun.sleep(200);
    expect(client.closeEvent).toBeUndefined();
    client.ws.send("x".repeat(MAX_WS_MESSAGE_BYTES + 1));
    const closed = await Promise.race([client.closed, Bun.sleep(5000).then(() => null)]);
    expect(closed?.code).toBe(1009);
  });

  test("20 sockets sending 15 MiB messages do not grow the server's memory", async () => {
    const pid = served.pid();
    const before = rssMiB(pid);
    const sockets = await Promise.all(Array.from({ length: 20 }, () => LiveClient.connect(url, ["vxman", encodeTokenProtocol(READ_TOKEN)])));
    const big = "y".repeat(15 * 1024 * 1024);
    for (const s of sockets) if (s.ws.readyState === WebSocket.OPEN) s.ws.send(big);
    const closes = await Promise.all(sockets.map((s) => Promise.race([s.closed, Bun.sleep(20_000).then(() => ({ code: 0, reason: "not closed" }))])));
    expect(closes.map((c) => c.code)).toEqual(sockets.map(() => 1009));
    await Bun.sleep(500);
    const after = rssMiB(pid);
    // Before the cap, the same abuse grew the server by 584 MiB (issue 9).
    expect(after - before).toBeLessThan(64);
    expect((await fetch(`${served.base}/health`)).status).toBe(200);
  }, 60_000);
});
