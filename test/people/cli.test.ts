// `vxman user …` on the compiled binary, the way an admin bootstraps vxman: the first admin is
// made from the server's shell (password on standard input, never on the command line), logs
// in over HTTP, and the CLI's changes (password, disable) reach the running server.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { serveBinary, type ServedBinary } from "../helpers/binary.ts";
import { sharedPgCluster } from "../helpers/postgres.ts";

let served: ServedBinary;
let databaseUrl: string;

beforeAll(async () => {
  // PostgreSQL: the CLI and the running server share the database (the embedded one is locked
  // by the server while it runs).
  databaseUrl = await (await sharedPgCluster()).createDatabase();
  served = await serveBinary({ DATABASE_URL: databaseUrl });
}, 60_000);
afterAll(() => served?.stop());

/** The binary's `user` command with `stdin` as its standard input (not a terminal). */
async function user(args: string[], stdin = ""): Promise<{ code: number; out: string; err: string }> {
  const bin = `${served.dir}/vxman`;
  const proc = Bun.spawn([bin, "user", ...args], {
    cwd: served.dir,
    env: { PATH: process.env.PATH ?? "", DATABASE_URL: databaseUrl, LOG_FORMAT: "json" },
    stdin: new Blob([stdin]),
    stdout: "pipe",
    stderr: "pipe",
    timeout: 60_000,
  });
  const [out, err, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  return { code, out, err };
}

const login = (username: string, password: string) =>
  fetch(`${served.base}/api/session`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ username, password }) });

describe("vxman user (compiled binary)", () => {
  test("with no user yet, who-am-I says so, and `user list` says how to add one", async () => {
    expect((await (await fetch(`${served.base}/api/session`)).json()).users_exist).toBe(false);
    const list = await user(["list"]);
    expect(list).toMatchObject({ code: 0, out: "no users yet: vxman user add NAME --role admin\n" });
  });

  test("add: the password comes from standard input; the new admin logs in over HTTP", async () => {
    const added = await user(["add", "root-admin", "--role", "admin", "--display-name", "First Admin"], "first-admin-passphrase\n");
    expect(added).toMatchObject({ code: 0, out: "added root-admin (admin)\n" });
    expect(added.out + added.err).not.toContain("first-admin-passphrase");
    const res = await login("root-admin", "first-admin-passphrase");
    expect(res.status).toBe(200);
    expect((await (await fetch(`${served.base}/api/session`)).json()).users_exist).toBe(true);
  });

  test("bad input exits 2 with the reason: a weak password, a taken name, an unknown role, no password", async () => {
    const weak = await user(["add", "bob", "--role", "viewer"], "password123\n");
    expect(weak.code).toBe(2);
    expect(weak.err).toContain("password is one of the most common passwords");
    const taken = await user(["add", "ROOT-ADMIN", "--role", "viewer"], "another-good-passphrase\n");
    expect(taken.code).toBe(2);
    expect(taken.err).toContain('A user named "ROOT-ADMIN" exists already');
    const role = await user(["add", "carol", "--role", "root"], "another-good-passphrase\n");
    expect(role.code).toBe(2);
    expect(role.err).toContain("--role must be one of viewer, operator, admin");
    const none = await user(["add", "dave", "--role", "viewer"], "");
    expect(none.code).not.toBe(0);
    expect(none.err).toContain("no password on standard input");
    const unknown = await user(["rename", "x"]);
    expect(unknown.code).toBe(2);
    expect(unknown.err).toContain('unknown user command "rename"');
  });

  test("passwd and disable act on the running server: old password refused, sessions ended, login refused", async () => {
    const before = await login("root-admin", "first-admin-passphrase");
    const cookie = before.headers.get("set-cookie")!.split(";")[0]!;
    const passwd = await user(["passwd", "root-admin"], "second-admin-passphrase\n");
    expect(passwd).toMatchObject({ code: 0, out: "password of root-admin changed; their sessions have ended\n" });
    expect((await fetch(`${served.base}/api/machines`, { headers: { cookie } })).status).toBe(401);
    expect((await login("root-admin", "first-admin-passphrase")).status).toBe(401);
    expect((await login("root-admin", "second-admin-passphrase")).status).toBe(200);

    expect((await user(["add", "temp", "--role", "operator"], "short-lived-passphrase\n")).code).toBe(0);
    expect((await user(["disable", "temp"])).code).toBe(0);
    expect((await login("temp", "short-lived-passphrase")).status).toBe(401);
    const list = await user(["list"]);
    expect(list.out).toMatch(/^temp\s+operator\s+disabled\s+never/m);
    expect(list.out).toMatch(/^root-admin\s+admin\s+active\s+\d{4}-/m);
    expect((await user(["enable", "temp"])).code).toBe(0);
    expect((await login("temp", "short-lived-passphrase")).status).toBe(200);
  });

  test("the CLI's changes are in the event log as `cli (<who ran it>)`", async () => {
    const events = await (await fetch(`${served.base}/api/events?kind=user_created`, { headers: { authorization: `Bearer ${await adminToken()}` } })).json();
    expect(events.items.map((e: { actor: string }) => e.actor)).toEqual(expect.arrayContaining([expect.stringMatching(/^cli \(.+\)$/)]));
  });
});

/** The generated admin token the server printed on its first start. */
async function adminToken(): Promise<string> {
  return /generated admin token \(shown only now, keep it\): (\S+)"/.exec(served.output())![1]!;
}
