//! The gRPC service over `credit-core`. The binary (`src/main.rs`) is a thin shell over [`serve`] so
//! integration tests start the very same server on `127.0.0.1:0`.

pub mod services;

use std::future::Future;
use std::net::SocketAddr;

use credit_proto::v1::identifier_service_server::IdentifierServiceServer;
use tokio::net::TcpListener;
use tonic::transport::server::TcpIncoming;

/// Errors that stop the server from starting or running.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("binding {addr}: {source}")]
    Bind { addr: SocketAddr, source: std::io::Error },
    #[error("building the reflection service: {0}")]
    Reflection(#[from] tonic_reflection::server::Error),
    #[error("serving: {0}")]
    Transport(#[from] tonic::transport::Error),
}

/// Binds `addr` and returns the bound address with a future that serves until `shutdown` resolves.
pub async fn serve(
    addr: SocketAddr,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(SocketAddr, impl Future<Output = Result<(), ServeError>>), ServeError> {
    let listener = TcpListener::bind(addr).await.map_err(|source| ServeError::Bind { addr, source })?;
    let local = listener.local_addr().map_err(|source| ServeError::Bind { addr, source })?;

    let (health_reporter, health_service) = tonic_health::server::health_reporter();
    health_reporter.set_serving::<IdentifierServiceServer<services::IdentifierApi>>().await;
    let reflection_v1 = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(credit_proto::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        .build_v1()?;
    let reflection_v1alpha = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(credit_proto::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        .build_v1alpha()?;

    let router = tonic::transport::Server::builder()
        .add_service(health_service)
        .add_service(reflection_v1)
        .add_service(reflection_v1alpha)
        .add_service(IdentifierServiceServer::new(services::IdentifierApi));
    let incoming = TcpIncoming::from(listener);
    let fut = async move {
        router.serve_with_incoming_shutdown(incoming, shutdown).await?;
        Ok(())
    };
    Ok((local, fut))
}
