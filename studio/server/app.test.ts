import assert from "node:assert/strict";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { startLocalChain, type LocalChain } from "../../scripts/lib/localChain.ts";
import { freePort } from "../../scripts/lib/services.ts";
import { forwardRpc, shellWithConfig, studioApp, studioConfigOf } from "./app.ts";

const deployment = {
  chainId: 31337,
  contracts: { OpenToken: { address: "0x5FbDB2315678afecb367f032d93F642f64180aa3", startBlock: 1 } },
};

describe("studio backend", () => {
  let chain: LocalChain;
  let dist: string;
  before(async () => {
    chain = await startLocalChain({ port: await freePort() });
    dist = await mkdtemp(path.join(tmpdir(), "openpoa-studio-dist-"));
    await mkdir(path.join(dist, "assets"));
    await writeFile(path.join(dist, "index.html"), "<!doctype html><title>shell</title><!--openpoa-config-->");
    await writeFile(path.join(dist, "assets", "index-abc.js"), "console.log(1)");
  });
  after(async () => {
    await chain?.stop();
    if (dist) await rm(dist, { recursive: true, force: true });
  });
  const appFor = (chainId: number) =>
    studioApp({
      network: "localhost",
      deployment: { ...deployment, chainId },
      rpcUrl: chain.url,
      indexerUrl: "http://127.0.0.1:1",
      contentUrl: "http://127.0.0.1:2",
      distDir: dist,
    });
  const rpcCall = (method: string, params: unknown[] = [], id = 1) => ({ jsonrpc: "2.0", id, method, params });

  it("forwards the node's accounts and signatures on the local chain (the development wallet)", async () => {
    const accounts = (await forwardRpc({ rpcUrl: chain.url, local: true }, rpcCall("eth_accounts"))) as {
      result: string[];
    };
    assert.equal(accounts.result.length, 20);
    const signed = (await forwardRpc(
      { rpcUrl: chain.url, local: true },
      rpcCall("personal_sign", ["0x68690a", accounts.result[1]]),
    )) as { result: string };
    assert.match(signed.result, /^0x[0-9a-f]{130}$/);
  });

  it("never forwards a signing method to a chain that is not local, and keeps a batch's order", async () => {
    const answers = (await forwardRpc({ rpcUrl: chain.url, local: false }, [
      rpcCall("eth_chainId", [], 1),
      rpcCall("eth_sendTransaction", [{}], 2),
      rpcCall("eth_accounts", [], 3),
      rpcCall("eth_blockNumber", [], 4),
    ])) as { id: number; result?: string; error?: { code: number; message: string } }[];
    assert.deepEqual(
      answers.map((a) => a.id),
      [1, 2, 3, 4],
    );
    assert.equal(answers[0]!.result, "0x7a69");
    assert.equal(answers[1]!.error?.code, 4200);
    assert.match(answers[1]!.error!.message, /eth_sendTransaction is not forwarded/);
    assert.equal(answers[2]!.error?.code, 4200);
    assert.match(answers[3]!.result!, /^0x/);
  });

  it('inlines the configuration into the page so that no "<" in it can close the script', () => {
    const html = shellWithConfig("<head><!--openpoa-config--></head>", {
      ...studioConfigOf({
        network: "</script><script>alert(1)</script>",
        deployment,
        rpcUrl: "",
        indexerUrl: "http://i",
        contentUrl: "http://c",
        distDir: "",
      }),
    });
    assert.equal(html.split("</script>").length, 2);
    const json = /<script id="openpoa-config" type="application\/json">(.*)<\/script>/.exec(html)![1]!;
    assert.equal(JSON.parse(json).network, "</script><script>alert(1)</script>");
  });

  it("serves /api/config, saying whether the development wallet is offered", async () => {
    const local = await (await appFor(31337).request("/api/config")).json();
    assert.equal(local.devWallet, true);
    assert.equal(local.rpcPath, "/rpc");
    assert.equal(local.contracts.OpenToken.address, deployment.contracts.OpenToken.address);
    const remote = await (await appFor(11155111).request("/api/config")).json();
    assert.equal(remote.devWallet, false);
  });

  it("proxies POST /rpc and refuses signing methods there on a chain that is not local", async () => {
    const post = (app: ReturnType<typeof appFor>, body: unknown) =>
      app.request("/rpc", {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify(body),
      });
    const refused = await (await post(appFor(1), rpcCall("personal_sign", ["0x00", "0x00"]))).json();
    assert.equal(refused.error.code, 4200);
    const accounts = await (await post(appFor(31337), rpcCall("eth_accounts"))).json();
    assert.equal(accounts.result.length, 20);
    const bad = await appFor(31337).request("/rpc", { method: "POST", body: "{" });
    assert.equal(bad.status, 400);
    assert.equal((await bad.json()).error.code, -32700);
  });

  it("serves the app: assets cached for good, any client route answered with the shell", async () => {
    const app = appFor(31337);
    const asset = await app.request("/assets/index-abc.js");
    assert.equal(asset.status, 200);
    assert.match(asset.headers.get("cache-control") ?? "", /immutable/);
    for (const route of ["/", "/datanets/3", "/governance"]) {
      const page = await app.request(route);
      assert.equal(page.status, 200, route);
      const html = await page.text();
      assert.match(html, /<title>shell<\/title>/);
      // The configuration rides in the page: no round trip before the first render.
      const inlined = /<script id="openpoa-config" type="application\/json">(.*)<\/script>/.exec(html);
      assert.equal(JSON.parse(inlined![1]!).chainId, 31337);
    }
    assert.equal((await app.request("/assets/missing.js")).status, 404);
  });
});
