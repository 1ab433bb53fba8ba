//! `dropbox-emulator`: Dropbox API v2 on loopback.

use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, bail};
use clap::Parser;
use dropbox_emulator::{AppRegistration, Emulator, EmulatorOptions};

const CONTROL_HELP: &str = "\
Control API (JSON over HTTP, under the same base URL):
  GET    /__emulator/accounts        accounts (account_id, email, access_token, kind, team_member_id,
                                     home/root namespace ids), the team and the apps
  POST   /__emulator/accounts        {\"token\"?}: add a personal account
  POST   /__emulator/apps            {\"key\", \"secret\", \"redirect_uris\"?}: register an OAuth app
  POST   /__emulator/reset           drop all files, sessions and jobs; keep accounts
  GET|POST|DELETE /__emulator/faults
                                     {\"route\": \"files/upload\" | \"files/*\" | \"*\",
                                      \"kind\": \"status\" | \"reset\" | \"corrupt\", \"status\": 429,
                                      \"retry_after\": 1, \"reason\"?, \"percent\": 10 | \"count\": 3,
                                      \"phase\"?, \"after\"?: N, \"seed\"?: N}
                                     (count, alias times: 1 by default; after: let N matching
                                     requests pass; seed: replayable percent draws; phase for
                                     reset: request | response, for status: after_body (default) |
                                     early (answer before reading the body, then drain it) |
                                     early_close (answer, then close); GET shows each fault's
                                     \"fired\" and \"passed\" counts; a status 401 expires the token)
  POST   /__emulator/tokens          {\"app_key\"?, \"account_id\"?, \"expires_in\"?}: mint an
                                     access + refresh token pair without the browser step
  POST   /__emulator/tokens/expire   every issued access token expires now
                                     ({\"include_static\": true} also expires --token/--team tokens)
  GET|POST /__emulator/network       {\"latency_ms\": 40, \"bandwidth_bytes_per_sec\": 26214400}
                                     (0 turns each off)
  GET|DELETE /__emulator/requests    the request log (route, selected headers, argument, status,
                                     \"fault\" when one was injected, \"phase\" for early ones;
                                     oauth2/token requests with their grant_type)
  GET    /__emulator/downloads       {\"bytes_served\", \"open_bodies\", \"opened\"}: download bodies
                                     handed to connections, and those not yet finished or dropped
  POST   /__emulator/hostile_name    {\"token\", \"path\", \"name\"}: the item reports a name Dropbox
                                     would refuse (\"..\", \"/\", \"\\\\\"), to test clients
  GET    /__emulator/health";

/// A Dropbox API v2 emulator for tests and for a first run without a Dropbox account.
///
/// One listener serves `/2/<namespace>/<route>` (RPC and content routes), `/oauth2/token`,
/// `/oauth2/authorize` and the control API `/__emulator/...`. When ready it prints one
/// line, `listening on <base-url>`, to stdout; logs go to stderr (RUST_LOG filters them).
#[derive(Parser, Debug)]
#[command(name = "dropbox-emulator", version, about, long_about, after_long_help = CONTROL_HELP)]
struct Cli {
    /// Address to listen on; port 0 picks a free port.
    #[arg(long, default_value = "127.0.0.1:0", value_name = "ADDR")]
    listen: SocketAddr,

    /// Serve HTTPS with a self-signed certificate for 127.0.0.1 and localhost, made at start.
    #[arg(long)]
    tls: bool,

    /// With --tls: write the PEM of the CA that signed the certificate to FILE (clients
    /// trust it, e.g. the Dropbox Python SDK's `ca_certs=`).
    #[arg(long, value_name = "FILE", requires = "tls")]
    ca_out: Option<PathBuf>,

    /// Keep files and issued tokens under DIR (surviving a restart); file bytes stream to
    /// disk. Without it everything lives in memory.
    #[arg(long, value_name = "DIR")]
    data_dir: Option<PathBuf>,

    /// Create a personal account whose access token is TOKEN and never expires
    /// (repeatable: one account per token). Without any --token or --team one account
    /// with a random token is created (see GET /__emulator/accounts).
    #[arg(long = "token", value_name = "TOKEN")]
    tokens: Vec<String>,

    /// Register an OAuth app (repeatable). Its redirect URIs are http://localhost,
    /// http://localhost:9999 and http://127.0.0.1:9999, plus any --redirect-uri.
    #[arg(long = "app", value_name = "KEY:SECRET")]
    apps: Vec<String>,

    /// Register one more redirect URI for the app KEY (repeatable), e.g.
    /// `--redirect-uri mykey=http://localhost:8080/callback`.
    #[arg(long = "redirect-uri", value_name = "KEY=URI")]
    redirect_uris: Vec<String>,

    /// Create a Business team whose team token is TOKEN, with a team space, an admin and
    /// two members (act as one with Dropbox-API-Select-User / Select-Admin).
    #[arg(long = "team", value_name = "TOKEN")]
    team: Option<String>,

    /// Lifetime in seconds of access tokens issued by /oauth2/token.
    #[arg(long, value_name = "SECONDS", default_value_t = 14400)]
    token_lifetime: u64,
}

fn options(cli: &Cli) -> anyhow::Result<EmulatorOptions> {
    let mut apps: Vec<AppRegistration> = Vec::new();
    for spec in &cli.apps {
        let Some((key, secret)) = spec.split_once(':') else {
            bail!("--app expects KEY:SECRET, got {spec:?}");
        };
        if key.is_empty() {
            bail!("--app expects KEY:SECRET with a non-empty KEY");
        }
        apps.push(AppRegistration::new(key, secret));
    }
    for spec in &cli.redirect_uris {
        let Some((key, uri)) = spec.split_once('=') else {
            bail!("--redirect-uri expects KEY=URI, got {spec:?}");
        };
        let Some(app) = apps.iter_mut().find(|a| a.key == key) else {
            bail!("--redirect-uri {spec:?}: no --app with key {key:?}");
        };
        app.redirect_uris.push(uri.to_string());
    }
    Ok(EmulatorOptions {
        data_dir: cli.data_dir.clone(),
        tls: cli.tls,
        tokens: cli.tokens.clone(),
        apps,
        team_token: cli.team.clone(),
        access_token_lifetime: Duration::from_secs(cli.token_lifetime),
    })
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    let cli = Cli::parse();
    let options = options(&cli)?;
    let emulator = Emulator::start(cli.listen, options).await?;
    if let (Some(path), Some(pem)) = (&cli.ca_out, emulator.ca_pem()) {
        std::fs::write(path, pem).with_context(|| format!("writing {}", path.display()))?;
    }
    {
        let mut out = std::io::stdout().lock();
        writeln!(out, "listening on {}", emulator.base_url())?;
        out.flush()?;
    }
    tracing::info!("dropbox-emulator ready at {}", emulator.base_url());
    shutdown_signal().await;
    emulator.stop().await;
    Ok(())
}

async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        if let Ok(mut term) = signal(SignalKind::terminate()) {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
            return;
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}
