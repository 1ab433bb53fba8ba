//! Writes the API reference of the contract as Markdown, from the protos and the comments
//! above each service, method, message, field, enum and value (the comments that buf
//! lint's COMMENTS rules require). The output depends only on the protos, so a check can
//! regenerate it and compare (proto/check-api-reference.sh).
//!
//! Usage: `proto-docgen [PROTO_DIR] > docs/api.md` (PROTO_DIR defaults to `proto`).

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use prost_reflect::{
    DescriptorPool, EnumDescriptor, FieldDescriptor, FileDescriptor, Kind, MessageDescriptor,
    ServiceDescriptor, Value,
};

/// The package documented; its files are every `.proto` under this folder.
const PACKAGE: &str = "dropbox_connector.v1";
const PACKAGE_DIR: &str = "dropbox_connector/v1";

type Error = Box<dyn std::error::Error>;

fn main() -> Result<(), Error> {
    let proto_dir = PathBuf::from(std::env::args().nth(1).unwrap_or_else(|| "proto".into()));
    let files = proto_files(&proto_dir)?;
    // The compiler's own pool: it keeps option extensions (field_behavior), which a
    // prost_types::FileDescriptorSet drops.
    let pool = protox::Compiler::new([&proto_dir])?
        .include_source_info(true)
        .include_imports(true)
        .open_files(&files)?
        .descriptor_pool();
    print!("{}", reference(&pool, &files)?);
    Ok(())
}

/// The package's files, relative to `proto_dir`, in name order.
fn proto_files(proto_dir: &Path) -> Result<Vec<String>, Error> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(proto_dir.join(PACKAGE_DIR))? {
        let name = entry?.file_name().to_string_lossy().into_owned();
        if name.ends_with(".proto") {
            files.push(format!("{PACKAGE_DIR}/{name}"));
        }
    }
    files.sort();
    Ok(files)
}

fn reference(pool: &DescriptorPool, files: &[String]) -> Result<String, Error> {
    let mut out = String::new();
    writeln!(out, "# API reference: `{PACKAGE}`\n")?;
    writeln!(
        out,
        "Generated from the comments in `proto/{PACKAGE_DIR}/*.proto` by `proto-docgen`; do not \
         edit. Regenerate with `cargo run -q -p dropbox-connector-docgen -- proto > docs/api.md`.\n"
    )?;
    writeln!(
        out,
        "Errors carry `google.rpc.ErrorInfo` (domain `dropbox-connector`) whose reason is an \
         [ErrorReason](#errorreason) value name without its `ERROR_REASON_` prefix.\n"
    )?;
    let files: Vec<FileDescriptor> = files
        .iter()
        .map(|f| {
            pool.get_file_by_name(f)
                .ok_or(format!("{f} was not compiled"))
        })
        .collect::<Result<_, _>>()?;
    writeln!(out, "## Contents\n")?;
    for file in &files {
        writeln!(out, "- `{}`", file.name())?;
        for s in file.services() {
            writeln!(out, "  - service [{0}](#{1})", s.name(), anchor(s.name()))?;
        }
        for m in file.messages() {
            writeln!(out, "  - message [{0}](#{1})", m.name(), anchor(m.name()))?;
        }
        for e in file.enums() {
            writeln!(out, "  - enum [{0}](#{1})", e.name(), anchor(e.name()))?;
        }
    }
    writeln!(out)?;
    for file in &files {
        writeln!(out, "## `{}`\n", file.name())?;
        for s in file.services() {
            service(&mut out, &s)?;
        }
        for m in file.messages() {
            message(&mut out, &m)?;
        }
        for e in file.enums() {
            enumeration(&mut out, &e)?;
        }
    }
    Ok(out)
}

fn service(out: &mut String, s: &ServiceDescriptor) -> Result<(), Error> {
    writeln!(out, "### {}\n", s.name())?;
    paragraph(out, &comment(&s.parent_file(), s.path()))?;
    writeln!(out, "| Method | Request | Response | Description |")?;
    writeln!(out, "| --- | --- | --- | --- |")?;
    for m in s.methods() {
        let stream = |yes: bool| if yes { "stream " } else { "" };
        writeln!(
            out,
            "| `{}` | {}{} | {}{} | {} |",
            m.name(),
            stream(m.is_client_streaming()),
            type_link(m.input().full_name()),
            stream(m.is_server_streaming()),
            type_link(m.output().full_name()),
            cell(&comment(&m.parent_file(), m.path())),
        )?;
    }
    writeln!(out)?;
    Ok(())
}

fn message(out: &mut String, m: &MessageDescriptor) -> Result<(), Error> {
    if m.is_map_entry() {
        return Ok(());
    }
    let name = display_name(m.full_name());
    writeln!(out, "### {name}\n")?;
    paragraph(out, &comment(&m.parent_file(), m.path()))?;
    let fields: Vec<FieldDescriptor> = m.fields().collect();
    if fields.is_empty() {
        writeln!(out, "No fields.\n")?;
    } else {
        writeln!(out, "| Field | Number | Type | Description |")?;
        writeln!(out, "| --- | --- | --- | --- |")?;
        for f in &fields {
            let mut notes = Vec::new();
            if let Some(oneof) = f.containing_oneof().filter(|o| !o.is_synthetic()) {
                notes.push(format!("one of `{}`", oneof.name()));
            }
            notes.extend(field_behaviors(f));
            let notes = if notes.is_empty() {
                String::new()
            } else {
                format!("*{}.* ", notes.join("; "))
            };
            writeln!(
                out,
                "| `{}` | {} | {} | {}{} |",
                f.name(),
                f.number(),
                field_type(f),
                notes,
                cell(&comment(&f.parent_file(), f.path())),
            )?;
        }
        writeln!(out)?;
    }
    for oneof in m.oneofs().filter(|o| !o.is_synthetic()) {
        let text = comment(&oneof.parent_file(), oneof.path());
        writeln!(out, "Oneof `{}`: {}\n", oneof.name(), cell(&text))?;
    }
    for nested in m.child_messages() {
        message(out, &nested)?;
    }
    for nested in m.child_enums() {
        enumeration(out, &nested)?;
    }
    Ok(())
}

fn enumeration(out: &mut String, e: &EnumDescriptor) -> Result<(), Error> {
    writeln!(out, "### {}\n", display_name(e.full_name()))?;
    paragraph(out, &comment(&e.parent_file(), e.path()))?;
    writeln!(out, "| Value | Number | Description |")?;
    writeln!(out, "| --- | --- | --- |")?;
    for v in e.values() {
        writeln!(
            out,
            "| `{}` | {} | {} |",
            v.name(),
            v.number(),
            cell(&comment(&v.parent_file(), v.path())),
        )?;
    }
    writeln!(out)?;
    let proto = e.enum_descriptor_proto();
    if !proto.reserved_range.is_empty() || !proto.reserved_name.is_empty() {
        let numbers: Vec<String> = proto
            .reserved_range
            .iter()
            .map(|r| match (r.start(), r.end()) {
                (start, end) if start == end => start.to_string(),
                (start, end) => format!("{start} to {end}"),
            })
            .collect();
        let names: Vec<String> = proto
            .reserved_name
            .iter()
            .map(|n| format!("`{n}`"))
            .collect();
        writeln!(
            out,
            "Reserved (removed, never to be reused): {}.\n",
            numbers
                .into_iter()
                .chain(names)
                .collect::<Vec<_>>()
                .join(", ")
        )?;
    }
    Ok(())
}

/// `google.api.field_behavior` annotations (REQUIRED, OUTPUT_ONLY...), by value name.
fn field_behaviors(f: &FieldDescriptor) -> Vec<String> {
    let pool = f.parent_pool();
    let Some(extension) = pool.get_extension_by_name("google.api.field_behavior") else {
        return Vec::new();
    };
    let behavior = pool.get_enum_by_name("google.api.FieldBehavior");
    let options = f.options();
    if !options.has_extension(&extension) {
        return Vec::new();
    }
    let value = options.get_extension(&extension);
    let Value::List(values) = value.as_ref() else {
        return Vec::new();
    };
    values
        .iter()
        .filter_map(Value::as_enum_number)
        .map(|n| {
            behavior
                .as_ref()
                .and_then(|b| b.get_value(n))
                .map_or_else(|| n.to_string(), |v| v.name().to_owned())
        })
        .collect()
}

fn field_type(f: &FieldDescriptor) -> String {
    if f.is_map()
        && let Kind::Message(entry) = f.kind()
    {
        let key = entry.map_entry_key_field();
        let value = entry.map_entry_value_field();
        return format!(
            "map<{}, {}>",
            kind_name(&key.kind()),
            kind_name(&value.kind())
        );
    }
    let name = kind_name(&f.kind());
    if f.is_list() {
        format!("repeated {name}")
    } else if f.field_descriptor_proto().proto3_optional() {
        format!("optional {name}")
    } else {
        name
    }
}

fn kind_name(kind: &Kind) -> String {
    match kind {
        Kind::Message(m) => type_link(m.full_name()),
        Kind::Enum(e) => type_link(e.full_name()),
        scalar => format!("{scalar:?}").to_lowercase(),
    }
}

/// A link for the package's own types; other types by their full name.
fn type_link(full_name: &str) -> String {
    match full_name.strip_prefix(&format!("{PACKAGE}.")) {
        Some(name) => format!("[{name}](#{})", anchor(name)),
        None => format!("`{full_name}`"),
    }
}

/// The name under the package (`Outer.Inner` for nested types).
fn display_name(full_name: &str) -> &str {
    full_name
        .strip_prefix(PACKAGE)
        .and_then(|n| n.strip_prefix('.'))
        .unwrap_or(full_name)
}

/// The heading anchor GitHub makes for a heading `name`: lower case, dots dropped.
fn anchor(name: &str) -> String {
    name.to_lowercase().replace('.', "")
}

/// The leading comment of the element at `path` in `file`, without the comment markers.
fn comment(file: &FileDescriptor, path: &[i32]) -> String {
    file.file_descriptor_proto()
        .source_code_info
        .as_ref()
        .and_then(|info| info.location.iter().find(|l| l.path == path))
        .and_then(|l| l.leading_comments.clone())
        .map(|c| {
            c.lines()
                .map(|l| l.strip_prefix(' ').unwrap_or(l).trim_end())
                .collect::<Vec<_>>()
                .join("\n")
                .trim()
                .to_owned()
        })
        .unwrap_or_default()
}

/// A comment as Markdown paragraphs (blank lines in the comment separate them).
fn paragraph(out: &mut String, text: &str) -> Result<(), Error> {
    for para in text.split("\n\n") {
        let para = para.trim();
        if !para.is_empty() {
            writeln!(out, "{}\n", para.replace('\n', " "))?;
        }
    }
    Ok(())
}

/// A comment as one table cell: one line, pipes escaped.
fn cell(text: &str) -> String {
    text.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .replace('|', "\\|")
}
