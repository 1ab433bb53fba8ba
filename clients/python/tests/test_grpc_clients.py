"""Real gRPC clients that are not ours: grpcio's health checking and reflection, and the
generated stubs of the installed package used directly, without its helper layer."""

import time
import uuid

import grpc
from google.protobuf import descriptor_pb2
from google.rpc import error_details_pb2
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc
from grpc_status import rpc_status

from dropbox_connector.v1 import (
    cloud_tasks_pb2,
    cloud_tasks_pb2_grpc,
    connection_pb2,
    connection_pb2_grpc,
)

SERVICES = ["dropbox_connector.v1.CloudTaskService", "dropbox_connector.v1.ConnectionService"]


def _channel(server, token=None):
    """A TLS channel that trusts the test CA and, with `token`, sends it as a bearer token
    on every call (what a service does with its mounted token)."""
    credentials = grpc.ssl_channel_credentials(root_certificates=server.ca_pem)
    if token is not None:
        credentials = grpc.composite_channel_credentials(credentials, grpc.access_token_call_credentials(token))
    channel = grpc.secure_channel(server.address, credentials)
    grpc.channel_ready_future(channel).result(timeout=30)
    return channel


def _error_info(err):
    """The google.rpc.ErrorInfo of a failed call: (reason, metadata)."""
    status = rpc_status.from_call(err)
    assert status is not None, f"no status details in {err}"
    for detail in status.details:
        if detail.Is(error_details_pb2.ErrorInfo.DESCRIPTOR):
            info = error_details_pb2.ErrorInfo()
            detail.Unpack(info)
            return info.reason, dict(info.metadata)
    raise AssertionError(f"no ErrorInfo in {err}")


def _wait_serving(stub, service, deadline_s=30):
    end = time.monotonic() + deadline_s
    status = None
    while time.monotonic() < end:
        status = stub.Check(health_pb2.HealthCheckRequest(service=service), timeout=5).status
        if status == health_pb2.HealthCheckResponse.SERVING:
            return status
        time.sleep(0.05)
    return status


def test_health_reports_serving_for_server_and_each_service(server):
    # Probes carry no identity: health answers them anyway.
    stub = health_pb2_grpc.HealthStub(_channel(server))
    for service in [""] + SERVICES:
        assert _wait_serving(stub, service) == health_pb2.HealthCheckResponse.SERVING, service


def test_health_unknown_service_is_not_found(server):
    stub = health_pb2_grpc.HealthStub(_channel(server, server.admin_token))
    try:
        stub.Check(health_pb2.HealthCheckRequest(service="no.such.Service"), timeout=5)
    except grpc.RpcError as err:
        assert err.code() == grpc.StatusCode.NOT_FOUND
    else:
        raise AssertionError("an unknown service must not be reported healthy")


def _reflect(stub, request):
    responses = list(stub.ServerReflectionInfo(iter([request]), timeout=10))
    assert len(responses) == 1
    return responses[0]


def test_reflection_lists_services_and_describes_methods(server):
    stub = reflection_pb2_grpc.ServerReflectionStub(_channel(server, server.admin_token))
    listed = _reflect(stub, reflection_pb2.ServerReflectionRequest(list_services=""))
    names = {s.name for s in listed.list_services_response.service}
    for service in SERVICES:
        assert service in names

    found = _reflect(
        stub,
        reflection_pb2.ServerReflectionRequest(file_containing_symbol="dropbox_connector.v1.CloudTaskService"),
    )
    methods = {}
    for raw in found.file_descriptor_response.file_descriptor_proto:
        fd = descriptor_pb2.FileDescriptorProto.FromString(raw)
        for svc in fd.service:
            if svc.name == "CloudTaskService":
                methods = {m.name: m for m in svc.method}
    assert set(methods) >= {"UploadFiles", "ListItems", "DownloadFiles", "CreateFolder", "DeleteItems"}
    assert methods["UploadFiles"].client_streaming and methods["UploadFiles"].server_streaming
    assert methods["DownloadFiles"].server_streaming


def test_generated_stubs_drive_the_cloud_tasks(server):
    channel = _channel(server, server.admin_token)
    connections = connection_pb2_grpc.ConnectionServiceStub(channel)
    tasks = cloud_tasks_pb2_grpc.CloudTaskServiceStub(channel)

    listed = connections.ListConnections(connection_pb2.ListConnectionsRequest(), timeout=10)
    assert "demo" in [c.display_name for c in listed.connections]

    folder = f"/py-{uuid.uuid4().hex[:8]}"
    created = tasks.CreateFolder(cloud_tasks_pb2.CreateFolderRequest(connection="demo", path=folder), timeout=30)
    assert created.created and created.folder.path_display == folder

    data = b"hello from python\n" * 1000

    def upload_messages():
        yield cloud_tasks_pb2.UploadFilesRequest(
            spec=cloud_tasks_pb2.UploadSpec(connection="demo", destination_folder=folder)
        )
        yield cloud_tasks_pb2.UploadFilesRequest(
            file_header=cloud_tasks_pb2.FileHeader(relative_path="greeting.txt", size=len(data))
        )
        yield cloud_tasks_pb2.UploadFilesRequest(chunk=cloud_tasks_pb2.DataChunk(offset=0, data=data))
        yield cloud_tasks_pb2.UploadFilesRequest(file_end=cloud_tasks_pb2.FileEnd())

    # Results arrive as files finish, spread over the response messages.
    results = [r for response in tasks.UploadFiles(upload_messages(), timeout=60) for r in response.results]
    assert len(results) == 1
    assert results[0].WhichOneof("outcome") == "uploaded"
    assert results[0].uploaded.size == len(data)

    pages = tasks.ListItems(
        cloud_tasks_pb2.ListItemsRequest(
            connection="demo", filter=cloud_tasks_pb2.RemoteFileFilter(folder=folder, mask="*.txt")
        ),
        timeout=30,
    )
    names = [item.name for page in pages for item in page.items]
    assert names == ["greeting.txt"]

    received = bytearray()
    end_hash = None
    for message in tasks.DownloadFiles(
        cloud_tasks_pb2.DownloadFilesRequest(
            connection="demo",
            items=cloud_tasks_pb2.ItemRefs(items=[cloud_tasks_pb2.ItemRef(path=f"{folder}/greeting.txt")]),
        ),
        timeout=60,
    ):
        kind = message.WhichOneof("message")
        if kind == "chunk":
            assert message.chunk.offset == len(received)
            received += message.chunk.data
        elif kind == "end":
            end_hash = message.end.content_hash
        elif kind == "error":
            raise AssertionError(message.error)
    assert bytes(received) == data
    assert end_hash == results[0].uploaded.content_hash

    try:
        tasks.ListItems(cloud_tasks_pb2.ListItemsRequest(connection="no-such-connection"), timeout=10).next()
    except grpc.RpcError as err:
        assert err.code() == grpc.StatusCode.NOT_FOUND
    else:
        raise AssertionError("an unknown connection must fail")


def _content_hash(data: bytes) -> str:
    """Dropbox's content_hash: SHA-256 over the SHA-256s of 4 MiB blocks."""
    import hashlib

    block = 4 * 1024 * 1024
    digests = b"".join(hashlib.sha256(data[i : i + block]).digest() for i in range(0, len(data), block))
    return hashlib.sha256(digests).hexdigest()


def test_resumable_upload_goes_on_after_a_lost_stream(server):
    """A Python client starts a resumable upload, loses its stream part-way, asks
    QueryUpload where to go on, and finishes; the file is Dropbox's with its hash."""
    tasks = cloud_tasks_pb2_grpc.CloudTaskServiceStub(_channel(server, server.admin_token))
    mib = 1024 * 1024
    data = bytes((i * 7 + i // 4096) % 256 for i in range(10 * mib + 4321))
    path = f"/py-{uuid.uuid4().hex[:8]}/resumable.bin"
    started = tasks.StartResumableUpload(
        cloud_tasks_pb2.StartResumableUploadRequest(
            connection="demo", path=path, size=len(data), content_hash=_content_hash(data)
        ),
        timeout=30,
    )
    assert started.upload_id and not started.HasField("skipped")

    def chunks(start, stop, finish=False):
        first = True
        for offset in range(start, stop, mib):
            yield cloud_tasks_pb2.WriteResumableUploadRequest(
                upload_id=started.upload_id if first else "",
                write_offset=offset,
                data=data[offset : min(offset + mib, stop)],
            )
            first = False
        if finish:
            yield cloud_tasks_pb2.WriteResumableUploadRequest(
                upload_id=started.upload_id if first else "",
                write_offset=stop,
                finish_write=True,
                content_hash=_content_hash(data),
            )

    # The first stream ends after 9 MiB without finishing: whole blocks are kept.
    partial = tasks.WriteResumableUpload(chunks(0, 9 * mib), timeout=60)
    assert partial.persisted_size == 8 * mib and not partial.HasField("result")

    status = tasks.QueryUpload(cloud_tasks_pb2.QueryUploadRequest(upload_id=started.upload_id), timeout=10)
    assert status.persisted_size == 8 * mib and status.path == path

    done = tasks.WriteResumableUpload(chunks(status.persisted_size, len(data), finish=True), timeout=60)
    assert done.result.WhichOneof("outcome") == "uploaded"
    assert done.result.uploaded.size == len(data)
    assert done.result.uploaded.content_hash == _content_hash(data)

    try:
        tasks.QueryUpload(cloud_tasks_pb2.QueryUploadRequest(upload_id="ru-unknown"), timeout=10)
    except grpc.RpcError as err:
        assert err.code() == grpc.StatusCode.NOT_FOUND
    else:
        raise AssertionError("an unknown upload must be NOT_FOUND")


def test_calls_without_a_known_identity_are_refused(server):
    """No token, or a token the callers file does not name: UNAUTHENTICATED, CALLER_UNKNOWN."""
    for token in [None, "not-a-known-token"]:
        connections = connection_pb2_grpc.ConnectionServiceStub(_channel(server, token))
        try:
            connections.ListConnections(connection_pb2.ListConnectionsRequest(), timeout=10)
        except grpc.RpcError as err:
            assert err.code() == grpc.StatusCode.UNAUTHENTICATED, token
            reason, _ = _error_info(err)
            assert reason == "CALLER_UNKNOWN"
        else:
            raise AssertionError(f"token {token!r} must not be let in")


def test_a_reader_of_another_group_neither_sees_nor_uses_the_connection(server):
    """The reader belongs to group "finance"; `demo` is in the default group."""
    channel = _channel(server, server.reader_token)
    connections = connection_pb2_grpc.ConnectionServiceStub(channel)
    listed = connections.ListConnections(connection_pb2.ListConnectionsRequest(), timeout=10)
    assert "demo" not in [c.display_name for c in listed.connections]
    tasks = cloud_tasks_pb2_grpc.CloudTaskServiceStub(channel)
    try:
        next(tasks.ListItems(cloud_tasks_pb2.ListItemsRequest(connection="demo"), timeout=10))
    except grpc.RpcError as err:
        assert err.code() == grpc.StatusCode.PERMISSION_DENIED
        reason, metadata = _error_info(err)
        assert reason == "CALLER_NOT_ALLOWED"
        assert metadata["caller"] == "python-finance-reader"
    else:
        raise AssertionError("a caller outside the connection's group must be denied")
