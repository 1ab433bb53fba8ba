"""Request messages built from the helpers' arguments, shared by Client and AsyncClient."""

from __future__ import annotations

from google.protobuf import timestamp_pb2

from .v1 import cloud_tasks_pb2 as pb
from .v1 import connection_pb2 as conn_pb

_OVERWRITE_MODES = {
    "always": pb.OVERWRITE_MODE_ALWAYS,
    "if-newer": pb.OVERWRITE_MODE_IF_NEWER,
    "never": pb.OVERWRITE_MODE_NEVER,
}


def overwrite_policy(value: str | pb.OverwritePolicy | None) -> pb.OverwritePolicy | None:
    """Accepts "always", "if-newer", "never", or an OverwritePolicy (needed for IF_SIZE)."""
    if value is None or isinstance(value, pb.OverwritePolicy):
        return value
    try:
        return pb.OverwritePolicy(mode=_OVERWRITE_MODES[value])
    except KeyError:
        raise ValueError(
            f"overwrite must be one of {sorted(_OVERWRITE_MODES)} or an OverwritePolicy, not {value!r}"
        ) from None


def timestamp_of(seconds: float) -> timestamp_pb2.Timestamp:
    stamp = timestamp_pb2.Timestamp()
    stamp.FromNanoseconds(int(seconds * 1_000_000_000))
    return stamp


def list_request(
    connection: str,
    folder: str,
    *,
    mask: str,
    recursive: bool,
    kind: int,
    filter: pb.RemoteFileFilter | None,
) -> pb.ListItemsRequest:
    if filter is None:
        filter = pb.RemoteFileFilter(folder=folder, mask=mask, include_subfolders=recursive, kind=kind)
    return pb.ListItemsRequest(connection=connection, filter=filter)


def upload_spec(
    connection: str,
    remote_folder: str,
    *,
    overwrite: str | pb.OverwritePolicy | None,
    keep_modified_date: bool,
    autorename: bool,
) -> pb.UploadSpec:
    return pb.UploadSpec(
        connection=connection,
        destination_folder=remote_folder,
        overwrite=overwrite_policy(overwrite),
        keep_modified_date=keep_modified_date,
        autorename=autorename,
    )


def new_connection(
    display_name: str,
    *,
    access_token: str | None,
    refresh_token: str | None,
    app_key: str | None,
    group: str,
) -> conn_pb.Connection:
    connection = conn_pb.Connection(
        display_name=display_name,
        group=group,
        credentials=conn_pb.Credentials(access_token=access_token or "", refresh_token=refresh_token or ""),
    )
    if app_key:
        connection.app.app_key = app_key
    return connection
