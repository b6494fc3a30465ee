//! gRPC service implementations, one module per `credit.v1` service.

mod identifier;

pub use identifier::IdentifierApi;
