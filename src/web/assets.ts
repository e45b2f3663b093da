// The built dashboard and docs files, held in memory and served with a content type, a strong
// ETag (304 when the browser has it) and gzip for text when the browser accepts it. Bun does
// not compress responses, and the files never change while the server runs, so each one is
// compressed once, the first time a client asks for it, and the result kept.
import { readdir, stat } from "node:fs/promises";
import { join, relative } from "node:path";

export interface Asset {
  /** URL path, e.g. /app.js */
  path: string;
  type: string;
  body: Uint8Array<ArrayBuffer>;
  etag: string;
  compressible: boolean;
  /** Filled on first use: the gzip body and its ETag (a different representation, a different
   *  tag), or null when gzip would not make it smaller. */
  gzip?: { body: Uint8Array<ArrayBuffer>; etag: string } | null;
}

const COMPRESSIBLE = /^(text\/|application\/(javascript|json|xml)|image\/svg\+xml)/;

async function listFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const name of await readdir(dir)) {
    const full = join(dir, name);
    if ((await stat(full)).isDirectory()) out.push(...(await listFiles(full)));
    else out.push(full);
  }
  return out;
}

/** Every file under `root`, keyed by URL path. */
export async function loadAssets(root: string): Promise<Map<string, Asset>> {
  const assets = new Map<string, Asset>();
  for (const file of await listFiles(root)) {
    const f = Bun.file(file);
    const body = new Uint8Array(await f.arrayBuffer());
    const path = "/" + relative(root, file).split("\\").join("/");
    const type = f.type || "application/octet-stream";
    assets.set(path, {
      path,
      type,
      body,
      etag: `"${Bun.hash(body).toString(36)}"`,
      compressible: COMPRESSIBLE.test(type),
    });
  }
  return assets;
}

/** True when Accept-Encoding allows gzip (listed, or `*`, with a q above 0). */
export function acceptsGzip(acceptEncoding: string | undefined): boolean {
  let gzip: number | undefined;
  let any: number | undefined;
  for (const part of (acceptEncoding ?? "").split(",")) {
    const [name = "", ...params] = part.trim().toLowerCase().split(";");
    const qParam = params.map((p) => p.trim()).find((p) => p.startsWith("q="));
    const q = qParam ? Number(qParam.slice(2)) : 1;
    if (name === "gzip" || name === "x-gzip") gzip = q;
    else if (name === "*") any = q;
  }
  return (gzip ?? any ?? 0) > 0;
}

/** True when If-None-Match names this ETag (weak comparison, as RFC 9110 says for GET). */
export function matchesEtag(ifNoneMatch: string | undefined, etag: string): boolean {
  if (!ifNoneMatch) return false;
  if (ifNoneMatch.trim() === "*") return true;
  return ifNoneMatch.split(",").some((t) => t.trim().replace(/^W\//, "") === etag);
}

function gzipped(asset: Asset): Asset["gzip"] {
  if (asset.gzip !== undefined) return asset.gzip;
  const body = Bun.gzipSync(asset.body, { level: 9 });
  asset.gzip = body.length < asset.body.length ? { body, etag: asset.etag.replace(/"$/, '-gz"') } : null;
  return asset.gzip;
}

export function serveAsset(asset: Asset, request: { acceptEncoding?: string; ifNoneMatch?: string }): Response {
  const gz = asset.compressible && acceptsGzip(request.acceptEncoding) ? gzipped(asset) : null;
  const etag = gz?.etag ?? asset.etag;
  const headers: Record<string, string> = {
    "content-type": asset.type,
    etag,
    // File names carry no content hash, so browsers revalidate every time (a cheap 304).
    "cache-control": "no-cache",
  };
  if (asset.compressible) headers.vary = "accept-encoding";
  if (matchesEtag(request.ifNoneMatch, etag)) return new Response(null, { status: 304, headers });
  if (gz) headers["content-encoding"] = "gzip";
  return new Response(gz?.body ?? asset.body, { headers });
}
