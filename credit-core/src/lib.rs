//! The library behind the unified credit and identity information service.
//!
//! Approval systems embed this crate directly; `credit-server` puts it behind gRPC. Everything that
//! decides whether an identifier, a record or a rule is valid lives here, once.

pub mod actor;
pub mod audit;
pub mod cancel;
pub mod cases;
pub mod checks;
pub mod command;
pub mod disclosure;
pub mod engine;
pub mod evaluation;
pub mod feed;
pub mod import;
pub mod model;
pub mod platform;
pub mod privacy;
pub mod report;
pub mod rules;
pub mod search;
pub mod store;
pub mod view;

pub use actor::{Actor, Role};
pub use credit_ident as ident;
pub use credit_ident::{division, time};
pub use division::{Division, DivisionLevel, DivisionTable};
pub use ident::{IdError, IdWarning, Identifier, IdentifierKind, Recognition};
pub use platform::{Platform, PlatformError, SubjectQuery};

#[cfg(test)]
pub(crate) mod test_support;
