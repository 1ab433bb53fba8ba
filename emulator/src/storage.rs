//! The file tree of every namespace: case-insensitive keys, case-preserving names, revs,
//! ids, write modes, autorename and a change log for list_folder cursors.

use std::collections::{BTreeMap, HashMap};
use std::ops::Bound;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::blob::{Blob, Stored};
use crate::paths;
use crate::wire::{self, nest, tag};

/// One file version.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct FileVersion {
    pub rev: String,
    pub size: u64,
    pub content_hash: String,
    pub client_modified: String,
    pub server_modified: String,
    pub blob: Blob,
}

/// Revisions kept per file, the current one included. Dropbox keeps a file's history for
/// a time rather than a count, and files/list_revisions returns at most 100 entries
/// (ListRevisionsArg.limit "less than or equal to 100", Dropbox Java SDK
/// ListRevisionsBuilder.withLimit); keeping 100 lets every such listing be answered.
pub const MAX_REVISIONS: usize = 100;

/// A file or a folder.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Node {
    pub name: String,
    pub id: String,
    pub file: Option<FileVersion>,
    pub seq: u64,
    /// Earlier revisions of a file, oldest first, so that `rev:` paths and
    /// files/list_revisions reach them as they do on Dropbox
    /// (reference/dropbox-api.md: files/download takes `rev:...`).
    #[serde(default)]
    pub history: Vec<FileVersion>,
}

impl Node {
    pub fn is_folder(&self) -> bool {
        self.file.is_none()
    }

    /// The revision `rev` of this file, current or earlier.
    pub fn version(&self, rev: &str) -> Option<&FileVersion> {
        self.file
            .iter()
            .chain(self.history.iter().rev())
            .find(|f| f.rev == rev)
    }

    /// Every revision of this file, newest first.
    pub fn revisions(&self) -> impl Iterator<Item = &FileVersion> {
        self.file.iter().chain(self.history.iter().rev())
    }

    /// Every blob this node holds (the current revision and the earlier ones).
    fn blobs(self) -> impl Iterator<Item = Blob> {
        self.file.into_iter().chain(self.history).map(|f| f.blob)
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Tombstone {
    pub seq: u64,
    pub key: String,
    pub path_display: String,
    pub name: String,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Namespace {
    pub entries: BTreeMap<String, Node>,
    pub tombstones: Vec<Tombstone>,
}

/// Every namespace.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Tree {
    pub namespaces: HashMap<String, Namespace>,
    pub seq: u64,
    pub epoch: u64,
    pub rev_counter: u64,
}

/// LookupError members.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[allow(clippy::enum_variant_names)] // named after the Dropbox tags
pub enum LookupErr {
    NotFound,
    NotFile,
    NotFolder,
}

impl LookupErr {
    pub fn json(self) -> Value {
        tag(match self {
            LookupErr::NotFound => "not_found",
            LookupErr::NotFile => "not_file",
            LookupErr::NotFolder => "not_folder",
        })
    }
}

/// WriteError members.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteErr {
    ConflictFile,
    ConflictFolder,
    ConflictFileAncestor,
    DisallowedName,
    Malformed,
}

impl WriteErr {
    pub fn json(self) -> Value {
        match self {
            WriteErr::ConflictFile => nest("conflict", tag("file")),
            WriteErr::ConflictFolder => nest("conflict", tag("folder")),
            WriteErr::ConflictFileAncestor => nest("conflict", tag("file_ancestor")),
            WriteErr::DisallowedName => tag("disallowed_name"),
            WriteErr::Malformed => json!({".tag": "malformed_path", "malformed_path": null}),
        }
    }
}

/// How a commit treats an existing file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WriteMode {
    Add,
    Overwrite,
    Update(String),
}

/// A commit request.
#[derive(Debug, Clone)]
pub struct Commit {
    pub components: Vec<String>,
    pub mode: WriteMode,
    pub autorename: bool,
    pub strict_conflict: bool,
    pub client_modified: Option<String>,
}

/// What a commit did: the metadata and blobs that are no longer referenced.
pub struct Committed {
    pub metadata: Value,
    pub garbage: Vec<Blob>,
}

fn new_id() -> String {
    let raw = uuid::Uuid::new_v4().simple().to_string();
    format!("id:{}", &raw[..22])
}

impl Tree {
    fn next_seq(&mut self) -> u64 {
        self.seq += 1;
        self.seq
    }

    fn next_rev(&mut self) -> String {
        self.rev_counter += 1;
        let salt: u32 = rand::random::<u32>() & 0xfff_ffff;
        format!("{salt:07x}{:09x}", self.rev_counter)
    }

    pub fn ns(&self, ns: &str) -> Option<&Namespace> {
        self.namespaces.get(ns)
    }

    pub fn ns_mut(&mut self, ns: &str) -> &mut Namespace {
        self.namespaces.entry(ns.to_string()).or_default()
    }

    pub fn ensure_namespaces(&mut self, ids: &[String]) {
        for id in ids {
            self.ns_mut(id);
        }
    }

    /// Drops every file (the `reset` control call); cursors from before become `reset`.
    pub fn clear(&mut self) -> Vec<Blob> {
        let mut garbage = Vec::new();
        for ns in self.namespaces.values_mut() {
            for (_, node) in std::mem::take(&mut ns.entries) {
                garbage.extend(node.blobs());
            }
            ns.tombstones.clear();
        }
        self.epoch += 1;
        garbage
    }

    pub fn get(&self, ns: &str, key: &str) -> Option<&Node> {
        self.ns(ns)?.entries.get(key)
    }

    /// Display path of a key, from the stored names of every component.
    pub fn display(&self, ns: &str, key: &str) -> String {
        let Some(space) = self.ns(ns) else {
            return key.to_string();
        };
        let mut out = String::new();
        let mut prefix = String::new();
        for part in key.split('/').skip(1) {
            prefix.push('/');
            prefix.push_str(part);
            out.push('/');
            match space.entries.get(&prefix) {
                Some(node) => out.push_str(&node.name),
                None => out.push_str(part),
            }
        }
        out
    }

    /// Display components of an existing key.
    pub fn display_components(&self, ns: &str, key: &str) -> Vec<String> {
        self.display(ns, key)
            .split('/')
            .skip(1)
            .map(str::to_string)
            .collect()
    }

    /// Metadata with `.tag` (file or folder).
    pub fn metadata(&self, ns: &str, key: &str, node: &Node) -> Value {
        match &node.file {
            Some(_) => wire::with_tag("file", self.file_metadata(ns, key, node)),
            None => wire::with_tag("folder", self.folder_metadata(ns, key, node)),
        }
    }

    pub fn folder_metadata(&self, ns: &str, key: &str, node: &Node) -> Value {
        json!({
            "name": node.name,
            "id": node.id,
            "path_lower": key,
            "path_display": self.display(ns, key),
        })
    }

    /// FileMetadata without `.tag`.
    pub fn file_metadata(&self, ns: &str, key: &str, node: &Node) -> Value {
        match &node.file {
            Some(f) => self.version_metadata(ns, key, node, f),
            None => self.folder_metadata(ns, key, node),
        }
    }

    /// FileMetadata (without `.tag`) of one revision of a file.
    pub fn version_metadata(&self, ns: &str, key: &str, node: &Node, f: &FileVersion) -> Value {
        json!({
            "name": node.name,
            "id": node.id,
            "client_modified": f.client_modified,
            "server_modified": f.server_modified,
            "rev": f.rev,
            "size": f.size,
            "path_lower": key,
            "path_display": self.display(ns, key),
            "is_downloadable": true,
            "content_hash": f.content_hash,
        })
    }

    /// Finds a node by id in the given namespaces.
    pub fn find_id(&self, namespaces: &[String], id: &str) -> Option<(String, String)> {
        for ns in namespaces {
            if let Some(space) = self.ns(ns) {
                for (key, node) in &space.entries {
                    if node.id == id {
                        return Some((ns.clone(), key.clone()));
                    }
                }
            }
        }
        None
    }

    /// Finds a file by one of its revs, current or earlier.
    pub fn find_rev(&self, namespaces: &[String], rev: &str) -> Option<(String, String)> {
        for ns in namespaces {
            if let Some(space) = self.ns(ns) {
                for (key, node) in &space.entries {
                    if node.version(rev).is_some() {
                        return Some((ns.clone(), key.clone()));
                    }
                }
            }
        }
        None
    }

    /// Checks that no ancestor of `components` is a file.
    fn check_ancestors(&self, ns: &str, components: &[String]) -> Result<(), WriteErr> {
        for i in 1..components.len() {
            let key = paths::key_of(&components[..i]);
            if let Some(node) = self.get(ns, &key)
                && !node.is_folder()
            {
                return Err(WriteErr::ConflictFileAncestor);
            }
        }
        Ok(())
    }

    /// Creates the missing ancestors of `components` (not the last one).
    fn make_parents(&mut self, ns: &str, components: &[String]) {
        for i in 1..components.len() {
            let key = paths::key_of(&components[..i]);
            if self.get(ns, &key).is_none() {
                let seq = self.next_seq();
                let node = Node {
                    name: components[i - 1].clone(),
                    id: new_id(),
                    file: None,
                    seq,
                    history: Vec::new(),
                };
                self.ns_mut(ns).entries.insert(key, node);
            }
        }
    }

    /// A free name `name (n).ext` next to `components`.
    fn autorename(&self, ns: &str, components: &[String]) -> Vec<String> {
        let mut out = components.to_vec();
        let Some(last) = components.last() else {
            return out;
        };
        for n in 2.. {
            let candidate = paths::numbered(last, n);
            if let Some(slot) = out.last_mut() {
                *slot = candidate;
            }
            if self.get(ns, &paths::key_of(&out)).is_none() {
                break;
            }
        }
        out
    }

    /// create_folder_v2.
    pub fn create_folder(
        &mut self,
        ns: &str,
        components: &[String],
        autorename: bool,
    ) -> Result<Value, WriteErr> {
        let Some(name) = components.last() else {
            return Err(WriteErr::Malformed);
        };
        if paths::is_disallowed_name(name) {
            return Err(WriteErr::DisallowedName);
        }
        self.check_ancestors(ns, components)?;
        let mut target = components.to_vec();
        if let Some(existing) = self.get(ns, &paths::key_of(components)) {
            if !autorename {
                return Err(if existing.is_folder() {
                    WriteErr::ConflictFolder
                } else {
                    WriteErr::ConflictFile
                });
            }
            target = self.autorename(ns, components);
        }
        self.make_parents(ns, &target);
        let key = paths::key_of(&target);
        let seq = self.next_seq();
        let node = Node {
            name: target.last().cloned().unwrap_or_default(),
            id: new_id(),
            file: None,
            seq,
            history: Vec::new(),
        };
        self.ns_mut(ns).entries.insert(key.clone(), node.clone());
        Ok(self.folder_metadata(ns, &key, &node))
    }

    /// Commits uploaded bytes under a write mode.
    pub fn commit(
        &mut self,
        ns: &str,
        commit: &Commit,
        stored: Stored,
    ) -> Result<Committed, WriteErr> {
        let components = &commit.components;
        let Some(name) = components.last() else {
            return Err(WriteErr::Malformed);
        };
        if paths::is_disallowed_name(name) {
            return Err(WriteErr::DisallowedName);
        }
        self.check_ancestors(ns, components)?;
        let key = paths::key_of(components);
        let mut target = components.clone();
        let mut replace = false;
        if let Some(existing) = self.get(ns, &key) {
            let same = existing
                .file
                .as_ref()
                .is_some_and(|f| f.content_hash == stored.content_hash);
            let existing_rev = existing.file.as_ref().map(|f| f.rev.clone());
            let unchanged = |tree: &Tree| Committed {
                metadata: tree.file_metadata(ns, &key, existing),
                garbage: vec![stored.blob.clone()],
            };
            if existing.is_folder() {
                if !commit.autorename {
                    return Err(WriteErr::ConflictFolder);
                }
                target = self.autorename(ns, components);
            } else {
                match &commit.mode {
                    WriteMode::Overwrite => {
                        if same {
                            return Ok(unchanged(self));
                        }
                        replace = true;
                    }
                    WriteMode::Add => {
                        if same && !commit.strict_conflict {
                            return Ok(unchanged(self));
                        }
                        if !commit.autorename {
                            return Err(WriteErr::ConflictFile);
                        }
                        target = self.autorename(ns, components);
                    }
                    WriteMode::Update(rev) => {
                        if existing_rev.as_deref() == Some(rev.as_str()) {
                            if same {
                                return Ok(unchanged(self));
                            }
                            replace = true;
                        } else if same && !commit.strict_conflict {
                            return Ok(unchanged(self));
                        } else if commit.autorename {
                            target = self.autorename(ns, components);
                        } else {
                            return Err(WriteErr::ConflictFile);
                        }
                    }
                }
            }
        } else if matches!(commit.mode, WriteMode::Update(_)) && commit.strict_conflict {
            return Err(WriteErr::ConflictFile);
        }
        self.make_parents(ns, &target);
        let key = paths::key_of(&target);
        let now = wire::now_ts();
        let rev = self.next_rev();
        let seq = self.next_seq();
        let version = FileVersion {
            rev,
            size: stored.len,
            content_hash: stored.content_hash,
            client_modified: commit
                .client_modified
                .clone()
                .unwrap_or_else(|| now.clone()),
            server_modified: now,
            blob: stored.blob,
        };
        let mut garbage = Vec::new();
        let space = self.ns_mut(ns);
        let node = match space.entries.get_mut(&key) {
            Some(node) if replace => {
                if let Some(old) = node.file.replace(version) {
                    node.history.push(old);
                }
                let excess = (node.history.len() + 1).saturating_sub(MAX_REVISIONS);
                garbage.extend(node.history.drain(..excess).map(|f| f.blob));
                node.seq = seq;
                node.clone()
            }
            _ => {
                let node = Node {
                    name: target.last().cloned().unwrap_or_default(),
                    id: new_id(),
                    file: Some(version),
                    seq,
                    history: Vec::new(),
                };
                space.entries.insert(key.clone(), node.clone());
                node
            }
        };
        Ok(Committed {
            metadata: self.file_metadata(ns, &key, &node),
            garbage,
        })
    }

    /// Deletes a file or a folder with everything under it; returns the metadata of the
    /// item as it was.
    pub fn delete(
        &mut self,
        ns: &str,
        key: &str,
        parent_rev: Option<&str>,
    ) -> Result<(Value, Vec<Blob>), DeleteErr> {
        let Some(node) = self.get(ns, key).cloned() else {
            return Err(DeleteErr::Lookup(LookupErr::NotFound));
        };
        if let Some(rev) = parent_rev {
            match &node.file {
                Some(f) if f.rev == rev => {}
                // Dropbox's answer to a stale parent_rev: `path_write/conflict/file`.
                Some(_) => return Err(DeleteErr::Write(WriteErr::ConflictFile)),
                None => return Err(DeleteErr::Lookup(LookupErr::NotFile)),
            }
        }
        let metadata = self.metadata(ns, key, &node);
        let prefix = format!("{key}/");
        let mut doomed: Vec<String> = vec![key.to_string()];
        if let Some(space) = self.ns(ns) {
            doomed.extend(
                space
                    .entries
                    .range::<String, _>((Bound::Excluded(prefix.clone()), Bound::Unbounded))
                    .take_while(|(k, _)| k.starts_with(&prefix))
                    .map(|(k, _)| k.clone()),
            );
        }
        let displays: Vec<String> = doomed.iter().map(|k| self.display(ns, k)).collect();
        let mut garbage = Vec::new();
        // Children first in the change log, then the item itself.
        let seq_base = self.seq;
        self.seq += doomed.len() as u64;
        let space = self.ns_mut(ns);
        for (i, (k, display)) in doomed.iter().zip(displays).enumerate().rev() {
            if let Some(node) = space.entries.remove(k) {
                space.tombstones.push(Tombstone {
                    seq: seq_base + (doomed.len() - i) as u64,
                    key: k.clone(),
                    path_display: display,
                    name: node.name.clone(),
                });
                garbage.extend(node.blobs());
            }
        }
        Ok((metadata, garbage))
    }

    /// One page of a listing: entries after `after` (exclusive) under `key`.
    pub fn list_page(
        &self,
        ns: &str,
        key: &str,
        recursive: bool,
        after: Option<&str>,
        limit: usize,
    ) -> (Vec<Value>, Option<String>) {
        let Some(space) = self.ns(ns) else {
            return (Vec::new(), None);
        };
        let mut out = Vec::new();
        let mut last = None;
        // A recursive listing of a folder starts with the folder itself.
        if recursive
            && !key.is_empty()
            && after.is_none()
            && let Some(node) = space.entries.get(key)
        {
            out.push(self.metadata(ns, key, node));
            last = Some(key.to_string());
        }
        let prefix = format!("{key}/");
        let start = match after {
            Some(a) => Bound::Excluded(a.to_string()),
            None => Bound::Included(prefix.clone()),
        };
        let depth = prefix.matches('/').count();
        for (k, node) in space
            .entries
            .range::<String, _>((start, Bound::Unbounded))
            .take_while(|(k, _)| k.starts_with(&prefix))
        {
            if out.len() >= limit {
                return (out, last);
            }
            last = Some(k.clone());
            if !recursive && k.matches('/').count() != depth {
                continue;
            }
            out.push(self.metadata(ns, k, node));
        }
        (out, None)
    }

    /// Changes under `key` since `since` (deletions first, then current entries).
    pub fn changes(&self, ns: &str, key: &str, recursive: bool, since: u64) -> Vec<Value> {
        let Some(space) = self.ns(ns) else {
            return Vec::new();
        };
        let prefix = format!("{key}/");
        let depth = prefix.matches('/').count();
        let in_scope = |k: &str| {
            k.starts_with(&prefix) && (recursive || k.matches('/').count() == depth)
                || (recursive && k == key)
        };
        let mut out = Vec::new();
        for t in space.tombstones.iter().filter(|t| t.seq > since) {
            if in_scope(&t.key) && !space.entries.contains_key(&t.key) {
                out.push(json!({
                    ".tag": "deleted",
                    "name": t.name,
                    "path_lower": t.key,
                    "path_display": t.path_display,
                }));
            }
        }
        for (k, node) in &space.entries {
            if node.seq > since && in_scope(k) {
                out.push(self.metadata(ns, k, node));
            }
        }
        out
    }

    /// Files under a folder key (for download_zip): (relative display path, node).
    pub fn subtree(&self, ns: &str, key: &str) -> Vec<(String, Node)> {
        let Some(space) = self.ns(ns) else {
            return Vec::new();
        };
        let prefix = if key.is_empty() {
            "/".to_string()
        } else {
            format!("{key}/")
        };
        space
            .entries
            .range::<String, _>((Bound::Included(prefix.clone()), Bound::Unbounded))
            .take_while(|(k, _)| k.starts_with(&prefix))
            .map(|(k, n)| (self.display(ns, k), n.clone()))
            .collect()
    }

    /// Every blob name referenced (to clean up a data dir).
    pub fn blob_names(&self) -> std::collections::HashSet<String> {
        let mut out = std::collections::HashSet::new();
        for space in self.namespaces.values() {
            for node in space.entries.values() {
                for f in node.revisions() {
                    if let Blob::Disk(name) = &f.blob {
                        out.insert(name.clone());
                    }
                }
            }
        }
        out
    }
}

/// DeleteError members.
#[derive(Debug, Clone, Copy)]
pub enum DeleteErr {
    Lookup(LookupErr),
    Write(WriteErr),
}

impl DeleteErr {
    pub fn json(self) -> Value {
        match self {
            DeleteErr::Lookup(l) => nest("path_lookup", l.json()),
            DeleteErr::Write(w) => nest("path_write", w.json()),
        }
    }
}
