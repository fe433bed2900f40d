/**
 * Configuration from the environment, checked when a component starts: a value that is not what its variable
 * needs stops the component with one line naming the variable, never a NaN or a silent default later. Every
 * variable of every component is listed, with its meaning and default, in .env.example.
 */
import type { Address, Hex } from "viem";
import { z } from "zod/v4";

/** A setting is missing or malformed: the message names it. */
export class ConfigurationError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "ConfigurationError";
  }
}

/** Decimal digits only: no sign, exponent or fraction that Number() or BigInt() would otherwise accept or throw on. */
const digits = (most = 15) => z.string().regex(new RegExp(`^[0-9]{1,${most}}$`), { abort: true });

/** What each kind of value must look like, and how an error names it. */
const kinds = {
  text: { schema: z.string().min(1), means: "a non-empty value" },
  url: { schema: z.url({ protocol: /^(https?|wss?)$/ }), means: "an http(s) or ws(s) URL" },
  urlList: {
    schema: z
      .string()
      .transform((text) => text.split(",").map((url) => url.trim()))
      .pipe(z.array(z.url({ protocol: /^(https?|wss?)$/ })).min(1)),
    means: "comma-separated http(s) or ws(s) URLs",
  },
  address: {
    schema: z
      .string()
      .regex(/^0x[0-9a-fA-F]{40}$/)
      .transform((text) => text as Address),
    means: "an address (0x and 40 hex digits)",
  },
  privateKey: {
    schema: z
      .string()
      .regex(/^0x[0-9a-fA-F]{64}$/)
      .transform((text) => text as Hex),
    means: "a private key (0x and 64 hex digits)",
  },
  wholeNumber: { schema: digits().transform(Number), means: "a whole number" },
  positiveNumber: { schema: digits().transform(Number).pipe(z.number().min(1)), means: "a whole number ≥ 1" },
  wei: { schema: digits(78).transform(BigInt), means: "an amount in wei (digits only)" },
  port: { schema: digits(5).transform(Number).pipe(z.number().max(65_535)), means: "a TCP port (0–65535)" },
} as const;
type Kind = keyof typeof kinds;
type ValueOf<K extends Kind> = z.output<(typeof kinds)[K]["schema"]>;

/** Secrets are never echoed back in an error. */
const secret: ReadonlySet<Kind> = new Set(["privateKey"]);

/**
 * The variable `name` read as `kind`; `fallback` (the same text a user would set) when unset or empty, else a
 * ConfigurationError saying it is required.
 */
export function fromEnvironment<K extends Kind>(name: string, kind: K, fallback?: string): ValueOf<K> {
  const raw = process.env[name];
  const text = raw === undefined || raw === "" ? fallback : raw;
  const { schema, means } = kinds[kind];
  if (text === undefined) throw new ConfigurationError(`${name} is required: ${means}`);
  const parsed = schema.safeParse(text.trim());
  if (!parsed.success) {
    throw new ConfigurationError(
      `${name} must be ${means}, not ${secret.has(kind) ? "what it is set to" : `"${text}"`}`,
    );
  }
  return parsed.data as ValueOf<K>;
}

/** Like fromEnvironment, but undefined when the variable is unset or empty. */
export function optionalFromEnvironment<K extends Kind>(name: string, kind: K): ValueOf<K> | undefined {
  const raw = process.env[name];
  return raw === undefined || raw === "" ? undefined : fromEnvironment(name, kind);
}
