// The fleet jobs API's contract, part one: credentials, SSH settings (per machine and per label)
// and host keys. Jobs and runs are in run-model.ts.
import { t } from "elysia";
import { Labels } from "../outages/model.ts";

const MAX_INT32 = 2_147_483_647;
export const Time = t.String({ format: "date-time" });
export const NullableTime = t.Union([Time, t.Null()]);
export const Id = t.Integer({ minimum: 1, maximum: MAX_INT32, error: "must be an id (a whole number)" });
export const IdParam = t.Object({ id: t.String({ pattern: "^\\d{1,9}$", error: "must be an id (a number)" }) });
const Nullable = <T extends Parameters<typeof t.Union>[0][number]>(schema: T) => t.Union([schema, t.Null()]);

export const Name = t.String({ minLength: 1, maxLength: 100, pattern: "^[^\\u0000-\\u001f]+$", error: "must be 1–100 characters, without control characters" });

// Secrets: their schema errors never quote the value (a custom message each), and nothing else does.
export const NewCredential = t.Object(
  {
    name: Name,
    kind: t.Union([t.Literal("ssh-key"), t.Literal("password")], { error: 'must be "ssh-key" or "password"' }),
    private_key: t.Optional(t.String({ minLength: 1, maxLength: 16_384, error: "must be a private key in OpenSSH or PEM format (at most 16 KiB)" })),
    passphrase: t.Optional(t.String({ maxLength: 1024, error: "must be the key's passphrase (at most 1024 characters)" })),
    password: t.Optional(t.String({ minLength: 1, maxLength: 1024, pattern: "^[^\\u0000]*$", error: "must be 1–1024 characters, without NUL" })),
  },
  { additionalProperties: false },
);
export type NewCredential = typeof NewCredential.static;

export const Credential = t.Object({
  id: t.Integer(),
  name: t.String(),
  kind: t.Union([t.Literal("ssh-key"), t.Literal("password")]),
  algorithm: t.Union([t.String(), t.Null()], { description: "ssh-key: the key type (ssh-ed25519, ecdsa-sha2-nistp256, ssh-rsa)" }),
  fingerprint: t.Union([t.String(), t.Null()], { description: "ssh-key: the public key's SHA256 fingerprint, as ssh-keygen -l prints it" }),
  created_by: t.String(),
  created_at: Time,
  last_used_at: NullableTime,
});
export type Credential = typeof Credential.static;
export const CredentialList = t.Object({ items: t.Array(Credential) });

export const SshUser = t.String({ minLength: 1, maxLength: 64, pattern: "^[A-Za-z0-9_.][A-Za-z0-9_.@-]*$", error: "must be a login name: letters, digits, _ . @ - (at most 64)" });
export const SshPort = t.Integer({ minimum: 1, maximum: 65535, error: "must be a port from 1 to 65535" });

/** PATCH /api/machines/{id} {"ssh": …}: each field given replaces the machine's own; null clears it (the label defaults apply again). */
export const MachineSshPatch = t.Union(
  [
    t.Null(),
    t.Object(
      { user: t.Optional(Nullable(SshUser)), port: t.Optional(Nullable(SshPort)), credential_id: t.Optional(Nullable(Id)) },
      { additionalProperties: false },
    ),
  ],
  { error: "must be {user?, port?, credential_id?} (null clears a setting), or null to clear them all" },
);
export type MachineSshPatch = typeof MachineSshPatch.static;

export const NewSshDefault = t.Object(
  {
    labels: Labels,
    user: t.Optional(SshUser),
    port: t.Optional(SshPort),
    credential_id: t.Optional(Id),
  },
  { additionalProperties: false },
);
export type NewSshDefault = typeof NewSshDefault.static;

export const SshDefault = t.Object({
  id: t.Integer(),
  labels: t.Array(t.String(), { description: "The machines that carry all of these (none: every machine)" }),
  user: t.Union([t.String(), t.Null()]),
  port: t.Union([t.Integer(), t.Null()]),
  credential_id: t.Union([t.Integer(), t.Null()]),
  created_by: t.String(),
  created_at: Time,
});
export type SshDefault = typeof SshDefault.static;
export const SshDefaultList = t.Object({ items: t.Array(SshDefault) });

const ShownKey = t.Object({ algorithm: t.String(), fingerprint: t.String() });
const Source = t.Union([t.String(), t.Null()], { description: '"machine", "default <id>", "built-in" or null (not set anywhere)' });

export const MachineSsh = t.Object({
  machine_id: t.Integer(),
  own: t.Object({ user: t.Union([t.String(), t.Null()]), port: t.Union([t.Integer(), t.Null()]), credential_id: t.Union([t.Integer(), t.Null()]) }),
  effective: t.Object({
    user: t.Union([t.String(), t.Null()]),
    port: t.Integer(),
    credential_id: t.Union([t.Integer(), t.Null()]),
    from: t.Object({ user: Source, port: Source, credential_id: Source }),
  }),
  host_key: t.Union([t.Object({ ...ShownKey.properties, recorded_at: Time }), t.Null()], { description: "Trusted since first use" }),
  offered_host_key: t.Union([t.Object({ ...ShownKey.properties, seen_at: Time }), t.Null()], {
    description: "A different key the machine presented: connections are refused until an admin accepts it",
  }),
});
export type MachineSsh = typeof MachineSsh.static;

export const HostKeyEntry = t.Object({
  machine_id: t.Integer(),
  hostname: t.String(),
  ip_address: t.String(),
  host_key: MachineSsh.properties.host_key,
  offered_host_key: MachineSsh.properties.offered_host_key,
});
export const HostKeyList = t.Object({ items: t.Array(HostKeyEntry) });
export const HostKeyQuery = t.Object({ changed: t.Optional(t.Boolean({ error: "must be true or false" })) });

export const AcceptHostKey = t.Object(
  { fingerprint: t.String({ minLength: 1, maxLength: 100, pattern: "^SHA256:[A-Za-z0-9+/]{43}$", error: "must be the new key's fingerprint as shown (SHA256:…)" }) },
  { additionalProperties: false },
);
