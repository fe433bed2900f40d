/**
 * The modules a LoRA adapter may target and ModelRegistry's `targetModules` mask of them. Pure (no node: imports),
 * so that the Studio's pages use the same names as the CLI and the worker.
 */
/** The modules an adapter may target, in the bit order of ModelRegistry's `targetModules` mask. */
export const TARGET_MODULES = ["q", "k", "v", "o", "gate", "up", "down"] as const;
/** The same modules by the names PEFT's adapter_config.json uses. */
export const PEFT_TARGETS = TARGET_MODULES.map((name) => `${name}_proj`);

/** The mask of module names (PEFT's or the short ones), and the names that are no module. */
export function targetMask(names: readonly string[]): { mask: number; unknown: string[] } {
  let mask = 0;
  const unknown: string[] = [];
  for (const name of names) {
    const bit = Math.max(TARGET_MODULES.indexOf(name as never), PEFT_TARGETS.indexOf(name));
    if (bit < 0) unknown.push(name);
    else mask |= 1 << bit;
  }
  return { mask, unknown };
}

export const targetNames = (mask: number) => PEFT_TARGETS.filter((_, bit) => mask & (1 << bit));
