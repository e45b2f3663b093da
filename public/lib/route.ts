// Which page the address names: the part after "#", so every page is a link, a bookmark and a
// place the back button returns to, without the server knowing any of them.
export type AccountSection = "password" | "sessions" | "tokens";

export type Route =
  | { page: "machines" }
  | { page: "machine"; id: number }
  | { page: "users" }
  | { page: "audit" }
  | { page: "account"; section: AccountSection }
  | { page: "missing" };

export function routeOf(hash: string): Route {
  const path = hash.replace(/^#/, "") || "/";
  if (path === "/") return { page: "machines" };
  const machine = /^\/machines\/(\d{1,9})$/.exec(path);
  if (machine) return { page: "machine", id: Number(machine[1]) };
  if (path === "/users") return { page: "users" };
  if (path === "/audit") return { page: "audit" };
  const account = /^\/account\/(password|sessions|tokens)$/.exec(path);
  if (account) return { page: "account", section: account[1] as AccountSection };
  return { page: "missing" };
}
