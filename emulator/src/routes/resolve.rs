//! Turning a path argument into a namespace and components.

use serde_json::Value;

use crate::auth::Caller;
use crate::paths::{self, PathArg, PathError};
use crate::storage::{LookupErr, Node, Tree};
use crate::wire::{ApiError, Arg};

/// A resolved path: the namespace, the components (stored names where the item exists)
/// and the case-insensitive key.
#[derive(Debug, Clone)]
pub struct Target {
    pub ns: String,
    pub components: Vec<String>,
    pub key: String,
}

/// Parses `field` of an argument; `malformed` builds the route's 409 error union.
pub fn parse_path(
    arg: &Arg<'_>,
    field: &str,
    allow_root: bool,
    malformed: impl FnOnce() -> Value,
) -> Result<PathArg, ApiError> {
    let raw = arg.req_str(field)?;
    match paths::parse(raw, allow_root) {
        Ok(p) => Ok(p),
        Err(PathError::BadInput(msg)) => Err(arg.field_err(field, &msg)),
        Err(PathError::Malformed) => Err(ApiError::endpoint(malformed())),
    }
}

/// Resolves a parsed path for a caller.
pub fn resolve(tree: &Tree, caller: &Caller, path: &PathArg) -> Result<Target, LookupErr> {
    // Items found by id or rev keep their stored key: their display names may be
    // anything (see /__emulator/hostile_name), so the key is never rebuilt from them.
    let (ns, components, key) = match path {
        PathArg::Path(c) => (caller.ns.clone(), c.clone(), paths::key_of(c)),
        PathArg::Id(id, rest) => {
            let (ns, key) = tree
                .find_id(&caller.namespaces, id)
                .ok_or(LookupErr::NotFound)?;
            let mut c = tree.display_components(&ns, &key);
            c.extend(rest.iter().cloned());
            let key = format!("{key}{}", paths::key_of(rest));
            (ns, c, key)
        }
        PathArg::Rev(rev) => {
            let (ns, key) = tree
                .find_rev(&caller.namespaces, rev)
                .ok_or(LookupErr::NotFound)?;
            let c = tree.display_components(&ns, &key);
            (ns, c, key)
        }
        PathArg::Ns(ns, rest) => {
            if !caller.namespaces.contains(ns) {
                return Err(LookupErr::NotFound);
            }
            (ns.clone(), rest.clone(), paths::key_of(rest))
        }
    };
    Ok(Target {
        ns,
        components,
        key,
    })
}

/// Resolves a path that must name an existing item, and returns that item.
pub fn resolve_node<'t>(
    tree: &'t Tree,
    caller: &Caller,
    path: &PathArg,
) -> Result<(Target, &'t Node), LookupErr> {
    let t = resolve(tree, caller, path)?;
    let node = tree.get(&t.ns, &t.key).ok_or(LookupErr::NotFound)?;
    Ok((t, node))
}
