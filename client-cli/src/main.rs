//! `dbxc`: the command line for dropbox-connector. Wiring only: parse, connect, dispatch,
//! and turn the outcome into an exit code.

mod args;
mod authorize;
mod channel;
mod connection_cmd;
mod delete;
mod download;
mod exit;
mod filter_args;
mod list;
mod local_paths;
mod output;
mod partial;
mod progress;
mod reason;
mod resumable_upload;
mod upload;

use std::time::Duration;

use clap::Parser;
use dropbox_connector_proto::v1::cloud_task_service_client::CloudTaskServiceClient;
use dropbox_connector_proto::v1::connection_service_client::ConnectionServiceClient;

use crate::args::{Cli, Command};
use crate::channel::{ServerOptions, Transport};
use crate::exit::CliError;

/// Largest gRPC message either way: the contract's cap, which the server keeps too.
const MAX_MESSAGE: usize = dropbox_connector_proto::MAX_MESSAGE_BYTES;

/// What every command needs: the global flags and a channel to the server.
pub struct Ctx {
    /// `--json`.
    pub json: bool,
    /// `--quiet`.
    pub quiet: bool,
    connection: Option<String>,
    channel: Transport,
}

impl Ctx {
    /// The `--connection` value, required by the Cloud task commands.
    pub fn connection(&self) -> Result<String, CliError> {
        match self.connection.as_deref().map(str::trim) {
            Some(name) if !name.is_empty() => Ok(name.to_string()),
            _ => Err(CliError::usage(
                "no connection given: pass --connection NAME or set DBXC_CONNECTION",
            )),
        }
    }

    /// A CloudTaskService client.
    pub fn tasks(&self) -> CloudTaskServiceClient<Transport> {
        CloudTaskServiceClient::new(self.channel.clone())
            .max_decoding_message_size(MAX_MESSAGE)
            .max_encoding_message_size(MAX_MESSAGE)
    }

    /// A ConnectionService client.
    pub fn connections(&self) -> ConnectionServiceClient<Transport> {
        ConnectionServiceClient::new(self.channel.clone())
    }

    /// Whether progress bars are wanted (they also need stderr to be a terminal).
    pub fn progress_wanted(&self) -> bool {
        !self.quiet && !self.json
    }
}

async fn run(cli: Cli) -> Result<(), CliError> {
    let channel = channel::connect(&ServerOptions {
        server: cli.server,
        ca_file: cli.ca_file,
        cert_file: cli.cert_file,
        key_file: cli.key_file,
        token_file: cli.token_file,
    })
    .await?;
    let ctx = Ctx {
        json: cli.json,
        quiet: cli.quiet,
        connection: cli.connection,
        channel,
    };
    match cli.command {
        Command::Connection(cmd) => connection_cmd::run(&ctx, cmd).await,
        Command::Upload(a) => upload::run(&ctx, a).await,
        Command::List(a) => list::run(&ctx, a).await,
        Command::Download(a) => download::run(&ctx, a).await,
        Command::CreateFolder(a) => list::create_folder(&ctx, a).await,
        Command::Delete(a) => delete::run(&ctx, a).await,
    }
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return std::process::ExitCode::from(exit::FAILURE);
        }
    };
    let outcome = runtime.block_on(async {
        tokio::select! {
            result = run(cli) => result,
            _ = tokio::signal::ctrl_c() => Err(CliError::new(exit::INTERRUPTED, "interrupted")),
        }
    });
    // Do not wait for blocking reads (hashing) still in flight after an interrupt.
    runtime.shutdown_timeout(Duration::from_millis(100));
    match outcome {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            output::eprint_text(&format!("error: {e}"));
            std::process::ExitCode::from(e.code)
        }
    }
}
