/** Every error the store answers with: an HTTP status and a JSON body {"error":{"code","message"}}. */
export class StoreError extends Error {
  override name = "StoreError";
  readonly status: number;
  readonly code: string;
  /** Headers the answer carries besides the body's (a 416's Content-Range). */
  readonly headers: Record<string, string>;

  constructor(
    status: number,
    code: string,
    message: string,
    options: { cause?: unknown; headers?: Record<string, string> } = {},
  ) {
    super(message, { cause: options.cause });
    this.status = status;
    this.code = code;
    this.headers = options.headers ?? {};
  }

  toJSON() {
    return { error: { code: this.code, message: this.message } };
  }
}
