/** The chunked event reads live in the SDK (inference/sdk/logs.ts), which apps use to discover operators too. */
export * from "../../inference/sdk/logs.ts";
