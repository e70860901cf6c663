/** Which service runs which event consumer: asked of every deployed service's AdminService. */
import { AdminService, type ConsumerStatus } from "#gen/oasis/admin/v1/admin_service_pb.ts";
import type { Operator } from "./connection.ts";

/** Every service's consumers; a service that does not answer is reported with its error. */
export async function consumersByService(op: Operator, services: readonly string[]): Promise<Array<{ service: string; consumers: ConsumerStatus[]; error?: string }>> {
  return Promise.all(
    services.map(async (service) => {
      try {
        return { service, consumers: (await op.client(AdminService, service).listConsumers({})).consumers };
      } catch (err) {
        return { service, consumers: [], error: (err as Error).message };
      }
    }),
  );
}
