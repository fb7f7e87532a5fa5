//! The certificate face (综合许可凭证证面) as SVG, laid out per 附件3 of the source document.
//!
//! This module owns the page geometry: where each field sits and at what size, and the rule that
//! keeps a long value inside its box. It never loads fonts or measures glyphs (it estimates
//! advances, see [`advance_em`]) and never reads anything but its arguments.
//!
//! # What 附件3 fixes, and what it leaves open
//! §1: the paper is 297 mm high × 420 mm wide (A3 landscape); the SVG's user unit is the mm.
//! §2.3 gives each printed line's distance from the top (距上纸边) or bottom (距下纸边) paper edge
//! and its size in points (磅; 1 pt = 0.3528 mm), all in 汉仪中黑简体:
//!
//! | field (§)                        | distance            | size  | em box (mm from top) |
//! |----------------------------------|---------------------|-------|----------------------|
//! | 综合许可凭证编号 (2.3.1)          | 76 from top         | 17 pt | 76.00 – 82.00        |
//! | 经营者名称 (2.3.2)                | 125 from top        | 22 pt | 125.00 – 132.76      |
//! | 统一社会信用代码 (2.3.2)          | 141 from top        | 22 pt | 141.00 – 148.76      |
//! | 法定代表人（负责人） (2.3.2)      | 157 from top        | 22 pt | 157.00 – 164.76      |
//! | 经营场所 (2.3.2)                  | 173 from top        | 22 pt | 173.00 – 180.76      |
//! | 许可项目 (2.3.2)                  | 189 top, 100 bottom | 22 pt | 189.00 – 196.76      |
//! | 发证机关 (2.3.3)                  | 65 from bottom      | 16 pt | 226.36 – 232.00      |
//! | 制证日期 (2.3.3)                  | 51.5 from bottom    | 16 pt | 239.86 – 245.50      |
//!
//! A distance is read as the distance to the near edge of the line's em box: for 许可项目 both
//! are given and agree with that reading (189 + 7.76 + 100.24 = 297, the 0.24 mm being rounding),
//! which also means the document fixes only the first line of 许可项目; the items it lists flow
//! below it, down to [`ITEMS_BOTTOM_MM`], 3 mm above 发证机关. The baseline of a line is then
//! [`ASCENT_EM`] below its em box's top (the ideographic em box of CJK fonts: 0.88 em above the
//! baseline, 0.12 em below).
//!
//! The document gives no horizontal positions, no position or size for the title "综合许可凭证"
//! (only that it is hot-stamped gold, §3) and says nothing of a QR code. Chosen here: labels
//! start 60 mm from the left edge, values 142 mm from it (past the longest label, 10 em at
//! 22 pt) and end 50 mm from the right edge; the title is centred, 54 pt, 38 mm from the top; the
//! QR code is 44 mm square in the top right corner (x 326–370 mm, y 22–66 mm), where the 2019
//! business licence (营业执照) has its code, clear of every field the document places and of
//! the bottom-left corner, which §5.3 reserves for the fluorescent "监制" mark; 发证机关 and
//! 制证日期 start at 250 mm, bottom right, where the seal goes. The border of §2.1/§5.1 is drawn
//! as a plain double rule; the relief background (§2.2) and the UV-ink mark (§5.3) are properties
//! of the blank paper and are not drawn.
//!
//! # Fonts
//! 附件3 prints every field in 汉仪中黑简体 (HYZhongHeiJ), a 黑体 (sans-serif) face, so the family
//! list names it first and falls back to common CJK sans-serif faces: see [`FONT_FAMILY`].
//!
//! # Long values: the fit rule
//! Advances are estimated, not measured: 1 em for CJK and other wide characters, 0.6 em for the
//! rest (generous for Latin letters and digits, which CJK fonts set at about 0.5 em). A value is
//! set at the document's size when it fits the box on one line. Otherwise the size steps down by
//! 0.5 pt: a one-line field (operator name, credit code, legal representative, premises) first
//! stays on one line down to 16 pt, then may wrap onto up to 3 lines within its row's 14 mm (the
//! rows are 16 mm apart; 2 mm stay clear); 许可项目 wraps at once, item by item, within its box;
//! 发证机关 and 制证日期 stay on one line. Nothing goes below 8 pt: a value that does not fit
//! even then (about 170 CJK characters in a row, far beyond real names and addresses) is cut and
//! ends in "…". Each line whose estimate passes 90 % of the box width carries `textLength` with
//! `lengthAdjust="spacingAndGlyphs"`, so a font wider than the estimate is squeezed to the box
//! rather than overflowing it.

use std::fmt::Write as _;

use crate::catalog::Catalog;
use crate::domain::{LicenceState, Permit};
use crate::render::qr_image::Symbol;

/// The paper (§1): 420 mm wide, 297 mm high.
pub const PAPER_WIDTH_MM: f64 = 420.0;
pub const PAPER_HEIGHT_MM: f64 = 297.0;

/// One typographic point (磅) in millimetres.
pub const MM_PER_PT: f64 = 0.3528;

/// The document's face font, 汉仪中黑简体, under the names systems install it as, then CJK
/// sans-serif fallbacks (the document's face is a 黑体, so no 宋体/serif fallback).
pub const FONT_FAMILY: &str = "'HYZhongHeiJ','汉仪中黑简','汉仪中黑简体','Noto Sans CJK SC',\
'Source Han Sans SC','WenQuanYi Micro Hei','SimHei','Microsoft YaHei',sans-serif";

/// Baseline below the em box's top, and em box bottom below the baseline, in em.
pub const ASCENT_EM: f64 = 0.88;
pub const DESCENT_EM: f64 = 0.12;

/// Distance between the baselines of wrapped lines, in em.
const LINE_PITCH_EM: f64 = 1.2;
/// No text is set smaller than this.
const SIZE_MIN_PT: f64 = 8.0;
const SIZE_STEP_PT: f64 = 0.5;
/// A line whose estimate passes this share of its box gets `textLength` (see the fit rule).
const TEXT_LENGTH_FROM_SHARE: f64 = 0.9;

// §2.3.1
const NUMBER_TOP_MM: f64 = 76.0;
const NUMBER_PT: f64 = 17.0;
// §2.3.2
const FACE_PT: f64 = 22.0;
const OPERATOR_TOP_MM: f64 = 125.0;
const USCC_TOP_MM: f64 = 141.0;
const LEGAL_REPRESENTATIVE_TOP_MM: f64 = 157.0;
const PREMISES_TOP_MM: f64 = 173.0;
const ITEMS_TOP_MM: f64 = 189.0;
/// §2.3.2 also puts 许可项目 100 mm above the bottom edge: the same first line (see module doc).
pub const ITEMS_FROM_BOTTOM_MM: f64 = 100.0;
// §2.3.3
const AUTHORITY_PT: f64 = 16.0;
const AUTHORITY_FROM_BOTTOM_MM: f64 = 65.0;
const DATE_FROM_BOTTOM_MM: f64 = 51.5;

/// The rows of §2.3.2 are 16 mm apart; a wrapped value keeps 2 mm clear of the next row.
const ROW_HEIGHT_MM: f64 = 14.0;
/// A one-line field stays on one line down to this size before it wraps.
const ROW_ONE_LINE_DOWN_TO_PT: f64 = 16.0;
const ROW_LINES_MAX: usize = 3;
/// The items box ends 3 mm above 发证机关's em box (226.36 mm from the top).
pub const ITEMS_BOTTOM_MM: f64 =
    PAPER_HEIGHT_MM - AUTHORITY_FROM_BOTTOM_MM - AUTHORITY_PT * MM_PER_PT - 3.0;

// The items box holds at least three lines at the document's size, and a wrapped row (2 lines at
// the size it may wrap at) fits its height.
const _: () =
    assert!(ITEMS_BOTTOM_MM - ITEMS_TOP_MM >= FACE_PT * MM_PER_PT * (1.0 + 2.0 * LINE_PITCH_EM));
const _: () = assert!(ROW_ONE_LINE_DOWN_TO_PT * MM_PER_PT * (1.0 + LINE_PITCH_EM) <= ROW_HEIGHT_MM);

// Horizontal layout and the parts the document does not place (see module doc).
const LABEL_X_MM: f64 = 60.0;
const VALUE_X_MM: f64 = 142.0;
const VALUE_RIGHT_MM: f64 = 370.0;
const AUTHORITY_X_MM: f64 = 250.0;
const TITLE: &str = "综合许可凭证";
const TITLE_TOP_MM: f64 = 38.0;
const TITLE_PT: f64 = 54.0;
const TITLE_WIDTH_MM: f64 = 150.0;
/// 大赤金 (§3), a pale, bright gold.
const TITLE_FILL: &str = "#C9A23F";
const BORDER_STROKE: &str = "#A8843A";
const QR_X_MM: f64 = 326.0;
const QR_Y_MM: f64 = 22.0;
const QR_SIZE_MM: f64 = 44.0;
const QR_CAPTION: &str = "扫码查验单项审批证件";
const QR_CAPTION_PT: f64 = 9.0;

const LABEL_OPERATOR: &str = "经营者名称";
const LABEL_USCC: &str = "统一社会信用代码";
const LABEL_LEGAL_REPRESENTATIVE: &str = "法定代表人（负责人）";
const LABEL_PREMISES: &str = "经营场所";
const LABEL_ITEMS: &str = "许可项目";
const LABEL_UNPERMITTED: &str = "未许可事项：";

/// The certificate face of `permit` as a standalone SVG document, A3 landscape in mm
/// (`width="420mm" height="297mm" viewBox="0 0 420 297"`), with the QR code of `qr_url` inline.
///
/// Licences in state `not_granted` are listed under 许可项目 after "未许可事项："; the others,
/// whatever their state now, are the licensed items printed when this version was issued. All
/// text is XML-escaped. When `qr_url` is too long for a QR code (more than 2,331 bytes; real
/// URLs are about 200) the QR area shows a framed notice instead: the face is still printable.
///
/// Costs about one QR encoding (1.5 ms for a typical URL, see [`crate::render::qr_image`]):
/// render once per permit version and cache.
pub fn certificate_svg(permit: &Permit, catalog: &Catalog, qr_url: &str) -> String {
    let mut svg = String::with_capacity(16 * 1024);
    let number = permit.number.as_str();
    write!(
        svg,
        concat!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n",
            r#"<svg xmlns="http://www.w3.org/2000/svg" version="1.1" width="{w}mm" height="{h}mm""#,
            r#" viewBox="0 0 {w} {h}">"#,
            "\n<title>",
        ),
        w = PAPER_WIDTH_MM,
        h = PAPER_HEIGHT_MM,
    )
    .expect("String grows");
    push_escaped(&mut svg, &format!("{TITLE} {number}"));
    svg.push_str("</title>\n");
    write!(
        svg,
        r##"<rect width="{w}" height="{h}" fill="#fff"/>"##,
        w = PAPER_WIDTH_MM,
        h = PAPER_HEIGHT_MM
    )
    .expect("String grows");
    // §2.1 / §5.1: the security border, as a double rule.
    write!(
        svg,
        concat!(
            "\n",
            r#"<g id="border" fill="none" stroke="{s}">"#,
            r#"<rect x="10" y="10" width="400" height="277" stroke-width="1.2"/>"#,
            r#"<rect x="13" y="13" width="394" height="271" stroke-width="0.35"/></g>"#,
            "\n",
        ),
        s = BORDER_STROKE
    )
    .expect("String grows");

    write!(svg, r##"<g font-family="{FONT_FAMILY}" fill="#000">"##).expect("String grows");
    svg.push('\n');
    // §3: the title, gold; position and size are not in the document.
    let title_em = TITLE_PT * MM_PER_PT;
    write!(
        svg,
        concat!(
            r#"<text id="title" x="{x}" y="{y}" font-size="{s}" font-weight="bold" fill="{f}""#,
            r#" text-anchor="middle" textLength="{l}" lengthAdjust="spacing">{t}</text>"#,
            "\n"
        ),
        x = mm(PAPER_WIDTH_MM / 2.0),
        y = mm(TITLE_TOP_MM + ASCENT_EM * title_em),
        s = mm(title_em),
        f = TITLE_FILL,
        l = mm(TITLE_WIDTH_MM),
        t = TITLE,
    )
    .expect("String grows");

    // §2.3.1: the number, centred.
    let number_em = NUMBER_PT * MM_PER_PT;
    write!(
        svg,
        r#"<text id="number" x="{x}" y="{y}" font-size="{s}" text-anchor="middle">编号："#,
        x = mm(PAPER_WIDTH_MM / 2.0),
        y = mm(NUMBER_TOP_MM + ASCENT_EM * number_em),
        s = mm(number_em),
    )
    .expect("String grows");
    push_escaped(&mut svg, number);
    svg.push_str("</text>\n");

    // §2.3.2: labels, then values.
    let face_em = FACE_PT * MM_PER_PT;
    svg.push_str(r#"<g id="labels">"#);
    for (label, top) in [
        (LABEL_OPERATOR, OPERATOR_TOP_MM),
        (LABEL_USCC, USCC_TOP_MM),
        (LABEL_LEGAL_REPRESENTATIVE, LEGAL_REPRESENTATIVE_TOP_MM),
        (LABEL_PREMISES, PREMISES_TOP_MM),
        (LABEL_ITEMS, ITEMS_TOP_MM),
    ] {
        write!(
            svg,
            r#"<text x="{x}" y="{y}" font-size="{s}">{label}</text>"#,
            x = mm(LABEL_X_MM),
            y = mm(top + ASCENT_EM * face_em),
            s = mm(face_em),
        )
        .expect("String grows");
    }
    svg.push_str("</g>\n");

    let row = |top_mm: f64| Block {
        x_mm: VALUE_X_MM,
        top_mm,
        width_mm: VALUE_RIGHT_MM - VALUE_X_MM,
        height_mm: ROW_HEIGHT_MM,
        size_pt: FACE_PT,
        one_line_down_to_pt: ROW_ONE_LINE_DOWN_TO_PT,
        lines_max: ROW_LINES_MAX,
    };
    for (id, value, top) in [
        (
            "operator-name",
            permit.operator_name.as_str(),
            OPERATOR_TOP_MM,
        ),
        ("uscc", permit.uscc.as_str(), USCC_TOP_MM),
        (
            "legal-representative",
            permit.legal_representative.as_str(),
            LEGAL_REPRESENTATIVE_TOP_MM,
        ),
        ("premises", permit.premises.as_str(), PREMISES_TOP_MM),
    ] {
        let paragraph = Paragraph {
            class: "value",
            tokens: value.chars().map(String::from).collect(),
        };
        push_block(&mut svg, id, &row(top), &[paragraph]);
    }

    // 许可项目: the licensed items, then the ones not yet licensed (重点任务(六)).
    let mut licensed = Vec::new();
    let mut unpermitted = Vec::new();
    for licence in &permit.licences {
        let name = match catalog.licence_type(licence.licence_type) {
            Some(t) => format!("《{}》", t.name),
            None => format!("《{}》", licence.licence_type.code()),
        };
        if licence.state == LicenceState::NotGranted {
            unpermitted.push(name);
        } else {
            licensed.push(name);
        }
    }
    let mut paragraphs = Vec::new();
    if !licensed.is_empty() {
        paragraphs.push(Paragraph {
            class: "licensed",
            tokens: list_tokens(None, licensed),
        });
    }
    if !unpermitted.is_empty() {
        paragraphs.push(Paragraph {
            class: "unpermitted",
            tokens: list_tokens(Some(LABEL_UNPERMITTED), unpermitted),
        });
    }
    let items = Block {
        x_mm: VALUE_X_MM,
        top_mm: ITEMS_TOP_MM,
        width_mm: VALUE_RIGHT_MM - VALUE_X_MM,
        height_mm: ITEMS_BOTTOM_MM - ITEMS_TOP_MM,
        size_pt: FACE_PT,
        one_line_down_to_pt: FACE_PT,
        lines_max: usize::MAX,
    };
    push_block(&mut svg, "items", &items, &paragraphs);

    // §2.3.3: issuing authority and date, measured from the bottom edge.
    let authority_em = AUTHORITY_PT * MM_PER_PT;
    for (id, text, from_bottom) in [
        (
            "issuing-authority",
            format!("发证机关：{}", permit.issuing_authority),
            AUTHORITY_FROM_BOTTOM_MM,
        ),
        (
            "issued-on",
            format!("制证日期：{}", date_zh(permit)),
            DATE_FROM_BOTTOM_MM,
        ),
    ] {
        let block = Block {
            x_mm: AUTHORITY_X_MM,
            top_mm: PAPER_HEIGHT_MM - from_bottom - authority_em,
            width_mm: VALUE_RIGHT_MM - AUTHORITY_X_MM,
            height_mm: authority_em,
            size_pt: AUTHORITY_PT,
            one_line_down_to_pt: SIZE_MIN_PT,
            lines_max: 1,
        };
        let paragraph = Paragraph {
            class: "value",
            tokens: text.chars().map(String::from).collect(),
        };
        push_block(&mut svg, id, &block, &[paragraph]);
    }

    // The QR code, inline, and its caption.
    let caption_em = QR_CAPTION_PT * MM_PER_PT;
    match Symbol::encode(qr_url) {
        Ok(symbol) => {
            let placement = format!(
                r#"id="qr" x="{}" y="{}" width="{}" height="{}""#,
                mm(QR_X_MM),
                mm(QR_Y_MM),
                mm(QR_SIZE_MM),
                mm(QR_SIZE_MM)
            );
            svg.push_str(&symbol.svg_element(&placement));
        }
        Err(_) => {
            write!(
                svg,
                concat!(
                    r#"<g id="qr-missing"><rect x="{x}" y="{y}" width="{s}" height="{s}""#,
                    r##" fill="none" stroke="#000" stroke-width="0.3"/>"##,
                    r#"<text x="{cx}" y="{cy}" font-size="{f}" text-anchor="middle">二维码无法生成</text></g>"#,
                ),
                x = mm(QR_X_MM),
                y = mm(QR_Y_MM),
                s = mm(QR_SIZE_MM),
                cx = mm(QR_X_MM + QR_SIZE_MM / 2.0),
                cy = mm(QR_Y_MM + QR_SIZE_MM / 2.0),
                f = mm(caption_em),
            )
            .expect("String grows");
        }
    }
    svg.push('\n');
    write!(
        svg,
        r#"<text id="qr-caption" x="{x}" y="{y}" font-size="{s}" text-anchor="middle">{QR_CAPTION}</text>"#,
        x = mm(QR_X_MM + QR_SIZE_MM / 2.0),
        y = mm(QR_Y_MM + QR_SIZE_MM + 1.0 + ASCENT_EM * caption_em),
        s = mm(caption_em),
    )
    .expect("String grows");
    svg.push_str("\n</g>\n</svg>\n");
    svg
}

/// 制证日期 as printed: `2023年6月5日`.
fn date_zh(permit: &Permit) -> String {
    let (y, m, d) = permit.issued_on.ymd();
    format!("{y}年{m}月{d}日")
}

/// `《A》、《B》、《C》`, one token an item so that lines break between items; `lead` (未许可事项：)
/// is glued to the first item.
fn list_tokens(lead: Option<&str>, names: Vec<String>) -> Vec<String> {
    let count = names.len();
    names
        .into_iter()
        .enumerate()
        .map(|(i, name)| {
            let mut token = String::new();
            if i == 0 {
                token.push_str(lead.unwrap_or(""));
            }
            token.push_str(&name);
            if i + 1 < count {
                token.push('、');
            }
            token
        })
        .collect()
}

/// A box text is fitted into, and the sizes it may use (see the module's fit rule).
struct Block {
    x_mm: f64,
    /// The top of the first line's em box.
    top_mm: f64,
    width_mm: f64,
    height_mm: f64,
    /// The document's size: the largest used.
    size_pt: f64,
    /// Above this size the text must stay on one line.
    one_line_down_to_pt: f64,
    lines_max: usize,
}

/// Text that starts on a new line; its tokens are the units lines break between.
struct Paragraph {
    class: &'static str,
    tokens: Vec<String>,
}

/// The outcome of the fit rule.
#[derive(Debug, PartialEq)]
struct Fitted {
    size_pt: f64,
    /// (paragraph index, text) of each line.
    lines: Vec<(usize, String)>,
    truncated: bool,
}

/// The estimated advance of `text` in em (see the module's fit rule).
fn advance_em(text: &str) -> f64 {
    text.chars().map(char_advance_em).sum()
}

fn char_advance_em(c: char) -> f64 {
    // Hangul Jamo (U+1100) onwards holds the wide scripts and the full-width forms; below it
    // are Latin, Greek, Cyrillic and the like, proportional and narrower.
    if (c as u32) >= 0x1100 {
        1.0
    } else {
        0.6
    }
}

/// Characters that must not begin a line (行首禁则): closing brackets and punctuation.
fn is_closing(c: char) -> bool {
    "，。、；：！？）》」』】〉".contains(c)
}

/// Lines of at most `max_em`, breaking between tokens and, for a token longer than a line,
/// between its characters; a closing punctuation mark does not start a line when the character
/// before it can move down with it.
fn wrap(tokens: &[String], max_em: f64) -> Vec<String> {
    let mut lines = Vec::new();
    let mut line = String::new();
    for token in tokens {
        if advance_em(&line) + advance_em(token) <= max_em {
            line.push_str(token);
        } else if !line.is_empty() && advance_em(token) <= max_em {
            break_line(&mut lines, &mut line, token);
            line.push_str(token);
        } else {
            for c in token.chars() {
                if advance_em(&line) + char_advance_em(c) > max_em && !line.is_empty() {
                    break_line(&mut lines, &mut line, c.encode_utf8(&mut [0; 4]));
                }
                line.push(c);
            }
        }
    }
    if !line.is_empty() {
        lines.push(line);
    }
    lines
}

/// Ends `line` before `next`, moving its last character down when `next` begins with a closing
/// mark (and the line keeps at least one character).
fn break_line(lines: &mut Vec<String>, line: &mut String, next: &str) {
    let mut carried = String::new();
    if next.chars().next().is_some_and(is_closing) && line.chars().count() > 1 {
        carried.push(line.pop().expect("line is not empty"));
    }
    lines.push(std::mem::replace(line, carried));
}

/// Applies the fit rule: the largest size, in 0.5 pt steps from the block's size down to 8 pt, at
/// which the paragraphs wrap into as many lines as the block allows; at 8 pt, cut with "…".
fn fit(block: &Block, paragraphs: &[Paragraph]) -> Fitted {
    let lay_out = |size_pt: f64| -> Vec<(usize, String)> {
        let max_em = block.width_mm / (size_pt * MM_PER_PT);
        paragraphs
            .iter()
            .enumerate()
            .flat_map(|(i, p)| wrap(&p.tokens, max_em).into_iter().map(move |l| (i, l)))
            .collect()
    };
    let lines_allowed = |size_pt: f64| -> usize {
        if size_pt > block.one_line_down_to_pt {
            return 1;
        }
        let em = size_pt * MM_PER_PT;
        let by_height = if block.height_mm < em {
            1
        } else {
            ((block.height_mm / em - 1.0) / LINE_PITCH_EM).floor() as usize + 1
        };
        by_height.min(block.lines_max)
    };
    let mut size_pt = block.size_pt;
    loop {
        let lines = lay_out(size_pt);
        if lines.len() <= lines_allowed(size_pt) {
            return Fitted {
                size_pt,
                lines,
                truncated: false,
            };
        }
        if size_pt - SIZE_STEP_PT < SIZE_MIN_PT {
            break;
        }
        size_pt -= SIZE_STEP_PT;
    }
    // Nothing fits at the smallest size: keep what does, and say that more follows.
    let mut lines = lay_out(size_pt);
    lines.truncate(lines_allowed(size_pt));
    let max_em = block.width_mm / (size_pt * MM_PER_PT);
    if let Some((_, last)) = lines.last_mut() {
        while !last.is_empty() && advance_em(last) + 1.0 > max_em {
            last.pop();
        }
        last.push('…');
    }
    Fitted {
        size_pt,
        lines,
        truncated: true,
    }
}

/// Fits `paragraphs` into `block` and writes them as `<g id="{id}">` of one `<text>` a line.
/// A single line shares the baseline it would have at the document's size (the label's); wrapped
/// lines stack down from the block's top.
fn push_block(svg: &mut String, id: &str, block: &Block, paragraphs: &[Paragraph]) {
    let fitted = fit(block, paragraphs);
    let em = fitted.size_pt * MM_PER_PT;
    let first_baseline = if fitted.lines.len() == 1 {
        block.top_mm + ASCENT_EM * block.size_pt * MM_PER_PT
    } else {
        block.top_mm + ASCENT_EM * em
    };
    write!(svg, r#"<g id="{id}""#).expect("String grows");
    if fitted.truncated {
        svg.push_str(r#" data-truncated="true""#);
    }
    svg.push('>');
    for (n, (paragraph, line)) in fitted.lines.iter().enumerate() {
        let line_mm = advance_em(line) * em;
        write!(
            svg,
            r#"<text class="{class}" x="{x}" y="{y}" font-size="{s}""#,
            class = paragraphs[*paragraph].class,
            x = mm(block.x_mm),
            y = mm(first_baseline + n as f64 * LINE_PITCH_EM * em),
            s = mm(em),
        )
        .expect("String grows");
        if line_mm > TEXT_LENGTH_FROM_SHARE * block.width_mm {
            write!(
                svg,
                r#" textLength="{}" lengthAdjust="spacingAndGlyphs""#,
                mm(line_mm.min(block.width_mm))
            )
            .expect("String grows");
        }
        svg.push('>');
        push_escaped(svg, line);
        svg.push_str("</text>");
    }
    svg.push_str("</g>\n");
}

/// A length in mm with at most two decimals, trailing zeros dropped.
fn mm(value: f64) -> String {
    let text = format!("{value:.2}");
    text.trim_end_matches('0').trim_end_matches('.').to_owned()
}

/// Appends `text` escaped for XML character data and attribute values. Characters XML 1.0 does
/// not allow at all (most C0 controls, U+FFFE, U+FFFF) become U+FFFD, so a stray control
/// character in a name cannot make the document unreadable.
pub(crate) fn push_escaped(out: &mut String, text: &str) {
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\t' | '\n' | '\r' => out.push(c),
            c if (c as u32) < 0x20 || c == '\u{FFFE}' || c == '\u{FFFF}' => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row_block() -> Block {
        Block {
            x_mm: VALUE_X_MM,
            top_mm: PREMISES_TOP_MM,
            width_mm: VALUE_RIGHT_MM - VALUE_X_MM,
            height_mm: ROW_HEIGHT_MM,
            size_pt: FACE_PT,
            one_line_down_to_pt: ROW_ONE_LINE_DOWN_TO_PT,
            lines_max: ROW_LINES_MAX,
        }
    }

    fn chars(text: &str) -> Vec<Paragraph> {
        vec![Paragraph {
            class: "value",
            tokens: text.chars().map(String::from).collect(),
        }]
    }

    /// The two distances §2.3.2 gives for 许可项目 describe one 22 pt line: 189 + em + 100 ≈ 297.
    #[test]
    fn items_distances_describe_one_line() {
        let bottom = ITEMS_TOP_MM + FACE_PT * MM_PER_PT + ITEMS_FROM_BOTTOM_MM;
        assert!((bottom - PAPER_HEIGHT_MM).abs() < 0.5, "{bottom}");
    }

    /// The fit rule: full size when it fits, one shrunk line down to 16 pt, then 2–3 lines inside
    /// the 14 mm row, then cut at 8 pt; no line ever exceeds the box width.
    #[test]
    fn fit_rule_shrinks_then_wraps_then_cuts() {
        let block = row_block();
        let check = |text: &str, size_pt: f64, lines: usize, truncated: bool| {
            let fitted = fit(&block, &chars(text));
            assert_eq!(
                (fitted.size_pt, fitted.lines.len(), fitted.truncated),
                (size_pt, lines, truncated),
                "{text}"
            );
            let em = fitted.size_pt * MM_PER_PT;
            for (_, line) in &fitted.lines {
                assert!(advance_em(line) * em <= block.width_mm + 1e-9, "{line}");
            }
            let height = em * (1.0 + (fitted.lines.len() - 1) as f64 * LINE_PITCH_EM);
            assert!(height <= block.height_mm, "{text}: {height} mm");
        };
        // 228 mm / 7.76 mm = 29.4 CJK characters at 22 pt.
        check(&"房".repeat(29), 22.0, 1, false);
        check(&"房".repeat(30), 21.5, 1, false);
        // 228 mm / 5.64 mm = 40.4 at 16 pt: 41 characters wrap.
        check(&"房".repeat(40), 16.0, 1, false);
        check(&"房".repeat(41), 16.0, 2, false);
        check(&"房".repeat(170), 11.0, 3, false);
        check(&"房".repeat(400), 8.0, 3, true);
    }

    /// A closing mark does not begin a wrapped line: the character before it moves down too.
    #[test]
    fn closing_punctuation_does_not_start_a_line() {
        let tokens: Vec<String> = "一二三四，五".chars().map(String::from).collect();
        assert_eq!(wrap(&tokens, 4.0), vec!["一二三", "四，五"]);
    }

    /// Markup characters are escaped and forbidden control characters replaced.
    #[test]
    fn escapes_markup_and_controls() {
        let mut out = String::new();
        push_escaped(&mut out, "A&B <c> \"d\" 'e'\u{1}");
        assert_eq!(out, "A&amp;B &lt;c&gt; &quot;d&quot; &apos;e&apos;\u{FFFD}");
    }

    #[test]
    fn mm_drops_trailing_zeros() {
        assert_eq!(mm(420.0), "420");
        assert_eq!(mm(7.7616), "7.76");
        assert_eq!(mm(51.5), "51.5");
    }
}
