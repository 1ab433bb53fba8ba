//! The connection records the tasks work on, as the api layer sees them: it names these
//! through `tasks`, never the store, so swapping the store touches no api file.

pub use crate::store::{
    AccountKind, ConnectionPage, ConnectionRecord, NewConnection, PathRootSetting, ProxyKind,
    ResumableUpload, Secrets, Settings,
};
