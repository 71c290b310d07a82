//! vidkryto's gRPC contracts, generated from `proto/vidkryto/**/v1/*.proto`. Services convert
//! these messages into domain types at their boundary; nothing else imports them.
#![allow(missing_debug_implementations, clippy::all)]

/// `vidkryto.node.v1`: the municipality node's command, query and log-access API.
pub mod node {
    pub mod v1 {
        tonic::include_proto!("vidkryto.node.v1");
    }
}

/// `vidkryto.national.v1`: the association's national projections.
pub mod national {
    pub mod v1 {
        tonic::include_proto!("vidkryto.national.v1");
    }
}

/// `vidkryto.federation.v1`: federation health, quarantine, forks and enrolment.
pub mod federation {
    pub mod v1 {
        tonic::include_proto!("vidkryto.federation.v1");
    }
}

/// `vidkryto.audit.v1`: verified logs, cosigned checkpoints, proofs and the projection digest.
pub mod audit {
    pub mod v1 {
        tonic::include_proto!("vidkryto.audit.v1");
    }
}

/// The encoded descriptor set of every package, for gRPC server reflection.
pub const FILE_DESCRIPTOR_SET: &[u8] = tonic::include_file_descriptor_set!("vidkryto_descriptor");
