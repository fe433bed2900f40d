/** The specification documents of the attribution policy's versions, on disk (Node only; policy.ts is browser-safe). */
import { fileURLToPath } from "node:url";
import { spanMatchAlgorithm, type AttributionPolicyVersion } from "./policy.ts";

/** The file of a version's specification, to publish it under its content address. */
export function attributionSpecPath(version: AttributionPolicyVersion): string {
  return fileURLToPath(new URL(`../spec/${spanMatchAlgorithm}-v${version}.md`, import.meta.url));
}
