//! What a caller may do: roles per RPC, and which connection groups it may touch.

use std::fmt;

use crate::tasks::TaskError;

/// A caller's role; each one includes the ones before it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Role {
    Reader,
    Writer,
    Admin,
}

impl Role {
    pub fn parse(s: &str) -> Option<Role> {
        match s {
            "reader" => Some(Role::Reader),
            "writer" => Some(Role::Writer),
            "admin" => Some(Role::Admin),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Reader => "reader",
            Role::Writer => "writer",
            Role::Admin => "admin",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The connection groups a caller may use.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Groups {
    /// `["*"]`.
    All,
    /// Exactly these (a connection created without a group is in "Default group").
    Only(Vec<String>),
}

impl Groups {
    pub fn contains(&self, group: &str) -> bool {
        match self {
            Groups::All => true,
            Groups::Only(list) => list.iter().any(|g| g == group),
        }
    }
}

/// Every RPC that needs a caller (health is open; reflection is not ours).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Method {
    CreateConnection,
    GetConnection,
    ListConnections,
    UpdateConnection,
    DeleteConnection,
    StartAuthorization,
    CompleteAuthorization,
    TestConnection,
    UploadFiles,
    ListItems,
    DownloadFiles,
    CreateFolder,
    DeleteItems,
    StartResumableUpload,
    WriteResumableUpload,
    QueryUpload,
    CancelUpload,
}

impl Method {
    /// The least role that may call it.
    pub fn needed_role(self) -> Role {
        use Method::*;
        match self {
            GetConnection | ListConnections | TestConnection | ListItems | DownloadFiles => {
                Role::Reader
            }
            UploadFiles | CreateFolder | DeleteItems | StartResumableUpload
            | WriteResumableUpload | QueryUpload | CancelUpload => Role::Writer,
            CreateConnection
            | UpdateConnection
            | DeleteConnection
            | StartAuthorization
            | CompleteAuthorization => Role::Admin,
        }
    }

    pub fn name(self) -> &'static str {
        use Method::*;
        match self {
            CreateConnection => "CreateConnection",
            GetConnection => "GetConnection",
            ListConnections => "ListConnections",
            UpdateConnection => "UpdateConnection",
            DeleteConnection => "DeleteConnection",
            StartAuthorization => "StartAuthorization",
            CompleteAuthorization => "CompleteAuthorization",
            TestConnection => "TestConnection",
            UploadFiles => "UploadFiles",
            ListItems => "ListItems",
            DownloadFiles => "DownloadFiles",
            CreateFolder => "CreateFolder",
            DeleteItems => "DeleteItems",
            StartResumableUpload => "StartResumableUpload",
            WriteResumableUpload => "WriteResumableUpload",
            QueryUpload => "QueryUpload",
            CancelUpload => "CancelUpload",
        }
    }
}

/// Who is calling, once identified.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Caller {
    pub name: String,
    pub role: Role,
    pub groups: Groups,
    /// No callers are configured: everyone is this admin of all groups.
    pub anonymous: bool,
}

/// The name an anonymous caller has in logs.
pub const ANONYMOUS: &str = "anonymous";

impl Caller {
    pub fn anonymous() -> Caller {
        Caller {
            name: ANONYMOUS.to_owned(),
            role: Role::Admin,
            groups: Groups::All,
            anonymous: true,
        }
    }

    fn denied(&self, needed: Role, message: String) -> TaskError {
        TaskError::CallerNotAllowed {
            caller: self.name.clone(),
            needed_role: needed.as_str().to_owned(),
            message,
        }
    }

    /// The role check, made before anything about the request is looked at.
    pub fn require(&self, method: Method) -> Result<(), TaskError> {
        let needed = method.needed_role();
        if self.role >= needed {
            return Ok(());
        }
        Err(self.denied(
            needed,
            format!(
                "{} needs the role {needed}; this caller is a {} (change its role in the callers file)",
                method.name(),
                self.role
            ),
        ))
    }

    /// May this caller see connections of `group` at all?
    pub fn may_use(&self, group: &str) -> bool {
        self.groups.contains(group)
    }

    /// The denial for a connection outside the caller's groups. It is also what a
    /// missing connection gives a caller limited to some groups, so that the answer
    /// never tells whether a connection exists (AIP-211).
    pub fn connection_denied(&self, method: Method, connection: &str) -> TaskError {
        self.denied(
            method.needed_role(),
            format!(
                "{} on {connection:?}: the connection does not exist or is outside this caller's groups",
                method.name()
            ),
        )
    }

    /// The check made once the connection is resolved: `found` is its group, `None` when
    /// the connection does not exist (`missing` is then the lookup's own error).
    pub fn check_connection(
        &self,
        method: Method,
        connection: &str,
        found: Option<&str>,
        missing: TaskError,
    ) -> Result<(), TaskError> {
        match found {
            Some(group) if self.may_use(group) => Ok(()),
            // A caller of all groups learns nothing new from NOT_FOUND.
            None if self.groups == Groups::All => Err(missing),
            _ => Err(self.connection_denied(method, connection)),
        }
    }

    /// Creating a connection in `group`, or moving one there.
    pub fn check_target_group(&self, method: Method, group: &str) -> Result<(), TaskError> {
        if self.may_use(group) {
            return Ok(());
        }
        Err(self.denied(
            method.needed_role(),
            format!(
                "{}: the group {group:?} is not one of this caller's groups",
                method.name()
            ),
        ))
    }

    /// A resumable upload belongs to the caller that started it.
    pub fn check_upload_owner(&self, method: Method, owner: &str) -> Result<(), TaskError> {
        if self.anonymous || owner == self.name {
            return Ok(());
        }
        Err(self.denied(
            method.needed_role(),
            format!(
                "{}: the upload belongs to another caller (only the caller that started it may use it)",
                method.name()
            ),
        ))
    }

    /// What a new resumable upload records as its owner.
    pub fn upload_owner(&self) -> &str {
        if self.anonymous { "" } else { &self.name }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn caller(role: Role, groups: Groups) -> Caller {
        Caller {
            name: "c".into(),
            role,
            groups,
            anonymous: false,
        }
    }

    fn reason(e: TaskError) -> (String, String) {
        match e {
            TaskError::CallerNotAllowed {
                caller,
                needed_role,
                ..
            } => (caller, needed_role),
            other => panic!("not a denial: {other:?}"),
        }
    }

    #[test]
    fn roles_include_the_lesser_ones() {
        let reader = caller(Role::Reader, Groups::All);
        assert!(reader.require(Method::ListItems).is_ok());
        assert!(reader.require(Method::TestConnection).is_ok());
        for m in [
            Method::DeleteItems,
            Method::UploadFiles,
            Method::WriteResumableUpload,
        ] {
            assert_eq!(
                reason(reader.require(m).unwrap_err()),
                ("c".into(), "writer".into())
            );
        }
        assert_eq!(
            reason(reader.require(Method::UpdateConnection).unwrap_err()).1,
            "admin"
        );
        let writer = caller(Role::Writer, Groups::All);
        assert!(writer.require(Method::CreateFolder).is_ok());
        assert!(writer.require(Method::StartAuthorization).is_err());
        let admin = caller(Role::Admin, Groups::All);
        assert!(admin.require(Method::CompleteAuthorization).is_ok());
    }

    #[test]
    fn groups_hide_foreign_and_missing_connections_alike() {
        let finance = caller(Role::Admin, Groups::Only(vec!["finance".into()]));
        let missing = || TaskError::ConnectionNotFound { name: "x".into() };
        assert!(
            finance
                .check_connection(Method::GetConnection, "x", Some("finance"), missing())
                .is_ok()
        );
        let foreign = finance
            .check_connection(Method::GetConnection, "x", Some("hr"), missing())
            .unwrap_err();
        let absent = finance
            .check_connection(Method::GetConnection, "x", None, missing())
            .unwrap_err();
        assert_eq!(foreign.to_string(), absent.to_string());
        let all = caller(Role::Admin, Groups::All);
        assert!(matches!(
            all.check_connection(Method::GetConnection, "x", None, missing()),
            Err(TaskError::ConnectionNotFound { .. })
        ));
        assert!(
            finance
                .check_target_group(Method::CreateConnection, "hr")
                .is_err()
        );
    }

    #[test]
    fn uploads_belong_to_their_caller() {
        let x = caller(Role::Writer, Groups::All);
        assert!(x.check_upload_owner(Method::QueryUpload, "c").is_ok());
        assert!(x.check_upload_owner(Method::QueryUpload, "other").is_err());
        assert!(x.check_upload_owner(Method::QueryUpload, "").is_err());
        assert!(
            Caller::anonymous()
                .check_upload_owner(Method::QueryUpload, "other")
                .is_ok()
        );
    }
}
