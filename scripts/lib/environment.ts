/**
 * Configuration from the environment, checked when a component starts: a value that is not what its variable
 * needs stops the component with one line naming the variable, never a NaN or a silent default later. Every
 * variable of every component is listed, with its meaning and default, in .env.example.
 *
 * Secrets (keys, URLs carrying credentials) follow Hardhat's rule for configuration variables in every component:
 * the environment variable when it is set, else the value of the same name in Hardhat's keystore
 * (`npx hardhat keystore set NAME`, or `--dev` for the development keystore, which needs no password).
 */
import { createInterface } from "node:readline";
import { Writable } from "node:stream";
import type { Address, Hex } from "viem";
import { z } from "zod/v4";
import { repoRoot } from "./localChain.ts";

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
  origin: {
    schema: z
      .url({ protocol: /^https?$/ })
      .refine((text) => new URL(text).origin === text.replace(/\/$/, ""))
      .transform((text) => new URL(text).origin),
    means: "an origin (http(s)://host[:port], no path)",
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
  postgresUrl: { schema: z.string().regex(/^postgres(ql)?:\/\/./), means: "a PostgreSQL URL (postgresql://…)" },
} as const;
type Kind = keyof typeof kinds;
type ValueOf<K extends Kind> = z.output<(typeof kinds)[K]["schema"]>;

/** Secrets are never echoed back in an error. */
const secret: ReadonlySet<Kind> = new Set(["privateKey", "postgresUrl"]);

/** The variable's text, undefined when unset or empty. */
function environmentText(name: string): string | undefined {
  const raw = process.env[name];
  return raw === undefined || raw === "" ? undefined : raw;
}

/** `text` read as `kind`; an error names the variable, and where the value came from when not the environment. */
function parse<K extends Kind>(name: string, kind: K, text: string, from = ""): ValueOf<K> {
  const { schema, means } = kinds[kind];
  const parsed = schema.safeParse(text.trim());
  if (!parsed.success) {
    throw new ConfigurationError(
      `${name}${from} must be ${means}, not ${secret.has(kind) ? "what it is set to" : `"${text}"`}`,
    );
  }
  return parsed.data as ValueOf<K>;
}

/**
 * The variable `name` read as `kind`; `fallback` (the same text a user would set) when unset or empty, else a
 * ConfigurationError saying it is required.
 */
export function fromEnvironment<K extends Kind>(name: string, kind: K, fallback?: string): ValueOf<K> {
  const text = environmentText(name) ?? fallback;
  if (text === undefined) throw new ConfigurationError(`${name} is required: ${kinds[kind].means}`);
  return parse(name, kind, text);
}

/** Like fromEnvironment, but undefined when the variable is unset or empty. */
export function optionalFromEnvironment<K extends Kind>(name: string, kind: K): ValueOf<K> | undefined {
  return environmentText(name) === undefined ? undefined : fromEnvironment(name, kind);
}

/**
 * A secret `name` read as `kind`: the environment variable when set (and not empty), else the Hardhat
 * configuration variable of that name from Hardhat's keystore, as `hardhat run` would resolve it (the development
 * keystore, then the production one, whose password is asked for on the terminal). Hardhat too lets the
 * environment win. `fallback` when neither has it, else a ConfigurationError saying it is required.
 */
export async function secretFromEnvironment<K extends Kind>(
  name: string,
  kind: K,
  fallback?: string,
): Promise<ValueOf<K>> {
  const value = await optionalSecretFromEnvironment(name, kind);
  if (value !== undefined) return value;
  if (fallback !== undefined) return parse(name, kind, fallback);
  throw new ConfigurationError(
    `${name} is required: ${kinds[kind].means}, in the environment or Hardhat's keystore (npx hardhat keystore set ${name})`,
  );
}

/** Like secretFromEnvironment, but undefined when neither the environment nor the keystore has it. */
export async function optionalSecretFromEnvironment<K extends Kind>(
  name: string,
  kind: K,
): Promise<ValueOf<K> | undefined> {
  const text = environmentText(name);
  if (text !== undefined) return parse(name, kind, text);
  const stored = await fromKeystore(name);
  return stored === undefined ? undefined : parse(name, kind, stored, " (from Hardhat's keystore)");
}

/** Hardhat with the keystore plugin alone, made on the first secret the environment lacks (~0.2 s). */
let keystoreRuntime: ReturnType<typeof startKeystoreRuntime> | undefined;
/** One lookup at a time, so that a production keystore's password is asked for once (the plugin keeps it). */
let lookups: Promise<unknown> = Promise.resolve();

/**
 * `name` from Hardhat's keystore through the plugin's own configuration-variable hook (what resolves
 * `configVariable(name)` in hardhat.config.ts), or undefined when no keystore holds it. In CI the plugin reads no
 * keystore.
 */
function fromKeystore(name: string): Promise<string | undefined> {
  const lookup = lookups.then(async () => {
    keystoreRuntime ??= startKeystoreRuntime();
    const { hre, configVariable } = await keystoreRuntime;
    // The plugin defers to the environment whenever the variable is set, even to ""; here empty means unset (a .env
    // copied from .env.example names every variable), so an empty one is out of the environment while it looks.
    const empty = process.env[name];
    delete process.env[name];
    try {
      const value = await hre.hooks.runHandlerChain(
        "configurationVariables",
        "fetchValue",
        // With a default, the plugin looks for the name among the production keystore's keys before asking for
        // its password: a keystore that lacks it costs no prompt.
        [configVariable(name, { default: "" })],
        async () => "",
      );
      return value === "" ? undefined : value;
    } catch (error) {
      const why = (error instanceof Error ? error.message : String(error)).split("\n")[0];
      throw new ConfigurationError(`${name}: Hardhat's keystore did not open: ${why}`, { cause: error });
    } finally {
      if (empty !== undefined) process.env[name] = empty;
    }
  });
  lookups = lookup.catch(() => undefined);
  return lookup;
}

async function startKeystoreRuntime() {
  const [{ createHardhatRuntimeEnvironment }, { configVariable }, { default: hardhatKeystore }] = await Promise.all([
    import("hardhat/hre"),
    import("hardhat/config"),
    import("@nomicfoundation/hardhat-keystore"),
  ]);
  const hre = await createHardhatRuntimeEnvironment({ plugins: [hardhatKeystore] }, {}, repoRoot);
  hre.hooks.registerHandlers("userInterruptions", {
    requestSecretInput: async (_context, interruptor, description) => askSecret(`[${interruptor}] ${description}`),
  });
  return { hre, configVariable };
}

/**
 * Asks on stderr, since stdout may be JSON read by a script, without echoing what is typed. A closed stdin (a
 * service, a pipe) is an error rather than a wait forever.
 */
async function askSecret(question: string): Promise<string> {
  let muted = false;
  const output = new Writable({
    write(chunk, _encoding, done) {
      if (!muted) process.stderr.write(chunk);
      done();
    },
  });
  const terminal = Boolean(process.stdin.isTTY);
  const asking = createInterface({ input: process.stdin, output, terminal });
  return new Promise((resolve, reject) => {
    let answered = false;
    asking.once("close", () => {
      if (!answered) reject(new Error("no password given (standard input closed)"));
    });
    asking.question(`${question}: `, (answer) => {
      answered = true;
      if (terminal) process.stderr.write("\n");
      asking.close();
      resolve(answer);
    });
    muted = terminal;
  });
}
