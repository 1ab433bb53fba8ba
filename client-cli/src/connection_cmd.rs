//! `dbxc connection create|list|get|update|delete`.

use std::io::Read;
use std::path::Path;

use dropbox_connector_proto::v1::{
    AccountType, AppSettings, BusinessSettings, Connection, CreateConnectionRequest, Credentials,
    DeleteConnectionRequest, GetConnectionRequest, ListConnectionsRequest, ProxySettings,
    ProxyType, UpdateConnectionRequest,
};
use serde_json::json;

use crate::Ctx;
use crate::args::{AccountTypeArg, ConnectionCommand, ConnectionFields, PathRootArg, ProxyTypeArg};
use crate::exit::CliError;
use crate::output::{connection_json, connection_text, emit_json, emit_text};

/// Runs a connection subcommand.
pub async fn run(ctx: &Ctx, cmd: ConnectionCommand) -> Result<(), CliError> {
    let mut client = ctx.connections();
    match cmd {
        ConnectionCommand::Create { name, fields } => {
            let mut secrets = SecretReader::default();
            let (mut connection, _) = build(&fields, &mut secrets)?;
            connection.display_name = name;
            let response = client
                .create_connection(CreateConnectionRequest {
                    connection: Some(connection),
                })
                .await?
                .into_inner();
            let created = response.connection.unwrap_or_default();
            print_connection(ctx, &created, "created");
        }
        ConnectionCommand::List { group } => {
            let mut page_token = String::new();
            loop {
                let page = client
                    .list_connections(ListConnectionsRequest {
                        page_size: dropbox_connector_proto::DEFAULT_CONNECTIONS_PAGE_SIZE,
                        page_token: page_token.clone(),
                        group: group.clone().unwrap_or_default(),
                    })
                    .await?
                    .into_inner();
                for c in &page.connections {
                    if ctx.json {
                        emit_json(&connection_json(c));
                    } else {
                        emit_text(&format!(
                            "{:<30} {:<20} {}",
                            c.display_name, c.group, c.name
                        ));
                    }
                }
                if page.next_page_token.is_empty() || page.next_page_token == page_token {
                    break;
                }
                page_token = page.next_page_token;
            }
        }
        ConnectionCommand::Get { name } => {
            let c = client
                .get_connection(GetConnectionRequest { name })
                .await?
                .into_inner()
                .connection
                .unwrap_or_default();
            print_connection(ctx, &c, "");
        }
        ConnectionCommand::Update {
            name,
            display_name,
            fields,
        } => {
            let mut secrets = SecretReader::default();
            let (mut connection, mut paths) = build(&fields, &mut secrets)?;
            if let Some(new_name) = display_name {
                connection.display_name = new_name;
                paths.insert(0, "display_name".to_string());
            }
            if paths.is_empty() {
                return Err(CliError::usage(
                    "nothing to update: give at least one setting flag (see `dbxc connection update --help`)",
                ));
            }
            // Resolve a display name to the resource name, as UpdateConnection wants `name` set.
            connection.name = if name.starts_with("connections/") {
                name
            } else {
                client
                    .get_connection(GetConnectionRequest { name })
                    .await?
                    .into_inner()
                    .connection
                    .unwrap_or_default()
                    .name
            };
            let updated = client
                .update_connection(UpdateConnectionRequest {
                    connection: Some(connection),
                    update_mask: Some(prost_types::FieldMask { paths }),
                })
                .await?
                .into_inner()
                .connection
                .unwrap_or_default();
            print_connection(ctx, &updated, "updated");
        }
        ConnectionCommand::Authorize(args) => return crate::authorize::authorize(ctx, args).await,
        ConnectionCommand::Test(args) => return crate::authorize::test(ctx, args).await,
        ConnectionCommand::Delete { name } => {
            client
                .delete_connection(DeleteConnectionRequest { name: name.clone() })
                .await?;
            if ctx.json {
                emit_json(&json!({ "deleted": name }));
            } else if !ctx.quiet {
                emit_text(&format!("deleted {name}"));
            }
        }
    }
    Ok(())
}

fn print_connection(ctx: &Ctx, c: &Connection, verb: &str) {
    if ctx.json {
        emit_json(&connection_json(c));
    } else if verb.is_empty() {
        crate::output::emit(&connection_text(c));
    } else if !ctx.quiet {
        emit_text(&format!("{verb} {} ({})", c.display_name, c.name));
    }
}

/// Builds the connection from the flags given, and the update_mask paths of those flags.
fn build(
    f: &ConnectionFields,
    secrets: &mut SecretReader,
) -> Result<(Connection, Vec<String>), CliError> {
    let mut c = Connection::default();
    let mut paths: Vec<String> = Vec::new();
    let mut mark = |p: &str| paths.push(p.to_string());

    if let Some(v) = &f.group {
        c.group = v.clone();
        mark("group");
    }
    if let Some(v) = f.timeout_seconds {
        c.timeout_seconds = v;
        mark("timeout_seconds");
    }
    if let Some(v) = &f.code_page {
        c.code_page = v.clone();
        mark("code_page");
    }

    let mut app = AppSettings::default();
    if let Some(v) = &f.app_key {
        app.app_key = v.clone();
        mark("app.app_key");
    }
    if let Some(file) = &f.app_secret_file {
        app.app_secret = secrets.read(file, "--app-secret-file")?;
        mark("app.app_secret");
    }
    if let Some(v) = &f.redirect_uri {
        app.redirect_uri = v.clone();
        mark("app.redirect_uri");
    }
    if app != AppSettings::default() {
        c.app = Some(app);
    }

    let mut credentials = Credentials::default();
    if let Some(file) = &f.access_token_file {
        credentials.access_token = secrets.read(file, "--access-token-file")?;
        mark("credentials.access_token");
    }
    if let Some(file) = &f.refresh_token_file {
        credentials.refresh_token = secrets.read(file, "--refresh-token-file")?;
        mark("credentials.refresh_token");
    }
    if credentials != Credentials::default() {
        c.credentials = Some(credentials);
    }

    if let Some(v) = f.account_type {
        c.account_type = match v {
            AccountTypeArg::Personal => AccountType::Personal,
            AccountTypeArg::Business => AccountType::Business,
        } as i32;
        mark("account_type");
    }
    let mut business = BusinessSettings::default();
    let mut business_set = false;
    if let Some(v) = &f.team_member_id {
        business.team_member_id = v.clone();
        business_set = true;
        mark("business.team_member_id");
    }
    if let Some(v) = f.as_admin {
        business.as_admin = v;
        business_set = true;
        mark("business.as_admin");
    }
    if let Some(root) = &f.path_root {
        use dropbox_connector_proto::v1::path_root::Root;
        let root = match root {
            PathRootArg::Home => Root::Home(true),
            PathRootArg::TeamRoot(ns) => Root::TeamRootNamespaceId(ns.clone()),
            PathRootArg::Namespace(ns) => Root::NamespaceId(ns.clone()),
        };
        business.path_root = Some(dropbox_connector_proto::v1::PathRoot { root: Some(root) });
        business_set = true;
        mark("business.path_root");
    }
    if business_set {
        c.business = Some(business);
    }

    let mut proxy = ProxySettings::default();
    let mut proxy_set = false;
    if let Some(v) = f.proxy_type {
        proxy.r#type = match v {
            ProxyTypeArg::None => ProxyType::None,
            ProxyTypeArg::Http => ProxyType::Http,
            ProxyTypeArg::Https => ProxyType::Https,
            ProxyTypeArg::Socks5 => ProxyType::Socks5,
            ProxyTypeArg::Socks4 => ProxyType::Socks4,
        } as i32;
        proxy_set = true;
        mark("proxy.type");
    }
    if let Some(v) = &f.proxy_address {
        proxy.address = v.clone();
        proxy_set = true;
        mark("proxy.address");
    }
    if let Some(v) = f.proxy_port {
        proxy.port = v;
        proxy_set = true;
        mark("proxy.port");
    }
    if let Some(v) = &f.proxy_username {
        proxy.username = v.clone();
        proxy_set = true;
        mark("proxy.username");
    }
    if let Some(file) = &f.proxy_password_file {
        proxy.password = secrets.read(file, "--proxy-password-file")?;
        proxy_set = true;
        mark("proxy.password");
    }
    if let Some(v) = &f.proxy_domain {
        proxy.domain = v.clone();
        proxy_set = true;
        mark("proxy.domain");
    }
    if let Some(v) = &f.proxy_test_url {
        proxy.test_url = v.clone();
        proxy_set = true;
        mark("proxy.test_url");
    }
    let use_credentials = f
        .proxy_use_credentials
        .or((f.proxy_username.is_some() || f.proxy_password_file.is_some()).then_some(true));
    if let Some(v) = use_credentials {
        proxy.use_credentials = v;
        proxy_set = true;
        mark("proxy.use_credentials");
    }
    if proxy_set {
        c.proxy = Some(proxy);
    }
    Ok((c, paths))
}

/// Reads secrets from files or standard input (at most once), trimming one trailing newline.
#[derive(Default)]
struct SecretReader {
    stdin_used_by: Option<&'static str>,
}

impl SecretReader {
    fn read(&mut self, file: &Path, flag: &'static str) -> Result<String, CliError> {
        let raw = if file.as_os_str() == "-" {
            if let Some(previous) = self.stdin_used_by {
                return Err(CliError::usage(format!(
                    "{flag} and {previous} both read standard input; use a file for one of them"
                )));
            }
            self.stdin_used_by = Some(flag);
            let mut text = String::new();
            std::io::stdin().read_to_string(&mut text).map_err(|e| {
                CliError::failure(format!("{flag}: cannot read standard input: {e}"))
            })?;
            text
        } else {
            std::fs::read_to_string(file).map_err(|e| {
                CliError::failure(format!("{flag}: cannot read {}: {e}", file.display()))
            })?
        };
        let secret = trim_one_newline(raw);
        if secret.is_empty() {
            return Err(CliError::usage(format!("{flag}: the secret is empty")));
        }
        Ok(secret)
    }
}

/// Removes one trailing `\n` or `\r\n`, nothing else.
fn trim_one_newline(mut text: String) -> String {
    if text.ends_with('\n') {
        text.pop();
        if text.ends_with('\r') {
            text.pop();
        }
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trims_exactly_one_newline() {
        assert_eq!(trim_one_newline("tok\n".into()), "tok");
        assert_eq!(trim_one_newline("tok\r\n".into()), "tok");
        assert_eq!(trim_one_newline("tok\n\n".into()), "tok\n");
        assert_eq!(trim_one_newline("tok".into()), "tok");
        assert_eq!(trim_one_newline(" tok \n".into()), " tok ");
    }

    #[test]
    fn update_mask_names_only_given_flags() {
        let dir = tempfile::tempdir().unwrap();
        let token = dir.path().join("t");
        std::fs::write(&token, "sl.secret\n").unwrap();
        let fields = ConnectionFields {
            group: Some("ops".into()),
            access_token_file: Some(token),
            proxy_username: Some("u".into()),
            ..ConnectionFields::default()
        };
        let (c, paths) = build(&fields, &mut SecretReader::default()).unwrap();
        assert_eq!(
            paths,
            [
                "group",
                "credentials.access_token",
                "proxy.username",
                "proxy.use_credentials"
            ]
        );
        assert_eq!(c.credentials.unwrap().access_token, "sl.secret");
        assert!(c.proxy.unwrap().use_credentials);
        assert!(c.app.is_none());
        let (_, none) = build(&ConnectionFields::default(), &mut SecretReader::default()).unwrap();
        assert!(none.is_empty());
    }

    #[test]
    fn missing_secret_file_is_an_error() {
        let fields = ConnectionFields {
            refresh_token_file: Some("/nonexistent/secret".into()),
            ..ConnectionFields::default()
        };
        assert!(build(&fields, &mut SecretReader::default()).is_err());
    }
}
