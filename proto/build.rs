//! Compiles the `.proto` files with protox (pure Rust, no `protoc`) and generates tonic code,
//! plus an encoded descriptor set for gRPC server reflection.

use prost::Message as _;

const PROTOS: &[&str] = &[
    "vidkryto/node/v1/node.proto",
    "vidkryto/node/v1/log.proto",
    "vidkryto/national/v1/national.proto",
    "vidkryto/federation/v1/federation.proto",
    "vidkryto/audit/v1/audit.proto",
];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    println!("cargo:rerun-if-changed=vidkryto");
    let fds = protox::compile(PROTOS, ["."])?;
    let out = std::path::PathBuf::from(std::env::var("OUT_DIR")?);
    std::fs::write(out.join("vidkryto_descriptor.bin"), fds.encode_to_vec())?;
    tonic_prost_build::configure()
        .build_client(true)
        .build_server(true)
        .compile_fds(fds)?;
    Ok(())
}
