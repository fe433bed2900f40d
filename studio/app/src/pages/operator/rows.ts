/** The indexer's rows the Operators pages read (GraphQL: bigints as strings). */
export type OperatorRow = {
  address: string;
  signingKey: string;
  endpoint: string;
  baseModelIds: string[];
  bonded: string;
  unbonding: string;
  unbondingReleaseTime: string;
  slashed: string;
  withdrawn: string;
  frozenUntil: string;
  status: string;
  registeredBlock: string;
};
export const operatorFields =
  "address signingKey endpoint baseModelIds bonded unbonding unbondingReleaseTime slashed withdrawn frozenUntil status registeredBlock";

export type ChannelRow = {
  id: string;
  payer: string;
  deposit: string;
  settled: string;
  settlementCount: number;
  status: string;
  closesAt: string | null;
};
export const channelFields = "id payer deposit settled settlementCount status closesAt";

export type SettlementRow = {
  id: string;
  channelId: string;
  increase: string;
  cumulativeAmount: string;
  adapterCount: number;
  timestamp: string;
  transactionHash: string;
};
export const settlementFields = "id channelId increase cumulativeAmount adapterCount timestamp transactionHash";

/** What InferencePayments credited the operator (indexer: account_revenue). */
export type OperatorIncome = { operatorFees: string; total: string; withdrawn: string };
