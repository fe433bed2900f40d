/**
 * Typed errors, viem style: every error has a stable `name`, a short message,
 * optional `details` and the underlying `cause`, so callers can branch on the
 * class instead of parsing strings.
 */
export type BaseErrorParameters = {
  cause?: unknown;
  details?: string;
};

export class BaseError extends Error {
  override name = "AttributionError";
  readonly details: string | undefined;
  readonly shortMessage: string;

  constructor(shortMessage: string, parameters: BaseErrorParameters = {}) {
    const message = parameters.details ? `${shortMessage}\n\nDetails: ${parameters.details}` : shortMessage;
    super(message, parameters.cause === undefined ? undefined : { cause: parameters.cause });
    this.shortMessage = shortMessage;
    this.details = parameters.details;
  }
}

export class ContentHashMismatchError extends BaseError {
  override name = "ContentHashMismatchError";
  readonly expected: string;
  readonly actual: string;
  constructor({ expected, actual, source }: { expected: string; actual: string; source: string }) {
    super(`Content read from ${source} does not hash to ${expected}.`, { details: `sha256 of the bytes is ${actual}` });
    this.expected = expected;
    this.actual = actual;
  }
}

export class ContentNotFoundError extends BaseError {
  override name = "ContentNotFoundError";
  constructor({ contentHash, source, cause }: { contentHash: string; source: string; cause?: unknown }) {
    super(`Content ${contentHash} not found in ${source}.`, { cause });
  }
}

export class ContentStoreRequestError extends BaseError {
  override name = "ContentStoreRequestError";
  readonly url: string;
  readonly status: number | undefined;
  constructor({ url, status, cause, details }: { url: string; status?: number; cause?: unknown; details?: string }) {
    super(`Content store request to ${url} failed${status === undefined ? "" : ` with HTTP ${status}`}.`, {
      cause,
      details,
    });
    this.url = url;
    this.status = status;
  }
}

/** The store answered with an error of its own (store/README.md): its status, code and message. */
export class ContentStoreRejectedError extends ContentStoreRequestError {
  override name = "ContentStoreRejectedError";
  /** The server's error code, e.g. hash_mismatch, too_large, not_admitted; "unknown" when the body had none. */
  readonly code: string;
  constructor({ url, status, code, message }: { url: string; status: number; code: string; message: string }) {
    super({ url, status, details: `${code}: ${message}` });
    this.code = code;
  }
}

export class ContentSizeMismatchError extends BaseError {
  override name = "ContentSizeMismatchError";
  constructor({ expected, actual, source }: { expected: number; actual: number; source: string }) {
    super(`Content read from ${source} is not ${expected} bytes long.`, { details: `read ${actual} bytes` });
  }
}

export class InvalidContentHashError extends BaseError {
  override name = "InvalidContentHashError";
  constructor({ contentHash }: { contentHash: string }) {
    super(`"${contentHash}" is not a bytes32 hex sha256.`);
  }
}

export class DatanetRootMismatchError extends BaseError {
  override name = "DatanetRootMismatchError";
  constructor({
    datanetId,
    version,
    expected,
    actual,
  }: {
    datanetId: bigint;
    version: bigint;
    expected: string;
    actual: string;
  }) {
    super(`Contributions of datanet ${datanetId} v${version} do not reproduce its published root.`, {
      details: `published ${expected}, recomputed ${actual}`,
    });
  }
}

export class InvalidIndexFileError extends BaseError {
  override name = "InvalidIndexFileError";
  constructor({ path, reason, cause }: { path: string; reason: string; cause?: unknown }) {
    super(`Index file ${path} is unusable: ${reason}.`, { cause });
  }
}

export class TokenOutOfVocabularyError extends BaseError {
  override name = "TokenOutOfVocabularyError";
  constructor({ token, vocabSize }: { token: number; vocabSize: number }) {
    super(`Token id ${token} is outside the tokenizer vocabulary (size ${vocabSize}).`);
  }
}

export class InvalidLineageError extends BaseError {
  override name = "InvalidLineageError";
  constructor({ reason }: { reason: string }) {
    super(`Invalid adapter lineage: ${reason}.`);
  }
}

export class MissingIndexError extends BaseError {
  override name = "MissingIndexError";
  constructor({ datanetId, version }: { datanetId: bigint; version: bigint }) {
    super(`No index was given for lineage datanet ${datanetId} v${version}.`);
  }
}

export class InvalidEpochInputError extends BaseError {
  override name = "InvalidEpochInputError";
  constructor({ reason }: { reason: string }) {
    super(`Invalid epoch input: ${reason}.`);
  }
}

/** A distribution file is not the one an epoch's on-chain root commits to, or does not add up. */
export class DistributionFileMismatchError extends BaseError {
  override name = "DistributionFileMismatchError";
  constructor({ epoch, reason }: { epoch: bigint; reason: string }) {
    super(`Distribution file of epoch ${epoch} does not match its root: ${reason}.`);
  }
}

export class InvalidRarityTableError extends BaseError {
  override name = "InvalidRarityTableError";
  constructor({ source, reason }: { source: string; reason: string }) {
    super(`Rarity table ${source} is unusable: ${reason}.`);
  }
}

export class InvalidParamsError extends BaseError {
  override name = "InvalidParamsError";
  constructor({ reason }: { reason: string }) {
    super(`Invalid attribution params: ${reason}.`);
  }
}

export class RarityTableMismatchError extends BaseError {
  override name = "RarityTableMismatchError";
  constructor({ expected, actual }: { expected: string; actual: string }) {
    super(`The params name rarity table ${expected}, but the table given is ${actual}.`);
  }
}

export class IndexParamsMismatchError extends BaseError {
  override name = "IndexParamsMismatchError";
  constructor({ datanetId, version, fields }: { datanetId: bigint; version: bigint; fields: readonly string[] }) {
    super(
      `Index of datanet ${datanetId} v${version} was built with other near-duplicate params (${fields.join(", ")}); rebuild it.`,
    );
  }
}

/** A policy naming an algorithm or version this library does not implement. */
export class UnsupportedAttributionPolicyError extends BaseError {
  override name = "UnsupportedAttributionPolicyError";
  readonly algorithm: string;
  readonly version: number;
  constructor({ algorithm, version, supported }: { algorithm: string; version: number; supported: string }) {
    super(`Attribution policy algorithm ${algorithm} version ${version} is not supported.`, {
      details: `this library implements ${supported}`,
    });
    this.algorithm = algorithm;
    this.version = version;
  }
}

export class InvalidAttributionPolicyError extends BaseError {
  override name = "InvalidAttributionPolicyError";
  constructor({ id, reason }: { id: bigint; reason: string }) {
    super(`Invalid attribution policy ${id}: ${reason}.`);
  }
}
