/** A percentile from a Prometheus histogram's cumulative buckets (upper bound of the bucket that holds it). */
export async function histogramPercentile(baseUrl: string, name: string, p: number): Promise<{ value: number; count: number }> {
  const text = await (await fetch(`${baseUrl}/metrics`)).text();
  const buckets: Array<[number, number]> = [];
  for (const m of text.matchAll(new RegExp(`^${name}_bucket\\{.*le="([^"]+)".*\\} ([0-9.e+-]+)$`, "gm"))) {
    buckets.push([m[1] === "+Inf" ? Number.POSITIVE_INFINITY : Number(m[1]), Number(m[2])]);
  }
  buckets.sort((a, b) => a[0] - b[0]);
  const count = buckets.at(-1)?.[1] ?? 0;
  const target = (p / 100) * count;
  for (const [le, c] of buckets) if (c >= target) return { value: le, count };
  return { value: Number.NaN, count };
}

/** Every series of a Prometheus counter, keyed by its label text (`{grpc_method="..."...}`). */
export async function counterSeries(baseUrl: string, name: string): Promise<Map<string, number>> {
  const text = await (await fetch(`${baseUrl}/metrics`)).text();
  const out = new Map<string, number>();
  for (const m of text.matchAll(new RegExp(`^${name}(\\{.*\\}) ([0-9.e+-]+)$`, "gm"))) out.set(m[1]!, Number(m[2]));
  return out;
}
