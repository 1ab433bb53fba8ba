//! Compiles the contract with protox (pure Rust), so no system `protoc` is needed.

use std::path::PathBuf;

const PROTOS: &[&str] = &[
    "dropbox_connector/v1/errors.proto",
    "dropbox_connector/v1/connection.proto",
    "dropbox_connector/v1/cloud_tasks.proto",
];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // tonic-prost-build does not emit rerun-if-changed itself; without these
    // lines every build would rerun this script.
    println!("cargo:rerun-if-changed=dropbox_connector");
    println!("cargo:rerun-if-changed=google");
    println!("cargo:rerun-if-changed=build.rs");

    let descriptors = protox::compile(PROTOS, ["."])?;
    let out_dir = PathBuf::from(std::env::var("OUT_DIR")?);
    std::fs::write(
        out_dir.join("dropbox_connector_descriptor.bin"),
        prost::Message::encode_to_vec(&descriptors),
    )?;
    tonic_prost_build::configure()
        .build_server(true)
        .build_client(true)
        .compile_fds(descriptors)?;
    Ok(())
}
