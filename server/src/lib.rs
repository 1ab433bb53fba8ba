//! dropbox-connector: VisualCron's five Dropbox Cloud tasks as a gRPC service.
//!
//! Layers, calling downwards only: [`api`] (tonic services) -> [`tasks`] (the Cloud
//! tasks, the remote file filter, overwrite policy, upload orchestration) -> [`store`]
//! (connections) and the `dropbox-client` crate. [`server`] assembles the gRPC server;
//! [`config`], [`telemetry`] and `dev` (the `dev` feature's `--dev`) serve `main.rs`;
//! [`auth`] says who is calling and what they may do.

pub mod api;
pub mod auth;
pub mod config;
#[cfg(feature = "dev")]
pub mod dev;
pub mod peer;
pub mod server;
pub mod store;
pub mod tasks;
pub mod telemetry;
pub mod transport;

pub use config::Config;
pub use server::serve;
