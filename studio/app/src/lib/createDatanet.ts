/**
 * The "Create a datanet" form, checked before the wallet is asked: DatanetRegistry.createDatanet's parameters from
 * what was typed. The registry itself refuses only an empty metadata URI (EmptyURI); the rest is caught here so that
 * a typo does not become a datanet: addresses checksummed or refused by name, a minimum stake that fits uint128.
 */
import { getAddress, isAddress, zeroAddress, type Address } from "viem";
import { z } from "zod/v4";
import { openText, UINT128_MAX } from "./amounts.ts";

/** IDatanetRegistry.CreateDatanetParams. */
export type CreateDatanetParams = {
  metadataURI: string;
  license: string;
  curated: boolean;
  minStake: bigint;
  /** The zero address: the creator. */
  treasury: Address;
  curators: Address[];
};

/** An address typed in any case, checksummed; `empty` stands for a blank field where one is allowed. */
const address = (label: string, empty?: Address) =>
  z
    .string()
    .trim()
    .transform((text, ctx) => {
      if (text === "" && empty !== undefined) return empty;
      if (isAddress(text, { strict: false })) return getAddress(text);
      ctx.addIssue({ code: "custom", message: `${label} “${text}” is not an address.` });
      return z.NEVER;
    });

export const createDatanetSchema = z.object({
  metadataURI: z.string().trim().min(1, "Give the datanet a metadata URI: where its description is."),
  license: z.string().trim(),
  curated: z.boolean(),
  minStake: z
    .string()
    .transform((text) => (text.trim() === "" ? "0" : text))
    .pipe(openText())
    .refine((stake) => stake <= UINT128_MAX, "The minimum stake is more than the registry can hold."),
  treasury: address("The treasury", zeroAddress),
  /** Addresses separated by commas, spaces or new lines; each once. */
  curators: z
    .string()
    .transform((text) => text.split(/[\s,]+/).filter((part) => part !== ""))
    .pipe(z.array(address("The curator")))
    .transform((curators) => [...new Set(curators)]),
}) satisfies z.ZodType<CreateDatanetParams, unknown>;

export type CreateDatanetForm = z.input<typeof createDatanetSchema>;
