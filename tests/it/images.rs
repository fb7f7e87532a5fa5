//! The QR code images and the certificate face: a real decoder (zbarimg) reads the PNG back, and
//! the certificate SVG is well-formed XML at A3 size showing every face field and the QR code.
//!
//! Needs the Debian packages `zbar-tools` (`zbarimg`) and `librsvg2-bin` (`rsvg-convert`, to
//! rasterise the certificate); without them these tests fail, they do not skip.

use std::path::Path;
use std::process::Command;

use data_encoding::BASE32_NOPAD;
use permitd::catalog::Catalog;
use permitd::domain::{LicenceState, Permit};
use permitd::render::{certificate_svg, qr_info, qr_png, qr_svg};

use crate::support::generated_permits;

/// `HTTPS://PERMIT.FANGSHAN.EXAMPLE/Q/` and 180 base32 characters (112 bytes): the size of a
/// signed payload (number, version, key id, ed25519 signature).
fn typical_url() -> String {
    let bytes: Vec<u8> = (0..112u32).map(|i| (i * 37 + 11) as u8).collect();
    let payload = BASE32_NOPAD.encode(&bytes);
    assert_eq!(payload.len(), 180);
    format!("HTTPS://PERMIT.FANGSHAN.EXAMPLE/Q/{payload}")
}

const SHORT_URL: &str = "HTTPS://PERMIT.FANGSHAN.EXAMPLE/Q/MFRGGZDFMZTWQ2LK";

/// What zbarimg reads from the PNG file at `path` (`--raw -q`: the data alone, one line a code).
fn zbarimg(path: &Path) -> String {
    let output = match Command::new("zbarimg")
        .arg("--raw")
        .arg("-q")
        .arg(path)
        .output()
    {
        Ok(output) => output,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => panic!(
            "zbarimg is not installed: these tests need a real QR decoder; \
             run `apt-get install zbar-tools`"
        ),
        Err(e) => panic!("zbarimg could not be run: {e}"),
    };
    assert!(
        output.status.success(),
        "zbarimg found no code in {}: {:?}, stderr {}",
        path.display(),
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    let text = String::from_utf8(output.stdout).expect("zbarimg prints the URL as UTF-8");
    text.strip_suffix('\n').unwrap_or(&text).to_owned()
}

/// Writes `qr_png(url, module_px)` to a temporary file and decodes it with zbarimg.
fn decode_png(url: &str, module_px: u32) -> String {
    let png = qr_png(url, module_px).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("qr.png");
    std::fs::write(&path, &png).unwrap();
    zbarimg(&path)
}

/// A real decoder reads the typical ~214-character URL back exactly, at 4 and 2 px a module.
#[test]
fn zbarimg_decodes_typical_url_from_png() {
    let url = typical_url();
    assert_eq!(decode_png(&url, 4), url);
    assert_eq!(decode_png(&url, 2), url);
}

/// A real decoder reads a short URL back exactly.
#[test]
fn zbarimg_decodes_short_url_from_png() {
    assert_eq!(decode_png(SHORT_URL, 4), SHORT_URL);
}

/// The PNG starts with the PNG signature and its IHDR says (modules + 8 quiet) × module_px
/// square, 1-bit greyscale.
#[test]
fn png_has_signature_and_sane_dimensions() {
    let url = typical_url();
    let (version, modules) = qr_info(&url).unwrap();
    assert_eq!(
        (version, modules),
        (8, 49),
        "alphanumeric mode keeps it at version 8"
    );
    for module_px in [1, 4, 10] {
        let png = qr_png(&url, module_px).unwrap();
        assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
        assert_eq!(&png[12..16], b"IHDR");
        let width = u32::from_be_bytes(png[16..20].try_into().unwrap());
        let height = u32::from_be_bytes(png[20..24].try_into().unwrap());
        assert_eq!(
            (width, height),
            ((modules + 8) * module_px, (modules + 8) * module_px)
        );
        assert_eq!((png[24], png[25]), (1, 0), "bit depth 1, greyscale");
        assert!(png.len() < 4096, "{} bytes at {module_px} px", png.len());
    }
}

/// A generated permit with one item turned into an unpermitted item and markup in its names.
fn sample_permit() -> (Permit, Catalog) {
    let catalog = Catalog::embedded().unwrap();
    let (permits, _) = generated_permits(40, 11);
    let mut permit = permits
        .into_iter()
        .find(|p| p.licences.len() >= 3)
        .expect("a generated permit with three licences");
    permit.operator_name = "北京<房山>&\"一业一证\"餐饮有限公司".to_owned();
    permit.legal_representative = "张'三'".to_owned();
    let last = permit.licences.last_mut().unwrap();
    last.state = LicenceState::NotGranted;
    last.certificate_number = None;
    (permit, catalog)
}

/// The text of the element with `id` and everything inside it.
fn text_of(doc: &roxmltree::Document, id: &str) -> String {
    let node = doc
        .descendants()
        .find(|n| n.attribute("id") == Some(id))
        .unwrap_or_else(|| panic!("no element with id {id}"));
    node.descendants()
        .filter(|n| n.is_text())
        .filter_map(|n| n.text())
        .collect()
}

fn licence_name(catalog: &Catalog, permit: &Permit, index: usize) -> String {
    let id = permit.licences[index].licence_type;
    format!("《{}》", catalog.licence_type(id).unwrap().name)
}

/// The certificate is well-formed XML, A3 landscape in mm, and shows the number, the face
/// fields, each licensed item, the unpermitted item and an inline QR code.
#[test]
fn certificate_svg_is_a3_and_shows_every_face_field() {
    let (permit, catalog) = sample_permit();
    let url = typical_url();
    let svg = certificate_svg(&permit, &catalog, &url);
    let doc = roxmltree::Document::parse(&svg).expect("the certificate is well-formed XML");
    let root = doc.root_element();
    assert_eq!(root.tag_name().name(), "svg");
    assert_eq!(root.attribute("width"), Some("420mm"));
    assert_eq!(root.attribute("height"), Some("297mm"));
    assert_eq!(root.attribute("viewBox"), Some("0 0 420 297"));

    assert_eq!(text_of(&doc, "title"), "综合许可凭证");
    assert_eq!(
        text_of(&doc, "number"),
        format!("编号：{}", permit.number.as_str())
    );
    assert_eq!(text_of(&doc, "operator-name"), permit.operator_name);
    assert_eq!(text_of(&doc, "uscc"), permit.uscc.as_str());
    assert_eq!(
        text_of(&doc, "legal-representative"),
        permit.legal_representative
    );
    assert_eq!(text_of(&doc, "premises"), permit.premises);
    assert!(text_of(&doc, "issuing-authority").ends_with(&permit.issuing_authority));
    let (y, m, d) = permit.issued_on.ymd();
    assert_eq!(
        text_of(&doc, "issued-on"),
        format!("制证日期：{y}年{m}月{d}日")
    );

    let items = doc
        .descendants()
        .find(|n| n.attribute("id") == Some("items"))
        .unwrap();
    let class_text = |class: &str| -> String {
        items
            .descendants()
            .filter(|n| n.attribute("class") == Some(class))
            .flat_map(|n| n.descendants().filter_map(|t| t.text()))
            .collect()
    };
    let licensed = class_text("licensed");
    let unpermitted = class_text("unpermitted");
    assert!(unpermitted.starts_with("未许可事项："), "{unpermitted}");
    for (index, licence) in permit.licences.iter().enumerate() {
        let name = licence_name(&catalog, &permit, index);
        if licence.state == LicenceState::NotGranted {
            assert!(unpermitted.contains(&name), "{name} in {unpermitted}");
            assert!(!licensed.contains(&name), "{name} not in {licensed}");
        } else {
            assert!(licensed.contains(&name), "{name} in {licensed}");
        }
    }

    // The QR code is inline SVG, the same symbol as the standalone one, with no image link.
    let qr = doc
        .descendants()
        .find(|n| n.attribute("id") == Some("qr"))
        .expect("an inline QR code");
    assert_eq!(qr.tag_name().name(), "svg");
    assert_eq!(qr.attribute("shape-rendering"), Some("crispEdges"));
    let standalone = qr_svg(&url).unwrap();
    let standalone = roxmltree::Document::parse(&standalone).unwrap();
    let path_d = |node: roxmltree::Node| {
        node.descendants()
            .find(|n| n.tag_name().name() == "path")
            .and_then(|n| n.attribute("d"))
            .map(str::to_owned)
    };
    assert_eq!(path_d(qr), path_d(standalone.root_element()));
    assert!(
        !svg.contains("<image") && !svg.contains("href"),
        "no linked assets"
    );
}

/// The QR code on the certificate face scans: the SVG rasterised at 150 dpi (as printed and
/// photographed) decodes to the URL.
#[test]
fn certificate_qr_scans_when_rasterised() {
    let (permit, catalog) = sample_permit();
    let url = typical_url();
    let svg = certificate_svg(&permit, &catalog, &url);
    let dir = tempfile::tempdir().unwrap();
    let svg_path = dir.path().join("certificate.svg");
    let png_path = dir.path().join("certificate.png");
    std::fs::write(&svg_path, svg).unwrap();
    // 420 mm at 150 dpi: 2480 px, so a 0.75 mm module is about 4.4 px.
    let status = match Command::new("rsvg-convert")
        .arg("--width=2480")
        .arg("--output")
        .arg(&png_path)
        .arg(&svg_path)
        .status()
    {
        Ok(status) => status,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => panic!(
            "rsvg-convert is not installed: this test rasterises the certificate; \
             run `apt-get install librsvg2-bin`"
        ),
        Err(e) => panic!("rsvg-convert could not be run: {e}"),
    };
    assert!(status.success(), "rsvg-convert failed: {status:?}");
    assert_eq!(zbarimg(&png_path), url);
}

/// `<`, `&`, `>`, `"` and `'` in face text are escaped in the markup.
#[test]
fn certificate_svg_escapes_markup_in_text() {
    let (permit, catalog) = sample_permit();
    let svg = certificate_svg(&permit, &catalog, SHORT_URL);
    assert!(
        svg.contains("北京&lt;房山&gt;&amp;&quot;一业一证&quot;餐饮有限公司"),
        "escaped"
    );
    assert!(svg.contains("张&apos;三&apos;"));
    assert!(!svg.contains("<房山>"));
}

/// A premises value far longer than the row wraps onto at most 3 lines inside its 14 mm row
/// and keeps every character; none is squeezed wider than the 228 mm value box.
#[test]
fn certificate_svg_wraps_long_premises_inside_its_row() {
    let (mut permit, catalog) = sample_permit();
    permit.premises = "北京市房山区长阳镇昊天北大街".repeat(6) + "1号院2号楼3层301室";
    let svg = certificate_svg(&permit, &catalog, SHORT_URL);
    let doc = roxmltree::Document::parse(&svg).unwrap();
    assert_eq!(text_of(&doc, "premises"), permit.premises);
    let premises = doc
        .descendants()
        .find(|n| n.attribute("id") == Some("premises"))
        .unwrap();
    let lines: Vec<_> = premises.children().filter(|n| n.is_element()).collect();
    assert!((2..=3).contains(&lines.len()), "{} lines", lines.len());
    for line in lines {
        let y: f64 = line.attribute("y").unwrap().parse().unwrap();
        assert!(
            (173.0..187.0).contains(&y),
            "baseline {y} inside the row 173–187 mm"
        );
        if let Some(length) = line.attribute("textLength") {
            assert!(length.parse::<f64>().unwrap() <= 228.0);
        }
    }
}
