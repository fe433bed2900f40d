import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { test } from "node:test";
import { promisify } from "node:util";
import { repoRoot } from "./lib/localChain.ts";

const run = promisify(execFile);

type Summary = {
  settled: string;
  protocol: string;
  operatorIncome: string;
  dataShare: string;
  owners: { share: string }[];
  earnings: { claimed: string; contributions: { amount: string }[] }[];
  receipts: number;
  receiptsWithAttribution: number;
  receiptsQuotingContributions: number;
  governance: { schedule: { policyId: number; fromEpoch: number }[]; protocolFeeBps: number };
  epoch1PolicyId: string;
  epoch2: { recordPolicies: string[]; epoch2: { policyId: string } };
};

/**
 * `npm run demo` end to end. The demo itself checks every figure against contract state and exits non-zero on a
 * mismatch; here its summary is checked once more for whole-wei conservation.
 */
test("test_demo_runsAndReconcilesToTheWei", { timeout: 1_200_000 }, async () => {
  const dir = await mkdtemp(path.join(tmpdir(), "openpoa-demo-test-"));
  try {
    const summaryFile = path.join(dir, "summary.json");
    const { stdout } = await run(process.execPath, [path.join(repoRoot, "scripts", "demo.ts")], {
      cwd: repoRoot,
      env: { ...process.env, OPENPOA_DEMO_SUMMARY: summaryFile },
      maxBuffer: 64 * 1024 * 1024,
    });
    assert.match(stdout, /Every figure above reconciles with contract state to the wei/);
    assert.match(stdout, /Demo finished in \d+ s/);

    const summary = JSON.parse(await readFile(summaryFile, "utf8")) as Summary;
    const total = (values: string[]) => values.reduce((sum, value) => sum + BigInt(value), 0n);
    assert.ok(BigInt(summary.settled) > 0n, "something was paid");
    assert.ok(summary.receipts >= 4, "every adapter completion has a receipt");
    assert.equal(
      summary.receiptsWithAttribution,
      summary.receipts,
      "every adapter response carries a published record",
    );
    // The adapters learnt their datanets' texts through the real model's BPE tokens; their answers quote them, and
    // attribution (on the answers' bytes) credits the contributions quoted.
    assert.ok(summary.receiptsQuotingContributions >= 2, `${summary.receiptsQuotingContributions} answers quoted`);
    assert.equal(
      BigInt(summary.protocol) +
        BigInt(summary.operatorIncome) +
        total(summary.owners.map((o) => o.share)) +
        BigInt(summary.dataShare),
      BigInt(summary.settled),
    );
    assert.equal(total(summary.earnings.map((e) => e.claimed)), BigInt(summary.dataShare));
    for (const earning of summary.earnings) {
      assert.equal(total(earning.contributions.map((c) => c.amount)), BigInt(earning.claimed));
    }
    // The governance round: policy 2 governs from epoch 2, epoch 1 stays under policy 1, the fee went down.
    assert.deepEqual(summary.governance.schedule, [
      { policyId: 1, fromEpoch: 1 },
      { policyId: 2, fromEpoch: 2 },
    ]);
    assert.equal(summary.governance.protocolFeeBps, 400);
    assert.equal(summary.epoch1PolicyId, "1");
    assert.equal(summary.epoch2.epoch2.policyId, "2");
    assert.ok(summary.epoch2.recordPolicies.length >= 2);
    assert.ok(
      summary.epoch2.recordPolicies.every((id) => id === "2"),
      "epoch 2's records are made under policy 2",
    );
    assert.match(stdout, /Epoch 1 verifies under attribution policy 1/);
    assert.match(stdout, /Epoch 2 verifies under attribution policy 2/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
