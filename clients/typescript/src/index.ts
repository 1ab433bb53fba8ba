export { DropboxConnectorClient } from "./client.js";
export { ContentHasher, CONTENT_HASH_BLOCK_SIZE } from "./content-hash.js";
export type { DeleteOptions, DeleteOutcome } from "./delete.js";
export type { DownloadFileOptions } from "./download.js";
export type { DownloadFailure, DownloadResult, DownloadStatus, DownloadToOptions, SourceStatus } from "./download-options.js";
export { DropboxConnectorError, ERROR_DOMAIN } from "./errors.js";
export type { ListOptions } from "./list.js";
export { DEFAULT_CHUNK_SIZE, MAX_CHUNK_SIZE } from "./local-files.js";
export type { ResumableUploadOptions, ResumableUploadResult, ResumeEvent } from "./resumable.js";
export { isTransient } from "./resumable.js";
export {
  type ConnectOptions,
  type ConnectorTransport,
  createConnectorTransport,
  MAX_MESSAGE_BYTES,
} from "./transport.js";
export type { UploadOptions, UploadStreamOptions } from "./upload.js";
export * from "./gen/dropbox_connector/v1/cloud_tasks_pb.js";
export * from "./gen/dropbox_connector/v1/connection_pb.js";
export * from "./gen/dropbox_connector/v1/errors_pb.js";
export { Code } from "@connectrpc/connect";
