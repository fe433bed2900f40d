/** More events after the scenario: `count` contributions (a commitment and its reveal each), to a new datanet of bob's (or the given one). */
import { Contract, JsonRpcProvider, sha256, toUtf8Bytes } from "ethers";
import { abiOf } from "../lib/abis.ts";
import { commitmentOf, newSalt } from "../../scripts/lib/commitments.ts";
import type { Deployment } from "../../scripts/lib/deployments.ts";

export async function contributeMany(
  rpcUrl: string,
  deployment: Deployment,
  count: number,
  onSent?: (i: number) => Promise<void> | void,
  existingDatanetId?: bigint,
  start = 0,
): Promise<bigint> {
  const provider = new JsonRpcProvider(rpcUrl, undefined, { staticNetwork: true, cacheTimeout: -1 });
  provider.pollingInterval = 20;
  const bob = await provider.getSigner(2);
  const datanets = new Contract(deployment.contracts.DatanetRegistry!.address, abiOf("DatanetRegistry"), bob);
  const created =
    existingDatanetId === undefined
      ? await (
          await datanets.getFunction("createDatanet")({
            metadataURI: "ipfs://workload",
            license: "MIT",
            curated: false,
            minStake: 0n,
            treasury: await bob.getAddress(),
            curators: [],
          })
        ).wait()
      : null;
  const datanetId = existingDatanetId ?? BigInt(created.logs[0].topics[1]);
  const submitter = (await bob.getAddress()) as `0x${string}`;
  for (let i = start; i < start + count; i++) {
    const hash = sha256(toUtf8Bytes(`workload-${datanetId}-${i}`)) as `0x${string}`;
    // A registration reveals a commitment made in an earlier block (ICommitments).
    const salt = newSalt();
    await (await datanets.getFunction("commit")(commitmentOf(submitter, hash, salt))).wait();
    await (await datanets.getFunction("contribute")(datanetId, hash, `ipfs://w${i}`, 10n + BigInt(i), 0n, salt)).wait();
    await onSent?.(i);
  }
  provider.destroy();
  return datanetId;
}
