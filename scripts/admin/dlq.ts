/**
 * `bun run admin dlq`: dead-lettered events (stream OASIS_DLQ, kit/consumer.ts):
 * list, inspect one, replay through the consumer that gave up on it (AdminService on
 * the service running that consumer; a replayed letter is removed).
 */
import { toJson } from "@bufbuild/protobuf";
import { timestampDate } from "@bufbuild/protobuf/wkt";
import { AdminService, GetDeadLetterResponseSchema, ListDeadLettersResponseSchema } from "#gen/oasis/admin/v1/admin_service_pb.ts";
import { connectOperator, serviceNames } from "./lib/connection.ts";
import { consumersByService } from "./lib/consumers.ts";
import { output, parse, table, UsageError, type AdminCommand } from "./lib/command.ts";

const help = `bun run admin dlq <list|inspect|replay> [options]

Dead-lettered events: those a consumer could not handle after its last attempt (or
could not decode). Kept 30 days.

  dlq list [--consumer NAME] [--limit N] [--page-token T]
                         oldest first (default 100); --consumer e.g. feed-fanout
  dlq inspect <sequence> headers, the reason, and the payload as JSON (asked of the
                         service running its consumer, which knows the event type)
  dlq replay <sequence>... [--all] [--consumer NAME]
                         runs each letter through its consumer's handler again, in
                         the service that runs it; removes the ones handled. --all
                         replays every listed letter (of --consumer if given).

Options: --json (output as JSON).`;

export const command: AdminCommand = {
  name: "dlq",
  summary: "dead-lettered events: list, inspect, replay",
  help,
  async run(args, opts) {
    const { values, positionals } = parse(args, {
      consumer: { type: "string" },
      limit: { type: "string" },
      "page-token": { type: "string" },
      all: { type: "boolean" },
    });
    const [verb, ...rest] = positionals;
    const op = connectOperator();
    const services = serviceNames();
    const any = op.client(AdminService, services[0]!);
    if (verb === "list" || verb === undefined) {
      const res = await any.listDeadLetters({ consumer: values.consumer ?? "", pageSize: Number(values.limit ?? 100), pageToken: values["page-token"] ?? "" });
      output(opts, toJson(ListDeadLettersResponseSchema, res), () =>
        [
          table([
            ["SEQ", "CONSUMER", "SUBJECT", "EVENT", "WHEN", "REASON"],
            ...res.deadLetters.map((d) => [d.sequence, d.consumer, d.originalSubject, d.eventId, d.deadLetterTime ? timestampDate(d.deadLetterTime).toISOString() : "", d.reason.slice(0, 80)]),
          ]),
          `${res.deadLetters.length} shown, ${res.total} in the DLQ${res.nextPageToken ? `; next page: --page-token ${res.nextPageToken}` : ""}`,
        ].join("\n"),
      );
      return;
    }
    if (verb === "inspect") {
      if (!rest[0]) throw new UsageError("inspect needs a sequence");
      const sequence = BigInt(rest[0]);
      let res = await any.getDeadLetter({ sequence });
      // The service running the letter's consumer knows its event type: ask it for the JSON.
      if (!res.payloadJson) {
        const owner = (await consumersByService(op, services)).find((s) => s.consumers.some((c) => c.name === res.deadLetter!.consumer));
        if (owner) res = await op.client(AdminService, owner.service).getDeadLetter({ sequence });
      }
      output(opts, toJson(GetDeadLetterResponseSchema, res), () => {
        const d = res.deadLetter!;
        return [
          `sequence ${d.sequence}  consumer ${d.consumer}  subject ${d.originalSubject}  event ${d.eventId}  ${d.sizeBytes} bytes`,
          `reason: ${d.reason}`,
          "headers:",
          ...Object.entries(res.headers).map(([k, v]) => `  ${k}: ${v}`),
          `payload: ${res.payloadJson || Buffer.from(res.payload).toString("base64")}`,
        ].join("\n");
      });
      return;
    }
    if (verb !== "replay") throw new UsageError(`unknown verb "${verb}"`);
    let sequences = rest.map((s) => {
      if (!/^[1-9][0-9]*$/.test(s)) throw new UsageError(`"${s}" is not a sequence`);
      return BigInt(s);
    });
    if (values.all) {
      sequences = [];
      let pageToken = "";
      do {
        const page = await any.listDeadLetters({ consumer: values.consumer ?? "", pageSize: 1000, pageToken });
        sequences.push(...page.deadLetters.map((d) => d.sequence));
        pageToken = page.nextPageToken;
      } while (pageToken);
    }
    if (!sequences.length) throw new UsageError("replay needs sequences (or --all)");
    // Each letter goes to the service that runs its consumer.
    const owners = new Map<string, string>();
    for (const s of await consumersByService(op, services)) for (const c of s.consumers) owners.set(c.name, s.service);
    const results: Array<{ sequence: string; consumer: string; service?: string; replayed: boolean; error: string }> = [];
    for (const sequence of sequences) {
      const letter = (await any.getDeadLetter({ sequence })).deadLetter!;
      const service = owners.get(letter.consumer);
      if (!service) {
        results.push({ sequence: String(sequence), consumer: letter.consumer, replayed: false, error: "no running service runs this consumer" });
        continue;
      }
      const [r] = (await op.client(AdminService, service).replayDeadLetters({ sequences: [sequence] })).results;
      results.push({ sequence: String(sequence), consumer: letter.consumer, service, replayed: r!.replayed, error: r!.error });
    }
    output(opts, { results }, () =>
      table([["SEQ", "CONSUMER", "SERVICE", "RESULT"], ...results.map((r) => [r.sequence, r.consumer, r.service ?? "", r.replayed ? "replayed, removed" : `failed: ${r.error}`])]),
    );
    if (results.some((r) => !r.replayed)) process.exitCode = 1;
  },
};
