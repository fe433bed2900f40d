/** Amounts of OPEN as forms take them: typed in OPEN, checked with zod, in wei. */
import { z } from "zod/v4";
import { InvalidAmountError, parseOpen } from "./format.ts";

/** The contracts keep stakes in uint128. */
export const UINT128_MAX = 2n ** 128n - 1n;

/** Text typed as an amount of OPEN (`12.5`), in wei; an issue saying what is wrong with it otherwise. */
export const openText = () =>
  z.string().transform((text, ctx) => {
    try {
      return parseOpen(text);
    } catch (error) {
      ctx.addIssue({ code: "custom", message: (error as InvalidAmountError).message });
      return z.NEVER;
    }
  });
