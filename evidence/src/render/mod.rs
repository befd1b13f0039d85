//! The four export formats. Each returns the bytes to sign with [`crate::sign`].

mod csv;
mod html;
mod json;
#[cfg(feature = "pdf")]
mod pdf;

pub use self::csv::to_csv;
pub use html::to_html;
pub use json::to_json;
#[cfg(feature = "pdf")]
pub use pdf::to_pdf;

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RenderError {
    #[error("cannot write the pack as JSON: {0}")]
    Json(#[from] serde_json::Error),
    #[error("cannot write the pack as CSV: {0}")]
    Csv(#[from] ::csv::Error),
    #[error("cannot render the HTML template: {0}")]
    Html(#[from] askama::Error),
    #[error("this build has no PDF support: build khien-evidence with the `pdf` feature")]
    PdfNotBuilt,
    /// Typst's diagnostics, one per line.
    #[error("cannot typeset the PDF: {0}")]
    Pdf(String),
}
