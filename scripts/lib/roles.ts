/**
 * Who holds which role in a deployed suite, read from the contracts themselves: what `npm run deploy -- --dry-run`
 * prints, so a deployer sees before sending anything whether the parameters hand the suite to the right keys.
 */
import { Contract, id, ZeroAddress, type Provider } from "ethers";
import { abiOf, type ContractName } from "../../inference/sdk/abis.ts";

const PROPOSER_ROLE = id("PROPOSER_ROLE");
const CANCELLER_ROLE = id("CANCELLER_ROLE");
const EXECUTOR_ROLE = id("EXECUTOR_ROLE");
const DEFAULT_ADMIN_ROLE = `0x${"00".repeat(32)}`;
const OWNED: ContractName[] = [
  "DatanetRegistry",
  "ModelRegistry",
  "NodeRegistry",
  "AttributionRewards",
  "InferencePayments",
  "ServingRules",
];

/** One line per role: the holder's address, named when it is one of the suite's contracts or the deployer. */
export async function describeRoles(
  provider: Provider,
  { contracts, deployer }: { contracts: Record<string, string>; deployer: string },
): Promise<string[]> {
  const at = (name: ContractName) => new Contract(contracts[name]!, abiOf(name) as never, provider);
  const names = new Map(Object.entries(contracts).map(([name, address]) => [address.toLowerCase(), name]));
  const who = (address: string) => {
    const lower = address.toLowerCase();
    if (lower === deployer.toLowerCase()) return `${address} (the deployer)`;
    if (lower === ZeroAddress) return "anyone";
    return names.has(lower) ? `${address} (${names.get(lower)})` : address;
  };
  const token = at("OpenToken");
  const minted = await token.queryFilter(token.filters.Transfer!(ZeroAddress), 0);
  const timelock = at("OpenTimelock");
  const governor = contracts.OpenGovernor!;
  const has = (role: string, account: string): Promise<boolean> => timelock.getFunction("hasRole")(role, account);
  const lines = minted.map((log) => {
    const [, to, value] = (log as unknown as { args: [string, string, bigint] }).args;
    return `OpenToken supply of ${value} wei minted to ${who(to)}`;
  });
  lines.push(
    `OpenTimelock proposer and canceller: ${(await has(PROPOSER_ROLE, governor)) && (await has(CANCELLER_ROLE, governor)) ? who(governor) : "NOT the governor"}`,
    `OpenTimelock executor: ${(await has(EXECUTOR_ROLE, ZeroAddress)) ? "anyone" : "restricted"}`,
    `OpenTimelock admin kept by the deployer: ${(await has(DEFAULT_ADMIN_ROLE, deployer)) ? "YES" : "no"}`,
  );
  for (const name of OWNED) lines.push(`${name} owner (governance): ${who(await at(name).getFunction("owner")())}`);
  const rewards = at("AttributionRewards");
  const nodes = at("NodeRegistry");
  lines.push(
    `AttributionRewards attestor (proposes reward roots): ${who(await rewards.getFunction("attestor")())}`,
    `AttributionRewards guardian (revokes pending roots): ${who(await rewards.getFunction("guardian")())}`,
    `NodeRegistry guardian (freezes operators): ${who(await nodes.getFunction("guardian")())}`,
    `NodeRegistry treasury (receives slashed stake): ${who(await nodes.getFunction("treasury")())}`,
    `InferencePayments treasury (receives protocol fees): ${who(await at("InferencePayments").getFunction("treasury")())}`,
  );
  return lines;
}
