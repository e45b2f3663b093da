// The kernel filter on the raw sockets (icmp-socket.ts keepOnlyEchoId): echo replies with another
// echo id (another program's pings) are dropped before they reach the receiver.
import { describe, expect, test } from "bun:test";
import { closeIcmpSocket, keepOnlyEchoId, openIcmpSocket } from "../../src/monitor/icmp-socket.ts";
import { libc, MSG_DONTWAIT } from "../../src/monitor/libc.ts";
import { newEchoRequest, setEchoIdSeq } from "../../src/monitor/packet.ts";
import { encodeSockaddr, parseTarget, type Family } from "../../src/monitor/sockaddr.ts";
import { needs } from "../helpers/requirements.ts";

const OURS = 0x1234;
const THEIRS = 0x4321;

/** Echo ids of the echo replies queued on `fd`, read until the reply with `lastSeq` (bounded). */
async function repliesUntil(fd: number, family: Family, lastSeq: number): Promise<number[]> {
  const buf = new Uint8Array(2048);
  const ids: number[] = [];
  for (let i = 0; i < 200; i++) {
    const n = Number(libc.recvfrom(fd, buf, buf, MSG_DONTWAIT, null, null));
    if (n <= 0) {
      await Bun.sleep(10);
      continue;
    }
    const at = family === 4 ? (buf[0]! & 0x0f) * 4 : 0; // IPv4 raw sockets see the IP header
    if (buf[at] !== (family === 4 ? 0 : 129)) continue; // not an echo reply
    ids.push((buf[at + 4]! << 8) | buf[at + 5]!);
    if (((buf[at + 6]! << 8) | buf[at + 7]!) === lastSeq) return ids;
  }
  throw new Error(`no echo reply with sequence ${lastSeq}; saw ids ${ids}`);
}

describe.skipIf(!needs("root"))("kernel echo-id filter on raw sockets", () => {
  for (const [family, address] of [[4, "127.0.0.1"], [6, "::1"]] as const) {
    test(`IPv${family}: another id's reply never arrives, ours does`, async () => {
      const s = openIcmpSocket(family, 256 * 1024);
      try {
        expect(s.kind).toBe("raw");
        expect(keepOnlyEchoId(s, OURS)).toBe(true);
        // What arrived before the filter did (other programs' pings on this busy host) goes.
        const junk = new Uint8Array(2048);
        for (let i = 0; i < 10_000 && Number(libc.recvfrom(s.fd, junk, junk, MSG_DONTWAIT, null, null)) > 0; i++);
        const to = encodeSockaddr(parseTarget(address)!);
        // Theirs first: loopback delivers in order, so it would be queued before ours.
        for (const [id, seq] of [[THEIRS, 1], [OURS, 2]] as const) {
          const pkt = newEchoRequest(family);
          setEchoIdSeq(pkt, family, id, seq);
          expect(Number(libc.sendto(s.fd, pkt, pkt, 0, to, to.length))).toBe(pkt.length);
        }
        expect(await repliesUntil(s.fd, family, 2)).toEqual([OURS]);
      } finally {
        closeIcmpSocket(s);
      }
    });
  }
});
