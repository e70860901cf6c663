/** Every series of a Prometheus counter, keyed by its label text (`{grpc_method="..."...}`). */
export async function counterSeries(baseUrl: string, name: string): Promise<Map<string, number>> {
  const text = await (await fetch(`${baseUrl}/metrics`)).text();
  const out = new Map<string, number>();
  for (const m of text.matchAll(new RegExp(`^${name}(\\{.*\\}) ([0-9.e+-]+)$`, "gm"))) out.set(m[1]!, Number(m[2]));
  return out;
}
