/** How large an object of each kind may be, in bytes (store/README.md, "Kinds and limits"). */
import type { StoreKind } from "../attribution/src/index.ts";

export type SizeLimits = Record<StoreKind, number>;

const MiB = 1024 * 1024;

export const defaultSizeLimits: SizeLimits = {
  contribution: 16 * MiB,
  record: 1 * MiB,
  usage: 256 * MiB,
  distribution: 256 * MiB,
  artifact: 64 * 1024 * MiB,
};
