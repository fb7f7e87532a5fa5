//! The page a citizen or an inspector sees after scanning a permit's QR code with a phone.
//!
//! Chinese, one column for a 360–412 px screen. First a huge state banner (`<header id="state">`,
//! its `<h1>` the verdict, an icon drawn in CSS, colour *and* words, never colour alone), then why
//! a void permit is void, the face fields, and every single licence (`class="licence"`) with its
//! approving department, state, end date and whom to contact for remedies (救济方式): the
//! department that approved an item answers for it (“谁审批、谁负责”, 工作措施(二)), including in
//! 行政复议 and 行政诉讼.
//!
//! It must never load anything: no fonts, images or scripts from anywhere, one small inline
//! stylesheet and no JavaScript, so it shows at once on a slow network (about 6 KB for a typical
//! permit). Every value from a record is HTML-escaped. Tests and scripts read two stable hooks:
//! the banner's `id="state"` with `data-state="<code>"` (`valid`, `partial`, `void`, `recovered`,
//! `superseded`, `error`) and each licence's `data-state="<licence state code>"`.

use std::fmt::{self, Display, Write};

use crate::answer::json::{LicenceView, PermitView};

/// The verdict for every page that cannot vouch for a permit (forged, malformed, unknown, not
/// ready): a person must never read those as anything but "not verified".
const UNVERIFIED: &str = "无法验证";

const STYLE: &str = "*{box-sizing:border-box}\
body{margin:0;font:16px/1.55 system-ui,-apple-system,'PingFang SC','Noto Sans CJK SC','Microsoft YaHei','WenQuanYi Micro Hei',sans-serif;background:#eceef1;color:#16191d;-webkit-text-size-adjust:100%}\
header,main,footer{max-width:40rem;margin:0 auto}\
#state{display:flex;align-items:center;gap:1rem;padding:1.5rem 1.1rem;color:#fff;background:#1a7f37}\
#state h1{margin:0;font-size:3rem;line-height:1.1;letter-spacing:.06em}\
#state h1 small{display:block;font-size:1.1rem;letter-spacing:0}\
#state p{margin:.4rem 0 0;font-size:1.05rem;font-weight:600}#state .k{margin:0 0 .2rem;font-size:.9rem;font-weight:400}\
.i{flex:none;position:relative;width:4.5rem;height:4.5rem;border:.3rem solid;border-radius:50%;font:700 2.6rem/3.9rem sans-serif;text-align:center}\
.i:before,.i:after{content:'';position:absolute;left:50%;top:50%;background:#fff}\
.b-valid .i:after{width:1.1rem;height:2.1rem;margin:-1.35rem 0 0 -.6rem;background:none;border:solid #fff;border-width:0 .45rem .45rem 0;transform:rotate(45deg)}\
.b-void .i:before,.b-void .i:after,.b-recovered .i:before,.b-recovered .i:after{width:2.7rem;height:.45rem;margin:-.225rem 0 0 -1.35rem;transform:rotate(45deg)}\
.b-void .i:after,.b-recovered .i:after{transform:rotate(-45deg)}\
.b-partial .i:after{content:'!';position:static;background:none}.b-superseded .i:after{content:'\\21BB';position:static;background:none}\
.b-error .i:after{content:'?';position:static;background:none}\
#state.b-partial{background:#975a00}#state.b-superseded{background:#3e4a57}#state.b-error{background:#6b1111}\
#state.b-void,#state.b-recovered{background:repeating-linear-gradient(135deg,#b3261e 0 1.1rem,#991d17 1.1rem 2.2rem)}\
section{background:#fff;margin:.75rem .6rem;border-radius:.6rem;padding:.8rem 1rem}\
h2{font-size:1.05rem;margin:0 0 .5rem}h3{font-size:1.05rem;margin:0;display:inline}\
dl{margin:0;display:grid;grid-template-columns:6.2em 1fr;gap:.2rem .6rem}dt{color:#555;font-size:.9rem;padding-top:.1rem}dd{margin:0;word-break:break-all}\
.op{font-size:1.2rem;font-weight:700}\
.alert{border:3px solid #b3261e;background:#fff5f4}.alert h2{color:#a3201a}.note{border:3px solid #3e4a57}\
.licence{border-top:1px solid #ddd;padding:.8rem 0}.licence:first-of-type{border-top:0;padding-top:.2rem}\
.cause{border:3px solid #b3261e;border-radius:.4rem;padding:.6rem;background:#fff5f4}\
.st{display:inline-block;margin:.1rem 0 .3rem .4rem;padding:0 .5rem;border-radius:.3rem;font-size:.9rem;font-weight:700;color:#fff;background:#975a00}\
.st:before{content:'! '}.s-valid,.s-pending_commitment{background:#1a7f37}.s-valid:before,.s-pending_commitment:before{content:'\\2713  '}\
.s-cancelled,.s-revoked,.s-withdrawn,.s-lapsed{background:#b3261e}.s-cancelled:before,.s-revoked:before,.s-withdrawn:before,.s-lapsed:before{content:'\\2715  '}\
.tag{display:inline-block;margin-left:.4rem;padding:0 .4rem;border:1px solid #975a00;border-radius:.3rem;color:#7a4800;font-size:.85rem}\
.r{margin:.4rem 0 0;padding:.4rem .6rem;background:#f1f3f6;border-radius:.3rem;font-size:.9rem}\
p{margin:.3rem 0}ul{margin:0;padding-left:1.2rem}footer{padding:.5rem 1rem 2rem;color:#555;font-size:.85rem}\
.seal{border:3px solid #1a7f37;background:#f2fbf4}.seal h2{color:#14692d}";

/// `text`, HTML-escaped when displayed: record values are data, never markup.
struct Escaped<'a>(&'a str);

impl Display for Escaped<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut rest = self.0;
        while let Some(at) = rest.find(['<', '>', '&', '"', '\'']) {
            f.write_str(&rest[..at])?;
            f.write_str(match rest.as_bytes()[at] {
                b'<' => "&lt;",
                b'>' => "&gt;",
                b'&' => "&amp;",
                b'"' => "&quot;",
                _ => "&#39;",
            })?;
            rest = &rest[at + 1..];
        }
        f.write_str(rest)
    }
}

fn escape(out: &mut String, text: &str) {
    let _ = write!(out, "{}", Escaped(text));
}

fn open_page(out: &mut String, title: &str) {
    out.push_str("<!doctype html><html lang=\"zh-CN\"><head><meta charset=\"utf-8\">");
    out.push_str("<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">");
    // Credit codes and permit numbers are not phone numbers (iOS would link them).
    out.push_str("<meta name=\"format-detection\" content=\"telephone=no\">");
    out.push_str("<meta name=\"robots\" content=\"noindex\"><title>");
    escape(out, title);
    out.push_str("</title><style>");
    out.push_str(STYLE);
    out.push_str("</style></head><body>");
}

/// The banner: `code` is the hook (`data-state`) and the colour, `verdict` the `<h1>`.
fn banner(out: &mut String, code: &str, verdict: &str, aside: Option<&str>, sentence: &str) {
    let _ = write!(
        out,
        "<header id=\"state\" class=\"banner b-{code}\" data-state=\"{code}\">\
         <span class=\"i\" aria-hidden=\"true\"></span><div><p class=\"k\">综合许可凭证核验结果</p><h1>{}",
        Escaped(verdict)
    );
    if let Some(aside) = aside {
        let _ = write!(out, "<small>{}</small>", Escaped(aside));
    }
    let _ = write!(out, "</h1><p>{}</p></div></header>", Escaped(sentence));
}

fn close_page(out: &mut String) {
    out.push_str("<footer>北京市房山区“一业一证”综合许可凭证核验。综合许可凭证不替代单项审批证件，各单项审批证件由审批部门负责。</footer></body></html>");
}

fn field(out: &mut String, label: &str, value: &str) {
    let _ = write!(
        out,
        "<dt>{}</dt><dd>{}</dd>",
        Escaped(label),
        Escaped(value)
    );
}

/// The page for a scan of a signed city code that equals the one the writer issued: the
/// permit's page, with the anti-counterfeit check (防伪核验) stated under the banner.
pub fn signed_permit_page(view: &PermitView<'_>, kid: &str) -> String {
    let mut page = permit_page(view);
    let note = format!(
        "<section class=\"seal\" id=\"seal\"><h2>防伪核验</h2><p>二维码内容与房山区签发的记录一致，\
         是真实的综合许可凭证二维码（签名密钥 {}）。凭证当前是否有效，以上方核验结果为准。</p></section>",
        Escaped(kid)
    );
    // First in <main>, right under the banner.
    if let Some(at) = page.find("<main>") {
        page.insert_str(at + "<main>".len(), &note);
    }
    page
}

/// The page for a permit.
pub fn permit_page(view: &PermitView<'_>) -> String {
    let mut out = String::with_capacity(8192);
    let state = &view.state;
    open_page(
        &mut out,
        &format!("综合许可凭证 {} · {}", view.number, state.label),
    );
    // The licence whose state voided the permit: the first in printed order (domain/state.rs).
    let cause = state.void.as_ref().and_then(|void| {
        view.licences.iter().position(|l| {
            void.licence_type.as_deref() == Some(&*l.type_code)
                && void.licence_state == Some(l.state)
        })
    });
    match (state.code, state.superseded_by_version, view.scanned_version) {
        // 收回 is a kind of void: the verdict says so, the label says how.
        ("recovered", ..) => banner(&mut out, "recovered", "已作废", Some(state.label), &state.summary),
        ("superseded", Some(current), Some(scanned)) => banner(
            &mut out,
            "superseded",
            state.label,
            None,
            &format!("您扫描的是第{scanned}版凭证，原纸质凭证已作废；现行为第{current}版，请以现行版本为准。"),
        ),
        (code, ..) => banner(&mut out, code, state.label, None, &state.summary),
    }

    if let Some(void) = &state.void {
        out.push_str("<section class=\"alert\" id=\"void\"><h2>作废原因</h2>");
        match cause.map(|i| &view.licences[i]) {
            Some(licence) => {
                let _ = write!(
                    out,
                    "<p>因单项审批证件<strong>《{}》{}</strong>{}，本综合许可凭证同时作废，由发证机关{}收回。</p><dl>",
                    Escaped(licence.name),
                    licence.state_label,
                    if void.by_date { "（已过有效期）" } else { "" },
                    Escaped(view.face.issuing_authority)
                );
                field(&mut out, "审批部门", licence.department);
                if let Some(number) = licence.certificate_number {
                    field(&mut out, "证件编号", number);
                }
                if let Some(on) = &licence.state_changed_on {
                    field(&mut out, "变更日期", on);
                } else if let (true, Some(until)) = (void.by_date, &licence.valid_until) {
                    field(&mut out, "有效期至", until);
                }
                if let Some(reason) = licence.state_reason {
                    field(&mut out, "原因", reason);
                }
                out.push_str("</dl>");
            }
            None => {
                let _ = write!(out, "<p>{}</p>", Escaped(&state.summary));
                if void.by == "authority" {
                    let _ = write!(
                        out,
                        "<p>作废机关：{}</p>",
                        Escaped(view.face.issuing_authority)
                    );
                }
            }
        }
        out.push_str("</section>");
    } else if let Some(on) = &state.recovered_on {
        let _ = write!(
            out,
            "<section class=\"alert\" id=\"void\"><h2>作废原因</h2><p>发证机关{}已于{}作废并收回本综合许可凭证。</p></section>",
            Escaped(view.face.issuing_authority),
            Escaped(on)
        );
    }
    if let (Some(current), Some(scanned)) = (state.superseded_by_version, view.scanned_version) {
        let _ = write!(
            out,
            "<section class=\"note\"><h2>版本提示</h2><p>第{scanned}版凭证已换发为第{current}版，第{scanned}版纸质凭证作废。\
             以下为现行第{current}版记载的信息及各单项审批证件的当前状态。</p></section>"
        );
    }

    out.push_str("<main><section><h2>凭证信息</h2><dl>");
    let _ = write!(
        out,
        "<dt>经营者名称</dt><dd class=\"op\">{}</dd>",
        Escaped(view.face.operator_name)
    );
    field(&mut out, "经营场所", view.face.premises);
    field(&mut out, "统一社会信用代码", view.face.uscc);
    field(
        &mut out,
        "法定代表人（负责人）",
        view.face.legal_representative,
    );
    field(
        &mut out,
        "行业",
        &format!("{} {}", view.industry.code, view.industry.name),
    );
    field(&mut out, "凭证编号", view.number);
    let version = match view.scanned_version {
        Some(scanned) if scanned != view.version => {
            format!("现行第{}版（扫描的为第{scanned}版）", view.version)
        }
        _ => format!("第{}版", view.version),
    };
    field(&mut out, "版本", &version);
    field(&mut out, "发证机关", view.face.issuing_authority);
    field(&mut out, "制证日期", &view.face.issued_on);
    out.push_str("</dl></section>");

    let _ = write!(
        out,
        "<section><h2>许可项目（单项审批证件 {} 项）</h2>",
        view.licences.len()
    );
    for (i, licence) in view.licences.iter().enumerate() {
        licence_item(&mut out, licence, cause == Some(i));
    }
    out.push_str("</section>");

    if !view.unpermitted_items.is_empty() {
        out.push_str("<section><h2>未许可事项</h2><ul>");
        for item in &view.unpermitted_items {
            let _ = write!(
                out,
                "<li>{}（{}）</li>",
                Escaped(item.name),
                Escaped(item.department)
            );
        }
        out.push_str("</ul></section>");
    }
    out.push_str(
        "<section><h2>救济方式</h2><p>按照“谁审批、谁负责”原则，各单项审批事项由其审批部门负责。\
         对某一事项的审批有异议的，请联系该项所列审批部门，也可依法申请行政复议或者提起行政诉讼，\
         由审批部门承担相应责任。</p></section></main>",
    );
    let _ = write!(
        out,
        "<footer>核验日期 {} · 数据序号 {}</footer>",
        view.evaluated_on, view.snapshot_sequence
    );
    close_page(&mut out);
    out
}

fn licence_item(out: &mut String, licence: &LicenceView<'_>, voided_the_permit: bool) {
    let _ = write!(
        out,
        "<article class=\"licence{}\" data-state=\"{}\"><h3>{}</h3><span class=\"st s-{}\">{}</span>",
        if voided_the_permit { " cause" } else { "" },
        licence.state,
        Escaped(licence.name),
        licence.state,
        licence.state_label
    );
    if licence.on_commitment {
        out.push_str("<span class=\"tag\">告知承诺</span>");
    }
    if voided_the_permit {
        out.push_str("<p><strong>本项导致综合许可凭证作废</strong></p>");
    }
    out.push_str("<dl>");
    field(out, "审批部门", licence.department);
    if let Some(number) = licence.certificate_number {
        field(out, "证件编号", number);
    }
    let end = match (&licence.valid_until, licence.state) {
        (Some(until), _) => until.clone(),
        (None, "not_granted") => String::from("—"),
        (None, _) => String::from("长期"),
    };
    field(out, "有效期至", &end);
    if let Some(from) = &licence.valid_from {
        field(out, "生效日期", from);
    }
    if let Some(reason) = licence.state_reason {
        field(out, "状态说明", reason);
    }
    if let Some(on) = &licence.state_changed_on {
        field(out, "状态变更", on);
    }
    let _ = write!(
        out,
        "</dl><p class=\"r\">救济方式：本项由<strong>{}</strong>审批并负责，有异议可向其提出，或依法申请行政复议、提起行政诉讼。</p></article>",
        Escaped(licence.department)
    );
}

/// The page for a scan that cannot be answered with a permit (forged, malformed, unknown, not
/// ready): the banner always says 无法验证; `title` (e.g. 查无此证) says which case.
pub fn error_page(title: &str, message: &str) -> String {
    let mut out = String::with_capacity(4096);
    open_page(&mut out, title);
    let aside = (title != UNVERIFIED).then_some(title);
    banner(&mut out, "error", UNVERIFIED, aside, message);
    out.push_str(
        "<main><section class=\"alert\"><h2>请注意</h2><p>此二维码未能核验为有效的综合许可凭证。\
         核验通过之前，请勿将其作为经营许可的依据。</p><p>如有疑问，请向发证机关（房山区政务服务局）核实。</p></section></main>",
    );
    close_page(&mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::Catalog;
    use crate::domain::permit::{ArchivedPermit, PermitStatus};
    use crate::domain::{Date, DerivedState, Permit, VoidReason};
    use crate::gen::{generate, GenOptions};
    use crate::registry::Registry;

    /// A typical page stays well under what a slow mobile network sends in one round trip or two.
    const TYPICAL_PAGE_BYTES_MAX: usize = 12 * 1024;

    fn today() -> Date {
        Date::from_ymd(2026, 6, 15).unwrap()
    }

    /// Generated permits, folded as the snapshot builder folds them.
    fn permits(count: u64) -> (Catalog, Vec<Permit>) {
        let catalog = Catalog::embedded().unwrap();
        let mut feed = Vec::new();
        let options = GenOptions {
            permits: count,
            seed: 7,
            as_of: today(),
        };
        generate(&catalog, &options, &mut feed, &mut |_| {}).unwrap();
        let mut registry = Registry::new(&catalog);
        crate::feed::fold(&mut registry, &feed[..], &mut |_| {}).unwrap();
        let permits = registry.into_sorted();
        (catalog, permits)
    }

    /// The page for `permit` as a scan of `scanned` (`None`: the current version) sees it today.
    fn page(catalog: &Catalog, permit: &Permit, scanned: Option<u32>) -> String {
        let bytes = rkyv::to_bytes::<rkyv::rancor::Error>(permit).unwrap();
        let archived = rkyv::access::<ArchivedPermit, rkyv::rancor::Error>(&bytes).unwrap();
        permit_page(&PermitView::new(archived, scanned, catalog, today(), 42))
    }

    /// The banner's `data-state` and its `<h1>` text (tags dropped).
    fn banner_of(page: &str) -> (&str, String) {
        let header = &page[page.find("<header id=\"state\"").expect("a banner")..];
        let header = &header[..header.find("</header>").unwrap()];
        let code = header.split("data-state=\"").nth(1).unwrap();
        let code = &code[..code.find('"').unwrap()];
        let h1 = &header[header.find("<h1>").unwrap() + 4..header.find("</h1>").unwrap()];
        (code, h1.replace("<small>", " ").replace("</small>", ""))
    }

    /// Each licence element of `page`, in order.
    fn licences_of(page: &str) -> Vec<&str> {
        page.split("<article class=\"licence")
            .skip(1)
            .map(|piece| &piece[..piece.find("</article>").unwrap()])
            .collect()
    }

    fn assert_self_contained(page: &str) {
        for asset in [
            "<script", "<link", "<img", "src=", "href=", "url(", "@import",
        ] {
            assert!(!page.contains(asset), "no {asset} in the page");
        }
        assert!(page.starts_with("<!doctype html><html lang=\"zh-CN\">"));
        for tag in ["<header", "<main>", "<section", "<h1>", "<footer>"] {
            assert!(page.contains(tag), "{tag} in the page");
        }
    }

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

    #[test]
    fn every_value_from_the_record_is_escaped_on_the_permit_page() {
        // Markup in a face field or a licence's reason shows as text, never as markup.
        let (catalog, mut permits) = permits(200);
        let permit = &mut permits[0];
        permit.operator_name = "<script>x</script>酒家".to_owned();
        permit.premises = "\"><img src=x>路1号".to_owned();
        permit.licences[0].state_reason = Some("<i>'理由'</i> & 其他".to_owned());
        let page = page(&catalog, permit, None);
        assert!(page.contains("&lt;script&gt;x&lt;/script&gt;酒家"));
        assert!(page.contains("&quot;&gt;&lt;img src=x&gt;路1号"));
        assert!(page.contains("&lt;i&gt;&#39;理由&#39;&lt;/i&gt; &amp; 其他"));
        assert!(!page.contains("<script") && !page.contains("<img") && !page.contains("<i>"));
    }

    #[test]
    fn the_banner_says_each_state_in_words_under_a_stable_hook() {
        // valid 有效, partial 部分许可, void 已作废 (by a licence, by the authority, 收回), an old
        // version 已换发 with the current version, and every error page 无法验证.
        let (catalog, permits) = permits(1000);
        let find = |code: &str| {
            permits
                .iter()
                .find(|p| p.derived_state(None, today()).code() == code)
                .unwrap_or_else(|| panic!("a {code} permit"))
        };
        let check = |page: &str, code: &str, h1: &str, words: &[&str]| {
            let (got_code, got_h1) = banner_of(page);
            assert_eq!((got_code, got_h1.as_str()), (code, h1));
            assert!(
                page.contains(&format!("class=\"banner b-{code}\"")),
                "{code}"
            );
            let header = &page[page.find("<header").unwrap()..page.find("</header>").unwrap()];
            for word in words {
                assert!(
                    header.contains(word),
                    "{word} in the {code} banner: {header}"
                );
            }
            assert_self_contained(page);
        };
        check(
            &page(&catalog, find("valid"), None),
            "valid",
            "有效",
            &["均在有效期内"],
        );
        check(
            &page(&catalog, find("partial"), None),
            "partial",
            "部分许可",
            &["未许可或暂停"],
        );

        let void = permits
            .iter()
            .find(|p| {
                matches!(
                    p.derived_state(None, today()),
                    DerivedState::Void(VoidReason::Licence { .. })
                )
            })
            .expect("a permit voided by a licence");
        let DerivedState::Void(VoidReason::Licence { licence_type, .. }) =
            void.derived_state(None, today())
        else {
            unreachable!()
        };
        let cause = catalog.licence_type(licence_type).unwrap();
        let void_page = page(&catalog, void, None);
        let cause_name = format!("《{}》", cause.name);
        check(&void_page, "void", "已作废", &[&cause_name, "同时作废"]);
        let notice = &void_page[void_page.find("id=\"void\"").unwrap()..];
        let notice = &notice[..notice.find("</section>").unwrap()];
        assert!(notice.contains(&cause_name) && notice.contains(&cause.department));
        let marked: Vec<_> = licences_of(&void_page)
            .into_iter()
            .filter(|l| l.starts_with(" cause\""))
            .collect();
        assert_eq!(marked.len(), 1, "the voiding licence is marked");
        assert!(marked[0].contains(&cause.name));

        let mut by_authority = find("valid").clone();
        by_authority.status = PermitStatus::Voided {
            on: Date::from_ymd(2026, 5, 2).unwrap(),
            reason: "test".to_owned(),
        };
        let authority_page = page(&catalog, &by_authority, None);
        check(
            &authority_page,
            "void",
            "已作废",
            &["2026-05-02", "由发证机关作废"],
        );
        assert!(authority_page.contains("id=\"void\""));

        let mut recovered = void.clone();
        recovered.status = PermitStatus::Recovered {
            on: Date::from_ymd(2026, 5, 3).unwrap(),
        };
        let recovered_page = page(&catalog, &recovered, None);
        check(
            &recovered_page,
            "recovered",
            "已作废 已收回",
            &["2026-05-03", "收回"],
        );
        assert!(recovered_page.contains("id=\"void\""));

        let reissued = permits
            .iter()
            .find(|p| p.version > 1)
            .expect("a reissued permit");
        let current = format!("现行为第{}版", reissued.version);
        let old_page = page(&catalog, reissued, Some(1));
        check(
            &old_page,
            "superseded",
            "已换发",
            &["第1版", "原纸质凭证已作废", &current],
        );

        for title in ["无法验证", "查无此证"] {
            let error = error_page(title, "二维码内容无法识别，可能已损坏或被篡改。");
            let h1 = if title == UNVERIFIED {
                "无法验证".to_owned()
            } else {
                format!("无法验证 {title}")
            };
            check(&error, "error", &h1, &["可能已损坏或被篡改"]);
            assert!(!error.contains("class=\"licence"));
        }
    }

    #[test]
    fn every_licence_shows_its_department_state_and_remedies() {
        // 谁审批、谁负责: each licence names its approving department as the one to contact, and
        // carries its state as a hook, in printed order.
        let (catalog, permits) = permits(300);
        for permit in &permits {
            let page = page(&catalog, permit, None);
            let licences = licences_of(&page);
            assert_eq!(licences.len(), permit.licences.len(), "{}", permit.number);
            for (html, licence) in licences.iter().zip(&permit.licences) {
                let kind = catalog.licence_type(licence.licence_type).unwrap();
                let state = licence.effective_state(today());
                assert!(
                    html.contains(&format!("data-state=\"{}\"", state.code())),
                    "{html}"
                );
                assert!(html.contains(&format!("<h3>{}</h3>", kind.name)), "{html}");
                assert!(html.contains(state.label_zh()), "{html}");
                let remedy = format!(
                    "救济方式：本项由<strong>{}</strong>审批并负责",
                    kind.department
                );
                assert!(html.contains(&remedy), "{html}");
                assert!(html.contains("行政复议") && html.contains("行政诉讼"));
                if let Some(number) = &licence.certificate_number {
                    assert!(html.contains(number.as_str()), "{html}");
                }
            }
            assert!(page.contains("谁审批、谁负责"));
        }
    }

    #[test]
    fn a_typical_page_is_small() {
        // The median page is under 12 KB, and even the largest generated one stays under 16 KB.
        let (catalog, permits) = permits(1000);
        let mut sizes: Vec<usize> = permits
            .iter()
            .map(|p| page(&catalog, p, None).len())
            .collect();
        sizes.sort_unstable();
        let median = sizes[sizes.len() / 2];
        let largest = *sizes.last().unwrap();
        eprintln!("citizen page bytes: median {median}, largest {largest}");
        assert!(median < TYPICAL_PAGE_BYTES_MAX, "median {median} bytes");
        assert!(largest < 16 * 1024, "largest {largest} bytes");
    }
}
