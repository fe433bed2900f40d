/** Sending exactly once through a provider that drops requests: the proxy in front of a real `hardhat node`. */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import {
  createPublicClient,
  createWalletClient,
  defineChain,
  http,
  type Address,
  type Hex,
  type PublicClient,
} from "viem";
import { privateKeyToAccount } from "viem/accounts";
import { HARDHAT_ACCOUNT_0_KEY } from "../../scripts/lib/contracts.ts";
import { repoRoot, startLocalChain, type LocalChain } from "../../scripts/lib/localChain.ts";
import { startProviderProxy, type ProviderProxy } from "../../scripts/lib/providerProxy.ts";
import { rpcTransport } from "../../scripts/lib/rpc.ts";
import { abiOf } from "./abis.ts";
import { NonceTakenError, sendRawTransactionOnce, writeContractOnce } from "./rpc.ts";

const chain = defineChain({
  id: 31337,
  name: "hardhat",
  nativeCurrency: { name: "Ether", symbol: "ETH", decimals: 18 },
  rpcUrls: { default: { http: [] } },
});
const account = privateKeyToAccount(HARDHAT_ACCOUNT_0_KEY);

describe("sending once through a provider that drops requests", () => {
  let node: LocalChain;
  let proxy: ProviderProxy;
  let direct: PublicClient;
  /** Signed transfers of `value` wei to self at the account's next nonce (or `nonce`). */
  const signedTransfer = async (value: bigint, nonce?: number) =>
    account.signTransaction({
      chainId: 31337,
      type: "eip1559",
      to: account.address,
      value,
      nonce: nonce ?? (await direct.getTransactionCount({ address: account.address })),
      gas: 21_000n,
      maxFeePerGas: 10n ** 10n,
      maxPriorityFeePerGas: 1n,
    });
  const nonceNow = () => direct.getTransactionCount({ address: account.address });

  before(async () => {
    node = await startLocalChain({ port: 17_400 + (process.pid % 400) });
    proxy = await startProviderProxy({ upstream: node.url, seed: 5 });
    direct = createPublicClient({ chain, transport: http(node.url) });
  });
  after(async () => {
    await proxy?.close();
    await node?.stop();
  });

  it("test_sendRawTransactionOnce_aSendDroppedAfterTheNodeGotItLandsOnce", async () => {
    // Whether the transport asks again (and hears "nonce too low") or not (and sees the reset), one transaction.
    for (const transport of [rpcTransport(proxy.urlFor("retrying")), http(proxy.urlFor("plain"), { retryCount: 0 })]) {
      const client = createPublicClient({ chain, transport });
      const before = await nonceNow();
      const serializedTransaction = await signedTransfer(1n);
      proxy.failNext({ method: "eth_sendRawTransaction", kind: "resetAfterForward" });
      const hash = await sendRawTransactionOnce(client, { serializedTransaction });
      assert.equal((await direct.getTransactionReceipt({ hash })).status, "success");
      assert.equal(await nonceNow(), before + 1);
    }
    assert.deepEqual(proxy.stats().retrying!.methods.eth_sendRawTransaction, {
      calls: 2,
      retries: 1,
      refused: {},
      dropped: { resetAfterForward: 1 },
    });
  });

  it("test_sendRawTransactionOnce_resendsTheSameBytesWhenTheNodeNeverGotThem", async () => {
    const client = createPublicClient({ chain, transport: http(proxy.urlFor("resend"), { retryCount: 0 }) });
    const before = await nonceNow();
    const serializedTransaction = await signedTransfer(2n);
    proxy.failNext({ method: "eth_sendRawTransaction", kind: "resetBeforeForward" });
    proxy.failNext({ method: "eth_sendRawTransaction", kind: "http503" });
    const hash = await sendRawTransactionOnce(client, { serializedTransaction });
    assert.equal((await direct.getTransactionReceipt({ hash })).status, "success");
    assert.equal(await nonceNow(), before + 1);
    assert.equal(proxy.stats().resend!.methods.eth_sendRawTransaction!.calls, 3);
  });

  it("test_sendRawTransactionOnce_aNonceTakenByAnotherTransactionIsNonceTakenError", async () => {
    const client = createPublicClient({ chain, transport: rpcTransport(proxy.urlFor("taken")) });
    const nonce = await nonceNow();
    const [mine, other] = [await signedTransfer(3n, nonce), await signedTransfer(4n, nonce)];
    await direct.sendRawTransaction({ serializedTransaction: other });
    const error = await sendRawTransactionOnce(client, { serializedTransaction: mine }).catch((e: unknown) => e);
    assert.ok(error instanceof NonceTakenError, String(error));
    assert.match(String((error.cause as Error).message), /nonce/i);
  });

  it("test_writeContractOnce_returnsTheReceiptOfTheOneTransactionThroughDrops", async () => {
    const { bytecode } = JSON.parse(
      readFileSync(path.join(repoRoot, "artifacts/contracts/OpenToken.sol/OpenToken.json"), "utf8"),
    ) as { bytecode: Hex };
    const deployer = createWalletClient({ account, chain, transport: http(node.url) });
    const deployed = await direct.waitForTransactionReceipt({
      hash: await deployer.deployContract({ abi: abiOf("OpenToken"), bytecode, args: [account.address] }),
    });
    const token = deployed.contractAddress as Address;
    const wallet = createWalletClient({ account, chain, transport: rpcTransport(proxy.urlFor("writer")) });
    const client = createPublicClient({ chain, transport: rpcTransport(proxy.urlFor("writer")), pollingInterval: 50 });
    const before = await nonceNow();
    proxy.failNext({ method: "eth_sendRawTransaction", kind: "resetAfterForward" });
    proxy.failNext({ method: "eth_getTransactionCount", kind: "http503" });
    const receipt = await writeContractOnce(wallet, client, {
      address: token,
      abi: abiOf("OpenToken"),
      functionName: "approve",
      args: [token, 5n],
    });
    assert.equal(receipt.status, "success");
    assert.equal(await nonceNow(), before + 1);
    const allowance = await direct.readContract({
      address: token,
      abi: abiOf("OpenToken"),
      functionName: "allowance",
      args: [account.address, token],
    });
    assert.equal(allowance, 5n);
  });
});
