//! Images of a permit: its QR code as SVG and PNG, and its certificate face (附件3) as SVG.
//!
//! Pure functions from data to bytes: no I/O, no clock, no fonts loaded (the certificate names
//! font families and leaves the glyphs to whoever renders the SVG). Rendering costs far more
//! than a lookup, so callers render once per permit version and cache the result; nothing here
//! belongs on the per-request path.
//!
//! - [`qr_image`]: the QR code of a URL as SVG or 1-bit PNG, level M, 4-module quiet zone.
//! - [`certificate`]: the certificate face, A3 landscape, each field where 附件3 §2.3 puts it.

pub mod certificate;
pub mod qr_image;

pub use certificate::certificate_svg;
pub use qr_image::{qr_info, qr_png, qr_svg, QrError};
