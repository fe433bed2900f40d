/** Public API of the OpenPoA attribution library. */
export { allocateLargestRemainder } from "./allocate.ts";
export {
  assertLineage,
  attributeCompletion,
  attributionRecordFormat,
  bpsTotal,
  decodeAttributionRecord,
  defaultAttributionParams,
  encodeAttributionRecord,
  hashAttributionRecord,
  hashTokens,
  poolContributionId,
  ppmTotal,
  sharesFromSpans,
  type AttributionContext,
  type AttributionParams,
  type AttributionRecord,
  type AttributionShare,
  type AttributionSpan,
  type LineageEntry,
  type SpanSource,
} from "./attribute.ts";
export { canonicalJson, NonCanonicalValueError, type CanonicalValue, type Encoded } from "./canonicalJson.ts";
export {
  contentStoreAt,
  contentFileName,
  contentUri,
  createDirectoryContentStore,
  createHttpContentStore,
  getContent,
  putContent,
  sha256Hex,
  type ContentStore,
  type HttpContentStoreOptions,
} from "./contentStore.ts";
export { Sha256Meter, type ByteLimit } from "./sha256Meter.ts";
export {
  decodeSessionWrites,
  encodeSessionWrites,
  maxSessionWrites,
  sessionWriteHeaders,
  signedWriteHeaders,
  signWriteSession,
  storeHeaders,
  storeKindOf,
  storeKinds,
  storeNameForm,
  storeNameHash,
  storeWriteMessage,
  storeWriteSessionMessage,
  type StoreKind,
  type StoreNameForm,
  type SignedWriteSession,
  type StoreSessionWrite,
  type StoreWrite,
  type StoreWriteSession,
} from "./storeAuth.ts";
export { downloadVerified, uploadFile, type RawStoreKind } from "./storeTransfer.ts";
export {
  assertDatanetVersionRoot,
  contributionLeafEncoding,
  datanetVersionTree,
  type Contribution,
  type DatanetVersion,
  type DatanetVersionKey,
} from "./datanet.ts";
export {
  buildDatanetIndex,
  contributionIndexAt,
  datanetIndexFileName,
  indexFormatVersion,
  IndexTooLargeError,
  loadDatanetIndex,
  nearDuplicateContributions,
  openDatanetIndex,
  parseDatanetIndex,
  saveDatanetIndex,
  serializeDatanetIndex,
  type DatanetIndex,
  type DatanetIndexContext,
  type NearDuplicateContribution,
} from "./datanetIndex.ts";
export {
  aggregateEpoch,
  allocationsIssue,
  assignIndices,
  checkDistributionFile,
  decodeDistributionFile,
  distributionFileFormat,
  distributionLeafEncoding,
  distributionTree,
  encodeDistributionFile,
  previousBalances,
  type CumulativeBalance,
  type DistributionFile,
  type DistributionLeaf,
  type DuplicateContribution,
  type DistributionTreeLeaf,
  type EpochDistribution,
  type EpochBlocks,
  type EpochInputs,
  receiptName,
  type RecordStatus,
  type UnverifiedUsage,
  type UsageReceipt,
} from "./epoch.ts";
export * from "./errors.ts";
export {
  findMaximalSpans,
  findOccurrences,
  longestMatchAt,
  type LongestMatch,
  type MaximalSpan,
  type SpanOccurrence,
} from "./match.ts";
export {
  findNearDuplicates,
  originalContributions,
  type NearDuplicateParams,
  type NearDuplicates,
} from "./nearDuplicates.ts";
export {
  assertAttributionParams,
  maxRarityExponent,
  pickAttributionParams,
  pickNearDuplicateParams,
} from "./params.ts";
export {
  assertAttributionPolicy,
  attributionPolicyFromChain,
  attributionPolicyToChain,
  attributionSpecs,
  defaultAttributionPolicy,
  recordPolicyIssues,
  spanMatchAlgorithm,
  type AttributionPolicy,
  type AttributionPolicyRef,
  type AttributionPolicyVersion,
  type OnChainAttributionPolicy,
} from "./policy.ts";
export { attributionSpecPath } from "./policySpec.ts";
export {
  defaultRarityTable,
  defaultRarityTablePath,
  forEachWord,
  parseRarityTable,
  rarityTableFormat,
  spanRarityWeight,
  wordKey,
  type RarityTable,
} from "./rarity.ts";
export { splitDataShare, type AdapterSettlement, type LineageAmount } from "./settlement.ts";
export { buildSuffixArray, buildSuffixArrayNaive } from "./suffixArray.ts";
export { byteTokenizer, byteTokens, type Tokenizer } from "./tokenizer.ts";
export { verifyEpoch, type VerificationIssue, type VerificationIssueKind, type VerificationResult } from "./verify.ts";
export { getAttributionRecord, putAttributionRecord, recordFileName } from "./recordStore.ts";
export { checkRecordAgainstCompletion, checkRecordAgainstContributions } from "./recordCheck.ts";
