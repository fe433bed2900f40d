/**
 * What a PEFT LoRA adapter's adapter_config.json says that the chain also records: its rank, the modules it targets
 * (ModelRegistry's `targetModules` bit mask) and the base model it was trained on. Read by `adapter register
 * --from DIR`, and by the worker to refuse an adapter whose files disagree with its registration.
 */
import { readFile } from "node:fs/promises";
import path from "node:path";
import { ArtifactError } from "./errors.ts";
import { LORA_FILES } from "./hash.ts";
import { PEFT_TARGETS, targetMask, targetNames } from "./targets.ts";

export { PEFT_TARGETS, TARGET_MODULES, targetMask, targetNames } from "./targets.ts";

export type LoraTerms = { rank: number; targetModules: number; baseModel: string | undefined };

/** Rank, targets and base model from the adapter's config; throws naming the field that cannot be used. */
export function parseLoraConfig(bytes: Uint8Array, source: string): LoraTerms {
  let config: { r?: unknown; target_modules?: unknown; base_model_name_or_path?: unknown };
  try {
    config = JSON.parse(new TextDecoder().decode(bytes));
  } catch (cause) {
    throw new ArtifactError("adapter_config_invalid", `${source}: adapter_config.json is not JSON`, { cause });
  }
  const rank = config.r;
  if (typeof rank !== "number" || !Number.isInteger(rank) || rank < 1)
    throw new ArtifactError("adapter_config_invalid", `${source}: "r" must be a positive integer, got ${String(rank)}`);
  // PEFT also allows a regular expression here; an adapter registered on chain names its modules.
  const targets = config.target_modules;
  if (!Array.isArray(targets) || !targets.every((t) => typeof t === "string"))
    throw new ArtifactError(
      "adapter_config_invalid",
      `${source}: "target_modules" must be a list of module names (${PEFT_TARGETS.join(", ")})`,
    );
  const { mask, unknown } = targetMask(targets);
  if (unknown.length)
    throw new ArtifactError("adapter_config_invalid", `${source}: unsupported target modules ${unknown.join(", ")}`);
  const baseModel = typeof config.base_model_name_or_path === "string" ? config.base_model_name_or_path : undefined;
  return { rank, targetModules: mask, baseModel };
}

export async function readLoraConfig(dir: string): Promise<LoraTerms> {
  const file = path.join(dir, LORA_FILES[0]);
  return parseLoraConfig(await readFile(file), file);
}

/** Why the files disagree with the registration, or undefined when rank and targets match. */
export function loraMismatch(files: LoraTerms, chain: { rank: number; targetModules: number }): string | undefined {
  const differences = [];
  if (files.rank !== chain.rank) differences.push(`rank ${files.rank} in its config, ${chain.rank} on chain`);
  if (files.targetModules !== chain.targetModules)
    differences.push(
      `targets ${targetNames(files.targetModules).join(",")} in its config, ${targetNames(chain.targetModules).join(",")} on chain`,
    );
  return differences.length ? differences.join("; ") : undefined;
}
