import assert from "node:assert/strict";
import { readdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { Code, DropboxConnectorClient, DropboxConnectorError } from "../src/index.js";
import { startServer, type TestServer } from "./support/server.js";

// A server of its own: the emulator's faults are global, and the connection it rate limits
// stays paused for the asked time. Tests here run one after the other.
let server: TestServer;
let client: DropboxConnectorClient;

before(async () => {
  server = await startServer();
  client = new DropboxConnectorClient({ address: server.address, caPem: server.caPem, token: server.adminToken });
});

after(async () => {
  client?.close();
  await server?.stop();
});

test("Dropbox rate limiting reads as RATE_LIMITED with the retry delay", async () => {
  // A connection of its own: the service pauses a rate-limited connection for the asked time.
  const { accounts } = (await server.emulator("accounts")) as { accounts: { access_token: string }[] };
  const limited = await client.createConnection({
    displayName: "rate-limited",
    credentials: { accessToken: accounts[0]!.access_token },
  });
  // Longer than the service's own retry budget, so it hands the 429 to the caller at once.
  await server.emulator("faults", "POST", {
    route: "files/list_folder",
    kind: "status",
    status: 429,
    retry_after: 300,
    count: 1,
  });
  await assert.rejects(
    async () => {
      for await (const _ of client.listItems({ connection: limited.name, filter: { folder: "/" } })) {
        // the first page never comes
      }
    },
    (err: unknown) => {
      assert.ok(err instanceof DropboxConnectorError, String(err));
      assert.equal(err.reason, "RATE_LIMITED");
      assert.equal(err.code, Code.ResourceExhausted);
      assert.equal(err.retryDelayMs, 300_000);
      return true;
    },
  );
  // The 429 came from Dropbox (the emulator), not from the service's own limits.
  const { faults } = (await server.emulator("faults")) as { faults: { fired: number }[] };
  assert.equal(faults[0]?.fired, 1, JSON.stringify(faults));
});

test("bytes corrupted on the way leave the existing local file as it was", async () => {
  const source = join(server.scratch, "report.csv");
  await writeFile(source, "id,value\n".repeat(50_000));
  await client.uploadFile({ connection: "demo", localPath: source, destinationFolder: "/corrupt" });
  const destination = join(server.scratch, "kept.csv");
  await writeFile(destination, "the local copy from yesterday\n");
  await server.emulator("faults", "POST", { route: "files/download", kind: "corrupt", count: 1 });
  await assert.rejects(
    client.downloadFile({ connection: "demo", path: "/corrupt/report.csv", destination }),
    (err: unknown) =>
      err instanceof DropboxConnectorError && err.reason === "CONTENT_HASH_MISMATCH" && err.code === Code.DataLoss,
  );
  assert.equal(await readFile(destination, "utf8"), "the local copy from yesterday\n");
  assert.deepEqual((await readdir(server.scratch)).filter((n) => n.includes("kept.csv")), ["kept.csv"]);
  // Once Dropbox sends the right bytes, the download replaces it.
  await client.downloadFile({ connection: "demo", path: "/corrupt/report.csv", destination });
  assert.ok((await readFile(destination)).equals(await readFile(source)));
});
