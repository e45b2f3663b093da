// The three roles, in order: each can do what the one before it can, and more.
//   viewer   reads everything the dashboard shows, changes nothing
//   operator day-to-day actions: re-check a machine, edit its notes and labels, silences, run jobs
//   admin    everything: delete machines, people, tokens, channels, credentials, jobs
export const ROLES = ["viewer", "operator", "admin"] as const;
export type Role = (typeof ROLES)[number];

const RANK: Record<Role, number> = { viewer: 1, operator: 2, admin: 3 };

export const isRole = (value: unknown): value is Role => ROLES.includes(value as Role);

export const atLeast = (role: Role, needed: Role): boolean => RANK[role] >= RANK[needed];

/** The lower of two roles: a token never opens more than its owner may do now. */
export const lowerOf = (a: Role, b: Role): Role => (RANK[a] <= RANK[b] ? a : b);
