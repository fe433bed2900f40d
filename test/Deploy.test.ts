import { expect } from "chai";
import { execFile } from "node:child_process";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { repoRoot, rpc, startLocalChain, type LocalChain } from "../scripts/lib/localChain.ts";
import type { Deployment } from "../scripts/lib/deployments.ts";

const run = promisify(execFile);

/** The deploy path that a testnet uses, over JSON-RPC against a node of its own. */
describe("npm run deploy", function () {
  let chain: LocalChain;
  let deploymentsDir: string;

  before(async () => {
    chain = await startLocalChain({ port: 18545 });
    deploymentsDir = await mkdtemp(path.join(tmpdir(), "openpoa-deployments-"));
  });
  after(async () => {
    await chain?.stop();
    await rm(deploymentsDir, { recursive: true, force: true });
  });

  it("test_deploy_writesDeploymentWhoseAddressesHoldCode", async () => {
    const env = { ...process.env, OPENPOA_RPC_URL: chain.url, OPENPOA_DEPLOYMENTS_DIR: deploymentsDir };
    const { stdout } = await run("npm", ["run", "deploy", "--", "--network", "localhost"], { cwd: repoRoot, env });
    expect(stdout).to.match(/Deployed OpenPoA to localhost \(chain 31337\)/);

    const deployment = JSON.parse(await readFile(path.join(deploymentsDir, "localhost.json"), "utf8")) as Deployment;
    expect(deployment.chainId).to.equal(31337);
    expect(Object.keys(deployment.contracts).sort()).to.deep.equal(
      [
        "AttributionRewards",
        "DatanetRegistry",
        "InferencePayments",
        "ModelRegistry",
        "NodeRegistry",
        "OpenGovernor",
        "OpenTimelock",
        "OpenToken",
        "ServingRules",
      ].sort(),
    );
    const head = Number(await rpc<string>(chain.url, "eth_blockNumber"));
    for (const { address, startBlock } of Object.values(deployment.contracts)) {
      expect(await rpc<string>(chain.url, "eth_getCode", [address, "latest"])).to.not.equal("0x");
      // startBlock is the deployment block exactly: no code the block before.
      expect(await rpc<string>(chain.url, "eth_getCode", [address, `0x${(startBlock - 1).toString(16)}`])).to.equal(
        "0x",
      );
      expect(startBlock).to.be.within(1, head);
    }

    // Running it again against the same chain resumes the journal instead of deploying twice.
    await run("npm", ["run", "deploy", "--", "--network", "localhost"], { cwd: repoRoot, env });
    const again = JSON.parse(await readFile(path.join(deploymentsDir, "localhost.json"), "utf8")) as Deployment;
    expect(again).to.deep.equal(deployment);
    expect(Number(await rpc<string>(chain.url, "eth_blockNumber"))).to.equal(head);

    const genesis = await rpc<{ hash: string }>(chain.url, "eth_getBlockByNumber", ["0x0", false]);
    await rm(path.join(repoRoot, "ignition", "deployments", `localhost-31337-${genesis.hash.slice(2, 10)}`), {
      recursive: true,
      force: true,
    });
  });
});
