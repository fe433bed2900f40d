/** Every error the gateway answers with: an HTTP status and an OpenAI-shaped body. */
export class GatewayError extends Error {
  readonly status: number;
  readonly type: string;
  readonly code: string;
  readonly param: string | null;
  /** Seconds after which a retry may succeed (the Retry-After header of a 429 or 503). */
  readonly retryAfterSec: number | undefined;

  constructor(
    status: number,
    code: string,
    message: string,
    options: { type?: string; param?: string; cause?: unknown; retryAfterSec?: number } = {},
  ) {
    super(message, { cause: options.cause });
    this.name = "GatewayError";
    this.status = status;
    this.code = code;
    this.type = options.type ?? (status >= 500 ? "server_error" : "invalid_request_error");
    this.param = options.param ?? null;
    this.retryAfterSec = options.retryAfterSec;
  }

  toJSON() {
    return { error: { message: this.message, type: this.type, param: this.param, code: this.code } };
  }
}

export const badRequest = (code: string, message: string, param?: string) =>
  new GatewayError(400, code, message, { param });

/** Payment problems: 402, except a replay (409), so a client can tell "sign again" from "pay more". */
export const paymentError = (code: string, message: string, status = 402, cause?: unknown) =>
  new GatewayError(status, code, message, { type: "payment_error", cause });

/** Too many requests at once (per channel, or for the engine): 429 with Retry-After; nothing was taken or billed. */
export const busy = (code: string, message: string) =>
  new GatewayError(429, code, message, { type: "rate_limit_error", retryAfterSec: 1 });

export class EngineUnavailableError extends GatewayError {
  constructor(message: string, cause?: unknown) {
    super(503, "engine_unavailable", message, { cause });
    this.name = "EngineUnavailableError";
  }
}
