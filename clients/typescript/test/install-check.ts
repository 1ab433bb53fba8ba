/**
 * The install-as-a-user check: with a real server running, runs `list.mjs` in a folder where
 * the packed client was installed from its tarball (as a service would install it), and
 * checks that it printed the folder's files. Usage: node install-check.js USER_DIR
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { promisify } from "node:util";
import { DropboxConnectorClient } from "../src/index.js";
import { startServer } from "./support/server.js";

const userDir = process.argv[2];
if (userDir === undefined) {
  throw new Error("usage: install-check.js USER_DIR");
}
const server = await startServer();
try {
  // Something to list, put there with the client under test.
  await writeFile(join(server.scratch, "report.csv"), "id,value\n1,one\n");
  const client = new DropboxConnectorClient({ address: server.address, caPem: server.caPem, token: server.adminToken });
  try {
    const result = await client.uploadFile({
      connection: "demo",
      localPath: join(server.scratch, "report.csv"),
      destinationFolder: "/install-check",
    });
    assert.equal(result.outcome.case, "uploaded");
  } finally {
    client.close();
  }
  const caFile = join(server.scratch, "ca.pem");
  const tokenFile = join(server.scratch, "token");
  await writeFile(tokenFile, `${server.adminToken}\n`, { mode: 0o600 });
  const { stdout } = await promisify(execFile)(process.execPath, ["list.mjs"], {
    cwd: userDir,
    env: { ...process.env, DBXC_ADDRESS: server.address, DBXC_CA_FILE: caFile, DBXC_TOKEN_FILE: tokenFile },
    timeout: 60_000,
  });
  assert.equal(stdout, "report.csv 15\n");
  console.log("install-as-a-user check: the packed client listed /install-check");
} finally {
  await server.stop();
}
