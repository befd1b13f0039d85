//! What `khien-collector export evidence` and `khien-collector verify` will do,
//! on the demo pack.
//!
//! ```sh
//! cargo run -p khien-evidence --example export -- /tmp/packs            # html, csv, json
//! cargo run -p khien-evidence --features pdf --example export -- /tmp/packs en 50 20
//! ```
//!
//! Arguments: output folder, language (vi), requirements (50), endpoints (20).
//! Writes `DLK-DHTN.<format>` signed with a fresh key, verifies each file, and
//! prints the time each step took.

use khien_evidence::{EvidencePack, Format, Lang, PublicKey, sample, sign, verify};
use ring::rand::SystemRandom;
use ring::signature::Ed25519KeyPair;
use std::error::Error;
use std::path::Path;
use std::time::Instant;

/// `khien-collector export evidence --system CODE --format F [--lang L]`.
fn export(pack: &EvidencePack, format: Format, key: &Ed25519KeyPair, dir: &Path) -> Result<std::path::PathBuf, Box<dyn Error>> {
    let started = Instant::now();
    let content = khien_evidence::render(pack, format)?;
    let rendered = started.elapsed();
    let file = sign(&content, format, key);
    let path = dir.join(format!("{}.{}", pack.system.code, format.extension()));
    std::fs::write(&path, &file)?;
    println!(
        "{format:>4}: {:>9} bytes, rendered in {:>7.1} ms, signed in {:>5.2} ms -> {}",
        file.len(),
        rendered.as_secs_f64() * 1e3,
        (started.elapsed() - rendered).as_secs_f64() * 1e3,
        path.display()
    );
    Ok(path)
}

/// `khien-collector verify FILE`: exit 0 and one line when it holds.
fn check(path: &Path, trusted: &[PublicKey]) -> Result<(), Box<dyn Error>> {
    let bytes = std::fs::read(path)?;
    let started = Instant::now();
    let v = verify(&bytes, trusted).map_err(|e| format!("{}: {e}", path.display()))?;
    println!(
        "{}: OK, {} signed by {}, sha256 {} ({:.2} ms)",
        path.display(),
        v.format,
        v.key,
        v.sha256,
        started.elapsed().as_secs_f64() * 1e3
    );
    Ok(())
}

fn main() -> Result<(), Box<dyn Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let dir = Path::new(args.first().map(String::as_str).unwrap_or("evidence-out")).to_path_buf();
    let lang: Lang = args.get(1).map(|s| s.parse()).transpose()?.unwrap_or_default();
    let requirements: usize = args.get(2).map(|s| s.parse()).transpose()?.unwrap_or(50);
    let endpoints: usize = args.get(3).map(|s| s.parse()).transpose()?.unwrap_or(20);
    std::fs::create_dir_all(&dir)?;

    // The collector loads `signing.pk8` from its data folder instead.
    let pkcs8 = Ed25519KeyPair::generate_pkcs8(&SystemRandom::new()).map_err(|_| "key generation failed")?;
    let key = Ed25519KeyPair::from_pkcs8(pkcs8.as_ref()).map_err(|_| "bad key")?;
    let trusted = [PublicKey::of(&key)];

    let pack = sample::demo_pack(lang, requirements, endpoints);
    println!(
        "pack: {requirements} requirements, {endpoints} endpoints, language {lang}, PDF built: {}",
        khien_evidence::PDF_SUPPORTED
    );
    for format in Format::ALL {
        if format == Format::Pdf && !khien_evidence::PDF_SUPPORTED {
            continue;
        }
        let path = export(&pack, format, &key, &dir)?;
        check(&path, &trusted)?;
    }
    if khien_evidence::PDF_SUPPORTED {
        // The first PDF of a process also parses the fonts and typst's library.
        // Typst memoises layout: another system's pack (here the other
        // language) costs the full work; the same pack again hits the caches.
        let other = sample::demo_pack(if lang == Lang::Vi { Lang::En } else { Lang::Vi }, requirements, endpoints);
        for (what, p) in [("another pack", &other), ("the same pack again", &pack)] {
            let started = Instant::now();
            let pdf = khien_evidence::render(p, Format::Pdf)?;
            println!(
                "pdf, {what}: {} bytes in {:.1} ms",
                pdf.len(),
                started.elapsed().as_secs_f64() * 1e3
            );
        }
    }
    Ok(())
}
