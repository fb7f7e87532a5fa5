//! The QR code as an image: SVG and PNG of the URL a permit's QR code carries.
//!
//! This module owns the choice of symbol parameters (error correction level M, a 4-module quiet
//! zone, black on white) and their two renderings. It never fetches anything (no fonts, no
//! external assets: the SVG is self-contained) and never writes files: callers get bytes.
//!
//! The URL should be upper case (`HTTPS://PERMIT.EXAMPLE/Q/ABCDEF…`): the `qrcode` crate picks the
//! densest mode for each segment, and upper-case letters, digits and `$%*+-./:` fit QR
//! alphanumeric mode (5.5 bits a character) instead of byte mode (8 bits).
//!
//! # Cost
//! Encoding dominates, most of it the encoder scoring its eight mask patterns: measured on the
//! 2-core machine (release build, other builds running), a 50-character URL takes about 0.5 ms
//! and the typical 214-character one (version 8) about 1.4 ms; the SVG or PNG adds 0.1–0.4 ms.
//! That is far too slow for the request path, so callers render once per permit version and
//! cache the bytes: the symbol depends only on the URL, which changes only with a new version.
//!
//! # SVG
//! Drawn here from the module matrix rather than by the `qrcode` crate's SVG renderer, which
//! writes one rectangle per dark module at a fixed pixel size: one rectangle per horizontal run
//! of dark modules, in module units, is a third of the size and nests into the certificate
//! (`<svg x y width height viewBox>`) unchanged.
//!
//! # PNG
//! PNGs are written with the `png` crate rather than the `qrcode` crate's `image` feature: `image`
//! brings a generic image model and codec framework we do not need, while `png` is one encoder
//! (plus `flate2`/`fdeflate` for DEFLATE). The image is 1-bit greyscale, so a typical code is a
//! few hundred bytes.

use std::fmt::Write as _;

use qrcode::types::QrError as EncodeError;
use qrcode::{Color, EcLevel, QrCode, Version};

/// Error correction level M: recovers about 15 % of damaged codewords, the usual choice for a
/// code printed on paper behind glass, and smaller than Q or H for the same URL.
pub const ERROR_CORRECTION: EcLevel = EcLevel::M;

/// The light margin on each side, in modules, that ISO/IEC 18004 requires for QR codes.
pub const QUIET_ZONE_MODULES: u32 = 4;

/// The largest PNG module size accepted: a version 40 code (177 modules + quiet zone) at 32 px is
/// 5,920 px square, about 4.4 MB of 1-bit pixels before compression.
pub const MODULE_PX_MAX: u32 = 32;

/// The pixel size of one module in the standalone SVG's `width`/`height` (it scales freely; this
/// only sets the size a viewer shows it at by default).
pub const SVG_MODULE_PX: u32 = 8;

/// Why no image was made.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum QrError {
    /// Longer than a version 40 code holds at level M (2,331 bytes; 3,391 alphanumeric characters).
    #[error("{bytes} bytes do not fit in a QR code at error correction level M")]
    TooLong { bytes: usize },
    /// The module size asked for a PNG is 0 or larger than [`MODULE_PX_MAX`].
    #[error("module size {module_px} px is outside 1..={max}", max = MODULE_PX_MAX)]
    ModuleSize { module_px: u32 },
    /// The encoder refused the data for another reason (not expected for a plain string).
    #[error("QR encoder refused the data: {reason}")]
    Refused { reason: &'static str },
}

/// The symbol for `text`, at [`ERROR_CORRECTION`], in the smallest version that holds it.
pub(crate) struct Symbol {
    version: u8,
    /// Modules per side, without the quiet zone.
    width: usize,
    /// Row-major, `true` for a dark module.
    dark: Vec<bool>,
}

impl Symbol {
    pub(crate) fn encode(text: &str) -> Result<Symbol, QrError> {
        let code = QrCode::with_error_correction_level(text.as_bytes(), ERROR_CORRECTION).map_err(
            |e| match e {
                EncodeError::DataTooLong => QrError::TooLong { bytes: text.len() },
                EncodeError::InvalidVersion => QrError::Refused {
                    reason: "invalid version",
                },
                EncodeError::UnsupportedCharacterSet => QrError::Refused {
                    reason: "unsupported character set",
                },
                EncodeError::InvalidEciDesignator => QrError::Refused {
                    reason: "invalid ECI designator",
                },
                EncodeError::InvalidCharacter => QrError::Refused {
                    reason: "invalid character",
                },
            },
        )?;
        let version = match code.version() {
            // The crate only returns Micro QR versions when asked for them explicitly.
            Version::Normal(v) | Version::Micro(v) => u8::try_from(v).expect("versions are 1..=40"),
        };
        let width = code.width();
        let dark: Vec<bool> = code
            .to_colors()
            .into_iter()
            .map(|c| c == Color::Dark)
            .collect();
        assert_eq!(dark.len(), width * width, "a QR symbol is square");
        Ok(Symbol {
            version,
            width,
            dark,
        })
    }

    /// Modules per side including the quiet zone on both sides.
    pub(crate) fn side_with_quiet_zone(&self) -> usize {
        self.width + 2 * QUIET_ZONE_MODULES as usize
    }

    fn is_dark(&self, x: usize, y: usize) -> bool {
        self.dark[y * self.width + x]
    }

    /// SVG path data drawing every dark module, in module units with the quiet zone as offset:
    /// one rectangle per horizontal run of dark modules (`M x y h n v1 h-n z`), which keeps the
    /// path about a third of one-rectangle-per-module.
    fn path_data(&self) -> String {
        let q = QUIET_ZONE_MODULES as usize;
        let mut d = String::with_capacity(self.width * self.width);
        for y in 0..self.width {
            let mut x = 0;
            while x < self.width {
                if !self.is_dark(x, y) {
                    x += 1;
                    continue;
                }
                let start = x;
                while x < self.width && self.is_dark(x, y) {
                    x += 1;
                }
                let run = x - start;
                write!(d, "M{} {}h{run}v1h-{run}z", start + q, y + q).expect("String grows");
            }
        }
        d
    }

    /// The symbol as an SVG element: a white square and one black path, in module units
    /// (`viewBox="0 0 N N"`, N including the quiet zone), with `shape-rendering="crispEdges"` so
    /// that renderers do not anti-alias module edges into grey seams. `placement` is the text of
    /// the sizing attributes (`width="…" height="…"`, plus `x`/`y` when nested).
    pub(crate) fn svg_element(&self, placement: &str) -> String {
        let n = self.side_with_quiet_zone();
        let d = self.path_data();
        let mut svg = String::with_capacity(d.len() + 256);
        write!(
            svg,
            concat!(
                r#"<svg xmlns="http://www.w3.org/2000/svg" version="1.1" {placement}"#,
                r#" viewBox="0 0 {n} {n}" shape-rendering="crispEdges">"#,
                r##"<rect width="{n}" height="{n}" fill="#fff"/>"##,
                r##"<path fill="#000" d="{d}"/></svg>"##,
            ),
            placement = placement,
            n = n,
            d = d,
        )
        .expect("String grows");
        svg
    }
}

/// `text` as a standalone SVG document: black modules on white with a 4-module quiet zone, level
/// M, crisp edges, no external references. Its default size is [`SVG_MODULE_PX`] px a module.
///
/// # Errors
/// [`QrError::TooLong`] when `text` does not fit in a version 40 code at level M.
pub fn qr_svg(text: &str) -> Result<String, QrError> {
    let symbol = Symbol::encode(text)?;
    let px = symbol.side_with_quiet_zone() as u32 * SVG_MODULE_PX;
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    out.push_str(&symbol.svg_element(&format!(r#"width="{px}" height="{px}""#)));
    out.push('\n');
    Ok(out)
}

/// `text` as a 1-bit greyscale PNG, `module_px` pixels a module, quiet zone included: the image
/// is `(modules + 8) × module_px` pixels square.
///
/// # Errors
/// [`QrError::TooLong`] as for [`qr_svg`]; [`QrError::ModuleSize`] when `module_px` is 0 or above
/// [`MODULE_PX_MAX`].
pub fn qr_png(text: &str, module_px: u32) -> Result<Vec<u8>, QrError> {
    if module_px == 0 || module_px > MODULE_PX_MAX {
        return Err(QrError::ModuleSize { module_px });
    }
    let symbol = Symbol::encode(text)?;
    let side_px = symbol.side_with_quiet_zone() as u32 * module_px;
    let row_bytes = side_px.div_ceil(8) as usize;
    let q = QUIET_ZONE_MODULES as usize;
    let px = module_px as usize;

    // In 1-bit greyscale a set bit is white: start all white, clear the dark modules' bits.
    let mut pixels = vec![0xFFu8; row_bytes * side_px as usize];
    let mut row = vec![0xFFu8; row_bytes];
    for y in 0..symbol.width {
        row.fill(0xFF);
        for x in (0..symbol.width).filter(|&x| symbol.is_dark(x, y)) {
            for bit in (x + q) * px..(x + q + 1) * px {
                row[bit / 8] &= !(0x80 >> (bit % 8));
            }
        }
        let first_line = (y + q) * px;
        for line in first_line..first_line + px {
            pixels[line * row_bytes..(line + 1) * row_bytes].copy_from_slice(&row);
        }
    }

    let mut out = Vec::with_capacity(pixels.len() / 8 + 128);
    let mut encoder = png::Encoder::new(&mut out, side_px, side_px);
    encoder.set_color(png::ColorType::Grayscale);
    encoder.set_depth(png::BitDepth::One);
    // Writing into a Vec with valid, non-zero dimensions cannot fail: a failure here is a bug.
    let mut writer = encoder
        .write_header()
        .expect("PNG header into a Vec with valid dimensions");
    writer
        .write_image_data(&pixels)
        .expect("PNG data of the announced size into a Vec");
    writer.finish().expect("PNG end into a Vec");
    Ok(out)
}

/// The version (1–40) and the modules per side (without quiet zone) of `text`'s code at level
/// M: for notes and capacity checks.
///
/// # Errors
/// [`QrError::TooLong`] as for [`qr_svg`].
pub fn qr_info(text: &str) -> Result<(u8, u32), QrError> {
    let symbol = Symbol::encode(text)?;
    Ok((symbol.version, symbol.width as u32))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A URL like the ones permits carry: `HTTPS://PERMIT.FANGSHAN.EXAMPLE/Q/` + 180 base32.
    fn typical_url() -> String {
        let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
        let payload: String = (0..180)
            .map(|i| alphabet[(i * 7 + 3) % 32] as char)
            .collect();
        format!("HTTPS://PERMIT.FANGSHAN.EXAMPLE/Q/{payload}")
    }

    /// Reads the run-length path back into modules: proves the path draws exactly the dark
    /// modules, offset by the quiet zone.
    #[test]
    fn svg_path_draws_exactly_the_dark_modules() {
        let symbol = Symbol::encode(&typical_url()).unwrap();
        let n = symbol.side_with_quiet_zone();
        let mut drawn = vec![false; n * n];
        for rect in symbol.path_data().split('z').filter(|r| !r.is_empty()) {
            let rest = rect.strip_prefix('M').unwrap();
            let (x, rest) = rest.split_once(' ').unwrap();
            let (y, rest) = rest.split_once('h').unwrap();
            let (run, _) = rest.split_once('v').unwrap();
            let (x, y, run): (usize, usize, usize) =
                (x.parse().unwrap(), y.parse().unwrap(), run.parse().unwrap());
            for cell in &mut drawn[y * n + x..y * n + x + run] {
                assert!(!*cell, "no module is drawn twice");
                *cell = true;
            }
        }
        let q = QUIET_ZONE_MODULES as usize;
        for y in 0..n {
            for x in 0..n {
                let inside =
                    (q..q + symbol.width).contains(&x) && (q..q + symbol.width).contains(&y);
                let expected = inside && symbol.is_dark(x - q, y - q);
                assert_eq!(drawn[y * n + x], expected, "module ({x}, {y})");
            }
        }
    }

    /// Upper-case URLs use alphanumeric mode: the typical 214-character URL fits version 8.
    #[test]
    fn typical_url_is_version_8_at_level_m() {
        let url = typical_url();
        assert_eq!(url.len(), 214);
        assert_eq!(qr_info(&url).unwrap(), (8, 49));
        // The same URL in lower case needs byte mode and a bigger symbol.
        let (lower_version, _) = qr_info(&url.to_lowercase()).unwrap();
        assert!(lower_version > 8, "byte mode: version {lower_version}");
    }

    /// The SVG is crisp, black on white, and references nothing outside itself.
    #[test]
    fn svg_is_self_contained_and_crisp() {
        let svg = qr_svg("HTTPS://PERMIT.EXAMPLE/Q/ABC").unwrap();
        assert!(svg.starts_with("<?xml"));
        assert!(svg.contains(r#"shape-rendering="crispEdges""#));
        assert!(svg.contains(r##"fill="#000""##) && svg.contains(r##"fill="#fff""##));
        assert!(!svg.contains("href"), "no links to external assets");
        let (_, modules) = qr_info("HTTPS://PERMIT.EXAMPLE/Q/ABC").unwrap();
        let n = modules + 2 * QUIET_ZONE_MODULES;
        assert!(svg.contains(&format!(r#"viewBox="0 0 {n} {n}""#)));
    }

    /// Module sizes outside 1..=MODULE_PX_MAX and over-long text are refused, not panics.
    #[test]
    fn refuses_bad_module_size_and_too_long_text() {
        assert_eq!(
            qr_png("A", 0).unwrap_err(),
            QrError::ModuleSize { module_px: 0 }
        );
        assert_eq!(
            qr_png("A", MODULE_PX_MAX + 1).unwrap_err(),
            QrError::ModuleSize {
                module_px: MODULE_PX_MAX + 1
            }
        );
        let long = "a".repeat(3000);
        assert_eq!(qr_svg(&long).unwrap_err(), QrError::TooLong { bytes: 3000 });
    }
}
