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

/** Which role a token opens, asked of the server (GET /api/whoami changes nothing). */
export async function roleOf(token: string): Promise<Role> {
  const res = await fetch("/api/whoami", { headers: { authorization: `Bearer ${token}` } });
  if (!res.ok) return "anonymous";
  return ((await res.json()) as { role: Role }).role;
}
