// Placeholder until the ICMP engine lands (issue 3).
export async function runPing(_args: string[]): Promise<number> {
  console.error("vxman ping: the ICMP engine is not built yet");
  return 4;
}
