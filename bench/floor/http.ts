// The runtime's floor, for bench/floor.ts: a compiled Bun program that serves HTTP on loopback
// and does nothing else. Whatever it costs idle, every Bun server costs.
const server = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: () => new Response("ok") });
console.log(`listening on ${server.port}`);
