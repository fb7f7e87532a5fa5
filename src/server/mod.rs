//! The resolver's HTTP interface, on hyper 1.x and tokio.
//!
//! - [`router`]: which route a request path names; the route table the OpenAPI test checks.
//! - [`resolver`]: the state a request reads (verified snapshot, catalogue) and
//!   [`resolver::Resolver::respond`], one request in, one response out, with no socket.
//! - [`negotiate`]: whether a client prefers HTML or JSON.
//! - [`metrics`]: per-thread counters and the `/metrics` exposition.
//! - [`listener`]: accepting connections under limits, and graceful shutdown.
//!
//! The request path does no file I/O and takes no lock: the snapshot is read in place through
//! the map, the catalogue answers are rendered once at start.

pub mod follow;
pub mod listener;
pub mod metrics;
pub mod negotiate;
pub mod overlay;
pub mod resolver;
pub mod router;

pub use listener::{serve, ServeOptions};
pub use resolver::Resolver;
