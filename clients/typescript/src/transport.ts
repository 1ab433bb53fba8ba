import type { Interceptor, Transport } from "@connectrpc/connect";
import { createGrpcTransport, Http2SessionManager } from "@connectrpc/connect-node";

/** Largest message either side may send: an UploadFiles answer for many files can pass 4 MiB. */
export const MAX_MESSAGE_BYTES = 8 * 1024 * 1024;

export interface ConnectOptions {
  /**
   * Where the service listens: "https://host:port", or "host:port" (TLS). "http://host:port"
   * speaks plain HTTP/2, only for a server on loopback without TLS.
   */
  address: string;
  /** PEM of the CA(s) that signed the server's certificate; Node's default roots otherwise. */
  caPem?: string | Buffer;
  /**
   * The bearer token the service knows the caller by (its callers file holds the token's
   * SHA-256). A function is asked before every call, so a token file that rotates can be
   * re-read.
   */
  token?: string | (() => string | Promise<string>);
  /** A client certificate and its key (PEM), for a service that requires mTLS. */
  certPem?: string | Buffer;
  keyPem?: string | Buffer;
  /** More interceptors, run after the one that adds the token. */
  interceptors?: Interceptor[];
}

/** A transport plus the HTTP/2 connection behind it, so that it can be closed. */
export interface ConnectorTransport {
  transport: Transport;
  close(): void;
}

export function baseUrlOf(address: string): string {
  return /^[a-z]+:\/\//i.test(address) ? address : `https://${address}`;
}

function bearerToken(token: NonNullable<ConnectOptions["token"]>): Interceptor {
  return (next) => async (req) => {
    const value = typeof token === "function" ? await token() : token;
    req.header.set("authorization", `Bearer ${value}`);
    return next(req);
  };
}

/** A gRPC (HTTP/2) transport with TLS, the bearer token and 8 MiB message limits. */
export function createConnectorTransport(options: ConnectOptions): ConnectorTransport {
  const baseUrl = baseUrlOf(options.address);
  const sessionManager = new Http2SessionManager(
    baseUrl,
    // Find a dead connection while a long stream waits on the server.
    { pingIntervalMs: 30_000, pingTimeoutMs: 20_000 },
    { ca: options.caPem, cert: options.certPem, key: options.keyPem },
  );
  const interceptors = [
    ...(options.token === undefined ? [] : [bearerToken(options.token)]),
    ...(options.interceptors ?? []),
  ];
  const transport = createGrpcTransport({
    baseUrl,
    sessionManager,
    interceptors,
    readMaxBytes: MAX_MESSAGE_BYTES,
    writeMaxBytes: MAX_MESSAGE_BYTES,
  });
  return { transport, close: () => sessionManager.abort() };
}
