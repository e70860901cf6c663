/** Reads one counter or gauge (summed over label sets) from a Prometheus /metrics page. */
export async function metricValue(baseUrl: string, name: string): Promise<number> {
  const text = await (await fetch(`${baseUrl}/metrics`)).text();
  // Label values may contain braces (route="/v1/users/{user_id}"): match quoted strings.
  const labels = String.raw`(?:\{(?:[^"}]|"(?:[^"\\]|\\.)*")*\})?`;
  let sum = 0;
  for (const m of text.matchAll(new RegExp(`^${name}${labels} ([0-9.e+-]+)$`, "gm"))) sum += Number(m[1]);
  return sum;
}
