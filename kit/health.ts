/**
 * grpc.health.v1.Health (https://github.com/grpc/grpc/blob/master/doc/health-checking.md)
 * for Connect-ES, which ships none. Kubernetes gRPC probes, grpc_health_probe and
 * load balancers call Check; Watch streams changes, so a draining server tells watchers
 * NOT_SERVING before it goes away.
 */
import { Code, ConnectError, type ServiceImpl } from "@connectrpc/connect";
import { Health, HealthCheckResponse_ServingStatus as Status } from "#gen/grpc/health/v1/health_pb.ts";

export { Status as ServingStatus };

/** Serving status per service name; "" is the whole server. */
export class HealthState {
  private readonly statuses = new Map<string, Status>();
  private readonly watchers = new Set<() => void>();

  constructor(services: readonly string[]) {
    this.statuses.set("", Status.NOT_SERVING);
    for (const s of services) this.statuses.set(s, Status.NOT_SERVING);
  }

  /** Sets one service's status ("" for the server). */
  set(service: string, status: Status): void {
    if (this.statuses.get(service) === status) return;
    this.statuses.set(service, status);
    for (const wake of this.watchers) wake();
  }

  /** Sets every service, and the server, to `status`. */
  setAll(status: Status): void {
    for (const s of this.statuses.keys()) this.set(s, status);
  }

  get(service: string): Status | undefined {
    return this.statuses.get(service);
  }

  all(): ReadonlyMap<string, Status> {
    return this.statuses;
  }

  /** Yields the current status and then every change, until `signal` aborts. */
  async *watch(service: string, signal: AbortSignal): AsyncGenerator<Status> {
    let last: Status | undefined;
    while (!signal.aborted) {
      const now = this.statuses.get(service) ?? Status.SERVICE_UNKNOWN;
      if (now !== last) {
        last = now;
        yield now;
      }
      await new Promise<void>((resolve) => {
        const wake = () => {
          this.watchers.delete(wake);
          signal.removeEventListener("abort", wake);
          resolve();
        };
        this.watchers.add(wake);
        signal.addEventListener("abort", wake, { once: true });
      });
    }
  }
}

/** Connect implementation of grpc.health.v1.Health backed by `state`. */
export function healthService(state: HealthState): ServiceImpl<typeof Health> {
  return {
    check(req) {
      const status = state.get(req.service);
      if (status === undefined) throw new ConnectError(`unknown service "${req.service}"`, Code.NotFound);
      return { status };
    },
    async *watch(req, ctx) {
      for await (const status of state.watch(req.service, ctx.signal)) yield { status };
    },
    list() {
      const statuses: Record<string, { status: Status }> = {};
      for (const [name, status] of state.all()) statuses[name] = { status };
      return { statuses };
    },
  };
}
