/**
 * The search contract (testbeds/search-contract.ts) on each engine: embedded always; Meilisearch when
 * OASIS_MEILI_URL names a server, and reported as skipped otherwise.
 */
import { describe } from "bun:test";
import { searchContract } from "../../testbeds/search-contract.ts";

describe("embedded engine", () => searchContract({ OASIS_MEILI_URL: "" }));

describe.skipIf(!process.env.OASIS_MEILI_URL)("meilisearch engine", () => searchContract({ OASIS_MEILI_URL: process.env.OASIS_MEILI_URL ?? "" }));
