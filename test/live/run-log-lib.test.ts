// The run page's pure helpers (public/lib/run-log.ts, public/lib/jobs.ts): output chunks become
// lines per host in seq order (a chunk may end mid-line; other hosts' lines go on meanwhile),
// chunks seen before (a reconnect) are dropped; targets and host counts in words.
import { describe, expect, test } from "bun:test";
import { countsText, stateTone, targetsText } from "../../public/lib/jobs.ts";
import { RunOutput } from "../../public/lib/run-log.ts";

const chunk = (seq: number, machine_id: number, text: string, stream: "stdout" | "stderr" = "stdout") => ({ seq, machine_id, stream, text });

describe("run output as lines", () => {
  test("a line split across chunks is one line; other hosts' lines interleave in seq order", () => {
    const out = new RunOutput();
    out.add([chunk(1, 1, "hel"), chunk(2, 2, "other host\n"), chunk(3, 1, "lo\nsecond"), chunk(4, 1, " line\n")]);
    expect(out.lines).toEqual([
      { machine_id: 1, stream: "stdout", text: "hello" },
      { machine_id: 2, stream: "stdout", text: "other host" },
      { machine_id: 1, stream: "stdout", text: "second line" },
    ]);
    expect(out.lastSeq).toBe(4);
  });

  test("stderr after an open stdout line starts a line of its own; blank lines are kept", () => {
    const out = new RunOutput();
    out.add([chunk(1, 1, "out"), chunk(2, 1, "err\n", "stderr"), chunk(3, 1, "\n\nend\n")]);
    expect(out.lines.map((l) => `${l.stream}:${l.text}`)).toEqual(["stdout:out", "stderr:err", "stdout:", "stdout:", "stdout:end"]);
  });

  test("chunks already seen (a reconnect that overlaps) are dropped; only new ones bump the version", () => {
    const out = new RunOutput();
    expect(out.add([chunk(1, 1, "a\n"), chunk(2, 1, "b\n")])).toBe(2);
    const version = out.version;
    expect(out.add([chunk(2, 1, "b\n")])).toBe(0);
    expect(out.version).toBe(version);
    expect(out.add([chunk(2, 1, "b\n"), chunk(3, 1, "c\n")])).toBe(1);
    expect(out.lines.map((l) => l.text)).toEqual(["a", "b", "c"]);
  });

  test("text stays text: markup and what looks like escapes pass through untouched", () => {
    const out = new RunOutput();
    out.add([chunk(1, 1, "<img src=x onerror=alert(1)>\n<script>x</script>\n")]);
    expect(out.lines.map((l) => l.text)).toEqual(["<img src=x onerror=alert(1)>", "<script>x</script>"]);
  });
});

describe("jobs in words", () => {
  test("targets", () => {
    expect(targetsText({})).toBe("every machine");
    expect(targetsText({ machine_ids: [3], labels: ["role=db", "dc=b"], groups: ["vni 4096"], status: "active", q: "web" })).toBe(
      'machine 3 · labels role=db, dc=b · groups vni 4096 · status active · matching "web"',
    );
  });

  test("hosts by state, in the order a run goes", () => {
    expect(countsText({ failed: 1, succeeded: 2, timed_out: 1 })).toBe("2 succeeded, 1 failed, 1 timed out");
    expect(countsText({})).toBe("no hosts");
  });

  test("states' tones", () => {
    expect(["succeeded", "auth_failed", "running", "skipped"].map(stateTone)).toEqual(["ok", "bad", "busy", "none"]);
  });
});
