/**
 * Starts a real `dropbox-connector --dev` (server + in-process emulator) the way a service
 * meets it in production: TLS with a certificate from a test CA made here with openssl, and a
 * callers file that knows each client by the SHA-256 of its bearer token. Each test file
 * starts its own, so that emulator faults of one file never reach another.
 */
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { existsSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";

export interface TestServer {
  /** host:port of the gRPC listener (TLS). */
  address: string;
  caPem: Buffer;
  /** A caller with role admin on every group. */
  adminToken: string;
  /** A caller with role reader on group "finance" only. */
  readerToken: string;
  /** Base URL of the in-process emulator (Dropbox API and its control API). */
  emulatorUrl: string;
  /** A scratch folder that goes away with the server. */
  scratch: string;
  /** Calls the emulator's control API (`/__emulator/...`). */
  emulator(path: string, method?: string, body?: unknown): Promise<unknown>;
  stop(): Promise<void>;
}

/** The package folder (clients/typescript), found from wherever the compiled test lives. */
export function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, "package.json"))) {
    const up = dirname(dir);
    if (up === dir) {
      throw new Error("no package.json above the tests");
    }
    dir = up;
  }
  return dir;
}

export function serverBin(): string {
  const path =
    process.env.DBXC_SERVER_BIN ??
    resolve(packageRoot(), "..", "..", "target", "debug", "dropbox-connector");
  if (!existsSync(path)) {
    throw new Error(`${path} is missing: run \`cargo build --workspace --bins\` first`);
  }
  return path;
}

function openssl(args: string[]): void {
  execFileSync("openssl", args, { stdio: ["ignore", "ignore", "pipe"] });
}

/** A throwaway CA and a certificate from it for localhost and 127.0.0.1. */
function makeCertificates(dir: string): { caPem: Buffer; cert: string; key: string } {
  const ca = join(dir, "ca.pem");
  const caKey = join(dir, "ca.key");
  const cert = join(dir, "server.crt");
  const key = join(dir, "server.key");
  const csr = join(dir, "server.csr");
  const ext = join(dir, "server.ext");
  const ecKey = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
  openssl([
    "req", "-x509", ...ecKey, "-keyout", caKey, "-out", ca, "-days", "2",
    "-subj", "/CN=dropbox-connector ts test CA",
    "-addext", "basicConstraints=critical,CA:TRUE",
    "-addext", "keyUsage=critical,keyCertSign,cRLSign",
  ]);
  openssl(["req", ...ecKey, "-keyout", key, "-out", csr, "-subj", "/CN=localhost"]);
  writeFileSync(
    ext,
    "basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\n" +
      "extendedKeyUsage=serverAuth\nsubjectAltName=DNS:localhost,IP:127.0.0.1\n",
  );
  openssl([
    "x509", "-req", "-in", csr, "-CA", ca, "-CAkey", caKey, "-CAcreateserial",
    "-out", cert, "-days", "2", "-extfile", ext,
  ]);
  return { caPem: readFileSync(ca), cert, key };
}

function sha256(text: string): string {
  return createHash("sha256").update(text).digest("hex");
}

function writeCallers(path: string, adminToken: string, readerToken: string): void {
  writeFileSync(
    path,
    `[[caller]]
name = "ts-admin"
token_sha256 = "${sha256(adminToken)}"
role = "admin"
groups = ["*"]

[[caller]]
name = "ts-finance-reader"
token_sha256 = "${sha256(readerToken)}"
role = "reader"
groups = ["finance"]
`,
  );
}

/** Reads the server's stdout until both announcements arrive, or fails at the deadline. */
function announcements(
  proc: ChildProcess,
  logFile: string,
): Promise<{ address: string; emulatorUrl: string }> {
  return new Promise((resolvePromise, reject) => {
    let address: string | undefined;
    let emulatorUrl: string | undefined;
    const fail = (why: string) => {
      clearTimeout(timer);
      proc.kill("SIGKILL");
      reject(new Error(`${why}:\n${readFileSync(logFile, "utf8")}`));
    };
    const timer = setTimeout(() => fail("dropbox-connector did not announce itself in 60 s"), 60_000);
    proc.once("exit", (code) => fail(`dropbox-connector exited (${code}) before it was ready`));
    const lines = createInterface({ input: proc.stdout! });
    lines.on("line", (line) => {
      address ??= /^listening on (\S+)/.exec(line)?.[1];
      emulatorUrl ??= /Dropbox emulator at (\S+?),/.exec(line)?.[1];
      if (address !== undefined && emulatorUrl !== undefined) {
        clearTimeout(timer);
        proc.removeAllListeners("exit");
        resolvePromise({ address, emulatorUrl });
      }
    });
  });
}

function stopProcess(proc: ChildProcess): Promise<void> {
  if (proc.exitCode !== null || proc.signalCode !== null) {
    return Promise.resolve();
  }
  return new Promise((done) => {
    const kill = setTimeout(() => proc.kill("SIGKILL"), 30_000);
    proc.once("exit", () => {
      clearTimeout(kill);
      done();
    });
    proc.kill("SIGTERM");
  });
}

export async function startServer(): Promise<TestServer> {
  const scratch = mkdtempSync(join(tmpdir(), "dbxc-ts-"));
  const dataDir = join(scratch, "data");
  const { caPem, cert, key } = makeCertificates(scratch);
  const adminToken = randomBytes(32).toString("base64url");
  const readerToken = randomBytes(32).toString("base64url");
  const callers = join(scratch, "callers.toml");
  writeCallers(callers, adminToken, readerToken);
  const env: NodeJS.ProcessEnv = Object.fromEntries(
    Object.entries(process.env).filter(([name]) => !name.startsWith("DBXC_")),
  );
  Object.assign(env, {
    DBXC_LISTEN: "127.0.0.1:0",
    DBXC_TLS__CERT_FILE: cert,
    DBXC_TLS__KEY_FILE: key,
    DBXC_AUTH__CALLERS_FILE: callers,
  });
  const logFile = join(scratch, "server.stderr.log");
  const proc = spawn(serverBin(), ["--dev", "--data-dir", dataDir], {
    env,
    stdio: ["ignore", "pipe", openSync(logFile, "w")],
  });
  const { address, emulatorUrl } = await announcements(proc, logFile);
  return {
    address,
    caPem,
    adminToken,
    readerToken,
    emulatorUrl,
    scratch,
    async emulator(path, method = "GET", body) {
      const response = await fetch(`${emulatorUrl}/__emulator/${path}`, {
        method,
        headers: body === undefined ? {} : { "content-type": "application/json" },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      const text = await response.text();
      if (!response.ok) {
        throw new Error(`emulator ${method} ${path}: ${response.status} ${text}`);
      }
      return text === "" ? undefined : JSON.parse(text);
    },
    async stop() {
      await stopProcess(proc);
      rmSync(scratch, { recursive: true, force: true });
    },
  };
}
