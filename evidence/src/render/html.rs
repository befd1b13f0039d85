use super::RenderError;
use crate::model::EvidencePack;
use crate::view::View;
use askama::Template;

#[derive(Template)]
#[template(path = "evidence.html")]
struct Page<'a> {
    v: &'a View,
}

/// A self-contained printable page (UTF-8, inline CSS, no script, no external
/// asset), summary first, in the pack's language. Every value is HTML-escaped.
pub fn to_html(pack: &EvidencePack) -> Result<Vec<u8>, RenderError> {
    let view = View::new(pack);
    let mut out = Page { v: &view }.render()?;
    if !out.ends_with('\n') {
        out.push('\n');
    }
    Ok(out.into_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Lang;
    use crate::sample::demo_pack;

    fn html(pack: &EvidencePack) -> String {
        String::from_utf8(to_html(pack).unwrap()).unwrap()
    }

    #[test]
    fn vietnamese_by_default_summary_first() {
        let page = html(&demo_pack(Lang::Vi, 8, 3));
        assert!(page.starts_with("<!DOCTYPE html>\n<html lang=\"vi\">"));
        assert!(page.contains("<meta charset=\"utf-8\">"));
        for text in [
            "Hệ thống thông tin cấp độ 3 — Đắk Lắk",
            "Không đạt",
            "Tóm tắt",
            "Kết luận",
            "Tỉnh ủy Đắk Lắk",
            "20/06/2025",
        ] {
            assert!(page.contains(text), "missing {text:?}");
        }
        let summary = page.find("Tóm tắt").unwrap();
        assert!(summary < page.find("Danh mục yêu cầu").unwrap());
        assert!(summary < page.find("Bằng chứng theo từng yêu cầu").unwrap());
    }

    #[test]
    fn english_when_asked() {
        let page = html(&demo_pack(Lang::En, 4, 2));
        assert!(page.contains("<html lang=\"en\">"));
        assert!(page.contains("Summary") && page.contains("Evidence by requirement") && page.contains("Fail"));
        assert!(!page.contains("Tóm tắt"));
    }

    #[test]
    fn self_contained() {
        let page = html(&demo_pack(Lang::Vi, 4, 2));
        for banned in ["<script", "<link", "src=", "@import", "url(", "http://", "<img"] {
            assert!(!page.to_ascii_lowercase().contains(banned), "found {banned:?}");
        }
        // The only URL is the collector's own, printed as text.
        assert_eq!(page.matches("https://").count(), 1);
    }

    #[test]
    fn hostile_strings_are_escaped() {
        let mut pack = demo_pack(Lang::Vi, 3, 1);
        let evil = r#"<script>alert("x")</script><img src=x onerror='y'> & --> <!-- "#;
        pack.system.name = evil.into();
        pack.collector.name = evil.into();
        pack.requirements[0].id = evil.into();
        pack.requirements[0].title = evil.into();
        pack.requirements[0].evidence[0].endpoint = evil.into();
        pack.requirements[0].evidence[0].expected = evil.into();
        pack.requirements[0].evidence[0].observed = serde_json::json!({ evil: evil });
        pack.requirements[0].evidence[0].message = Some(evil.into());
        pack.requirements[1].waivers[0].reason = evil.into();
        pack.requirements[2].attestations[0].file_name = evil.into();
        let page = html(&pack);
        assert!(!page.contains("<script"), "unescaped script");
        assert!(!page.contains("<img"), "unescaped img");
        assert!(!page.contains("onerror='"));
        // Inside the document, "-->" could end the signature comment early: escaped too.
        assert!(!page.contains("-->"));
        assert!(!page.contains("<!--"));
        assert!(page.contains("&#60;script&#62;") || page.contains("&lt;script&gt;"));
        // The anchor keeps only safe characters.
        assert!(page.contains("id=\"req-_script_alert__x"));
    }
}
