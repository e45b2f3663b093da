// Who is using this dashboard, as the server says (GET /api/session). The session itself is an
// HttpOnly cookie this code never sees, so nothing is kept in web storage: a reload asks again.
import type { WhoAmI } from "../../src/people/model.ts";
import { atLeast, type Role } from "../../src/people/roles.ts";
import { api, onRefused } from "./api.ts";

export type { Role };

/** What the dashboard offers each role. The server's access table (src/people/access.ts) has
 *  the last word; this only keeps the page from showing what a role cannot use. */
export const may = {
  check: (role: Role | null) => role !== null && atLeast(role, "operator"),
  editNotes: (role: Role | null) => role !== null && atLeast(role, "operator"),
  editLabels: (role: Role | null) => role !== null && atLeast(role, "operator"),
  silence: (role: Role | null) => role !== null && atLeast(role, "operator"),
  readDeliveries: (role: Role | null) => role !== null && atLeast(role, "operator"),
  manageChannels: (role: Role | null) => role === "admin",
  deleteMachines: (role: Role | null) => role === "admin",
  manageUsers: (role: Role | null) => role === "admin",
  readAudit: (role: Role | null) => role === "admin",
  /** Start and cancel runs of the jobs admins defined. */
  runJobs: (role: Role | null) => role !== null && atLeast(role, "operator"),
  /** Define jobs; keep credentials, SSH settings and host keys (a password goes where they point). */
  manageJobs: (role: Role | null) => role === "admin",
  manageCredentials: (role: Role | null) => role === "admin",
};

export class Session {
  /** Null until the server has answered once. */
  who: WhoAmI | null = null;
  /** Set when this page was logged in and the session ended under it (expired, revoked, idle). */
  ended = false;
  readonly #listeners = new Set<() => void>();

  constructor() {
    // 401: the session is gone. 403: perhaps an admin changed this user's role meanwhile.
    onRefused((status) => (status === 401 ? this.#lost() : void this.refresh().catch(() => {})));
  }

  get role(): Role | null {
    return this.who?.role ?? null;
  }

  /** Logged in as a user (not just reading anonymously). */
  get user() {
    return this.who?.user ?? null;
  }

  /** The machine list may be shown: logged in, or reads are open to all. */
  get canRead(): boolean {
    return !!this.who && (this.who.authenticated || this.who.anonymous_read);
  }

  subscribe(listener: () => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Asks the server who this page is; notices a session that ended since the last answer. */
  async refresh(): Promise<void> {
    const next = await api<WhoAmI>("/api/session");
    if (!this.who) performance.mark("vxman:session");
    if (this.who?.authenticated && !next.authenticated) this.ended = true;
    this.#set(next);
  }

  async logIn(username: string, password: string): Promise<void> {
    await api("/api/session", { method: "POST", body: { username, password }, loggingIn: true });
    this.ended = false;
    await this.refresh();
  }

  async logOut(): Promise<void> {
    await api("/api/session", { method: "DELETE" });
    this.ended = false;
    this.#set({ ...this.who!, authenticated: false, via: "anonymous", role: null, user: null });
  }

  /** A call was refused with 401: drop to logged out now, then ask the server to be sure. */
  #lost() {
    if (!this.who?.authenticated) return;
    this.ended = true;
    this.#set({ ...this.who, authenticated: false, via: "anonymous", role: null, user: null });
    void this.refresh().catch(() => {});
  }

  #set(who: WhoAmI) {
    this.who = who;
    for (const l of this.#listeners) l();
  }
}
