/**
 * A TCP port that was free a moment ago, chosen below Linux's ephemeral range
 * (32768-60999, /proc/sys/net/ipv4/ip_local_port_range): a port handed out by binding
 * to 0 comes from that range, where any outgoing connection (to MariaDB, Redis, NATS)
 * may take it as its source port between the check and the service's own bind.
 * Tries random ports in 20000-32767 (bind, read, close), never one this process has
 * handed out before (two of one mesh's ports are asked for before either is bound);
 * falls back to port 0.
 */
import net from "node:net";

const low = 20_000;
const high = 32_767;
const handedOut = new Set<number>();

function tryPort(port: number): Promise<number | undefined> {
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.once("error", () => resolve(undefined));
    srv.listen(port, "127.0.0.1", () => {
      const bound = (srv.address() as net.AddressInfo).port;
      srv.close(() => resolve(bound));
    });
  });
}

export async function freePort(): Promise<number> {
  for (let i = 0; i < 50; i++) {
    const candidate = low + Math.floor(Math.random() * (high - low + 1));
    if (handedOut.has(candidate)) continue;
    const port = await tryPort(candidate);
    if (port === undefined) continue;
    handedOut.add(port);
    return port;
  }
  const any = await tryPort(0);
  if (any === undefined) throw new Error("no free TCP port");
  return any;
}
