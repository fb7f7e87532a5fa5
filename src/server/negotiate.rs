//! Content negotiation for the QR scan: a phone's browser gets the HTML page, a program the JSON.

/// Whether the `Accept` header prefers `text/html` over `application/json` (RFC 9110 §12.5.1:
/// the highest quality value wins; on a tie, or with no header, JSON).
pub fn prefers_html(accept: Option<&[u8]>) -> bool {
    // What API clients and scanner libraries send, answered without parsing.
    if matches!(accept, None | Some(b"*/*" | b"application/json")) {
        return false;
    }
    let Some(accept) = accept.and_then(|a| std::str::from_utf8(a).ok()) else {
        return false;
    };
    let (mut html, mut json) = (0u16, 0u16);
    let (mut html_specificity, mut json_specificity) = (0u8, 0u8);
    for range in accept.split(',').take(32) {
        let mut parts = range.split(';');
        let media = parts.next().unwrap_or("").trim();
        let quality = parts
            .filter_map(|p| p.trim().strip_prefix("q="))
            .next()
            .map_or(1000, parse_quality);
        // Media types are case-insensitive; compared in place (no allocation per request).
        const RANGES: [(&str, (u8, u8)); 5] = [
            ("text/html", (3, 0)),
            ("application/json", (0, 3)),
            ("text/*", (2, 0)),
            ("application/*", (0, 2)),
            ("*/*", (1, 1)),
        ];
        let (html_match, json_match) = RANGES
            .iter()
            .find(|(name, _)| media.eq_ignore_ascii_case(name))
            .map_or((0, 0), |&(_, matched)| matched);
        // The most specific matching range sets the quality (RFC 9110: "text/html" beats "*/*").
        if html_match > html_specificity {
            (html, html_specificity) = (quality, html_match);
        }
        if json_match > json_specificity {
            (json, json_specificity) = (quality, json_match);
        }
    }
    html > json
}

/// `0.8` → 800, in thousandths; malformed → 0.
fn parse_quality(text: &str) -> u16 {
    let text = text.trim();
    let (whole, fraction) = text.split_once('.').unwrap_or((text, ""));
    let whole: u16 = match whole {
        "0" => 0,
        "1" => 1000,
        _ => return 0,
    };
    let mut thousandths = 0u16;
    for (i, c) in fraction.bytes().take(3).enumerate() {
        if !c.is_ascii_digit() {
            return 0;
        }
        thousandths += (c - b'0') as u16 * [100, 10, 1][i];
    }
    (whole + thousandths).min(1000)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn browsers_get_html_and_programs_get_json() {
        // Real Accept headers: Chrome/Safari/Firefox prefer HTML; curl, fetch and none get JSON.
        let cases: &[(Option<&str>, bool)] = &[
            (Some("text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8"), true),
            (Some("text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"), true),
            (Some("*/*"), false),
            (None, false),
            (Some("application/json"), false),
            (Some("application/json, text/html;q=0.5"), false),
            (Some("text/html;q=0.9, application/json;q=0.8"), true),
            (Some("text/*"), true),
            (Some("text/html;q=0"), false),
            (Some("garbage;;;q=x"), false),
        ];
        for (accept, expect) in cases {
            assert_eq!(
                prefers_html(accept.map(str::as_bytes)),
                *expect,
                "{accept:?}"
            );
        }
    }
}
