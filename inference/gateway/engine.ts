import { spawn, type ChildProcess } from "node:child_process";
import { existsSync } from "node:fs";
import { createInterface } from "node:readline";
import path from "node:path";
import { fileURLToPath } from "node:url";
import type { ChatMessage } from "../sdk/pricing.ts";
import { EngineUnavailableError, GatewayError } from "./errors.ts";
import type { Logger } from "./log.ts";

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
/** The engine's entry point, runnable from any directory. */
export const engineMain = path.join(repoRoot, "inference/engine/main.py");
/** The engine protocol this gateway speaks; ServingRules may require a least version. */
export const ENGINE_PROTOCOL_VERSION = 1;
export const PROTOCOL = `openpoa-engine/${ENGINE_PROTOCOL_VERSION}`;
/** The real pretrained model scripts/setup.sh converts (SmolLM2-135M-Instruct), or $OPENPOA_REAL_MODEL. */
export const realModelDir =
  process.env.OPENPOA_REAL_MODEL ?? path.join(repoRoot, ".cache/models/smollm2-135m-instruct");

/**
 * The engine's interpreter, as scripts/python.sh chooses it: $OPENPOA_PYTHON, else the repo's .venv (made by
 * scripts/setup.sh: Debian's torch plus tokenizers, gguf, jinja2), else Debian's /usr/bin/python3.
 */
export function enginePython(): string {
  if (process.env.OPENPOA_PYTHON) return process.env.OPENPOA_PYTHON;
  const venv = path.join(repoRoot, ".venv/bin/python");
  return existsSync(venv) ? venv : "/usr/bin/python3";
}

export type EngineHello = {
  protocol: string;
  model: { name: string };
  /** "byte" (the project convention, the generated models) or "hf" (the model's own tokenizer.json). */
  tokenizer: string;
  /** Whether the engine renders `messages` with the model's own chat template. */
  chat_template?: boolean;
  limits: { max_seq_len: number; max_batch_size: number };
};
export type GenerateParams = {
  /** The prompt text; what the engine is given unless `messages` goes instead (see Engine.generate). */
  prompt: string;
  /** A chat's messages: sent in place of `prompt` to an engine whose model has its own chat template. */
  messages?: ChatMessage[];
  adapter: string | null;
  max_tokens: number;
  temperature?: number;
  top_p?: number;
  seed?: number;
  stop?: string | string[];
};
export type GenerateDone = {
  finish_reason: "stop" | "length" | "cancelled";
  text: string;
  delta: string;
  usage: { prompt_tokens: number; completion_tokens: number };
};
export type EngineOptions = {
  model: string;
  adapters: string;
  maxSeqLen?: number;
  python?: string;
  extraArgs?: string[];
  log: Logger;
};

type Pending = {
  onEvent: (event: { type: string; [k: string]: unknown }) => void;
  fail: (error: Error) => void;
};

/**
 * The engine child process over the `openpoa-engine/1` stdio protocol. When the process dies, every request in
 * flight fails with EngineUnavailableError (the gateway answers 503 and bills nothing) and a new process starts.
 */
export class Engine {
  hello: EngineHello | undefined;
  restarts = 0;
  private child: ChildProcess | undefined;
  private ready: Promise<EngineHello> | undefined;
  private pending = new Map<string, Pending>();
  private nextId = 0;
  private stopping = false;
  private readonly options: EngineOptions;

  constructor(options: EngineOptions) {
    this.options = options;
  }

  start(): Promise<EngineHello> {
    const { model, adapters, maxSeqLen = 1024, python, extraArgs = [], log } = this.options;
    const args = [engineMain, "serve", "--model", model, "--adapters", adapters, "--max-seq-len", String(maxSeqLen)];
    const child = spawn(python ?? enginePython(), [...args, ...extraArgs], {
      stdio: ["pipe", "pipe", "pipe"],
    });
    this.child = child;
    // Writing to a dead engine fails with EPIPE; its exit handler fails the requests, so the error is only logged.
    child.stdin!.on("error", (error) => log("warn", "engine stdin", { error: String(error) }));
    createInterface({ input: child.stderr! }).on("line", (line) => log("debug", "engine", { line }));
    this.ready = new Promise<EngineHello>((resolve, reject) => {
      createInterface({ input: child.stdout! }).on("line", (line) => {
        const message = JSON.parse(line) as { type: string; id: string | null; [k: string]: unknown };
        if (message.type === "hello" && message.id === null) {
          const hello = message as unknown as EngineHello;
          if (hello.protocol !== PROTOCOL) {
            reject(new GatewayError(500, "engine_protocol", `engine speaks ${hello.protocol}, need ${PROTOCOL}`));
            return;
          }
          this.hello = hello;
          resolve(hello);
          return;
        }
        if (message.id !== null) this.pending.get(message.id)?.onEvent(message);
      });
      child.once("exit", (code, signal) => {
        reject(new EngineUnavailableError(`engine exited before hello (code ${code}, signal ${signal})`));
        this.onExit(child, code, signal);
      });
    });
    return this.ready;
  }

  private onExit(child: ChildProcess, code: number | null, signal: string | null) {
    if (child !== this.child) return;
    const error = new EngineUnavailableError(`engine exited (code ${code}, signal ${signal}); restarting`);
    for (const pending of this.pending.values()) pending.fail(error);
    this.pending.clear();
    this.hello = undefined;
    if (this.stopping) return;
    this.restarts += 1;
    this.options.log("error", "engine exited, restarting", { code, signal, restarts: this.restarts });
    // A short pause keeps a crash loop from spinning; requests arriving meanwhile wait for the new hello.
    this.ready = new Promise((resolve) => setTimeout(resolve, 200)).then(() => this.start());
    this.ready.catch((error) => this.options.log("error", "engine restart failed", { error: String(error) }));
  }

  /**
   * Sends one request (or what `message` makes of the hello of the engine it goes to) and hands its events to
   * `onEvent` until that calls `finish`.
   */
  private async request<T>(
    message: object | ((hello: EngineHello) => object),
    onEvent: (event: { type: string; [k: string]: unknown }, finish: (value: T) => void) => void,
    id = `g${this.nextId++}`,
  ): Promise<T> {
    const hello = await this.ready;
    const body = typeof message === "function" ? message(hello!) : message;
    return new Promise<T>((resolve, reject) => {
      const finish = (value: T) => {
        this.pending.delete(id);
        resolve(value);
      };
      this.pending.set(id, {
        onEvent: (event) => {
          if (event.type === "error") {
            this.pending.delete(id);
            const { code, message } = event.error as { code: string; message: string };
            reject(new EngineRequestError(code, message));
          } else onEvent(event, finish);
        },
        fail: reject,
      });
      this.child!.stdin!.write(JSON.stringify({ ...body, id }) + "\n");
    });
  }

  /**
   * Streams the completion's text to `onText`; an aborted `signal` cancels it (it then ends `cancelled`).
   * A chat (`messages`) goes to the engine as messages when its model has its own tokenizer and chat template, so
   * the model sees the prompt it was trained on; to the byte-level generated models it goes as `prompt`, the text
   * chatPrompt built (the engine would build the same).
   */
  generate(params: GenerateParams, onText: (text: string) => void, signal?: AbortSignal): Promise<GenerateDone> {
    const id = `g${this.nextId++}`;
    signal?.addEventListener(
      "abort",
      () => this.child?.stdin?.write(JSON.stringify({ type: "cancel", id: `c${id}`, target: id }) + "\n"),
      {
        once: true,
      },
    );
    const { messages, prompt, ...rest } = params;
    return this.request<GenerateDone>(
      (hello) =>
        messages && hello.tokenizer !== "byte" && hello.chat_template
          ? { type: "generate", ...rest, messages }
          : { type: "generate", ...rest, prompt },
      (event, finish) => {
        if (event.type === "token") onText(event.text as string);
        else if (event.type === "done") finish(event as unknown as GenerateDone);
      },
      id,
    );
  }

  loadAdapter(sha256: string): Promise<{ ms: number }> {
    return this.request({ type: "load_adapter", adapter: sha256 }, (event, finish) => finish(event as never));
  }

  stats(): Promise<{ engine: object; adapters: object }> {
    return this.request({ type: "stats" }, (event, finish) => finish(event as never));
  }

  /** For the crash test and for operators: the running process. */
  get pid() {
    return this.child?.pid;
  }

  async stop() {
    this.stopping = true;
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((resolve) => child.once("exit", resolve));
    child.stdin!.end(JSON.stringify({ type: "shutdown", id: "shutdown" }) + "\n");
    const timer = setTimeout(() => child.kill("SIGKILL"), 5_000);
    await exited;
    clearTimeout(timer);
  }
}

/** A typed error the engine answered with (see the protocol's error codes). */
export class EngineRequestError extends GatewayError {
  readonly engineCode: string;
  constructor(engineCode: string, message: string) {
    const status = engineCode === "prompt_too_long" ? 400 : engineCode.startsWith("adapter_") ? 502 : 500;
    super(status, engineCode, `engine: ${message}`);
    this.name = "EngineRequestError";
    this.engineCode = engineCode;
  }
}
