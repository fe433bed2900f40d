import assert from "node:assert/strict";
import { Writable } from "node:stream";
import { setTimeout as sleep } from "node:timers/promises";
import { afterEach, it } from "node:test";
import { progressEnabled, withProgress } from "./progress.ts";

const saved = process.env.OPENPOA_PROGRESS;
afterEach(() => {
  if (saved === undefined) delete process.env.OPENPOA_PROGRESS;
  else process.env.OPENPOA_PROGRESS = saved;
});

/** A stream that keeps what is written to it, as a log file (or, with `isTTY`, a terminal) would show it. */
function recorder(isTTY = false) {
  const chunks: string[] = [];
  const stream = Object.assign(
    new Writable({
      write(chunk, _encoding, done) {
        chunks.push(String(chunk));
        done();
      },
    }),
    { isTTY },
  );
  return { stream, chunks };
}

it("test_withProgress_showsLinesOnlyOnceTheWaitIsLong", async () => {
  const { stream, chunks } = recorder();
  let block = 122n;
  const options = {
    label: () => "0xabc",
    blockNumber: async () => ++block,
    enabled: true,
    stream,
    afterMs: 200,
    everyMs: 200,
  };
  assert.equal(await withProgress(sleep(50, "quick"), options), "quick");
  assert.deepEqual(chunks, []);
  assert.equal(await withProgress(sleep(700, "slow"), options), "slow");
  assert.ok(chunks.length >= 2, chunks.join(""));
  assert.match(chunks[0]!, /^waiting for 0xabc \(0 s, block 123\)\n$/);
  assert.match(chunks[1]!, /^waiting for 0xabc \(\d s, block 124\)\n$/);
  // Nothing after the work is done, even from a line being made when it finished.
  const settled = chunks.length;
  await sleep(300);
  assert.equal(chunks.length, settled);
});

it("test_withProgress_rewritesOneLineOnATerminalAndClearsIt", async () => {
  const { stream, chunks } = recorder(true);
  await withProgress(sleep(1_300), { label: () => "the deploy", enabled: true, stream, afterMs: 200, everyMs: 500 });
  assert.equal(chunks[0], "\r\x1b[Kwaiting for the deploy (0 s)");
  assert.equal(chunks.at(-1), "\r\x1b[K");
  assert.ok(chunks.length >= 3, JSON.stringify(chunks));
  for (const chunk of chunks.slice(1, -1)) {
    assert.equal(chunk.slice(0, 4), "\r\x1b[K");
    assert.match(chunk.slice(4), /^waiting for the deploy \(\d s\)$/);
  }
});

it("test_withProgress_passesFailuresThroughAndSkipsLinesItCannotMake", async () => {
  const { stream, chunks } = recorder();
  const failing = sleep(500).then(() => Promise.reject(new Error("reverted")));
  const options = {
    label: () => Promise.reject(new Error("journal unreadable")),
    enabled: true,
    stream,
    afterMs: 100,
    everyMs: 100,
  };
  await assert.rejects(withProgress(failing, options), /reverted/);
  assert.deepEqual(chunks, []);
  assert.equal(await withProgress(Promise.resolve(1), { ...options, enabled: false }), 1);
});

it("test_progressEnabled_followsOpenpoaProgressElseTheTerminal", () => {
  process.env.OPENPOA_PROGRESS = "1";
  assert.equal(progressEnabled(), true);
  process.env.OPENPOA_PROGRESS = "0";
  assert.equal(progressEnabled(), false);
  delete process.env.OPENPOA_PROGRESS;
  assert.equal(progressEnabled(), Boolean(process.stderr.isTTY));
  process.env.OPENPOA_PROGRESS = "yes";
  assert.throws(progressEnabled, /^ConfigurationError: OPENPOA_PROGRESS must be a whole number, not "yes"$/);
});
