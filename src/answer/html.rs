//! The page a citizen or an inspector sees after scanning a permit's QR code with a phone.
//!
//! Chinese, one column, the state at a glance in a coloured banner, then the face fields and every
//! single licence with its approving department, whom to contact for remedies (救济方式): the
//! department that approved an item answers for it (“谁审批、谁负责”). No external assets: one
//! small inline stylesheet, so it loads fast on a slow network.

use std::fmt::Write;

use crate::answer::json::PermitView;

const STYLE: &str = "body{margin:0;font:16px/1.5 system-ui,-apple-system,'PingFang SC','Noto Sans CJK SC','Microsoft YaHei',sans-serif;background:#f4f5f7;color:#1d1d1f}\
main{max-width:40rem;margin:0 auto;padding:0 0 2rem}\
.banner{padding:1.25rem 1rem;color:#fff}.banner h1{margin:0;font-size:2rem;letter-spacing:.1em}.banner p{margin:.25rem 0 0}\
.valid{background:#1a7f37}.partial{background:#b76e00}.void,.recovered,.error{background:#c62828}.superseded{background:#5a5f66}\
section{background:#fff;margin:.75rem;border-radius:.5rem;padding:.75rem 1rem}\
h2{font-size:1rem;margin:0 0 .5rem;color:#555}dl{margin:0}dt{color:#666;font-size:.85rem}dd{margin:0 0 .5rem;word-break:break-all}\
.licence{border-top:1px solid #eee;padding:.5rem 0}.licence:first-of-type{border-top:0}\
.state{display:inline-block;padding:0 .4rem;border-radius:.25rem;font-size:.85rem;color:#fff}\
.s-valid,.s-pending_commitment{background:#1a7f37}.s-not_granted,.s-suspended{background:#b76e00}\
.s-cancelled,.s-revoked,.s-withdrawn,.s-lapsed{background:#c62828}\
small{color:#666}footer{margin:1rem;color:#888;font-size:.8rem}";

fn escape(out: &mut String, text: &str) {
    for c in text.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
}

fn open_page(out: &mut String, title: &str) {
    out.push_str("<!doctype html><html lang=\"zh-CN\"><head><meta charset=\"utf-8\">");
    out.push_str("<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">");
    out.push_str("<meta name=\"robots\" content=\"noindex\"><title>");
    escape(out, title);
    out.push_str("</title><style>");
    out.push_str(STYLE);
    out.push_str("</style></head><body><main>");
}

fn close_page(out: &mut String) {
    out.push_str("<footer>北京市房山区“一业一证”综合许可凭证核验。综合许可凭证不替代单项审批证件，各单项审批证件由审批部门负责。</footer></main></body></html>");
}

fn field(out: &mut String, label: &str, value: &str) {
    out.push_str("<dt>");
    escape(out, label);
    out.push_str("</dt><dd>");
    escape(out, value);
    out.push_str("</dd>");
}

/// The page for a permit.
pub fn permit_page(view: &PermitView<'_>) -> String {
    let mut out = String::with_capacity(4096);
    open_page(
        &mut out,
        &format!("综合许可凭证 {} · {}", view.number, view.state.label),
    );
    let _ = write!(
        out,
        "<div class=\"banner {}\" id=\"state\" data-state=\"{}\"><h1>",
        view.state.code, view.state.code
    );
    escape(&mut out, view.state.label);
    out.push_str("</h1><p>");
    escape(&mut out, &view.state.summary);
    out.push_str("</p></div>");

    out.push_str("<section><h2>凭证信息</h2><dl>");
    field(&mut out, "经营者名称", view.face.operator_name);
    field(&mut out, "统一社会信用代码", view.face.uscc);
    field(
        &mut out,
        "法定代表人（负责人）",
        view.face.legal_representative,
    );
    field(&mut out, "经营场所", view.face.premises);
    field(
        &mut out,
        "行业",
        &format!("{} {}", view.industry.code, view.industry.name),
    );
    field(&mut out, "综合许可凭证编号", view.number);
    let version = match view.scanned_version {
        Some(scanned) if scanned != view.version => {
            format!("扫描的为第{scanned}版，现行第{}版", view.version)
        }
        _ => format!("第{}版", view.version),
    };
    field(&mut out, "版本", &version);
    field(&mut out, "发证机关", view.face.issuing_authority);
    field(&mut out, "制证日期", &view.face.issued_on);
    out.push_str("</dl></section>");

    out.push_str("<section><h2>许可项目（单项审批证件）</h2>");
    for licence in &view.licences {
        out.push_str("<div class=\"licence\"><div><strong>");
        escape(&mut out, licence.name);
        let _ = write!(out, "</strong> <span class=\"state s-{}\">", licence.state);
        escape(&mut out, licence.state_label);
        out.push_str("</span>");
        if licence.on_commitment {
            out.push_str(" <small>（告知承诺）</small>");
        }
        out.push_str("</div><dl>");
        field(
            &mut out,
            "审批部门（如有异议请联系该部门依法申请复议或诉讼）",
            licence.department,
        );
        if let Some(number) = licence.certificate_number {
            field(&mut out, "证件编号", number);
        }
        let validity = match (&licence.valid_from, &licence.valid_until) {
            (Some(from), Some(until)) => format!("{from} 至 {until}"),
            (Some(from), None) => format!("{from} 起长期有效"),
            (None, Some(until)) => format!("至 {until}"),
            (None, None) => String::from("—"),
        };
        field(&mut out, "有效期", &validity);
        if let Some(reason) = licence.state_reason {
            field(&mut out, "状态说明", reason);
        }
        out.push_str("</dl></div>");
    }
    out.push_str("</section>");

    if !view.unpermitted_items.is_empty() {
        out.push_str("<section><h2>未许可事项</h2><ul>");
        for item in &view.unpermitted_items {
            out.push_str("<li>");
            escape(&mut out, item.name);
            out.push('（');
            escape(&mut out, item.department);
            out.push_str("）</li>");
        }
        out.push_str("</ul></section>");
    }
    let _ = write!(
        out,
        "<footer>核验日期 {} · 数据序号 {}</footer>",
        view.evaluated_on, view.snapshot_sequence
    );
    close_page(&mut out);
    out
}

/// The page for a scan that cannot be answered with a permit (malformed, unknown).
pub fn error_page(title: &str, message: &str) -> String {
    let mut out = String::with_capacity(1024);
    open_page(&mut out, title);
    out.push_str("<div class=\"banner error\" id=\"state\" data-state=\"error\"><h1>");
    escape(&mut out, title);
    out.push_str("</h1><p>");
    escape(&mut out, message);
    out.push_str("</p></div>");
    close_page(&mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_escaped() {
        // Operator names are data, never markup.
        let mut out = String::new();
        escape(&mut out, "<script>alert('x')</script>&\"");
        assert_eq!(
            out,
            "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;&amp;&quot;"
        );
        let page = error_page("无法验证", "<b>");
        assert!(page.contains("&lt;b&gt;") && !page.contains("<b>"));
    }
}
