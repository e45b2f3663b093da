// prom-client's default metrics one by one (lib/metrics/*.js, CommonJS): collectDefaultMetrics()
// would also start its event-loop lag sampler, a 10 ms timer (see src/loop-lag.ts).
declare module "prom-client/lib/metrics/*" {
  const register: (registry: import("prom-client").Registry, config: { prefix?: string }) => void;
  export default register;
}
