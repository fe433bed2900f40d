/**
 * `npm run bench:gateway`: the gateway's own time per paid request (voucher check, receipt signing, usage log),
 * measured inside the gateway around exactly those steps, for sequential requests against the real engine on a
 * local chain. In the same run the same request is also timed end to end through HTTP with payment and straight
 * on the engine without payment, for context, and throughput is measured at 32 requests in flight.
 * Writes bench/results/gateway.json.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os, { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import OpenAI from "openai";
import { keccak256, toHex, zeroHash, type LocalAccount } from "viem";
import { receiptDigest, voucherDigest } from "../sdk/eip712.ts";
import { fetchPrices, openChannel, Payer } from "../sdk/index.ts";
import { startGateway } from "./index.ts";
import { digestSigner, isSignedBy } from "./signatures.ts";
import { UsageLog } from "./usageLog.ts";
import { generatedModel, keys, OPEN, startTestChain, testGatewayConfig } from "./testSupport.ts";

const SEQUENTIAL = 300;
const CONCURRENT = 400;
const IN_FLIGHT = 32;

const percentile = (values: number[], q: number) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
};
const round = (x: number) => Math.round(x * 1000) / 1000;

/** Voucher signature check, receipt digest + signature and usage-log append, each timed alone. */
async function timeComponents(payer: LocalAccount, voucherSeparator: Uint8Array, receiptSeparator: Uint8Array) {
  const signer = digestSigner(keys.bob);
  const vouchers = await Promise.all(
    Array.from({ length: SEQUENTIAL }, async (_, i) => {
      const voucher = {
        channelId: 1n,
        cumulativeAmount: BigInt(i + 1),
        adapterIds: [1n],
        adapterAmounts: [BigInt(i + 1)],
        usageRoot: zeroHash,
        expiry: 2n ** 40n,
      };
      const hash = voucherDigest(voucherSeparator, voucher);
      return { voucher, hash, signature: await payer.sign!({ hash }) };
    }),
  );
  const log = new UsageLog(path.join(dir, "components.sqlite"));
  const timed = async (step: (i: number) => unknown) => {
    const ms: number[] = [];
    for (let i = 0; i < SEQUENTIAL; i++) {
      const started = performance.now();
      await step(i);
      ms.push(performance.now() - started);
    }
    return round(percentile(ms, 0.5));
  };
  const receipt = (i: number) => ({
    requestId: keccak256(toHex(i)),
    channelId: 1n,
    position: BigInt(i),
    adapterId: 1n,
    promptTokens: 17n,
    completionTokens: 1n,
    amount: 18n,
    completionHash: zeroHash,
    attributionHash: zeroHash,
    timestamp: 1n,
    rulesVersion: 1n,
  });
  const result = {
    voucherCheck: await timed((i) =>
      isSignedBy(voucherDigest(voucherSeparator, vouchers[i]!.voucher), vouchers[i]!.signature, payer.address),
    ),
    receiptSign: await timed((i) => signer.sign(receiptDigest(receiptSeparator, receipt(i)))),
    logAppend: await timed((i) =>
      log.append(
        { receipt: receipt(i), signature: vouchers[i]!.signature },
        { digest: vouchers[i]!.hash, signed: vouchers[i]! },
      ),
    ),
  };
  log.close();
  return result;
}

const loadBefore = os.loadavg()[0]!;
const model = generatedModel();
const chain = await startTestChain(18_900 + (process.pid % 500), model);
const dir = mkdtempSync(path.join(tmpdir(), "openpoa-gateway-bench-"));
try {
  const gateway = await startGateway({
    ...testGatewayConfig(chain, dir),
    // One payer keeps IN_FLIGHT requests going on one channel: the per-channel caps must allow that.
    limits: { maxInFlightPerChannel: IN_FLIGHT, maxUnvouchedReceipts: 4 * IN_FLIGHT },
  });
  const alice = chain.walletOf(keys.alice);
  const channelId = await openChannel(alice, chain.client, {
    payments: chain.contracts.InferencePayments,
    token: chain.contracts.OpenToken,
    operator: chain.operator,
    deposit: 1_000n * OPEN,
  });
  const payer = new Payer({
    account: alice.account,
    chainId: 31337,
    payments: chain.contracts.InferencePayments,
    channelId,
    operatorSigningKey: chain.operator,
    prices: await fetchPrices(gateway.url),
  });
  const openai = new OpenAI({ baseURL: `${gateway.url}/v1`, apiKey: "unused", fetch: payer.fetch, maxRetries: 0 });
  const request = { model: "1", prompt: "Benchmark prompt", max_tokens: 1, seed: 1 };
  const sha256 = (await gateway.chain.adapter(1n)).sha256;

  for (let i = 0; i < 30; i++) await openai.completions.create(request);
  const paidMs: number[] = [];
  const engineMs: number[] = [];
  for (let i = 0; i < SEQUENTIAL; i++) {
    let started = performance.now();
    await openai.completions.create(request);
    paidMs.push(performance.now() - started);
    started = performance.now();
    await gateway.engine.generate({ prompt: request.prompt, adapter: sha256, max_tokens: 1, seed: 1 }, () => {});
    engineMs.push(performance.now() - started);
  }

  const overheadMs = gateway.metrics
    .recentOverhead()
    .slice(-SEQUENTIAL)
    .map((s) => s * 1000);
  const started = performance.now();
  let next = 0;
  await Promise.all(
    Array.from({ length: IN_FLIGHT }, async () => {
      while (next++ < CONCURRENT) await openai.completions.create(request);
    }),
  );
  const requestsPerSec = CONCURRENT / ((performance.now() - started) / 1000);
  await gateway.close();
  const components = await timeComponents(
    alice.account,
    gateway.payment.voucherSeparator,
    gateway.payment.receiptSeparator,
  );

  const result = {
    overheadP50Ms: round(percentile(overheadMs, 0.5)),
    overheadP99Ms: round(percentile(overheadMs, 0.99)),
    requestsPerSec: Math.round(requestsPerSec * 10) / 10,
    paidEndToEndP50Ms: round(percentile(paidMs, 0.5)),
    engineOnlyP50Ms: round(percentile(engineMs, 0.5)),
    // The same steps in isolation (no HTTP, no engine), where the overhead goes.
    componentsP50Ms: components,
    // Other work on the machine stretches every figure: the engine bench records the same.
    loadAverage1m: [loadBefore, os.loadavg()[0]!].map((x) => Math.round(x * 100) / 100),
    sequentialRequests: SEQUENTIAL,
    concurrentRequests: CONCURRENT,
    inFlight: IN_FLIGHT,
    request: "completion, adapter 1, 17 prompt tokens, max_tokens 1, tiny generated model on CPU",
  };
  const out = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../bench/results/gateway.json");
  mkdirSync(path.dirname(out), { recursive: true });
  writeFileSync(out, JSON.stringify(result, null, 2) + "\n");
  console.log(JSON.stringify(result, null, 2));
} finally {
  await chain.stop();
  rmSync(dir, { recursive: true, force: true });
}
