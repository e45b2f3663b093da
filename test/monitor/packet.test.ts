// Packet build/parse against bytes shaped like what the kernel hands a raw socket. The hex
// vectors were produced by an independent implementation (Python struct + RFC 1071), not by
// the code under test.
import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import {
  checksum,
  describeIcmpError,
  ECHO_PACKET_BYTES,
  ipv4PayloadOffset,
  newEchoRequest,
  parseExtendedError,
  parseIcmp,
  parseIcmp4,
  parseIcmp6,
  setEchoIdSeq,
} from "../../src/monitor/packet.ts";
import { RECORD_BYTES, RECORD_ERROR, RECORD_REPLY, RecordBuffer } from "../../src/monitor/receiver-protocol.ts";

const hex = (s: string) => Uint8Array.from(s.match(/../g)!.map((b) => parseInt(b, 16)));
const DATA = "202122232425262728292a2b2c2d2e2f303132333435363738393a3b3c3d3e3f404142434445464748494a4b4c4d4e4f5051525354555657";

// 127.0.0.1 -> 127.0.0.1 echo reply, id 0x1c2b seq 7, as a raw IPv4 socket receives it.
const REPLY4 = hex(`4500005404d24000400137d57f0000017f000001000069371c2b0007${DATA}`);
// 198.18.0.2 says "host unreachable" about our request 198.18.0.1 -> 198.18.0.6 (id 0xbeef
// seq 42), quoting only the IP header + 8 bytes, the RFC 792 minimum.
const UNREACH4 = hex("45000038009940004001ae04c6120002c612000103017795000000004500005404d240004001a9abc6120001c61200060800be4fbeef002a");
// Time exceeded quoting the whole request (Linux quotes up to 576 bytes).
const TIMEX4 = hex(`45000070009840004001adcdc6120002c61200010b00f4ff000000004500005404d240004001a9abc6120001c61200060800be4fbeef002a${DATA}`);
const REPLY6 = hex(`81005a5a1234fffe${DATA}`);
// ICMPv6 "address unreachable" quoting our request fd00::1 -> fd00::99, id 0x1234 seq 0xfffe.
const UNREACH6 = hex(`01030000000000006000000000403a40fd000000000000000000000000000001fd000000000000000000000000000099800000001234fffe${DATA}`);

describe("checksum", () => {
  test("RFC 1071 example", () => {
    expect(checksum(hex("0001f203f4f5f6f7"))).toBe(0x220d);
  });

  test("odd length pads with a zero byte", () => {
    expect(checksum(hex("0001f203f4f5f6"))).toBe(checksum(hex("0001f203f4f5f600")));
  });

  test("a packet carrying its own correct checksum sums to zero", () => {
    expect(checksum(REPLY4, 0, 20)).toBe(0); // the IPv4 header
    expect(checksum(REPLY4, 20)).toBe(0); // the ICMP message
  });
});

describe("echo request", () => {
  test("matches an independently built packet byte for byte", () => {
    const pkt = newEchoRequest(4);
    setEchoIdSeq(pkt, 4, 0xbeef, 42);
    expect(pkt.length).toBe(ECHO_PACKET_BYTES);
    expect(Buffer.from(pkt).toString("hex")).toBe(`0800be4fbeef002a${DATA}`);
  });

  test("re-stamping the same buffer recomputes the checksum", () => {
    const pkt = newEchoRequest(4);
    setEchoIdSeq(pkt, 4, 1, 1);
    setEchoIdSeq(pkt, 4, 0xbeef, 42);
    expect(checksum(pkt)).toBe(0);
  });

  test("ICMPv6 request leaves the checksum to the kernel", () => {
    const pkt = newEchoRequest(6);
    setEchoIdSeq(pkt, 6, 0x1234, 0xfffe);
    expect(Buffer.from(pkt.subarray(0, 8)).toString("hex")).toBe("800000001234fffe");
  });

  test("round trip: what we send, echoed back as a reply, parses to the same id/seq", () => {
    for (const [id, seq] of [[0, 0], [1, 65535], [0xabcd, 0x1234]] as const) {
      const pkt = newEchoRequest(4);
      setEchoIdSeq(pkt, 4, id, seq);
      pkt[0] = 0; // the reply the kernel builds: type 0, checksum adjusted
      const sum = checksum(pkt.map((b, i) => (i === 2 || i === 3 ? 0 : b)));
      pkt[2] = sum >> 8;
      pkt[3] = sum & 0xff;
      expect(parseIcmp4(pkt, false)).toEqual({ kind: "reply", id, seq });
    }
  });
});

describe("IPv4 parsing", () => {
  test("echo reply with its IP header (raw socket)", () => {
    expect(ipv4PayloadOffset(REPLY4)).toBe(20);
    expect(parseIcmp(REPLY4, 4, true)).toEqual({ kind: "reply", id: 0x1c2b, seq: 7 });
  });

  test("echo reply without an IP header (datagram socket)", () => {
    expect(parseIcmp(REPLY4.subarray(20), 4, false)).toEqual({ kind: "reply", id: 0x1c2b, seq: 7 });
  });

  test("IP options: the header length comes from IHL", () => {
    const withOptions = new Uint8Array(REPLY4.length + 4);
    withOptions.set(REPLY4.subarray(0, 20));
    withOptions[0] = 0x46; // IHL 6 words: 4 bytes of (NOP) options
    withOptions.set([1, 1, 1, 1], 20);
    withOptions.set(REPLY4.subarray(20), 24);
    expect(parseIcmp4(withOptions, true)).toEqual({ kind: "reply", id: 0x1c2b, seq: 7 });
  });

  test("a reply with a wrong checksum is dropped", () => {
    const bad = REPLY4.slice();
    bad[30] = bad[30]! ^ 0xff;
    expect(parseIcmp4(bad, true)).toBeUndefined();
  });

  test("destination unreachable: the quoted request says which probe", () => {
    const msg = parseIcmp4(UNREACH4, true);
    expect(msg).toEqual({ kind: "error", type: 3, code: 1, id: 0xbeef, seq: 42, destination: Uint8Array.from([198, 18, 0, 6]) });
    expect(describeIcmpError(4, 3, 1)).toBe("host unreachable");
    expect(describeIcmpError(4, 3, 0)).toBe("network unreachable");
  });

  test("time exceeded quoting the full request", () => {
    const msg = parseIcmp4(TIMEX4, true);
    expect(msg).toMatchObject({ kind: "error", type: 11, code: 0, id: 0xbeef, seq: 42 });
    expect(describeIcmpError(4, 11, 0)).toBe("time to live exceeded");
  });

  test("an error about something other than an echo request is not ours", () => {
    const udp = UNREACH4.slice();
    udp[28 + 9] = 17; // quoted protocol: UDP
    expect(parseIcmp4(udp, true)).toBeUndefined();
  });

  test("other ICMP types (e.g. an echo request seen on lo) are ignored", () => {
    const request = REPLY4.slice();
    request[20] = 8;
    expect(parseIcmp4(request, true)).toBeUndefined();
  });
});

describe("ICMPv6 parsing", () => {
  test("echo reply", () => {
    expect(parseIcmp(REPLY6, 6, false)).toEqual({ kind: "reply", id: 0x1234, seq: 0xfffe });
  });

  test("destination unreachable quoting the IPv6 header and our request", () => {
    const dst = new Uint8Array(16);
    dst.set([0xfd, 0], 0);
    dst[15] = 0x99;
    expect(parseIcmp6(UNREACH6)).toEqual({ kind: "error", type: 1, code: 3, id: 0x1234, seq: 0xfffe, destination: dst });
    expect(describeIcmpError(6, 1, 3)).toBe("address unreachable");
    expect(describeIcmpError(6, 1, 0)).toBe("no route to destination");
    expect(describeIcmpError(6, 3, 0)).toBe("hop limit exceeded");
  });
});

describe("bad input never throws", () => {
  test("every truncation of every sample parses to undefined or a sane message", () => {
    for (const [pkt, family, withIp] of [[REPLY4, 4, true], [UNREACH4, 4, true], [TIMEX4, 4, true], [REPLY6, 6, false], [UNREACH6, 6, false]] as const) {
      for (let len = 0; len < pkt.length; len++) {
        const msg = parseIcmp(pkt.subarray(0, len), family, withIp);
        // A reply's header may survive truncation of its data; an error's quote may not.
        if (msg) expect(["reply", "error"]).toContain(msg.kind);
        if (len < (withIp ? 28 : 8)) expect(msg).toBeUndefined();
      }
    }
  });

  test("garbage of any length", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), fc.constantFrom(4 as const, 6 as const), fc.boolean(), (bytes, family, withIp) => {
        parseIcmp(bytes, family, withIp);
        parseExtendedError(bytes, bytes.length);
      }),
      { numRuns: 2000 },
    );
  });
});

describe("error queue (datagram sockets)", () => {
  // struct cmsghdr { size_t len; int level; int type; } + sock_extended_err + sockaddr_in offender
  function cmsg(level: number, type: number, origin: number, icmpType: number, code: number): Uint8Array {
    const buf = new Uint8Array(48);
    const v = new DataView(buf.buffer);
    v.setUint32(0, 48, true);
    v.setInt32(8, level, true);
    v.setInt32(12, type, true);
    v.setUint32(16, 113, true); // ee_errno EHOSTUNREACH
    buf.set([origin, icmpType, code], 20);
    v.setUint16(32, 2, true); // AF_INET
    buf.set([198, 18, 0, 2], 36);
    return buf;
  }

  test("IP_RECVERR with an ICMP origin gives type, code and who reported it", () => {
    expect(parseExtendedError(cmsg(0, 11, 2, 3, 1), 48)).toEqual({ errno: 113, icmp: { type: 3, code: 1 }, offender: Uint8Array.from([198, 18, 0, 2]) });
  });

  test("a local error has no ICMP type", () => {
    expect(parseExtendedError(cmsg(0, 11, 1, 0, 0), 48)?.icmp).toBeUndefined();
  });

  test("other control messages are skipped", () => {
    expect(parseExtendedError(cmsg(1, 29, 2, 3, 1), 48)).toBeUndefined();
  });
});

describe("receiver records", () => {
  test("round trip through the batch buffer", () => {
    const records = new RecordBuffer(new ArrayBuffer(RECORD_BYTES * 2));
    const reply = { kind: RECORD_REPLY, family: 4, id: 7, seq: 65535, receivedAt: 123456.789, address: Uint8Array.from([127, 0, 0, 9]), type: 0, code: 0, reporter: new Uint8Array(0) } as const;
    const v6 = new Uint8Array(16).fill(0xab);
    const error = { kind: RECORD_ERROR, family: 6, id: 1, seq: 2, receivedAt: 1.5, address: v6, type: 1, code: 3, reporter: v6.map((b) => b ^ 1) } as const;
    records.write(0, reply);
    records.write(RECORD_BYTES, error);
    expect(records.read(0)).toEqual(reply);
    expect(records.read(RECORD_BYTES)).toEqual(error);
    expect(records.addressIs(0, Uint8Array.from([127, 0, 0, 9]))).toBe(true);
    expect(records.addressIs(0, Uint8Array.from([127, 0, 0, 8]))).toBe(false);
    expect([records.kind(RECORD_BYTES), records.family(RECORD_BYTES), records.id(RECORD_BYTES), records.seq(RECORD_BYTES)]).toEqual([RECORD_ERROR, 6, 1, 2]);
  });
});
