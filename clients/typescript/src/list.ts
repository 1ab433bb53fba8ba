import type { MessageInitShape } from "@bufbuild/protobuf";
import type { Client } from "@connectrpc/connect";
import { DropboxConnectorError } from "./errors.js";
import type {
  CloudTaskService,
  ItemMetadata,
  RemoteFileFilterSchema,
} from "./gen/dropbox_connector/v1/cloud_tasks_pb.js";

export interface ListOptions {
  /** `connections/{id}` or the connection's display_name. */
  connection: string;
  /** What to list: the folder, masks, kinds, dates, sizes, sorting (VisualCron's filter). */
  filter: MessageInitShape<typeof RemoteFileFilterSchema>;
  signal?: AbortSignal;
}

/** The matching items one by one, as the service streams its pages. */
export async function* listItems(
  tasks: Client<typeof CloudTaskService>,
  options: ListOptions,
): AsyncGenerator<ItemMetadata> {
  try {
    const pages = tasks.listItems(
      { connection: options.connection, filter: options.filter },
      { signal: options.signal },
    );
    for await (const page of pages) {
      yield* page.items;
    }
  } catch (err) {
    throw DropboxConnectorError.from(err);
  }
}
