use super::RenderError;
use crate::model::EvidencePack;

/// The pack as pretty-printed JSON (UTF-8, ending with a newline): the machine-readable export.
pub fn to_json(pack: &EvidencePack) -> Result<Vec<u8>, RenderError> {
    let mut out = serde_json::to_vec_pretty(pack)?;
    out.push(b'\n');
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Lang;
    use crate::sample::demo_pack;

    #[test]
    fn vietnamese_survives_unescaped() {
        let pack = demo_pack(Lang::Vi, 5, 2);
        let out = to_json(&pack).unwrap();
        let text = std::str::from_utf8(&out).unwrap();
        // Written as UTF-8, not as \u escapes, so that it reads as it is.
        assert!(text.contains("Hệ thống thông tin cấp độ 3 — Đắk Lắk"), "{}", &text[..400]);
        assert!(text.ends_with("}\n"));
        let back: EvidencePack = serde_json::from_slice(&out).unwrap();
        assert_eq!(back, pack);
    }
}
