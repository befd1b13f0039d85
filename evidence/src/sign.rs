//! The signed trailer that every export carries, and its verification.
//!
//! # Format (v1)
//!
//! A signed export is the *signed part* followed by one trailer line:
//!
//! ```text
//! <signed part><opener>khien-signature v1 sha256=<64 hex> ed25519=<88 base64> key=<44 base64><closer>\n
//! ```
//!
//! | format | signed part | opener | closer |
//! |---|---|---|---|
//! | HTML | the page | `<!-- ` | ` -->` |
//! | CSV | the table | `# ` | |
//! | PDF | the document (after its `%%EOF`) | `% ` | |
//! | JSON | `{"pack":` and the pack | `,"signature":"` | `"}` |
//!
//! The signed part always ends with `\n` (one is added when the content lacks
//! it), so the trailer is the file's last line, in the format's own comment
//! syntax: browsers hide it, PDF readers ignore bytes after `%%EOF`, CSV
//! readers skip it with `#` as their comment character. JSON has no comments,
//! so there the trailer closes a wrapper object instead, and the file stays
//! one valid JSON document: `{"pack": {…}\n,"signature":"khien-signature v1 …"}`.
//!
//! - `sha256` is the SHA-256 of the signed part, lowercase hex.
//! - `ed25519` is an Ed25519 signature, standard base64 with padding, over the
//!   ASCII message `khien-signature v1 <format> sha256=<the same hex>`, where
//!   `<format>` is `html`, `csv`, `pdf` or `json`. Signing the digest rather
//!   than the raw bytes binds the format and the scheme version too, keeps
//!   signatures over large PDFs cheap, and lets anyone check a file with
//!   stock tools (`sha256sum`, then any Ed25519 verifier).
//! - `key` is the signer's raw 32-byte Ed25519 public key, standard base64:
//!   it names the key; trust comes only from the verifier's list.
//!
//! Standard base64 (not URL-safe) is deliberate: it has no `-`, so it can
//! never write `--` inside an HTML comment, nor a `"` or `\` inside the JSON
//! string.
//!
//! # Verification
//!
//! [`verify`] finds the last `khien-signature ` in the file, checks that the
//! format's opener precedes it and that the trailer runs to the end of the
//! file (one final `\n` allowed), then checks, in this order: the digest of
//! everything before the opener (a changed byte there is
//! [`VerifyError::DigestMismatch`]), that the key is trusted
//! ([`VerifyError::UnknownKey`]), and the signature
//! ([`VerifyError::BadSignature`]).

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use ring::digest::{SHA256, digest};
use ring::signature::{ED25519, Ed25519KeyPair, KeyPair, UnparsedPublicKey};
use std::fmt;
use std::str::FromStr;

/// The trailer's scheme name; what follows it is the version.
const SCHEME: &str = "khien-signature";
const VERSION: &str = "v1";
/// What precedes a JSON pack inside its signed wrapper.
const JSON_WRAPPER: &[u8] = b"{\"pack\":";

/// An export format.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Format {
    Html,
    Pdf,
    Csv,
    Json,
}

impl Format {
    pub const ALL: [Format; 4] = [Format::Html, Format::Pdf, Format::Csv, Format::Json];

    pub fn as_str(self) -> &'static str {
        match self {
            Format::Html => "html",
            Format::Pdf => "pdf",
            Format::Csv => "csv",
            Format::Json => "json",
        }
    }

    /// The file name extension, without the dot.
    pub fn extension(self) -> &'static str {
        self.as_str()
    }

    /// The HTTP `Content-Type` of a signed export.
    pub fn content_type(self) -> &'static str {
        match self {
            Format::Html => "text/html; charset=utf-8",
            Format::Pdf => "application/pdf",
            Format::Csv => "text/csv; charset=utf-8",
            Format::Json => "application/json",
        }
    }

    fn opener(self) -> &'static [u8] {
        match self {
            Format::Html => b"<!-- ",
            Format::Csv => b"# ",
            Format::Pdf => b"% ",
            Format::Json => b",\"signature\":\"",
        }
    }

    fn closer(self) -> &'static [u8] {
        match self {
            Format::Html => b" -->",
            Format::Csv | Format::Pdf => b"",
            Format::Json => b"\"}",
        }
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown format {0:?}: expected html, pdf, csv or json")]
pub struct UnknownFormat(pub String);

impl FromStr for Format {
    type Err = UnknownFormat;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Format::ALL
            .into_iter()
            .find(|f| f.as_str().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| UnknownFormat(s.to_string()))
    }
}

/// A raw Ed25519 public key; shown as standard base64.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct PublicKey([u8; 32]);

impl PublicKey {
    pub fn from_bytes(bytes: &[u8]) -> Option<Self> {
        bytes.try_into().ok().map(PublicKey)
    }

    /// The public half of a signing key.
    pub fn of(key: &Ed25519KeyPair) -> Self {
        let mut raw = [0u8; 32];
        raw.copy_from_slice(key.public_key().as_ref());
        PublicKey(raw)
    }

    pub fn from_base64(text: &str) -> Option<Self> {
        B64.decode(text.trim()).ok().and_then(|b| Self::from_bytes(&b))
    }

    pub fn to_base64(&self) -> String {
        B64.encode(self.0)
    }

    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

impl fmt::Display for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_base64())
    }
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PublicKey({self})")
    }
}

fn message(format: Format, sha256_hex: &str) -> String {
    format!("{SCHEME} {VERSION} {format} sha256={sha256_hex}")
}

/// Returns `content` with the signed trailer of `format` appended (for JSON:
/// wrapped as `{"pack":<content>` and closed by the trailer). `content` is
/// what the renderer produced; a final `\n` is added when it lacks one.
pub fn sign(content: &[u8], format: Format, key: &Ed25519KeyPair) -> Vec<u8> {
    let mut out = Vec::with_capacity(content.len() + 256);
    if format == Format::Json {
        out.extend_from_slice(JSON_WRAPPER);
    }
    out.extend_from_slice(content);
    if !out.ends_with(b"\n") {
        out.push(b'\n');
    }
    let sha = hex::encode(digest(&SHA256, &out));
    let sig = key.sign(message(format, &sha).as_bytes());
    out.extend_from_slice(format.opener());
    out.extend_from_slice(
        format!(
            "{SCHEME} {VERSION} sha256={sha} ed25519={} key={}",
            B64.encode(sig.as_ref()),
            PublicKey::of(key)
        )
        .as_bytes(),
    );
    out.extend_from_slice(format.closer());
    out.push(b'\n');
    out
}

/// A file whose trailer checked out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified<'a> {
    pub format: Format,
    /// SHA-256 of `signed`, lowercase hex.
    pub sha256: String,
    /// The trusted key that signed it.
    pub key: PublicKey,
    /// The bytes the digest covers: everything before the trailer.
    pub signed: &'a [u8],
    /// What was given to [`sign`] (with a final `\n`): `signed` without the JSON wrapper.
    pub content: &'a [u8],
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum VerifyError {
    #[error("no khien-signature trailer at the end of the file: it was not signed, or it was cut short or reformatted")]
    NoTrailer,
    #[error("the khien-signature trailer is malformed: {0}")]
    MalformedTrailer(&'static str),
    #[error("khien-signature version {0:?} is not supported (this build knows v1)")]
    UnsupportedVersion(String),
    #[error("the file was changed after it was signed: its SHA-256 is {actual}, the trailer says {recorded}")]
    DigestMismatch { recorded: String, actual: String },
    #[error("signed by a key that is not trusted: {key}")]
    UnknownKey { key: PublicKey },
    #[error("the Ed25519 signature does not match the file's digest and the key {key}")]
    BadSignature { key: PublicKey },
}

fn rfind(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).rposition(|w| w == needle)
}

/// Checks the trailer of a signed export against the trusted public keys.
pub fn verify<'a>(file: &'a [u8], trusted: &[PublicKey]) -> Result<Verified<'a>, VerifyError> {
    use VerifyError::*;
    let body = file.strip_suffix(b"\n").unwrap_or(file);
    let mark = rfind(body, format!("{SCHEME} ").as_bytes()).ok_or(NoTrailer)?;
    let before = &body[..mark];
    let format = Format::ALL.into_iter().find(|f| before.ends_with(f.opener())).ok_or(NoTrailer)?;
    let signed = &before[..before.len() - format.opener().len()];
    let text = body[mark..]
        .strip_suffix(format.closer())
        .ok_or(MalformedTrailer("it does not end the way its format requires"))?;
    let text = std::str::from_utf8(text).map_err(|_| MalformedTrailer("it is not ASCII text"))?;

    let mut parts = text.split(' ').skip(1);
    let version = parts.next().unwrap_or_default();
    if version != VERSION {
        return Err(UnsupportedVersion(version.chars().take(16).collect()));
    }
    let mut field = |name: &'static str| {
        parts
            .next()
            .and_then(|p| p.strip_prefix(name))
            .ok_or(MalformedTrailer("expected sha256=, ed25519= and key=, in this order"))
    };
    let recorded = field("sha256=")?;
    let sig = field("ed25519=")?;
    let key = field("key=")?;
    if parts.next().is_some() {
        return Err(MalformedTrailer("unexpected text after key="));
    }
    if recorded.len() != 64 || !recorded.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)) {
        return Err(MalformedTrailer("sha256= is not 64 lowercase hex digits"));
    }
    let sig = B64
        .decode(sig)
        .ok()
        .filter(|s| s.len() == 64)
        .ok_or(MalformedTrailer("ed25519= is not a base64 signature of 64 bytes"))?;
    let key = B64
        .decode(key)
        .ok()
        .and_then(|k| PublicKey::from_bytes(&k))
        .ok_or(MalformedTrailer("key= is not a base64 public key of 32 bytes"))?;

    let actual = hex::encode(digest(&SHA256, signed));
    if actual != recorded {
        return Err(DigestMismatch {
            recorded: recorded.to_string(),
            actual,
        });
    }
    if !trusted.contains(&key) {
        return Err(UnknownKey { key });
    }
    UnparsedPublicKey::new(&ED25519, key.as_bytes())
        .verify(message(format, &actual).as_bytes(), &sig)
        .map_err(|_| BadSignature { key })?;
    let content = if format == Format::Json {
        signed.strip_prefix(JSON_WRAPPER).unwrap_or(signed)
    } else {
        signed
    };
    Ok(Verified {
        format,
        sha256: actual,
        key,
        signed,
        content,
    })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::sample::demo_pack;
    use crate::{Lang, to_csv, to_html, to_json};
    use ring::rand::SystemRandom;

    pub(crate) fn key() -> Ed25519KeyPair {
        let pkcs8 = Ed25519KeyPair::generate_pkcs8(&SystemRandom::new()).unwrap();
        Ed25519KeyPair::from_pkcs8(pkcs8.as_ref()).unwrap()
    }

    /// Every single-byte change is rejected; inside the signed part, as a digest mismatch.
    pub(crate) fn assert_every_flip_fails(signed_file: &[u8], trusted: &[PublicKey], stride: usize) {
        let ok = verify(signed_file, trusted).unwrap();
        let signed_len = ok.signed.len();
        let mut copy = signed_file.to_vec();
        for i in (0..copy.len())
            .step_by(stride.max(1))
            .chain([copy.len() - 1, signed_len - 1, signed_len])
        {
            copy[i] ^= 0x01;
            let r = verify(&copy, trusted);
            if i < signed_len {
                assert!(matches!(r, Err(VerifyError::DigestMismatch { .. })), "byte {i}: {r:?}");
            } else {
                assert!(r.is_err(), "byte {i} of the trailer flipped, yet verified");
            }
            copy[i] ^= 0x01;
        }
    }

    #[test]
    fn round_trips_in_every_text_format() {
        let k = key();
        let trusted = [PublicKey::of(&k)];
        let pack = demo_pack(Lang::Vi, 6, 2);
        for (format, content) in [
            (Format::Html, to_html(&pack).unwrap()),
            (Format::Csv, to_csv(&pack).unwrap()),
            (Format::Json, to_json(&pack).unwrap()),
        ] {
            let file = sign(&content, format, &k);
            let v = verify(&file, &trusted).unwrap();
            assert_eq!((v.format, v.key), (format, trusted[0]));
            assert_eq!(v.content, &content[..], "{format}");
            assert_eq!(v.sha256, hex::encode(digest(&SHA256, v.signed)));
            assert_eq!(
                file.iter().filter(|b| **b == b'\n').count(),
                content.iter().filter(|b| **b == b'\n').count() + 1
            );
        }
    }

    #[test]
    fn trailer_lines() {
        let k = key();
        let html = String::from_utf8(sign(b"<p>x</p>\n", Format::Html, &k)).unwrap();
        let last = html.lines().last().unwrap();
        assert!(
            last.starts_with("<!-- khien-signature v1 sha256=") && last.ends_with(" -->"),
            "{last}"
        );
        assert!(!last[4..last.len() - 3].contains("--"), "no -- inside the comment");
        let csv = String::from_utf8(sign(b"a,b\n1,2", Format::Csv, &k)).unwrap();
        assert!(
            csv.starts_with("a,b\n1,2\n# khien-signature v1 sha256="),
            "a newline is added before the trailer"
        );
        let fields: Vec<&str> = csv.lines().last().unwrap().split(' ').collect();
        assert_eq!(fields.len(), 6);
        assert_eq!(fields[3].len(), "sha256=".len() + 64);
        assert_eq!(fields[4].len(), "ed25519=".len() + 88);
        assert_eq!(fields[5], format!("key={}", PublicKey::of(&k)));
    }

    #[test]
    fn signed_json_is_one_valid_document() {
        let k = key();
        let pack = demo_pack(Lang::Vi, 3, 2);
        let file = sign(&to_json(&pack).unwrap(), Format::Json, &k);
        let doc: serde_json::Value = serde_json::from_slice(&file).unwrap();
        let back: crate::EvidencePack = serde_json::from_value(doc["pack"].clone()).unwrap();
        assert_eq!(back, pack);
        assert!(doc["signature"].as_str().unwrap().starts_with("khien-signature v1 sha256="));
        assert_eq!(doc.as_object().unwrap().len(), 2);
    }

    #[test]
    fn signed_csv_reads_with_comment_char() {
        let k = key();
        let content = to_csv(&demo_pack(Lang::Vi, 4, 2)).unwrap();
        let file = sign(&content, Format::Csv, &k);
        let rows = |bytes: &[u8]| {
            ::csv::ReaderBuilder::new()
                .comment(Some(b'#'))
                .from_reader(bytes)
                .records()
                .map(|r| r.unwrap())
                .collect::<Vec<_>>()
        };
        assert_eq!(rows(&file), rows(&content));
    }

    #[test]
    fn any_flipped_byte_fails() {
        let k = key();
        let trusted = [PublicKey::of(&k)];
        let pack = demo_pack(Lang::Vi, 3, 2);
        assert_every_flip_fails(&sign(&to_html(&pack).unwrap(), Format::Html, &k), &trusted, 1);
        assert_every_flip_fails(&sign(&to_csv(&pack).unwrap(), Format::Csv, &k), &trusted, 1);
        assert_every_flip_fails(&sign(&to_json(&pack).unwrap(), Format::Json, &k), &trusted, 1);
    }

    #[test]
    fn other_keys_are_refused() {
        let (ours, theirs) = (key(), key());
        let trusted = [PublicKey::of(&ours)];
        let file = sign(b"<p>Kh\xc3\xb4ng \xc4\x91\xe1\xba\xa1t</p>\n", Format::Html, &theirs);
        assert_eq!(
            verify(&file, &trusted),
            Err(VerifyError::UnknownKey {
                key: PublicKey::of(&theirs)
            })
        );
        assert!(
            verify(&file, &[PublicKey::of(&theirs), trusted[0]]).is_ok(),
            "any trusted key will do"
        );
        assert_eq!(
            verify(&file, &[]),
            Err(VerifyError::UnknownKey {
                key: PublicKey::of(&theirs)
            })
        );

        // Their signature, but claiming our key: the digest holds, the signature does not.
        let text = String::from_utf8(file).unwrap();
        let forged = text.replace(&PublicKey::of(&theirs).to_base64(), &trusted[0].to_base64());
        assert_eq!(
            verify(forged.as_bytes(), &trusted),
            Err(VerifyError::BadSignature { key: trusted[0] })
        );
    }

    #[test]
    fn a_recomputed_digest_does_not_help() {
        let k = key();
        let trusted = [PublicKey::of(&k)];
        let file = String::from_utf8(sign(b"verdict: fail\n", Format::Csv, &k)).unwrap();
        let old = hex::encode(digest(&SHA256, b"verdict: fail\n"));
        let new = hex::encode(digest(&SHA256, b"verdict: pass\n"));
        let tampered = file.replace("verdict: fail", "verdict: pass").replace(&old, &new);
        assert_eq!(
            verify(tampered.as_bytes(), &trusted),
            Err(VerifyError::BadSignature { key: trusted[0] })
        );
        // Nor does relabelling the format: the signed message names it.
        let relabelled = file.replace("# khien-signature", "% khien-signature");
        assert_eq!(
            verify(relabelled.as_bytes(), &trusted),
            Err(VerifyError::BadSignature { key: trusted[0] })
        );
    }

    #[test]
    fn missing_and_malformed_trailers() {
        let k = key();
        let trusted = [PublicKey::of(&k)];
        assert_eq!(verify(b"<html></html>\n", &trusted), Err(VerifyError::NoTrailer));
        assert_eq!(verify(b"", &trusted), Err(VerifyError::NoTrailer));
        let file = sign(b"a\n", Format::Html, &k);
        let cut = &file[..file.len() - 20];
        assert!(
            matches!(verify(cut, &trusted), Err(VerifyError::MalformedTrailer(_))),
            "{:?}",
            verify(cut, &trusted)
        );
        assert_eq!(
            verify(b"x\n<!-- khien-signature v2 sha256=00 -->\n", &trusted),
            Err(VerifyError::UnsupportedVersion("v2".into()))
        );
        // Text after the trailer: it is no longer the last line.
        let mut appended = file.clone();
        appended.extend_from_slice(b"<p>added</p>\n");
        assert!(verify(&appended, &trusted).is_err());
        // Without its final newline the file still verifies: the newline is not signed.
        assert!(verify(&file[..file.len() - 1], &trusted).is_ok());
    }

    #[test]
    fn content_that_mentions_the_scheme() {
        let k = key();
        let trusted = [PublicKey::of(&k)];
        let content = b"<p>khien-signature v1 sha256=00 ed25519=AA key=BB</p>\n<!-- khien-signature v1 -->\n";
        let file = sign(content, Format::Html, &k);
        assert_eq!(verify(&file, &trusted).unwrap().content, content);
    }

    #[test]
    fn formats_parse() {
        for f in Format::ALL {
            assert_eq!(f.as_str().parse::<Format>().unwrap(), f);
        }
        assert_eq!("PDF".parse::<Format>().unwrap(), Format::Pdf);
        assert!("docx".parse::<Format>().is_err());
        let k = key();
        assert_eq!(PublicKey::from_base64(&PublicKey::of(&k).to_base64()), Some(PublicKey::of(&k)));
    }
}
