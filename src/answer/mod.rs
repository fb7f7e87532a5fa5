//! The answer documents: what a permit looks like to a reader, as JSON ([`json`]) and as the
//! citizen page ([`html`]), both rendered from one [`json::PermitView`].
//!
//! `permitd snapshot build` renders every permit's current JSON answer once and stores it in the
//! snapshot; the resolver serves those bytes as they are while they stay true, and renders here
//! only what was not pre-rendered (older versions, the HTML page, a state past its valid-through
//! date). No I/O.

pub mod html;
pub mod json;
pub mod library;

pub use json::{answer_valid_through, PermitView};
