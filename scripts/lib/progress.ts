/**
 * Progress for long waits (a transaction's confirmation, a deploy): after a couple of seconds, a line on stderr
 * such as "waiting for 0x… (12 s, block 123)", kept up to date. Only on a terminal, or when OPENPOA_PROGRESS=1
 * (OPENPOA_PROGRESS=0 turns it off); stdout, which may carry JSON, is never written.
 */
import type { Writable } from "node:stream";
import { fromEnvironment } from "./environment.ts";

/** Whether progress is shown: OPENPOA_PROGRESS when set (1 or 0), else whether stderr is a terminal. */
export function progressEnabled(): boolean {
  const setting = fromEnvironment("OPENPOA_PROGRESS", "wholeNumber", process.stderr.isTTY ? "1" : "0");
  return setting !== 0;
}

export type ProgressOptions = {
  /** What is waited for: "0x…", "the deploy, 3 of 10 contracts confirmed". Asked again at each line. */
  label: () => string | Promise<string>;
  /** The chain's latest block, shown with each line; a failure to read it leaves it out. */
  blockNumber?: () => Promise<bigint | number>;
  enabled?: boolean;
  stream?: Writable & { isTTY?: boolean };
  /** Silent this long, then a line every `everyMs`. */
  afterMs?: number;
  everyMs?: number;
};

/** `work`'s result, with progress lines while it takes longer than `afterMs`. */
export async function withProgress<T>(
  work: Promise<T>,
  {
    label,
    blockNumber,
    enabled = progressEnabled(),
    stream = process.stderr,
    afterMs = 2_000,
    everyMs = 2_000,
  }: ProgressOptions,
): Promise<T> {
  if (!enabled) return work;
  const started = Date.now();
  // On a terminal the line is rewritten in place and cleared at the end; elsewhere (a log) each is a new line.
  const inPlace = stream.isTTY === true;
  let done = false;
  let shown = false;
  const show = async () => {
    const block = await blockNumber?.().catch(() => undefined);
    const seconds = Math.round((Date.now() - started) / 1000);
    const line = `waiting for ${await label()} (${seconds} s${block === undefined ? "" : `, block ${block}`})`;
    if (done) return;
    stream.write(inPlace ? `\r\x1b[K${line}` : `${line}\n`);
    shown = true;
  };
  let timer: NodeJS.Timeout | undefined;
  const next = (delay: number) => {
    // A line that could not be made (its label failed) is skipped, never an error of the work itself.
    timer = setTimeout(
      () =>
        show()
          .then(undefined, () => undefined)
          .finally(() => done || next(everyMs)),
      delay,
    );
  };
  next(afterMs);
  try {
    return await work;
  } finally {
    done = true;
    clearTimeout(timer);
    if (inPlace && shown) stream.write("\r\x1b[K");
  }
}
