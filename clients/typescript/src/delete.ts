import type { Client } from "@connectrpc/connect";
import { DropboxConnectorError } from "./errors.js";
import type { CloudTaskService, ItemMetadata } from "./gen/dropbox_connector/v1/cloud_tasks_pb.js";

export interface DeleteOptions {
  /** `connections/{id}` or the connection's display_name. */
  connection: string;
  /** Dropbox paths or "id:..." to delete (files or whole folders). */
  paths: string[];
  /** Report what would be deleted without deleting. */
  dryRun?: boolean;
  signal?: AbortSignal;
}

/** What happened to one item. */
export interface DeleteOutcome {
  path: string;
  /** The item as it was, when it was deleted (or would be, with dryRun). */
  deleted?: ItemMetadata;
  /** Why it was not deleted. */
  error?: DropboxConnectorError;
}

/** Deletes the items, one outcome per item; a failed item is an outcome, not a throw. */
export async function deleteItems(
  tasks: Client<typeof CloudTaskService>,
  options: DeleteOptions,
): Promise<DeleteOutcome[]> {
  const outcomes: DeleteOutcome[] = [];
  try {
    const stream = tasks.deleteItems(
      {
        connection: options.connection,
        selection: { case: "items", value: { items: options.paths.map((path) => ({ path })) } },
        dryRun: options.dryRun ?? false,
      },
      { signal: options.signal },
    );
    for await (const response of stream) {
      const outcome = response.outcome;
      outcomes.push(
        outcome.case === "deleted"
          ? { path: response.path, deleted: outcome.value }
          : outcome.case === "error"
            ? { path: response.path, error: DropboxConnectorError.fromItemError(outcome.value) }
            : { path: response.path },
      );
    }
  } catch (err) {
    throw DropboxConnectorError.from(err);
  }
  return outcomes;
}
