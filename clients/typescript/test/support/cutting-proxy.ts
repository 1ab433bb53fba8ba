import { createConnection, createServer, type Socket } from "node:net";

/**
 * A TCP relay to the server that breaks the first connection once more than `cutAfter`
 * bytes went from the client to the server, as a network failure would: both sockets are
 * reset mid-stream. Later connections pass untouched.
 */
export interface CuttingProxy {
  /** host:port to connect to instead of the server. */
  address: string;
  /** How many connections were cut (0 or 1). */
  cuts(): number;
  close(): Promise<void>;
}

export async function startCuttingProxy(target: string, cutAfter: number): Promise<CuttingProxy> {
  const [host, port] = splitAddress(target);
  let cuts = 0;
  const sockets = new Set<Socket>();
  const server = createServer((client) => {
    const upstream = createConnection({ host, port });
    for (const socket of [client, upstream]) {
      sockets.add(socket);
      socket.on("close", () => sockets.delete(socket));
      socket.on("error", () => {
        client.destroy();
        upstream.destroy();
      });
    }
    let forwarded = 0;
    client.on("data", (data: Buffer) => {
      forwarded += data.length;
      if (cuts === 0 && forwarded > cutAfter) {
        cuts += 1;
        client.resetAndDestroy();
        upstream.resetAndDestroy();
        return;
      }
      if (!upstream.write(data)) {
        client.pause();
        upstream.once("drain", () => client.resume());
      }
    });
    upstream.pipe(client);
    client.on("end", () => upstream.end());
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const bound = server.address();
  if (bound === null || typeof bound === "string") {
    throw new Error("the proxy has no TCP address");
  }
  return {
    address: `127.0.0.1:${bound.port}`,
    cuts: () => cuts,
    close: () =>
      new Promise((resolve) => {
        for (const socket of sockets) {
          socket.destroy();
        }
        server.close(() => resolve());
      }),
  };
}

function splitAddress(address: string): [string, number] {
  const at = address.lastIndexOf(":");
  return [address.slice(0, at), Number(address.slice(at + 1))];
}
