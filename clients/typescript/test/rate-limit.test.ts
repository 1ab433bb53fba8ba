import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { Code, DropboxConnectorClient, DropboxConnectorError } from "../src/index.js";
import { startServer, type TestServer } from "./support/server.js";

// A server of its own: the emulator's faults are global, and the connection it rate limits
// stays paused for the asked time.
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
      for await (const _ of client.listItems({ connection: "demo", filter: { folder: "/" } })) {
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
