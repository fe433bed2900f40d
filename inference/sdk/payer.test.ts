/**
 * `Payer.resume` against a gateway that lies: it answers GET /v1/channels/:id/usage and /receipts with whatever a
 * test puts there (the honest gateway is exercised end to end in inference/gateway/gateway.test.ts). And a Payer
 * whose vouchers a wallet signs (`walletSigner`: eth_signTypedData_v4 on a real node), as a browser app's does.
 */
import assert from "node:assert/strict";
import { createServer, type Server } from "node:http";
import { after, before, beforeEach, describe, it } from "node:test";
import { createWalletClient, http, keccak256, recoverTypedDataAddress, toHex, type Hex } from "viem";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import { receiptFromJson, receiptToJson, voucherToJson, type ReceiptJson, type VoucherJson } from "./codec.ts";
import { hashTokens } from "../../attribution/src/index.ts";
import { HARDHAT_ACCOUNT_0_KEY } from "../../scripts/lib/contracts.ts";
import { startLocalChain, type LocalChain } from "../../scripts/lib/localChain.ts";
import { freePort } from "../../scripts/lib/services.ts";
import {
  domainSeparator,
  receiptDigest,
  receiptDomain,
  receiptTypes,
  voucherDomain,
  voucherTypes,
  type Receipt,
  type Voucher,
} from "./eip712.ts";
import { costOf } from "./pricing.ts";
import { Payer, ReceiptError, ResumeError, walletSigner } from "./payer.ts";
import { usageLeaf, UsageTree } from "./usage.ts";

const chainId = 31337;
const payments = "0x5FbDB2315678afecb367f032d93F642f64180aa3";
const channelId = 7n;
const price = 10n ** 15n;
const payerKey = generatePrivateKey();
const operator = privateKeyToAccount(generatePrivateKey());
const stranger = privateKeyToAccount(generatePrivateKey());

const newPayer = () =>
  new Payer({
    account: privateKeyToAccount(payerKey),
    chainId,
    payments,
    channelId,
    operatorSigningKey: operator.address,
    prices: new Map([
      ["1", price],
      ["2", price],
    ]),
  });

let n = 0;
async function receipt(adapterId: bigint, tokens: bigint, signer = operator, overrides: Partial<Receipt> = {}) {
  const message: Receipt = {
    requestId: keccak256(toHex(`request-${n}`)),
    channelId,
    position: BigInt(n++),
    adapterId,
    promptTokens: tokens - 1n,
    completionTokens: 1n,
    amount: costOf(price, tokens),
    completionHash: `0x${"00".repeat(32)}`,
    attributionHash: `0x${"00".repeat(32)}`,
    timestamp: 1n,
    rulesVersion: 1n,
    ...overrides,
  };
  const signature = await signer.signTypedData({
    domain: receiptDomain(chainId, payments),
    types: receiptTypes,
    primaryType: "Receipt",
    message,
  });
  return receiptToJson({ receipt: message, signature });
}

async function voucher(amounts: [bigint, bigint][], signer = privateKeyToAccount(payerKey), channel = channelId) {
  const message: Voucher = {
    channelId: channel,
    cumulativeAmount: amounts.reduce((s, [, a]) => s + a, 0n),
    adapterIds: amounts.map(([id]) => id),
    adapterAmounts: amounts.map(([, a]) => a),
    usageRoot: `0x${"00".repeat(32)}`,
    expiry: 2n ** 40n,
  };
  const signature = await signer.signTypedData({
    domain: voucherDomain(chainId, payments),
    types: voucherTypes,
    primaryType: "Voucher",
    message,
  });
  return voucherToJson({ voucher: message, signature });
}
/** A receipt at a given position (for out-of-order arrivals). */
async function receiptAt(position: bigint) {
  n = Number(position);
  return receipt(1n, 10n);
}
const amountOf = (receipts: ReceiptJson[]) => receipts.reduce((s, r) => s + BigInt(r.amount), 0n);

describe("Payer.resume trusts only what the payer's own signature backs", () => {
  let server: Server;
  let url: string;
  let answer: { voucher: VoucherJson | null; receipts: ReceiptJson[]; disputed?: number[] };

  before(async () => {
    server = createServer((request, response) => {
      const { pathname, searchParams } = new URL(request.url!, "http://gateway");
      const offset = Number(searchParams.get("offset") ?? 0);
      // Pages of two, so that resumes read on across pages.
      const body = pathname.endsWith("/usage")
        ? { channelId: channelId.toString(), voucher: answer.voucher, vouched: { disputed: answer.disputed ?? [] } }
        : {
            channelId: channelId.toString(),
            data: answer.receipts.slice(offset, offset + 2),
            next: offset + 2 < answer.receipts.length ? offset + 2 : null,
          };
      response.writeHead(200, { "content-type": "application/json" });
      response.end(JSON.stringify(body));
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    url = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  });
  after(() => new Promise((resolve) => server.close(resolve)));
  beforeEach(() => {
    answer = { voucher: null, receipts: [] };
    n = 0;
  });

  it("takes over the operator's receipts up to its own voucher, and covers from there", async () => {
    const receipts = [await receipt(1n, 100n), await receipt(2n, 50n), await receipt(1n, 20n)];
    answer = {
      voucher: await voucher([
        [1n, 10n ** 15n],
        [2n, 10n ** 15n],
      ]),
      receipts,
    };
    const payer = newPayer();
    const resumed = await payer.resume(url);
    assert.deepEqual([resumed.receipts, resumed.unbacked.size], [3, 0]);
    assert.equal(payer.billedTotal, amountOf(receipts));
    assert.equal(payer.receipts.length, 3);
    const next = await payer.cover(1n, 5n);
    assert.deepEqual(next.voucher.adapterAmounts, [costOf(price, 100n) + costOf(price, 20n) + 5n, costOf(price, 50n)]);

    // Resuming again counts nothing twice, and reads only what the log gained since.
    assert.equal((await payer.resume(url)).receipts, 0);
    assert.equal(payer.billedTotal, amountOf(receipts));
    receipts.push(await receipt(2n, 40n));
    assert.equal((await payer.resume(url)).receipts, 1);
    assert.equal(payer.billedTotal, amountOf(receipts));
  });

  it("never counts more than the payer signed for: receipts beyond its voucher are unbacked, so disputed", async () => {
    const receipts = [await receipt(1n, 1_000n), await receipt(1n, 1_000n), await receipt(2n, 10n)];
    const cap = costOf(price, 1_500n);
    answer = { voucher: await voucher([[1n, cap]]), receipts };
    const payer = newPayer();
    const resumed = await payer.resume(url);
    // In position order: the first receipt fits under the cap, the second would exceed it.
    assert.equal(resumed.billed.get(1n), costOf(price, 1_000n));
    assert.equal(resumed.unbacked.get(1n), costOf(price, 1_000n));
    // Nothing backs adapter 2 at all.
    assert.equal(resumed.billed.get(2n), undefined);
    assert.equal(resumed.unbacked.get(2n), costOf(price, 10n));
    assert.equal(payer.billedTotal, costOf(price, 1_000n));
    assert.deepEqual(
      payer.disputes.map((d) => [d.position, d.reason]),
      [
        [1n, "it bills beyond anything the payer signed for"],
        [2n, "it bills beyond anything the payer signed for"],
      ],
    );
    // The usage voucher covers all three, pays the first only, and names the other two as disputed.
    const usage = (await payer.usageVoucher())!;
    assert.deepEqual([usage.receipts, usage.disputed], [3, [1, 2]]);
    assert.deepEqual(usage.signed.voucher.adapterIds, [1n]);
    assert.deepEqual(usage.signed.voucher.adapterAmounts, [costOf(price, 1_000n)]);
    const tree = new UsageTree();
    const separator = domainSeparator(receiptDomain(chainId, payments));
    receipts.forEach((json, k) =>
      tree.append(
        usageLeaf(receiptDigest(separator, receiptFromJson(json).receipt), k === 0 ? "accepted" : "disputed"),
      ),
    );
    assert.equal(usage.signed.voucher.usageRoot, tree.root());
  });

  it("keeps the disputes an earlier usage voucher of the payer made, and signs usage vouchers over contiguous receipts only", async () => {
    const receipts = [await receipt(1n, 10n), await receipt(1n, 20n), await receipt(1n, 30n)];
    answer = { voucher: await voucher([[1n, 10n ** 18n]]), receipts, disputed: [1] };
    const payer = newPayer();
    await payer.resume(url);
    assert.equal(payer.billedTotal, costOf(price, 10n) + costOf(price, 30n));
    assert.deepEqual((await payer.usageVoucher())!.disputed, [1]);

    // A receipt that arrives ahead of a missing one waits: the usage voucher stops before the gap.
    const ahead = receiptFromJson(await receiptAt(4n));
    await payer.accept(1n, 10n ** 15n, ahead);
    assert.equal((await payer.usageVoucher())!.receipts, 3);
    await payer.accept(1n, 10n ** 15n, receiptFromJson(await receiptAt(3n)));
    assert.equal((await payer.usageVoucher())!.receipts, 5);
  });

  it("given disputeNew, disputes what it never received, so that the receipts after it still settle", async () => {
    // Receipt 1's response never arrived (its request was answered elsewhere); 0 and 2 did.
    const receipts = [await receipt(1n, 10n), await receipt(1n, 20n), await receipt(1n, 30n)];
    answer = { voucher: await voucher([[1n, 10n ** 18n]]), receipts };
    const payer = newPayer();
    for (const k of [0, 2]) await payer.accept(1n, 10n ** 15n, receiptFromJson(receipts[k]!));
    assert.equal((await payer.usageVoucher())!.receipts, 1);

    assert.equal((await payer.resume(url, { disputeNew: true })).receipts, 1);
    assert.deepEqual(
      payer.disputes.map((d) => [d.position, d.reason]),
      [[1n, "its response never reached the payer"]],
    );
    const usage = (await payer.usageVoucher())!;
    assert.deepEqual([usage.receipts, usage.disputed], [3, [1]]);
    assert.equal(payer.billedTotal, costOf(price, 10n) + costOf(price, 30n));
  });

  it("disputes a receipt whose completion hash is not the hash of the completion received", async () => {
    const completion = "the answer";
    const honest = receiptFromJson(
      await receipt(1n, 10n, operator, { completionHash: hashTokens(new TextEncoder().encode(completion)) }),
    );
    const payer = newPayer();
    assert.equal(await payer.accept(1n, 10n ** 15n, honest, completion), honest);
    const other = receiptFromJson(await receipt(1n, 10n, operator, { completionHash: `0x${"12".repeat(32)}` }));
    await assert.rejects(
      payer.accept(1n, 10n ** 15n, other, completion),
      (e: Error) => e instanceof ReceiptError && /receipt 1 disputed: its completion hash/.test(e.message),
    );
    assert.equal(payer.billedTotal, costOf(price, 10n));
    assert.deepEqual((await payer.usageVoucher())!.disputed, [1]);
  });

  it("without a voucher of the payer's, takes over nothing", async () => {
    answer = { voucher: null, receipts: [await receipt(1n, 100n)] };
    const payer = newPayer();
    const resumed = await payer.resume(url);
    assert.equal(payer.billedTotal, 0n);
    assert.equal(resumed.unbacked.get(1n), costOf(price, 100n));
  });

  it("refuses a voucher signed by anyone else, or for another channel, or above the deposit", async () => {
    answer = { voucher: await voucher([[1n, 10n ** 18n]], stranger), receipts: [await receipt(1n, 10n)] };
    await assert.rejects(
      newPayer().resume(url),
      (e: Error) => e instanceof ResumeError && /not this payer/.test(e.message),
    );
    answer = { voucher: await voucher([[1n, 10n ** 15n]], undefined, 8n), receipts: [] };
    await assert.rejects(newPayer().resume(url), (e: Error) => e instanceof ResumeError && /channel 8/.test(e.message));
    answer = { voucher: { ...(await voucher([[1n, 10n ** 15n]])), signature: "0x1234" as Hex }, receipts: [] };
    await assert.rejects(newPayer().resume(url), ResumeError);
    answer = { voucher: await voucher([[1n, 10n ** 15n]]), receipts: [] };
    await assert.rejects(
      newPayer().resume(url, { deposit: 10n ** 15n - 1n }),
      (e: Error) => e instanceof ResumeError && /deposit/.test(e.message),
    );
    const payer = newPayer();
    await payer.resume(url, { deposit: 10n ** 15n });
    assert.equal(payer.billedTotal, 0n);
  });

  it("refuses receipts not signed by the operator's key or for another channel; disputes those dearer than their tokens", async () => {
    const own = await voucher([[1n, 10n ** 18n]]);
    for (const bad of [() => receipt(1n, 10n, stranger), () => receipt(1n, 10n, operator, { channelId: 8n })]) {
      n = 0;
      answer = { voucher: own, receipts: [await receipt(1n, 10n), await bad()] };
      const payer = newPayer();
      await assert.rejects(payer.resume(url), ResumeError);
      assert.equal(payer.billedTotal, 0n);
      assert.equal(payer.receipts.length, 0);
    }
    n = 0;
    answer = {
      voucher: own,
      receipts: [await receipt(1n, 10n), await receipt(1n, 10n, operator, { amount: costOf(price, 10n) + 1n })],
    };
    const payer = newPayer();
    await payer.resume(url);
    assert.equal(payer.billedTotal, costOf(price, 10n));
    assert.match(payer.disputes[0]!.reason, /but 10 tokens cost/);
  });

  it("counts a receipt once, whether a resume or the response brings it first", async () => {
    const listed = await receipt(1n, 30n);
    answer = { voucher: await voucher([[1n, 10n ** 15n]]), receipts: [listed] };
    const payer = newPayer();
    await payer.cover(1n, 10n ** 14n);
    await payer.resume(url);
    // The response of the request in flight arrives after the resume listed its receipt.
    await payer.accept(1n, 10n ** 14n, receiptFromJson(listed));
    assert.equal(payer.billedTotal, costOf(price, 30n));
    assert.equal(payer.receipts.length, 1);
    const next = await payer.cover(1n, 1n);
    assert.equal(next.voucher.cumulativeAmount, costOf(price, 30n) + 1n);
    // Another receipt claiming a position already taken is refused, not booked.
    const impostor = receiptFromJson(await receipt(1n, 5n, operator, { position: 0n }));
    await assert.rejects(payer.accept(1n, 1n, impostor), /receipt 0 of this channel is another receipt already/);
    assert.equal(payer.receipts.length, 1);
  });
});

describe("a Payer whose vouchers the wallet signs (walletSigner)", () => {
  let chain: LocalChain;
  before(async () => {
    chain = await startLocalChain({ port: await freePort() });
  });
  after(() => chain?.stop());

  it("test_walletSigner_signsVouchersAsTheAccountsOwnKeyWould", async () => {
    // A JSON-RPC account: the node holds the key and signs eth_signTypedData_v4, as a browser wallet does.
    const local = privateKeyToAccount(HARDHAT_ACCOUNT_0_KEY);
    const wallet = createWalletClient({ account: local.address, transport: http(chain.url) });
    const payer = new Payer({
      account: walletSigner(wallet),
      chainId,
      payments,
      channelId,
      operatorSigningKey: operator.address,
      prices: new Map([["1", price]]),
    });
    n = 0;
    const cover = costOf(price, 40n);
    const signed = await payer.cover(1n, cover);
    const typed = { domain: voucherDomain(chainId, payments), types: voucherTypes, primaryType: "Voucher" } as const;
    assert.equal(signed.signature, await local.signTypedData({ ...typed, message: signed.voucher }));
    await payer.accept(1n, cover, receiptFromJson(await receipt(1n, 30n)));
    const usage = await payer.usageVoucher();
    assert.equal(usage?.signed.voucher.cumulativeAmount, costOf(price, 30n));
    const signer = await recoverTypedDataAddress({
      ...typed,
      message: usage!.signed.voucher,
      signature: usage!.signed.signature,
    });
    assert.equal(signer, local.address);
  });
});
