/** More events after the scenario: `count` contributions, one transaction each, to a new datanet of bob's (or the given one). */
import { Contract, JsonRpcProvider, sha256, toUtf8Bytes } from "ethers";
import { abiOf } from "../lib/abis.ts";
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
  for (let i = start; i < start + count; i++) {
    const hash = sha256(toUtf8Bytes(`workload-${datanetId}-${i}`));
    await (await datanets.getFunction("contribute")(datanetId, hash, `ipfs://w${i}`, 10n + BigInt(i), 0n)).wait();
    await onSent?.(i);
  }
  provider.destroy();
  return datanetId;
}
