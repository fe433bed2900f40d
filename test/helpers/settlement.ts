import { concat, Signature, toBeHex, TypedDataEncoder, type Signer } from "ethers";
import type { Address } from "viem";
import { voucherDomain as sdkVoucherDomain, voucherTypes } from "../../inference/sdk/index.ts";
import { hashOf, OPEN, publishDatanetsAndBaseModel, registerAdapter, testParameters } from "./fixtures.ts";

/** Shared setup and arithmetic for the settlement tests (NodeRegistry, InferencePayments, AttributionRewards). */

export const BPS = 10_000n;
export const MIN_OPERATOR_STAKE = testParameters.minOperatorStake;
export const PROTOCOL_FEE_BPS = BigInt(testParameters.protocolFeeBps);
export const OPERATOR_FEE_BPS = BigInt(testParameters.operatorFeeBps);
/** secp256k1 group order, to flip a signature's s into the upper half. */
export const SECP256K1_N = 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n;

export type Voucher = {
  channelId: bigint;
  cumulativeAmount: bigint;
  adapterIds: bigint[];
  adapterAmounts: bigint[];
  usageRoot: string;
  expiry: bigint;
};

/** The SDK's voucher type, as the mutable array ethers' TypedDataEncoder takes. */
const VOUCHER_TYPES = { Voucher: [...voucherTypes.Voucher] };

export type Domain = { name: string; version: string; chainId: number; verifyingContract: Address };

/** The SDK's voucher domain, for the bigint chain ids that ethers returns. */
export function voucherDomain(chainId: bigint, verifyingContract: string): Domain {
  return sdkVoucherDomain(Number(chainId), verifyingContract as Address);
}

export function voucherDigest(domain: Domain, voucher: Voucher) {
  return TypedDataEncoder.hash(domain, VOUCHER_TYPES, voucher);
}

export async function signVoucher(signer: Signer, domain: Domain, voucher: Voucher) {
  return signer.signTypedData(domain, VOUCHER_TYPES, voucher);
}

/** The same signature with s replaced by n - s and v flipped: valid for ecrecover, rejected by OZ ECDSA. */
export function malleate(signature: string) {
  const sig = Signature.from(signature);
  const highS = SECP256K1_N - BigInt(sig.s);
  return concat([sig.r, toBeHex(highS, 32), sig.v === 27 ? "0x1c" : "0x1b"]);
}

/** A voucher from (adapterId, cumulative amount) pairs, ids sorted, amounts summed. */
export function voucherOf(
  channelId: bigint,
  perAdapter: [bigint, bigint][],
  expiry: bigint,
  usageRoot = hashOf(`usage-${channelId}-${perAdapter.map((p) => p.join(":")).join(",")}`),
): Voucher {
  const sorted = [...perAdapter].sort((a, b) => (a[0] < b[0] ? -1 : 1));
  return {
    channelId,
    cumulativeAmount: sorted.reduce((s, [, a]) => s + a, 0n),
    adapterIds: sorted.map(([id]) => id),
    adapterAmounts: sorted.map(([, a]) => a),
    usageRoot,
    expiry,
  };
}

export type Split = {
  amount: bigint;
  protocolFee: bigint;
  operatorFee: bigint;
  rest: bigint;
  ownerShare: bigint;
  dataShare: bigint;
  lineageParts: bigint[];
};

/**
 * The split IInferencePayments documents for one adapter's increase `amount`. With `dataShareBps` null the adapter
 * is the base model (id 0): its rest goes to the operator and nothing to owners or data.
 */
export function splitOf(
  amount: bigint,
  dataShareBps: bigint | null,
  weightsBps: bigint[] = [],
  protocolFeeBps = PROTOCOL_FEE_BPS,
  operatorFeeBps = OPERATOR_FEE_BPS,
): Split {
  const protocolFee = (amount * protocolFeeBps) / BPS;
  const operatorFee = (amount * operatorFeeBps) / BPS;
  const rest = amount - protocolFee - operatorFee;
  if (dataShareBps === null) {
    return {
      amount,
      protocolFee,
      operatorFee: operatorFee + rest,
      rest,
      ownerShare: 0n,
      dataShare: 0n,
      lineageParts: [],
    };
  }
  const dataShare = (rest * dataShareBps) / BPS;
  const ownerShare = rest - dataShare;
  const lineageParts: bigint[] = [];
  let allocated = 0n;
  weightsBps.forEach((w, i) => {
    const part = i === weightsBps.length - 1 ? dataShare - allocated : (dataShare * w) / BPS;
    allocated += part;
    lineageParts.push(part);
  });
  return { amount, protocolFee, operatorFee, rest, ownerShare, dataShare, lineageParts };
}

/** Adapter 1: three-entry lineage 3333/3333/3334, data share 30 %. Adapter 2: one entry, data share 15 %. */
export const ADAPTER_1 = { dataShareBps: 3_000n, weights: [3_333n, 3_333n, 3_334n] };
export const ADAPTER_2 = { dataShareBps: 1_500n, weights: [10_000n] };

type Connection = Awaited<ReturnType<typeof import("./fixtures.ts").connectSuite>>;
type Suite = Awaited<ReturnType<Connection["deploySuite"]>>;

/** An impersonated Timelock with gas money: governance for parameter calls. */
export async function governanceSigner(
  ethers: Connection["ethers"],
  networkHelpers: Connection["networkHelpers"],
  suite: Suite,
) {
  const governance = await ethers.getImpersonatedSigner(await suite.timelock.getAddress());
  await networkHelpers.setBalance(governance.address, 10n ** 18n);
  return governance;
}

/**
 * The whole suite plus: bob an active operator (minimum stake), three datanets with a published version each,
 * a base model, adapter 1 (owner carol) and adapter 2 (owner curator), and approvals to the payment contract.
 */
export async function setupSettlement(ethers: Connection["ethers"], suite: Suite) {
  const { models, nodes, payments, token, alice, bob, carol, curator } = suite;
  await publishDatanetsAndBaseModel(suite, [alice, bob, carol]);
  const adapter = (n: number, terms: { dataShareBps: bigint; weights: bigint[] }) => ({
    baseModelId: 1n,
    artifactHash: hashOf(`adapter-${n}`),
    uri: `ipfs://adapter-${n}`,
    rank: 16,
    targetModules: 0x7f,
    pricePer1kTokens: 10n ** 15n,
    ownerShareBps: BPS - terms.dataShareBps,
    dataShareBps: terms.dataShareBps,
    lineage: terms.weights.map((weightBps, i) => ({ datanetId: BigInt(i + 1), version: 1n, weightBps })),
  });
  await registerAdapter(models.connect(carol), adapter(1, ADAPTER_1));
  await registerAdapter(models.connect(curator), adapter(2, ADAPTER_2));

  await token.connect(bob).approve(await nodes.getAddress(), ethers.MaxUint256);
  await nodes.connect(bob).register("https://bob.example", [1n], bob.address, MIN_OPERATOR_STAKE);
  for (const signer of [alice, carol]) {
    await token.connect(signer).approve(await payments.getAddress(), ethers.MaxUint256);
  }
  const { chainId } = await ethers.provider.getNetwork();
  const domain = voucherDomain(chainId, await payments.getAddress());
  return { ...suite, domain, chainId };
}

export { OPEN };
