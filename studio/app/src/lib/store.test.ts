import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { generatePrivateKey, privateKeyToAccount, type PrivateKeyAccount } from "viem/accounts";
import { ContentStoreRejectedError } from "../../../../attribution/src/errors.ts";
import { keys, type TestChain } from "../../../../inference/gateway/testSupport.ts";
import { silentLogger } from "../../../../inference/gateway/log.ts";
import { freePort } from "../../../../scripts/lib/services.ts";
import { startStoreServer, type StoreServer } from "../../../../store/server.ts";
import { startStoreTestChain, testChainPolicy } from "../../../../store/testSupport.ts";
import { contentUri } from "../../../../attribution/src/httpStore.ts";
import { sha256Of, uploadToStore, type MessageSigner } from "./store.ts";

/** A wallet's personal_sign, as the browser's wallet would answer it. */
const walletOf = (account: PrivateKeyAccount): MessageSigner => ({
  address: account.address,
  signMessage: (message) => account.signMessage({ message }),
});

describe("uploadToStore, against the store server admitting writers by the chain", () => {
  let tc: TestChain;
  let store: StoreServer;
  let dir: string;
  before(async () => {
    tc = await startStoreTestChain(await freePort());
    dir = await mkdtemp(path.join(tmpdir(), "openpoa-studio-store-"));
    store = await startStoreServer({ dir, port: 0, policy: testChainPolicy(tc), log: silentLogger });
  });
  after(async () => {
    await store?.close();
    await tc?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it("stores the bytes under their sha256, signed by an OPEN holder; a second upload finds them there", async () => {
    const bytes = randomBytes(3_000);
    const alice = walletOf(privateKeyToAccount(keys.alice));
    const uploaded = await uploadToStore(store.url, { bytes, signer: alice });
    const expected = `0x${createHash("sha256").update(bytes).digest("hex")}`;
    assert.equal(uploaded.contentHash, expected);
    assert.equal(uploaded.uri, `openpoa://content/${expected.slice(2)}`);
    assert.equal(uploaded.created, true);
    assert.deepEqual(await readFile(path.join(dir, expected.slice(2))), bytes);
    assert.equal((await uploadToStore(store.url, { bytes, signer: alice })).created, false);
  });

  it("surfaces the store's refusal of a writer the chain does not admit as a typed error with its code", async () => {
    const stranger = walletOf(privateKeyToAccount(generatePrivateKey()));
    await assert.rejects(
      uploadToStore(store.url, { bytes: randomBytes(10), signer: stranger }),
      (error: unknown) => error instanceof ContentStoreRejectedError && error.code === "not_admitted",
    );
  });

  it("refuses a signature that is not the named signer's", async () => {
    const alice = privateKeyToAccount(keys.alice);
    const forged: MessageSigner = {
      address: alice.address,
      signMessage: walletOf(privateKeyToAccount(keys.bob)).signMessage,
    };
    await assert.rejects(
      uploadToStore(store.url, { bytes: randomBytes(10), signer: forged }),
      (error: unknown) => error instanceof ContentStoreRejectedError && error.status === 401,
    );
  });

  it("hashes with Web Crypto as the chain expects, and names the content URI by it", async () => {
    assert.equal(
      await sha256Of(new TextEncoder().encode("abc")),
      `0x${createHash("sha256").update("abc").digest("hex")}`,
    );
    assert.equal(contentUri(`0x${"ab".repeat(32)}`), `openpoa://content/${"ab".repeat(32)}`);
  });
});
