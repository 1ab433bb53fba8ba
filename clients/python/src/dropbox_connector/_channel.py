"""How a client reaches the service: TLS (a CA, optionally a client certificate for mTLS),
a bearer token on every call, and message limits that match the service's."""

from __future__ import annotations

import dataclasses
import os
from typing import Sequence

import grpc

#: The service accepts and sends messages up to 8 MiB; grpcio's default receive limit is 4 MiB.
MAX_MESSAGE_BYTES = 8 * 1024 * 1024
#: Most bytes one DataChunk (or resumable write) may carry.
MAX_CHUNK_BYTES = 2 * 1024 * 1024

PathLike = str | os.PathLike[str]


class _TokenFromFile(grpc.AuthMetadataPlugin):
    """Reads the token at every call, so a rotated token file (a Kubernetes projected
    service-account token, a mounted Secret) is picked up without a restart."""

    def __init__(self, path: PathLike) -> None:
        self._path = os.fspath(path)

    def __call__(self, context, callback) -> None:
        try:
            with open(self._path, encoding="utf-8") as f:
                token = f.read().strip()
        except OSError as err:
            callback((), err)
            return
        callback((("authorization", f"Bearer {token}"),), None)


def _read(path: PathLike | None) -> bytes | None:
    if path is None:
        return None
    with open(path, "rb") as f:
        return f.read()


@dataclasses.dataclass(frozen=True)
class ChannelConfig:
    """Everything needed to open a channel, for grpc and grpc.aio alike."""

    address: str
    credentials: grpc.ChannelCredentials
    options: Sequence[tuple[str, object]]


def channel_config(
    address: str,
    *,
    token: str | None = None,
    token_file: PathLike | None = None,
    ca_file: PathLike | None = None,
    ca_pem: bytes | None = None,
    client_cert_file: PathLike | None = None,
    client_key_file: PathLike | None = None,
    client_cert_pem: bytes | None = None,
    client_key_pem: bytes | None = None,
    server_name: str | None = None,
    plaintext_loopback: bool = False,
    options: Sequence[tuple[str, object]] = (),
) -> ChannelConfig:
    if token is not None and token_file is not None:
        raise ValueError("give token or token_file, not both")
    if plaintext_loopback:
        if any(v is not None for v in (ca_file, ca_pem, client_cert_file, client_cert_pem)):
            raise ValueError("plaintext_loopback takes no TLS settings")
        # Local credentials allow call credentials (the token) without TLS, and only
        # towards a loopback address.
        channel_credentials = grpc.local_channel_credentials(grpc.LocalConnectionType.LOCAL_TCP)
    else:
        if ca_file is not None and ca_pem is not None:
            raise ValueError("give ca_file or ca_pem, not both")
        cert = client_cert_pem if client_cert_pem is not None else _read(client_cert_file)
        key = client_key_pem if client_key_pem is not None else _read(client_key_file)
        if (cert is None) != (key is None):
            raise ValueError("a client certificate needs its private key, and the reverse")
        # Without a CA, grpcio trusts its bundled roots (or GRPC_DEFAULT_SSL_ROOTS_FILE_PATH).
        channel_credentials = grpc.ssl_channel_credentials(
            root_certificates=ca_pem if ca_pem is not None else _read(ca_file),
            private_key=key,
            certificate_chain=cert,
        )
    call_credentials = None
    if token is not None:
        call_credentials = grpc.access_token_call_credentials(token)
    elif token_file is not None:
        call_credentials = grpc.metadata_call_credentials(_TokenFromFile(token_file))
    credentials = (
        grpc.composite_channel_credentials(channel_credentials, call_credentials)
        if call_credentials is not None
        else channel_credentials
    )
    all_options: list[tuple[str, object]] = [
        ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
        ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
    ]
    if server_name is not None:
        all_options.append(("grpc.ssl_target_name_override", server_name))
    all_options.extend(options)
    return ChannelConfig(address=address, credentials=credentials, options=all_options)
