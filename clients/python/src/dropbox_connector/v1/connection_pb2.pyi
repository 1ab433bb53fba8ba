import datetime

from dropbox_connector.v1 import errors_pb2 as _errors_pb2
from google.api import field_behavior_pb2 as _field_behavior_pb2
from google.protobuf import duration_pb2 as _duration_pb2
from google.protobuf import field_mask_pb2 as _field_mask_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class AccountType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ACCOUNT_TYPE_UNSPECIFIED: _ClassVar[AccountType]
    ACCOUNT_TYPE_PERSONAL: _ClassVar[AccountType]
    ACCOUNT_TYPE_BUSINESS: _ClassVar[AccountType]

class ProxyType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    PROXY_TYPE_UNSPECIFIED: _ClassVar[ProxyType]
    PROXY_TYPE_NONE: _ClassVar[ProxyType]
    PROXY_TYPE_HTTP: _ClassVar[ProxyType]
    PROXY_TYPE_HTTPS: _ClassVar[ProxyType]
    PROXY_TYPE_SOCKS5: _ClassVar[ProxyType]
    PROXY_TYPE_SOCKS4: _ClassVar[ProxyType]
ACCOUNT_TYPE_UNSPECIFIED: AccountType
ACCOUNT_TYPE_PERSONAL: AccountType
ACCOUNT_TYPE_BUSINESS: AccountType
PROXY_TYPE_UNSPECIFIED: ProxyType
PROXY_TYPE_NONE: ProxyType
PROXY_TYPE_HTTP: ProxyType
PROXY_TYPE_HTTPS: ProxyType
PROXY_TYPE_SOCKS5: ProxyType
PROXY_TYPE_SOCKS4: ProxyType

class Connection(_message.Message):
    __slots__ = ("name", "display_name", "group", "timeout_seconds", "code_page", "app", "account_type", "business", "proxy", "credentials", "credential_state", "account", "create_time", "update_time")
    NAME_FIELD_NUMBER: _ClassVar[int]
    DISPLAY_NAME_FIELD_NUMBER: _ClassVar[int]
    GROUP_FIELD_NUMBER: _ClassVar[int]
    TIMEOUT_SECONDS_FIELD_NUMBER: _ClassVar[int]
    CODE_PAGE_FIELD_NUMBER: _ClassVar[int]
    APP_FIELD_NUMBER: _ClassVar[int]
    ACCOUNT_TYPE_FIELD_NUMBER: _ClassVar[int]
    BUSINESS_FIELD_NUMBER: _ClassVar[int]
    PROXY_FIELD_NUMBER: _ClassVar[int]
    CREDENTIALS_FIELD_NUMBER: _ClassVar[int]
    CREDENTIAL_STATE_FIELD_NUMBER: _ClassVar[int]
    ACCOUNT_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    UPDATE_TIME_FIELD_NUMBER: _ClassVar[int]
    name: str
    display_name: str
    group: str
    timeout_seconds: int
    code_page: str
    app: AppSettings
    account_type: AccountType
    business: BusinessSettings
    proxy: ProxySettings
    credentials: Credentials
    credential_state: CredentialState
    account: AccountInfo
    create_time: _timestamp_pb2.Timestamp
    update_time: _timestamp_pb2.Timestamp
    def __init__(self, name: _Optional[str] = ..., display_name: _Optional[str] = ..., group: _Optional[str] = ..., timeout_seconds: _Optional[int] = ..., code_page: _Optional[str] = ..., app: _Optional[_Union[AppSettings, _Mapping]] = ..., account_type: _Optional[_Union[AccountType, str]] = ..., business: _Optional[_Union[BusinessSettings, _Mapping]] = ..., proxy: _Optional[_Union[ProxySettings, _Mapping]] = ..., credentials: _Optional[_Union[Credentials, _Mapping]] = ..., credential_state: _Optional[_Union[CredentialState, _Mapping]] = ..., account: _Optional[_Union[AccountInfo, _Mapping]] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., update_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class AppSettings(_message.Message):
    __slots__ = ("app_key", "app_secret", "redirect_uri")
    APP_KEY_FIELD_NUMBER: _ClassVar[int]
    APP_SECRET_FIELD_NUMBER: _ClassVar[int]
    REDIRECT_URI_FIELD_NUMBER: _ClassVar[int]
    app_key: str
    app_secret: str
    redirect_uri: str
    def __init__(self, app_key: _Optional[str] = ..., app_secret: _Optional[str] = ..., redirect_uri: _Optional[str] = ...) -> None: ...

class BusinessSettings(_message.Message):
    __slots__ = ("team_member_id", "as_admin", "path_root")
    TEAM_MEMBER_ID_FIELD_NUMBER: _ClassVar[int]
    AS_ADMIN_FIELD_NUMBER: _ClassVar[int]
    PATH_ROOT_FIELD_NUMBER: _ClassVar[int]
    team_member_id: str
    as_admin: bool
    path_root: PathRoot
    def __init__(self, team_member_id: _Optional[str] = ..., as_admin: _Optional[bool] = ..., path_root: _Optional[_Union[PathRoot, _Mapping]] = ...) -> None: ...

class PathRoot(_message.Message):
    __slots__ = ("home", "team_root_namespace_id", "namespace_id")
    HOME_FIELD_NUMBER: _ClassVar[int]
    TEAM_ROOT_NAMESPACE_ID_FIELD_NUMBER: _ClassVar[int]
    NAMESPACE_ID_FIELD_NUMBER: _ClassVar[int]
    home: bool
    team_root_namespace_id: str
    namespace_id: str
    def __init__(self, home: _Optional[bool] = ..., team_root_namespace_id: _Optional[str] = ..., namespace_id: _Optional[str] = ...) -> None: ...

class ProxySettings(_message.Message):
    __slots__ = ("type", "address", "port", "use_credentials", "username", "password", "domain", "test_url")
    TYPE_FIELD_NUMBER: _ClassVar[int]
    ADDRESS_FIELD_NUMBER: _ClassVar[int]
    PORT_FIELD_NUMBER: _ClassVar[int]
    USE_CREDENTIALS_FIELD_NUMBER: _ClassVar[int]
    USERNAME_FIELD_NUMBER: _ClassVar[int]
    PASSWORD_FIELD_NUMBER: _ClassVar[int]
    DOMAIN_FIELD_NUMBER: _ClassVar[int]
    TEST_URL_FIELD_NUMBER: _ClassVar[int]
    type: ProxyType
    address: str
    port: int
    use_credentials: bool
    username: str
    password: str
    domain: str
    test_url: str
    def __init__(self, type: _Optional[_Union[ProxyType, str]] = ..., address: _Optional[str] = ..., port: _Optional[int] = ..., use_credentials: _Optional[bool] = ..., username: _Optional[str] = ..., password: _Optional[str] = ..., domain: _Optional[str] = ..., test_url: _Optional[str] = ...) -> None: ...

class Credentials(_message.Message):
    __slots__ = ("access_token", "refresh_token")
    ACCESS_TOKEN_FIELD_NUMBER: _ClassVar[int]
    REFRESH_TOKEN_FIELD_NUMBER: _ClassVar[int]
    access_token: str
    refresh_token: str
    def __init__(self, access_token: _Optional[str] = ..., refresh_token: _Optional[str] = ...) -> None: ...

class CredentialState(_message.Message):
    __slots__ = ("has_access_token", "has_refresh_token", "has_app_secret", "has_proxy_password", "access_token_expire_time", "needs_reauthorization")
    HAS_ACCESS_TOKEN_FIELD_NUMBER: _ClassVar[int]
    HAS_REFRESH_TOKEN_FIELD_NUMBER: _ClassVar[int]
    HAS_APP_SECRET_FIELD_NUMBER: _ClassVar[int]
    HAS_PROXY_PASSWORD_FIELD_NUMBER: _ClassVar[int]
    ACCESS_TOKEN_EXPIRE_TIME_FIELD_NUMBER: _ClassVar[int]
    NEEDS_REAUTHORIZATION_FIELD_NUMBER: _ClassVar[int]
    has_access_token: bool
    has_refresh_token: bool
    has_app_secret: bool
    has_proxy_password: bool
    access_token_expire_time: _timestamp_pb2.Timestamp
    needs_reauthorization: bool
    def __init__(self, has_access_token: _Optional[bool] = ..., has_refresh_token: _Optional[bool] = ..., has_app_secret: _Optional[bool] = ..., has_proxy_password: _Optional[bool] = ..., access_token_expire_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., needs_reauthorization: _Optional[bool] = ...) -> None: ...

class AccountInfo(_message.Message):
    __slots__ = ("account_id", "email", "display_name", "account_type")
    ACCOUNT_ID_FIELD_NUMBER: _ClassVar[int]
    EMAIL_FIELD_NUMBER: _ClassVar[int]
    DISPLAY_NAME_FIELD_NUMBER: _ClassVar[int]
    ACCOUNT_TYPE_FIELD_NUMBER: _ClassVar[int]
    account_id: str
    email: str
    display_name: str
    account_type: str
    def __init__(self, account_id: _Optional[str] = ..., email: _Optional[str] = ..., display_name: _Optional[str] = ..., account_type: _Optional[str] = ...) -> None: ...

class CreateConnectionRequest(_message.Message):
    __slots__ = ("connection",)
    CONNECTION_FIELD_NUMBER: _ClassVar[int]
    connection: Connection
    def __init__(self, connection: _Optional[_Union[Connection, _Mapping]] = ...) -> None: ...

class CreateConnectionResponse(_message.Message):
    __slots__ = ("connection",)
    CONNECTION_FIELD_NUMBER: _ClassVar[int]
    connection: Connection
    def __init__(self, connection: _Optional[_Union[Connection, _Mapping]] = ...) -> None: ...

class GetConnectionRequest(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class GetConnectionResponse(_message.Message):
    __slots__ = ("connection",)
    CONNECTION_FIELD_NUMBER: _ClassVar[int]
    connection: Connection
    def __init__(self, connection: _Optional[_Union[Connection, _Mapping]] = ...) -> None: ...

class ListConnectionsRequest(_message.Message):
    __slots__ = ("page_size", "page_token", "group")
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    GROUP_FIELD_NUMBER: _ClassVar[int]
    page_size: int
    page_token: str
    group: str
    def __init__(self, page_size: _Optional[int] = ..., page_token: _Optional[str] = ..., group: _Optional[str] = ...) -> None: ...

class ListConnectionsResponse(_message.Message):
    __slots__ = ("connections", "next_page_token")
    CONNECTIONS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    connections: _containers.RepeatedCompositeFieldContainer[Connection]
    next_page_token: str
    def __init__(self, connections: _Optional[_Iterable[_Union[Connection, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class UpdateConnectionRequest(_message.Message):
    __slots__ = ("connection", "update_mask")
    CONNECTION_FIELD_NUMBER: _ClassVar[int]
    UPDATE_MASK_FIELD_NUMBER: _ClassVar[int]
    connection: Connection
    update_mask: _field_mask_pb2.FieldMask
    def __init__(self, connection: _Optional[_Union[Connection, _Mapping]] = ..., update_mask: _Optional[_Union[_field_mask_pb2.FieldMask, _Mapping]] = ...) -> None: ...

class UpdateConnectionResponse(_message.Message):
    __slots__ = ("connection",)
    CONNECTION_FIELD_NUMBER: _ClassVar[int]
    connection: Connection
    def __init__(self, connection: _Optional[_Union[Connection, _Mapping]] = ...) -> None: ...

class DeleteConnectionRequest(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class DeleteConnectionResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class StartAuthorizationRequest(_message.Message):
    __slots__ = ("name", "redirect_uri", "no_redirect")
    NAME_FIELD_NUMBER: _ClassVar[int]
    REDIRECT_URI_FIELD_NUMBER: _ClassVar[int]
    NO_REDIRECT_FIELD_NUMBER: _ClassVar[int]
    name: str
    redirect_uri: str
    no_redirect: bool
    def __init__(self, name: _Optional[str] = ..., redirect_uri: _Optional[str] = ..., no_redirect: _Optional[bool] = ...) -> None: ...

class StartAuthorizationResponse(_message.Message):
    __slots__ = ("authorize_url", "state", "redirect_uri", "expire_time")
    AUTHORIZE_URL_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    REDIRECT_URI_FIELD_NUMBER: _ClassVar[int]
    EXPIRE_TIME_FIELD_NUMBER: _ClassVar[int]
    authorize_url: str
    state: str
    redirect_uri: str
    expire_time: _timestamp_pb2.Timestamp
    def __init__(self, authorize_url: _Optional[str] = ..., state: _Optional[str] = ..., redirect_uri: _Optional[str] = ..., expire_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class CompleteAuthorizationRequest(_message.Message):
    __slots__ = ("state", "code")
    STATE_FIELD_NUMBER: _ClassVar[int]
    CODE_FIELD_NUMBER: _ClassVar[int]
    state: str
    code: str
    def __init__(self, state: _Optional[str] = ..., code: _Optional[str] = ...) -> None: ...

class CompleteAuthorizationResponse(_message.Message):
    __slots__ = ("connection",)
    CONNECTION_FIELD_NUMBER: _ClassVar[int]
    connection: Connection
    def __init__(self, connection: _Optional[_Union[Connection, _Mapping]] = ...) -> None: ...

class TestConnectionRequest(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class TestStep(_message.Message):
    __slots__ = ("step", "ok", "detail", "duration", "error")
    STEP_FIELD_NUMBER: _ClassVar[int]
    OK_FIELD_NUMBER: _ClassVar[int]
    DETAIL_FIELD_NUMBER: _ClassVar[int]
    DURATION_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    step: str
    ok: bool
    detail: str
    duration: _duration_pb2.Duration
    error: _errors_pb2.ItemError
    def __init__(self, step: _Optional[str] = ..., ok: _Optional[bool] = ..., detail: _Optional[str] = ..., duration: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., error: _Optional[_Union[_errors_pb2.ItemError, _Mapping]] = ...) -> None: ...

class TestConnectionResponse(_message.Message):
    __slots__ = ("ok", "steps", "account")
    OK_FIELD_NUMBER: _ClassVar[int]
    STEPS_FIELD_NUMBER: _ClassVar[int]
    ACCOUNT_FIELD_NUMBER: _ClassVar[int]
    ok: bool
    steps: _containers.RepeatedCompositeFieldContainer[TestStep]
    account: AccountInfo
    def __init__(self, ok: _Optional[bool] = ..., steps: _Optional[_Iterable[_Union[TestStep, _Mapping]]] = ..., account: _Optional[_Union[AccountInfo, _Mapping]] = ...) -> None: ...
