//! `dropbox-connector`: wiring only (flags, configuration, logging, listener, signals).

use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use dropbox_connector_server::config::{Config, Overrides};
use dropbox_connector_server::{dev, serve, telemetry};

/// The dropbox-connector gRPC service: VisualCron's Dropbox Cloud tasks for other services.
///
/// Configuration: defaults < --config FILE (TOML) < DBXC_* environment variables
/// (DBXC_LISTEN, DBXC_DATA_DIR, DBXC_DROPBOX__API_URL, DBXC_LOG__LEVEL, ...) < flags.
#[derive(Debug, Parser)]
#[command(version)]
struct Cli {
    /// A TOML configuration file.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Address to listen on (default 127.0.0.1:50051).
    #[arg(long, value_name = "IP:PORT")]
    listen: Option<SocketAddr>,
    /// Where connections (and in --dev the emulator's files) are kept.
    #[arg(long, value_name = "DIR")]
    data_dir: Option<PathBuf>,
    /// Start with an in-process Dropbox emulator and a connection named `demo`
    /// (data dir defaults to ./.dev-data).
    #[arg(long)]
    dev: bool,
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let overrides = Overrides {
        config_file: cli.config,
        listen: cli.listen,
        data_dir: cli.data_dir,
        dev: cli.dev,
    };
    let config = match Config::load(&overrides) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("dropbox-connector: {e:#}");
            return ExitCode::from(2);
        }
    };
    match run(config, cli.dev).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{e:#}");
            eprintln!("dropbox-connector: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(mut config: Config, dev_mode: bool) -> anyhow::Result<()> {
    telemetry::init(&config.log)?;
    let listener = tokio::net::TcpListener::bind(config.listen).await?;
    let address = listener.local_addr()?;
    let emulator = if dev_mode {
        Some(dev::prepare(&mut config).await?)
    } else {
        None
    };
    let mut out = std::io::stdout().lock();
    writeln!(out, "listening on {address}")?;
    if let Some(e) = &emulator {
        writeln!(out, "{}", dev::next_steps(address, e.base_url(), &config))?;
    }
    out.flush()?;
    drop(out);
    let result = serve(config, listener, telemetry::shutdown_signal()).await;
    if let Some(e) = emulator {
        e.stop().await;
    }
    result
}
