//! vidkryto's gRPC contracts, generated from `proto/vidkryto/**/v1/*.proto`. Services convert
//! these messages into domain types at their boundary; nothing else imports them.
#![allow(missing_debug_implementations, clippy::all)]

/// `vidkryto.node.v1`: the municipality node's command, query and log-access API.
pub mod node {
    pub mod v1 {
        tonic::include_proto!("vidkryto.node.v1");
    }
}

/// The encoded descriptor set of every package, for gRPC server reflection.
pub const FILE_DESCRIPTOR_SET: &[u8] = tonic::include_file_descriptor_set!("vidkryto_descriptor");
