import { Code, ConnectError } from "@connectrpc/connect";
import { ErrorInfoSchema, RetryInfoSchema } from "./gen/google/rpc/error_details_pb.js";
import type { ItemError } from "./gen/dropbox_connector/v1/errors_pb.js";

/** The ErrorInfo domain the service puts on its errors. */
export const ERROR_DOMAIN = "dropbox-connector";

/**
 * A failed call, or a failed item inside a multi-item call, as the service described it.
 *
 * `reason` is the stable `google.rpc.ErrorInfo` reason ("PATH_NOT_FOUND", "RATE_LIMITED",
 * ...: an `ErrorReason` value name without its `ERROR_REASON_` prefix); program against it
 * rather than against `message`. It is "" when the failure never reached the service (the
 * network broke, TLS failed) or carried no ErrorInfo.
 */
export class DropboxConnectorError extends Error {
  override name = "DropboxConnectorError";

  constructor(
    message: string,
    /** The gRPC status code (connect-es numbering, identical to gRPC's). */
    readonly code: Code,
    /** The ErrorInfo reason, e.g. "PATH_NOT_FOUND"; "" when there is none. */
    readonly reason: string,
    /** ErrorInfo metadata such as `path`, `field` or `upload_id`. */
    readonly metadata: Readonly<Record<string, string>> = {},
    /** How long the service asks to wait before retrying (RetryInfo), when it says. */
    readonly retryDelayMs?: number,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }

  /** Any error thrown by a call (ConnectError or not) as a DropboxConnectorError. */
  static from(err: unknown): DropboxConnectorError {
    if (err instanceof DropboxConnectorError) {
      return err;
    }
    const connectError = ConnectError.from(err);
    const info = connectError.findDetails(ErrorInfoSchema).find((i) => i.domain === ERROR_DOMAIN);
    const retry = connectError.findDetails(RetryInfoSchema)[0]?.retryDelay;
    const retryDelayMs =
      retry === undefined ? undefined : Number(retry.seconds) * 1000 + Math.round(retry.nanos / 1e6);
    return new DropboxConnectorError(
      connectError.rawMessage,
      connectError.code,
      info?.reason ?? "",
      { ...(info?.metadata ?? {}) },
      retryDelayMs,
      { cause: err },
    );
  }

  /** The per-item error of an upload, download or delete result. */
  static fromItemError(item: ItemError): DropboxConnectorError {
    return new DropboxConnectorError(
      item.message,
      item.code as Code,
      item.reason,
      { ...item.metadata },
    );
  }
}

/** Runs `call`, turning whatever it throws into a DropboxConnectorError. */
export async function typed<T>(call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (err) {
    throw DropboxConnectorError.from(err);
  }
}
