// `vxman user add|passwd|list|disable|enable`: people, from the server's own shell, straight on
// the database (so the first admin can be made before anyone can log in). A password is read
// from a prompt that does not echo it, or from standard input when that is not a terminal
// (`printf '%s\n' "$PW" | vxman user add alice --role admin`); never from the command line,
// where other users of the machine could read it in the process list.
import { userInfo } from "node:os";
import { parseArgs } from "node:util";
import type { Actor } from "../api/events/record.ts";
import type { Database } from "../db/index.ts";
import { ApiError } from "../http/errors.ts";
import { isRole, ROLES } from "../people/roles.ts";
import { UserService } from "../people/users.ts";
import { readSecret } from "./prompt.ts";

export const USER_USAGE = `Usage:
  vxman user add NAME --role viewer|operator|admin [--display-name TEXT]
  vxman user passwd NAME          set a new password (the user's sessions end)
  vxman user list
  vxman user disable NAME         the user can no longer log in; their sessions and tokens stop
  vxman user enable NAME
Passwords are read from a prompt, or from standard input when it is not a terminal.`;

export class UserCommandError extends Error {}

/** The person at the server's shell, for the event log. */
const cliActor = (): Actor => ({ name: `cli (${safeUserName()})`, address: null });

function safeUserName(): string {
  try {
    return userInfo().username;
  } catch {
    return `uid ${process.getuid?.() ?? "?"}`;
  }
}

export async function runUserCommand(db: Database, args: string[]): Promise<number> {
  const [sub, ...rest] = args;
  const users = new UserService(db);
  switch (sub) {
    case "add":
      return add(users, rest);
    case "passwd":
      return setPassword(users, one(rest, "passwd"));
    case "list":
      return list(users, rest);
    case "disable":
    case "enable":
      return setDisabled(users, one(rest, sub), sub === "disable");
    default:
      throw new UserCommandError(sub ? `unknown user command "${sub}"` : "which user command?");
  }
}

function one(args: string[], sub: string): string {
  const { positionals } = usage(() => parseArgs({ args, allowPositionals: true, strict: true }));
  if (positionals.length !== 1) throw new UserCommandError(`user ${sub} takes one user name`);
  return positionals[0]!;
}

/** parseArgs's complaint (an unknown option, a missing value) as a usage error. */
function usage<T>(parse: () => T): T {
  try {
    return parse();
  } catch (err) {
    throw new UserCommandError((err as Error).message.split(".")[0]!);
  }
}

async function add(users: UserService, args: string[]): Promise<number> {
  const options = { role: { type: "string" }, "display-name": { type: "string" } } as const;
  const { values, positionals } = usage(() => parseArgs({ args, options, allowPositionals: true, strict: true }));
  if (positionals.length !== 1) throw new UserCommandError("user add takes one user name");
  const role = values.role;
  if (!isRole(role)) throw new UserCommandError(`--role must be one of ${ROLES.join(", ")}`);
  const password = await readSecret(`Password for ${positionals[0]}: `, { confirm: true });
  const user = await friendly(() => users.create({ username: positionals[0]!, role, password, display_name: values["display-name"] }, cliActor()));
  console.log(`added ${user.username} (${user.role})`);
  return 0;
}

async function setPassword(users: UserService, name: string): Promise<number> {
  const id = await users.idOf(name);
  if (id === null) throw new UserCommandError(`no user named "${name}"`);
  const password = await readSecret(`New password for ${name}: `, { confirm: true });
  await friendly(() => users.update(id, { password }, cliActor(), null));
  console.log(`password of ${name} changed; their sessions have ended`);
  return 0;
}

async function setDisabled(users: UserService, name: string, disabled: boolean): Promise<number> {
  const id = await users.idOf(name);
  if (id === null) throw new UserCommandError(`no user named "${name}"`);
  await friendly(() => users.update(id, { disabled }, cliActor(), null));
  console.log(`${name} ${disabled ? "disabled: they cannot log in, and their sessions and tokens stop" : "enabled"}`);
  return 0;
}

async function list(users: UserService, args: string[]): Promise<number> {
  usage(() => parseArgs({ args, strict: true }));
  const all = await users.list();
  if (all.length === 0) {
    console.log("no users yet: vxman user add NAME --role admin");
    return 0;
  }
  const rows = all.map((u) => [u.username, u.role, u.disabled ? "disabled" : "active", u.last_login_at ?? "never", u.display_name]);
  const widths = [0, 1, 2, 3].map((c) => Math.max(...rows.map((r) => r[c]!.length), ["user", "role", "state", "last login"][c]!.length));
  const line = (r: string[]) => r.map((v, c) => (c < 4 ? v.padEnd(widths[c]!) : v)).join("  ").trimEnd();
  console.log(line(["user", "role", "state", "last login", "name"]));
  for (const r of rows) console.log(line(r));
  return 0;
}

/** The service's refusals (weak password, name taken) as one plain line. */
async function friendly<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (err instanceof ApiError) throw new UserCommandError(err.details?.map((d) => `${d.field} ${d.message}`).join("; ") || err.message);
    throw err;
  }
}
