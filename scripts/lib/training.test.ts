import assert from "node:assert/strict";
import { chmod, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { runTrainer, TrainerFailedError } from "./training.ts";

/** A stand-in interpreter (OPENPOA_PYTHON) that prints `stderr` and `stdout` and exits with `code`. */
async function fakeTrainer(dir: string, { stderr, stdout, code }: { stderr: string; stdout: string; code: number }) {
  const file = path.join(dir, `trainer-${Math.random().toString(16).slice(2)}.sh`);
  await writeFile(file, `#!/bin/sh\nprintf '%s\\n' '${stderr}' >&2\nprintf '%s' '${stdout}'\nexit ${code}\n`);
  await chmod(file, 0o755);
  return file;
}

describe("runTrainer", () => {
  let dir: string;
  const python = process.env.OPENPOA_PYTHON;
  before(async () => (dir = await mkdtemp(path.join(tmpdir(), "openpoa-trainer-"))));
  after(async () => {
    if (python === undefined) delete process.env.OPENPOA_PYTHON;
    else process.env.OPENPOA_PYTHON = python;
    await rm(dir, { recursive: true, force: true });
  });

  it("test_runTrainer_rejectsUnreadableOutputWithoutThrowingOutsideThePromise", async () => {
    // A line that looks like progress but is not JSON, then a summary that is not JSON, with exit 0.
    process.env.OPENPOA_PYTHON = await fakeTrainer(dir, { stderr: "{step: oops", stdout: "not json", code: 0 });
    const progress: unknown[] = [];
    await assert.rejects(
      runTrainer({ args: [], onProgress: (p) => progress.push(p) }),
      (error: unknown) => error instanceof TrainerFailedError && /unreadable summary: not json/.test(error.message),
    );
    assert.deepEqual(progress, []);
  });

  it("test_runTrainer_relaysProgressAndResolvesWithTheSummary", async () => {
    const line = JSON.stringify({ step: 1, steps: 2, loss: 1.5, tokensPerSec: 10, etaSeconds: 1 });
    process.env.OPENPOA_PYTHON = await fakeTrainer(dir, { stderr: line, stdout: '{"sha256":"ab"}', code: 0 });
    const progress: unknown[] = [];
    const summary = await runTrainer({ args: [], onProgress: (p) => progress.push(p) });
    assert.deepEqual(progress, [JSON.parse(line)]);
    assert.equal(summary.sha256, "ab");
  });

  it("test_runTrainer_namesTheExitAndTheLastErrorLines", async () => {
    process.env.OPENPOA_PYTHON = await fakeTrainer(dir, { stderr: "CUDA out of memory", stdout: "", code: 3 });
    await assert.rejects(runTrainer({ args: [] }), /exit 3\): CUDA out of memory/);
  });
});
