//! Connection lookups on behalf of a caller: the group check happens after resolving,
//! and a missing connection is denied exactly like a foreign one (AIP-211), so a caller
//! limited to some groups never learns which connections exist.

use crate::auth::{Caller, Method};
use crate::tasks::TaskError;
use crate::tasks::connections::{Connections, DEFAULT_GROUP};
use crate::tasks::model::ConnectionRecord;

/// The group a connection given `group` ends up in (an empty one is the default group).
pub fn effective_group(group: &str) -> &str {
    if group.trim().is_empty() {
        DEFAULT_GROUP
    } else {
        group
    }
}

/// The connection `name` (`connections/{id}` or a display_name), if `caller` may use it
/// for `method`.
pub async fn connection_for(
    connections: &Connections,
    caller: &Caller,
    method: Method,
    name: &str,
) -> Result<ConnectionRecord, TaskError> {
    match connections.resolve(name).await {
        Ok(record) => {
            caller.check_connection(
                method,
                name,
                Some(&record.group),
                TaskError::ConnectionNotFound {
                    name: name.to_owned(),
                },
            )?;
            Ok(record)
        }
        Err(e @ TaskError::ConnectionNotFound { .. }) => {
            caller.check_connection(method, name, None, e)?;
            Err(TaskError::ConnectionNotFound {
                name: name.to_owned(),
            })
        }
        Err(e) => Err(e),
    }
}
