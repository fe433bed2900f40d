/** Why an artifact could not be published, fetched or used; `code` is stable (HTTP errors and logs carry it). */
export class ArtifactError extends Error {
  readonly code: string;
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "ArtifactError";
    this.code = code;
  }
}

/** The bytes fetched for an artifact (or one of its files) hash to something else than what was asked for. */
export class ArtifactHashMismatchError extends ArtifactError {
  readonly expected: string;
  readonly actual: string;
  constructor({ what, expected, actual, source }: { what: string; expected: string; actual: string; source: string }) {
    super("artifact_hash_mismatch", `${what} from ${source} hashes to ${actual}, expected ${expected}`);
    this.name = "ArtifactHashMismatchError";
    this.expected = expected;
    this.actual = actual;
  }
}
