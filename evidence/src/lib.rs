//! Certification evidence packs: what a certifier needs to see about one
//! information system at its level, as HTML, CSV, JSON and (feature `pdf`)
//! PDF, each signed with the collector's Ed25519 key.
//!
//! The collector fills an [`EvidencePack`] from its store, renders it, signs
//! the bytes and serves or writes them; `khien-collector verify FILE` calls
//! [`verify`] with the collector's public key.
//!
//! ```
//! use khien_evidence::{Format, Lang, PublicKey, render, sign, verify};
//! # let key = {
//! #     let pkcs8 = ring::signature::Ed25519KeyPair::generate_pkcs8(&ring::rand::SystemRandom::new()).unwrap();
//! #     ring::signature::Ed25519KeyPair::from_pkcs8(pkcs8.as_ref()).unwrap()
//! # };
//! // The collector builds the pack from its store; here, the demo one.
//! let pack = khien_evidence::sample::demo_pack(Lang::Vi, 10, 3);
//!
//! let file = sign(&render(&pack, Format::Html)?, Format::Html, &key);
//! let checked = verify(&file, &[PublicKey::of(&key)])?;
//! assert_eq!(checked.format, Format::Html);
//! assert!(String::from_utf8_lossy(checked.content).contains("Không đạt"));
//!
//! // One changed byte, and it no longer verifies.
//! let mut tampered = file.clone();
//! tampered[100] ^= 1;
//! assert!(matches!(verify(&tampered, &[PublicKey::of(&key)]), Err(khien_evidence::VerifyError::DigestMismatch { .. })));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! See [`sign`](mod@sign) for the trailer format.

pub mod labels;
pub mod model;
mod render;
pub mod sample;
pub mod sign;
pub mod view;

pub use model::{
    Attestation, CollectorInfo, Dossier, EvidenceItem, EvidencePack, FrameworkRef, Lang, OrgUnitRef, Provenance, RequirementEvidence,
    Summary, SystemInfo, UnknownLang, Verdict, Waiver,
};
#[cfg(feature = "pdf")]
pub use render::to_pdf;
pub use render::{RenderError, to_csv, to_html, to_json};
pub use sign::{Format, PublicKey, UnknownFormat, Verified, VerifyError, sign, verify};

/// Renders `pack` in `format` (unsigned). PDF needs the `pdf` feature; without
/// it, [`RenderError::PdfNotBuilt`] tells the caller to offer another format.
pub fn render(pack: &EvidencePack, format: Format) -> Result<Vec<u8>, RenderError> {
    match format {
        Format::Html => to_html(pack),
        Format::Csv => to_csv(pack),
        Format::Json => to_json(pack),
        #[cfg(feature = "pdf")]
        Format::Pdf => to_pdf(pack),
        #[cfg(not(feature = "pdf"))]
        Format::Pdf => Err(RenderError::PdfNotBuilt),
    }
}

/// Whether this build can render PDF.
pub const PDF_SUPPORTED: bool = cfg!(feature = "pdf");
