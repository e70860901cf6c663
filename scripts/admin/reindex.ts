/** `bun run admin reindex`: search's StartReindex / GetReindex. */
import { toJson } from "@bufbuild/protobuf";
import { timestampDate } from "@bufbuild/protobuf/wkt";
import { GetReindexResponseSchema, SearchService, StartReindexResponseSchema, type Reindex } from "#gen/oasis/search/v1/search_service_pb.ts";
import { connectOperator } from "./lib/connection.ts";
import { output, parse, UsageError, type AdminCommand } from "./lib/command.ts";

const help = `bun run admin reindex <start|status> [--wait] [--json]

Rebuilds every search index from the owning services (identity, post) in the search
service, while queries keep answering from the old indexes until the swap.

  reindex start [--wait]   starts one (or reports the one running); --wait polls
                           every 2 s until it has finished (at most 1 hour)
  reindex status           the latest reindex`;

function describe(r: Reindex): string {
  const start = r.startTime ? timestampDate(r.startTime).toISOString() : "?";
  if (r.running) return `running since ${start}`;
  const secs = r.startTime && r.endTime ? ((timestampDate(r.endTime).getTime() - timestampDate(r.startTime).getTime()) / 1000).toFixed(1) : "?";
  return r.error ? `failed after ${secs} s (started ${start}): ${r.error}` : `done: ${r.users} users and ${r.posts} posts in ${secs} s (started ${start})`;
}

export const command: AdminCommand = {
  name: "reindex",
  summary: "rebuild the search indexes from the owning services; its status",
  help,
  async run(args, opts) {
    const { values, positionals } = parse(args, { wait: { type: "boolean" } });
    const search = connectOperator().client(SearchService, "search");
    const verb = positionals[0];
    if (verb === "start") {
      const res = await search.startReindex({});
      if (!values.wait) {
        output(opts, toJson(StartReindexResponseSchema, res), () =>
          `${res.started ? "started" : "already running"}: ${describe(res.reindex!)}`,
        );
        return;
      }
    } else if (verb !== "status") throw new UsageError(`unknown verb "${verb ?? ""}"`);
    const end = Date.now() + 3_600_000;
    let res = await search.getReindex({});
    while (verb === "start" && res.reindex!.running && Date.now() < end) {
      await Bun.sleep(2_000);
      res = await search.getReindex({});
    }
    output(opts, toJson(GetReindexResponseSchema, res), () => describe(res.reindex!));
    if (res.reindex!.error) process.exitCode = 1;
  },
};
