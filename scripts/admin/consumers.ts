/** `bun run admin consumers`: every service's event consumers and their lag (AdminService.ListConsumers). */
import { toJson } from "@bufbuild/protobuf";
import { ConsumerStatusSchema } from "#gen/oasis/admin/v1/admin_service_pb.ts";
import { connectOperator, serviceNames } from "./lib/connection.ts";
import { consumersByService } from "./lib/consumers.ts";
import { output, parse, table, type AdminCommand } from "./lib/command.ts";

const help = `bun run admin consumers [--service NAME] [--json]

Every event consumer of every service (or of --service): messages not yet delivered
(PENDING, its lag), delivered and unacknowledged (ACK_PENDING), redelivered, the age
of the oldest undelivered message (LAG_S), and its dead letters (DLQ).`;

export const command: AdminCommand = {
  name: "consumers",
  summary: "event consumers' lag, redeliveries and dead letters, per service",
  help,
  async run(args, opts) {
    const { values } = parse(args, { service: { type: "string" } });
    const all = await consumersByService(connectOperator(), values.service ? [values.service] : serviceNames());
    const data = all.map((s) => ({ service: s.service, error: s.error, consumers: s.consumers.map((c) => toJson(ConsumerStatusSchema, c)) }));
    output(opts, data, () =>
      [
        table([
          ["SERVICE", "CONSUMER", "STREAM", "PENDING", "ACK_PENDING", "REDELIVERED", "LAG_S", "DLQ"],
          ...all.flatMap((s) => s.consumers.map((c) => [s.service, c.name, c.stream, c.pending, c.ackPending, c.redelivered, c.lagSeconds.toFixed(1), c.deadLetters])),
        ]),
        ...all.filter((s) => s.error).map((s) => `${s.service}: ${s.error}`),
      ].join("\n"),
    );
    if (all.some((s) => s.error)) process.exitCode = 1;
  },
};
