import type { MessageInitShape } from "@bufbuild/protobuf";
import { createClient, type Client } from "@connectrpc/connect";
import { type DeleteOptions, type DeleteOutcome, deleteItems } from "./delete.js";
import { type DownloadFileOptions, downloadFile } from "./download.js";
import {
  type DownloadResult,
  type DownloadToOptions,
  deleteDownloadedSources,
  downloadFileTo,
  downloadFolder,
} from "./download-options.js";
import { typed } from "./errors.js";
import {
  CloudTaskService,
  type RemoteFileFilterSchema,
  type CreateFolderResponse,
  type FileResult,
  type ItemMetadata,
} from "./gen/dropbox_connector/v1/cloud_tasks_pb.js";
import {
  type Connection,
  type ConnectionSchema,
  ConnectionService,
} from "./gen/dropbox_connector/v1/connection_pb.js";
import { type ListOptions, listItems } from "./list.js";
import {
  type ResumableUploadOptions,
  type ResumableUploadResult,
  resumableUpload,
} from "./resumable.js";
import { type ConnectOptions, type ConnectorTransport, createConnectorTransport } from "./transport.js";
import { type UploadOptions, type UploadStreamOptions, uploadFile, uploadFolder, uploadStream } from "./upload.js";

/**
 * A client of one dropbox-connector service: the helpers below for the common tasks, and
 * the generated clients (`tasks`, `connections`) for everything else. Every helper throws
 * DropboxConnectorError. Close it when done, or let the idle connection time out.
 */
export class DropboxConnectorClient {
  /** The generated CloudTaskService client. */
  readonly tasks: Client<typeof CloudTaskService>;
  /** The generated ConnectionService client. */
  readonly connections: Client<typeof ConnectionService>;
  private readonly channel: ConnectorTransport;

  constructor(options: ConnectOptions) {
    this.channel = createConnectorTransport(options);
    this.tasks = createClient(CloudTaskService, this.channel.transport);
    this.connections = createClient(ConnectionService, this.channel.transport);
  }

  /** Creates a connection (admin role) and returns it as stored, without its secrets. */
  async createConnection(connection: MessageInitShape<typeof ConnectionSchema>): Promise<Connection> {
    const response = await typed(() => this.connections.createConnection({ connection }));
    if (response.connection === undefined) {
      throw new Error("CreateConnection answered without the connection");
    }
    return response.connection;
  }

  /** The items matching a filter, one by one. */
  listItems(options: ListOptions): AsyncGenerator<ItemMetadata> {
    return listItems(this.tasks, options);
  }

  /** Creates a folder; with existOk an existing folder is fine. */
  createFolder(options: {
    connection: string;
    path: string;
    existOk?: boolean;
    signal?: AbortSignal;
  }): Promise<CreateFolderResponse> {
    return typed(() =>
      this.tasks.createFolder(
        { connection: options.connection, path: options.path, existOk: options.existOk ?? false },
        { signal: options.signal },
      ),
    );
  }

  /** Streams one local file into a Dropbox folder (see uploadFile in upload.ts). */
  uploadFile(options: UploadOptions & { localPath: string; name?: string }): Promise<FileResult> {
    return uploadFile(this.tasks, options);
  }

  /** Uploads what a Node stream yields as one file (its size need not be known). */
  uploadStream(options: UploadStreamOptions): Promise<FileResult> {
    return uploadStream(this.tasks, options);
  }

  /** Streams a local folder tree into a Dropbox folder; one result per file. */
  uploadFolder(options: UploadOptions & { localFolder: string }): Promise<FileResult[]> {
    return uploadFolder(this.tasks, options);
  }

  /** A resumable upload of one file that goes on by itself after a broken stream. */
  resumableUpload(options: ResumableUploadOptions): Promise<ResumableUploadResult> {
    return resumableUpload(this.tasks, options);
  }

  /** Downloads one file, replacing `destination` only once its content_hash is verified. */
  downloadFile(options: DownloadFileOptions): Promise<ItemMetadata> {
    return downloadFile(this.tasks, options);
  }

  /**
   * Downloads one Dropbox file into a local folder with VisualCron's download options
   * (overwrite policy, keep modified date, delete source); see download-options.ts.
   */
  downloadFileTo(options: DownloadToOptions & { path: string }): Promise<DownloadResult> {
    return downloadFileTo(this.tasks, options);
  }

  /** Downloads every file a filter matches into a local folder with the options; a result per file. */
  downloadFolder(
    options: DownloadToOptions & { filter: MessageInitShape<typeof RemoteFileFilterSchema> },
  ): Promise<DownloadResult[]> {
    return downloadFolder(this.tasks, options);
  }

  /** Deletes the Dropbox revisions that `results` downloaded; records each outcome in its result. */
  deleteDownloadedSources(options: {
    connection: string;
    results: DownloadResult[];
    signal?: AbortSignal;
  }): Promise<void> {
    return deleteDownloadedSources(this.tasks, options);
  }

  /** Deletes items; one outcome per item. */
  deleteItems(options: DeleteOptions): Promise<DeleteOutcome[]> {
    return deleteItems(this.tasks, options);
  }

  /** Closes the HTTP/2 connection (calls in flight fail). */
  close(): void {
    this.channel.close();
  }
}
