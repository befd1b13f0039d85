//! ClamAV signature database headers (`.cvd` and `.cld` files).
//!
//! The first 512 bytes are ASCII, space-padded, colon-separated:
//! `ClamAV-VDB:<build time text>:<version>:<signatures>:<functionality level>:<md5>:<dsig>:<builder>:<build time, unix seconds>`.
//! The text time writes `08-02` for 08:02 so that splitting on `:` works; the
//! ninth field is the reliable one, and old files lack it, so the text form is
//! the fallback. A `.cld` (written by freshclam after applying diffs) has the
//! same header with an empty md5 and an `x` signature.

use khien_proto::Timestamp;
use std::io::Read;
use std::path::Path;
use time::OffsetDateTime;
use time::macros::format_description;

pub const HEADER_LEN: usize = 512;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CvdHeader {
    pub version: u64,
    pub signatures: Option<u64>,
    pub functionality_level: Option<u32>,
    pub build_time: Option<Timestamp>,
    pub builder: Option<String>,
}

pub fn parse_header(raw: &[u8]) -> Result<CvdHeader, String> {
    let raw = &raw[..raw.len().min(HEADER_LEN)];
    let text = String::from_utf8_lossy(raw);
    // The C parser stops at the first line break; padding is spaces or NULs.
    let text = text.split(['\r', '\n']).next().unwrap_or_default();
    let fields: Vec<&str> = text.split(':').map(|f| f.trim_matches(|c: char| c == ' ' || c == '\0')).collect();
    if fields.first() != Some(&"ClamAV-VDB") {
        return Err("not a ClamAV database (header does not start with ClamAV-VDB)".into());
    }
    let version = fields
        .get(2)
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| format!("header has no valid version field: {:?}", fields.get(2).unwrap_or(&"")))?;
    let build_time = fields
        .get(8)
        .and_then(|t| t.parse::<i64>().ok())
        .filter(|t| *t > 0)
        .and_then(Timestamp::from_unix)
        .or_else(|| fields.get(1).and_then(|t| parse_text_time(t)));
    Ok(CvdHeader {
        version,
        signatures: fields.get(3).and_then(|v| v.parse().ok()),
        functionality_level: fields.get(4).and_then(|v| v.parse().ok()),
        build_time,
        builder: fields.get(7).filter(|b| !b.is_empty()).map(|b| b.to_string()),
    })
}

/// `07 Mar 2017 08-02 -0500`, the header's human-readable build time.
fn parse_text_time(text: &str) -> Option<Timestamp> {
    let format = format_description!("[day] [month repr:short] [year] [hour]-[minute] [offset_hour sign:mandatory][offset_minute]");
    OffsetDateTime::parse(text.trim(), &format).ok().map(Timestamp::from)
}

pub fn read_header(path: &Path) -> std::io::Result<CvdHeader> {
    let mut buf = Vec::with_capacity(HEADER_LEN);
    std::fs::File::open(path)?.take(HEADER_LEN as u64).read_to_end(&mut buf)?;
    parse_header(&buf).map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))
}

/// Builds a header as sigtool would, for tests and fixtures.
pub fn build_header(version: u64, signatures: u64, build_time: i64) -> Vec<u8> {
    let text_time = Timestamp::from_unix(build_time)
        .map(|t| {
            let f = format_description!("[day] [month repr:short] [year] [hour]-[minute] +0000");
            t.inner().format(&f).unwrap_or_default()
        })
        .unwrap_or_default();
    let mut header = format!("ClamAV-VDB:{text_time}:{version}:{signatures}:90::x:khien-test:{build_time}").into_bytes();
    header.resize(HEADER_LEN, b' ');
    header
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_real_daily_header() {
        let mut raw =
            b"ClamAV-VDB:07 Mar 2017 08-02 -0500:23182:1741572:63:c1537143b5d7c0f8bbf9ac9e7ca54a1e:QC2ZabcdefSIG:neo:1488891746".to_vec();
        raw.resize(HEADER_LEN, b' ');
        raw.extend_from_slice(b"COPYING...tar body");
        let h = parse_header(&raw).unwrap();
        assert_eq!(h.version, 23182);
        assert_eq!(h.signatures, Some(1_741_572));
        assert_eq!(h.functionality_level, Some(63));
        assert_eq!(h.builder.as_deref(), Some("neo"));
        assert_eq!(h.build_time.unwrap().to_string(), "2017-03-07T13:02:26Z");
    }

    #[test]
    fn falls_back_to_the_text_time_in_old_headers() {
        let h = parse_header(b"ClamAV-VDB:07 Mar 2017 08-02 -0500:23182:1741572:63:md5:sig:neo").unwrap();
        assert_eq!(h.build_time.unwrap().to_string(), "2017-03-07T13:02:00Z");
    }

    #[test]
    fn cld_headers_with_empty_md5_and_padding_nuls() {
        let mut raw = b"ClamAV-VDB:22 Nov 2026 08-30 +0000:27830:2076541:90::x:freshclam:1795336200".to_vec();
        raw.resize(HEADER_LEN, 0);
        let h = parse_header(&raw).unwrap();
        assert_eq!(h.version, 27830);
        assert_eq!(h.build_time.unwrap().unix(), 1_795_336_200);
    }

    #[test]
    fn rejects_other_files() {
        assert!(parse_header(b"\x1f\x8b\x08 gzip").is_err());
        assert!(parse_header(b"ClamAV-VDB:x:notanumber:1").is_err());
    }

    #[test]
    fn built_headers_parse_back() {
        let raw = build_header(27001, 42, 1_795_000_000);
        assert_eq!(raw.len(), HEADER_LEN);
        let h = parse_header(&raw).unwrap();
        assert_eq!((h.version, h.signatures), (27001, Some(42)));
        assert_eq!(h.build_time.unwrap().unix(), 1_795_000_000);
    }
}
