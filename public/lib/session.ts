// Who is using this tab: nobody, a reader (READ_TOKEN) or the admin. The token lives in
// sessionStorage: it survives a reload but not closing the tab, and other sites cannot read it.
export type Role = "anonymous" | "reader" | "admin";

const TOKEN_KEY = "vxman.token";
const ROLE_KEY = "vxman.role";
const listeners = new Set<() => void>();

export const session = {
  token: (): string | null => sessionStorage.getItem(TOKEN_KEY),
  role: (): Role => (sessionStorage.getItem(TOKEN_KEY) ? ((sessionStorage.getItem(ROLE_KEY) as Role | null) ?? "reader") : "anonymous"),
  logIn(token: string, role: Exclude<Role, "anonymous">) {
    sessionStorage.setItem(TOKEN_KEY, token);
    sessionStorage.setItem(ROLE_KEY, role);
    for (const l of listeners) l();
  },
  logOut() {
    sessionStorage.removeItem(TOKEN_KEY);
    sessionStorage.removeItem(ROLE_KEY);
    for (const l of listeners) l();
  },
  subscribe(listener: () => void): () => void {
    listeners.add(listener);
    return () => listeners.delete(listener);
  },
};

/**
 * Which role a token opens, asked of the server without changing anything: deleting machine 0
 * (ids start at 1, so it never exists) answers 404 to the admin and 401/403 to anyone else;
 * a list read then tells a read token from a wrong one.
 */
export async function roleOf(token: string): Promise<Role> {
  const auth = { authorization: `Bearer ${token}` };
  const del = await fetch("/api/machines/0", { method: "DELETE", headers: auth });
  if (del.status === 404) return "admin";
  const read = await fetch("/api/machines?limit=1", { headers: auth });
  // A read that needs no token at all proves nothing about this one.
  const open = (await fetch("/api/machines?limit=1")).ok;
  return read.ok && !open ? "reader" : "anonymous";
}
