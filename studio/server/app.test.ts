import assert from "node:assert/strict";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { startLocalChain, type LocalChain } from "../../scripts/lib/localChain.ts";
import { freePort } from "../../scripts/lib/services.ts";
import { forwardRpc, maxRpcBatch, RpcProxyError, shellWithConfig, studioApp, studioConfigOf } from "./app.ts";

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
  /** The app; `app.request("/rpc")` is a request to http://localhost, its default origin here. */
  const appFor = (chainId: number, { rpcUrl = chain.url, origins = ["http://localhost"] } = {}) =>
    studioApp({
      network: "localhost",
      deployment: { ...deployment, chainId },
      rpcUrl,
      indexerUrl: "http://127.0.0.1:1",
      contentUrl: "http://127.0.0.1:2",
      distDir: dist,
      origins,
    });
  const postJson = (app: ReturnType<typeof appFor>, body: unknown, url = "/rpc", headers = {}) =>
    app.request(url, {
      method: "POST",
      headers: { "content-type": "application/json", ...headers },
      body: JSON.stringify(body),
    });
  /** A stand-in for a node, answering each POST with `answer(body)`; stopped after the test. */
  const fakeNode = async (answer: (body: string) => string) => {
    const server: Server = createServer((request, response) => {
      let body = "";
      request.on("data", (chunk: Buffer) => (body += chunk.toString()));
      request.on("end", () => response.end(answer(body)));
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const { port } = server.address() as { port: number };
    return { url: `http://127.0.0.1:${port}`, close: () => new Promise((resolve) => server.close(resolve)) };
  };
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
        origins: [],
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
    const post = (app: ReturnType<typeof appFor>, body: unknown) => postJson(app, body);
    const refused = await (await post(appFor(1), rpcCall("personal_sign", ["0x00", "0x00"]))).json();
    assert.equal(refused.error.code, 4200);
    const accounts = await (await post(appFor(31337), rpcCall("eth_accounts"))).json();
    assert.equal(accounts.result.length, 20);
    const bad = await appFor(31337).request("/rpc", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: "{",
    });
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

  it("test_rpcAndApi_refuseOtherSitesPages_aRebindingHost_andBodiesThatAreNotJson", async () => {
    const app = appFor(31337, { origins: ["http://127.0.0.1:8790", "https://studio.example.org"] });
    const own = "http://127.0.0.1:8790";
    const codeOf = async (response: Response, status: number) => {
      assert.equal(response.status, status);
      return ((await response.json()) as { error: { code: string; message: string } }).error.code;
    };
    // Another site's page: its Origin is not the Studio's, whatever it asks.
    const evil = { origin: "https://evil.example" };
    assert.equal(await codeOf(await postJson(app, rpcCall("eth_accounts"), `${own}/rpc`, evil), 403), "cross_origin");
    assert.equal(await codeOf(await postJson(app, {}, `${own}/api/jobs`, evil), 403), "cross_origin");
    assert.equal(await codeOf(await app.request(`${own}/api/config`, { headers: evil }), 403), "cross_origin");
    // A text/plain body needs no preflight from another site: refused even without an Origin.
    const plain = await app.request(`${own}/rpc`, {
      method: "POST",
      headers: { "content-type": "text/plain" },
      body: JSON.stringify(rpcCall("eth_accounts")),
    });
    assert.equal(await codeOf(plain, 415), "unsupported_media_type");
    // DNS rebinding: the attacker's name pointed at the Studio; its page is same-origin to itself, not to the Studio.
    const rebound = "http://evil.example:8790";
    assert.equal(await codeOf(await postJson(app, rpcCall("eth_accounts"), `${rebound}/rpc`), 403), "cross_origin");
    assert.equal(
      await codeOf(await postJson(app, rpcCall("eth_accounts"), `${rebound}/rpc`, { origin: rebound }), 403),
      "cross_origin",
    );
    // The Studio's own pages, at the address it listens on or its public origin, and clients without an Origin.
    for (const [url, headers] of [
      [`${own}/rpc`, { origin: own }],
      ["https://studio.example.org/rpc", { origin: "https://studio.example.org" }],
      [`${own}/rpc`, {}],
    ] as const) {
      const response = await postJson(app, rpcCall("eth_chainId"), url, headers);
      assert.equal(response.status, 200, url);
      assert.equal(((await response.json()) as { result: string }).result, "0x7a69");
    }
    assert.equal((await app.request(`${own}/api/config`, { headers: { origin: own } })).status, 200);
  });

  it("test_rpc_forwardsAnAllowlist_readsEverywhere_signingOnlyLocally_adminNamespacesNowhere", async () => {
    const codeOf = async (app: ReturnType<typeof appFor>, method: string, params: unknown[] = []) =>
      ((await (await postJson(app, rpcCall(method, params))).json()) as { error?: { code: number } }).error?.code;
    const head = async () =>
      Number(
        ((await forwardRpc({ rpcUrl: chain.url, local: true }, rpcCall("eth_blockNumber"))) as { result: string })
          .result,
      );
    const before = await head();
    for (const chainId of [31337, 11155111]) {
      const app = appFor(chainId);
      for (const method of ["eth_chainId", "eth_blockNumber", "eth_gasPrice", "net_version", "web3_clientVersion"])
        assert.equal(await codeOf(app, method), undefined, `${method} on chain ${chainId}`);
      assert.equal(await codeOf(app, "eth_getBalance", [deployment.contracts.OpenToken.address, "latest"]), undefined);
      for (const method of [
        "evm_mine",
        "hardhat_mine",
        "debug_traceTransaction",
        "anvil_mine",
        "personal_unlockAccount",
        "admin_peers",
        "miner_start",
        "eth_newBlockFilter",
      ])
        assert.equal(await codeOf(app, method), -32601, `${method} on chain ${chainId}`);
    }
    // None of the refused mining methods reached the node.
    assert.equal(await head(), before);
    assert.equal(await codeOf(appFor(31337), "eth_accounts"), undefined);
    assert.equal(await codeOf(appFor(11155111), "eth_accounts"), 4200);
    assert.equal(await codeOf(appFor(11155111), "eth_signTypedData_v4", ["0x00", "{}"]), 4200);
  });

  it("test_rpc_answersMalformedBodiesWith400_anUnreachableOrNonJsonNodeWith502_andMatchesABatchById", async () => {
    const app = appFor(31337);
    for (const body of [null, [null], [], 7, "eth_chainId", [rpcCall("eth_chainId"), 7]]) {
      const response = await postJson(app, body);
      assert.equal(response.status, 400, JSON.stringify(body));
      const answer = (await response.json()) as { jsonrpc: string; id: null; error: { code: number } };
      assert.deepEqual([answer.jsonrpc, answer.id, answer.error.code], ["2.0", null, -32600], JSON.stringify(body));
    }
    const tooMany = Array.from({ length: maxRpcBatch + 1 }, (_, i) => rpcCall("eth_chainId", [], i));
    const refused = await postJson(app, tooMany);
    assert.equal(refused.status, 400);
    assert.match(((await refused.json()) as { error: { message: string } }).error.message, /at most 100/);
    assert.equal((await postJson(app, tooMany.slice(1))).status, 200);

    // The node cannot be reached, or answers something that is not JSON.
    const html = await fakeNode(() => "<html>busy</html>");
    try {
      for (const rpcUrl of ["http://127.0.0.1:1", html.url]) {
        const response = await postJson(appFor(31337, { rpcUrl }), rpcCall("eth_chainId", [], 42));
        assert.equal(response.status, 502, rpcUrl);
        const answer = (await response.json()) as { id: number; error: { code: number } };
        assert.deepEqual([answer.id, answer.error.code], [42, -32603]);
      }
    } finally {
      await html.close();
    }
    await assert.rejects(
      forwardRpc({ rpcUrl: "http://127.0.0.1:1", local: true }, [rpcCall("eth_chainId")]),
      (error: unknown) => error instanceof RpcProxyError && error.status === 502,
    );

    // A node may answer a batch in any order: each answer goes to the request with its id.
    const reversed = await fakeNode((body) =>
      JSON.stringify(
        (JSON.parse(body) as { id: unknown }[])
          .map(({ id }) => ({ jsonrpc: "2.0", id, result: `answer to ${String(id)}` }))
          .reverse(),
      ),
    );
    try {
      const answers = (await forwardRpc({ rpcUrl: reversed.url, local: false }, [
        rpcCall("eth_chainId", [], 1),
        rpcCall("eth_accounts", [], 2),
        rpcCall("eth_blockNumber", [], "three" as unknown as number),
      ])) as { id: unknown; result?: string; error?: { code: number } }[];
      assert.deepEqual(
        answers.map((a) => [a.id, a.result ?? a.error?.code]),
        [
          [1, "answer to 1"],
          [2, 4200],
          ["three", "answer to three"],
        ],
      );
    } finally {
      await reversed.close();
    }
  });
});
