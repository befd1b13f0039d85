//! PDF through typst used as a library.
//!
//! A minimal [`World`]: the main source is `templates/evidence.typ` (compiled
//! into the binary), the only other file is `/view.json` (the same [`View`] as
//! the HTML page), the fonts are DejaVu Sans, Sans Bold and Sans Mono (embedded,
//! see `fonts/LICENSE`), and there is no package, no file system access and
//! no clock: the document date is the pack's `generated_at`, so the same pack
//! gives the same bytes.

use super::RenderError;
use crate::model::EvidencePack;
use crate::view::View;
use std::sync::LazyLock;
use typst::diag::{FileError, FileResult, Severity, SourceDiagnostic};
use typst::foundations::{Bytes, Datetime};
use typst::syntax::{FileId, RootedPath, Source, VirtualPath, VirtualRoot};
use typst::text::{Font, FontBook};
use typst::utils::LazyHash;
use typst::{Library, LibraryExt, World};
use typst_layout::PagedDocument;

const TEMPLATE: &str = include_str!("../../templates/evidence.typ");

/// DejaVu 2.37 from Debian's fonts-dejavu-core; all three cover Vietnamese.
const FONT_FILES: [&[u8]; 3] = [
    include_bytes!("../../fonts/DejaVuSans.ttf"),
    include_bytes!("../../fonts/DejaVuSans-Bold.ttf"),
    include_bytes!("../../fonts/DejaVuSansMono.ttf"),
];

/// Parsed once per process: the standard library, the fonts and their book.
struct Shared {
    library: LazyHash<Library>,
    book: LazyHash<FontBook>,
    fonts: Vec<Font>,
    main: FileId,
    data: FileId,
    /// The template, parsed once.
    source: Source,
}

static SHARED: LazyLock<Shared> = LazyLock::new(|| {
    let fonts: Vec<Font> = FONT_FILES.iter().flat_map(|data| Font::iter(Bytes::new(*data))).collect();
    let id = |path: &str| match VirtualPath::new(path) {
        Ok(vpath) => RootedPath::new(VirtualRoot::Project, vpath).intern(),
        Err(_) => unreachable!("{path} is a valid virtual path"),
    };
    let main = id("/main.typ");
    Shared {
        library: LazyHash::new(Library::default()),
        book: LazyHash::new(FontBook::from_fonts(&fonts)),
        fonts,
        main,
        data: id("/view.json"),
        source: Source::new(main, TEMPLATE.to_string()),
    }
});

struct PackWorld {
    shared: &'static Shared,
    data: Bytes,
    today: Option<Datetime>,
}

impl World for PackWorld {
    fn library(&self) -> &LazyHash<Library> {
        &self.shared.library
    }

    fn book(&self) -> &LazyHash<FontBook> {
        &self.shared.book
    }

    fn main(&self) -> FileId {
        self.shared.main
    }

    fn source(&self, id: FileId) -> FileResult<Source> {
        if id == self.shared.main {
            Ok(self.shared.source.clone())
        } else {
            Err(FileError::NotSource)
        }
    }

    fn file(&self, id: FileId) -> FileResult<Bytes> {
        if id == self.shared.data {
            Ok(self.data.clone())
        } else if id == self.shared.main {
            Ok(Bytes::from_string(self.shared.source.clone()))
        } else {
            Err(FileError::AccessDenied)
        }
    }

    fn font(&self, index: usize) -> Option<Font> {
        self.shared.fonts.get(index).cloned()
    }

    fn today(&self, _offset: Option<typst::foundations::Duration>) -> Option<Datetime> {
        self.today
    }
}

fn diagnostics(diags: &[SourceDiagnostic]) -> String {
    diags
        .iter()
        .map(|d| {
            let kind = if d.severity == Severity::Error { "error" } else { "warning" };
            let hints: String = d.hints.iter().map(|h| format!(" (hint: {})", h.v)).collect();
            format!("{kind}: {}{hints}", d.message)
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The pack as an A4 PDF (tagged, fonts subset and embedded), in the pack's language.
pub fn to_pdf(pack: &EvidencePack) -> Result<Vec<u8>, RenderError> {
    typeset(pack).map(|(pdf, _warnings)| pdf)
}

/// The PDF and typst's warnings: the template is ours, so tests require none.
fn typeset(pack: &EvidencePack) -> Result<(Vec<u8>, String), RenderError> {
    let shared: &'static Shared = &SHARED;
    let view = View::new(pack);
    let generated = pack.generated_at.inner();
    let today = Datetime::from_ymd_hms(
        generated.year(),
        generated.month().into(),
        generated.day(),
        generated.hour(),
        generated.minute(),
        generated.second(),
    );
    let world = PackWorld {
        shared,
        data: Bytes::new(serde_json::to_vec(&view)?),
        today,
    };
    let warned = typst::compile::<PagedDocument>(&world);
    let result = warned
        .output
        .map_err(|errors| RenderError::Pdf(diagnostics(&errors)))
        .and_then(|document| {
            let options = typst_pdf::PdfOptions {
                ident: typst::foundations::Smart::Custom(format!("khien-evidence/{}/{}", pack.system.code, pack.generated_at)),
                creator: typst::foundations::Smart::Custom(Some("Khiên".to_string())),
                timestamp: today.map(typst_pdf::Timestamp::new_utc),
                ..Default::default()
            };
            typst_pdf::pdf(&document, &options).map_err(|errors| RenderError::Pdf(diagnostics(&errors)))
        });
    // Typst memoises across compilations; drop what the last few did not use,
    // so that a long-running collector does not grow with every pack.
    typst::comemo::evict(10);
    Ok((result?, diagnostics(&warned.warnings)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sample::demo_pack;
    use crate::sign::tests::{assert_every_flip_fails, key};
    use crate::{Format, Lang, PublicKey, sign, verify};
    use std::io::Write;
    use std::process::{Command, Stdio};

    /// `pdftotext -layout - -` on `pdf`; `None` (with the reason printed) when poppler-utils is missing.
    fn pdftotext(pdf: &[u8]) -> Option<(String, String)> {
        let child = Command::new("pdftotext")
            .args(["-enc", "UTF-8", "-layout", "-", "-"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn();
        let mut child = match child {
            Ok(c) => c,
            // CI installs poppler-utils: there, a missing pdftotext is a failure, not a skip.
            Err(e) if std::env::var_os("CI").is_some() => panic!("pdftotext not runnable ({e}); CI must install poppler-utils"),
            Err(e) => {
                eprintln!("SKIP: pdftotext not runnable ({e}); install poppler-utils");
                return None;
            }
        };
        child.stdin.take().unwrap().write_all(pdf).unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success(), "pdftotext failed: {}", String::from_utf8_lossy(&out.stderr));
        Some((String::from_utf8(out.stdout).unwrap(), String::from_utf8(out.stderr).unwrap()))
    }

    #[test]
    fn vietnamese_text_comes_out_right() {
        let pdf = to_pdf(&demo_pack(Lang::Vi, 12, 3)).unwrap();
        assert!(pdf.starts_with(b"%PDF-"));
        let Some((text, _)) = pdftotext(&pdf) else { return };
        for s in [
            "Hệ thống thông tin cấp độ 3 — Đắk Lắk",
            "Không đạt",
            "cấp độ 3",
            "Tỉnh ủy Đắk Lắk",
            "Đắk Lắk",
            "Tóm tắt",
            "Cần xác nhận thủ công",
            "Nguyễn Văn Đức",
            "Phòng chống mã độc chạy thường trực",
            "20/06/2025",
            "dlk-dhtn-001.tinhuy.daklak.vn",
        ] {
            assert!(text.contains(s), "pdftotext lacks {s:?}:\n{text}");
        }
    }

    #[test]
    fn english_when_asked() {
        let pdf = to_pdf(&demo_pack(Lang::En, 5, 2)).unwrap();
        let Some((text, _)) = pdftotext(&pdf) else { return };
        assert!(
            text.contains("Summary") && text.contains("Evidence by requirement") && text.contains("Does not meet"),
            "{text}"
        );
        assert!(text.contains("Đắk Lắk"), "names stay Vietnamese");
        assert!(!text.contains("Tóm tắt"));
    }

    #[test]
    fn hostile_strings_are_text() {
        let mut pack = demo_pack(Lang::Vi, 3, 1);
        let evil = "#pagebreak() ]) #{panic(\"x\")} $x^2$ <lbl> @ref *bold* `raw` \\ // comment";
        pack.system.name = evil.into();
        pack.requirements[0].title = evil.into();
        pack.requirements[0].evidence[0].expected = evil.into();
        let pdf = to_pdf(&pack).unwrap();
        let Some((text, _)) = pdftotext(&pdf) else { return };
        assert!(text.contains("#{panic(\"x\")}"), "{text}");
        assert!(text.contains("*bold* `raw`"), "{text}");
    }

    #[test]
    fn template_has_no_warnings() {
        for lang in [Lang::Vi, Lang::En] {
            let mut pack = demo_pack(lang, 7, 2);
            pack.system.dossier = Default::default();
            pack.requirements[3].evidence[0].observed = serde_json::json!("x".repeat(5000));
            let (_, warnings) = typeset(&pack).unwrap();
            assert_eq!(warnings, "", "{lang}");
        }
        let (_, warnings) = typeset(&demo_pack(Lang::Vi, 0, 0)).unwrap();
        assert_eq!(warnings, "", "an empty pack");
    }

    #[test]
    fn deterministic() {
        let pack = demo_pack(Lang::Vi, 4, 2);
        assert_eq!(to_pdf(&pack).unwrap(), to_pdf(&pack).unwrap());
    }

    #[test]
    fn signed_pdf_verifies_and_still_opens() {
        let k = key();
        let trusted = [PublicKey::of(&k)];
        let pdf = to_pdf(&demo_pack(Lang::Vi, 6, 2)).unwrap();
        let file = sign(&pdf, Format::Pdf, &k);
        let v = verify(&file, &trusted).unwrap();
        assert_eq!(v.format, Format::Pdf);
        assert!(v.content.starts_with(&pdf));
        let last = String::from_utf8_lossy(file.rsplit(|b| *b == b'\n').nth(1).unwrap()).to_string();
        assert!(last.starts_with("% khien-signature v1 sha256="), "{last}");
        assert_every_flip_fails(&file, &trusted, 97);
        if let Some((text, stderr)) = pdftotext(&file) {
            assert!(text.contains("Không đạt"), "{text}");
            assert!(stderr.trim().is_empty(), "pdftotext complained about the signed file: {stderr}");
            assert_eq!(
                Some(text),
                pdftotext(&pdf).map(|t| t.0),
                "the trailer changes nothing a reader sees"
            );
        }
    }
}
