//! The `credit.v1` API, generated from `proto/credit/v1/*.proto`: the contract every client relies on.

/// Messages, clients and servers of package `credit.v1`.
// Generated code: its shapes follow the proto, not our lints.
#[allow(clippy::large_enum_variant)]
pub mod v1 {
    tonic::include_proto!("credit.v1");
}

/// The encoded `FileDescriptorSet` of every `credit.v1` file, for the reflection service.
pub const FILE_DESCRIPTOR_SET: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/credit_descriptor.bin"));
