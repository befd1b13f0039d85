//! `khien-collector export evidence|public-key` and `verify`: signed
//! certification evidence packs, the key that signs them, and their check.

use super::{DataDir, policies, settings};
use crate::export::{self, Format, Lang, PublicKey, VerifyError};
use crate::store::Store;
use anyhow::{Context as _, bail};
use clap::{Args, Subcommand};
use khien_proto::Timestamp;
use khien_proto::report::sha256_hex;
use std::path::{Path, PathBuf};

/// The evidence commands, flattened into the top-level ones.
#[derive(Debug, Subcommand)]
pub enum EvidenceCommand {
    /// Signed exports: a system's certification evidence pack, the public key that checks them
    Export {
        #[command(subcommand)]
        command: ExportCommand,
    },
    /// Check the signature of an exported evidence pack (any format)
    Verify(VerifyArgs),
}

#[derive(Debug, Subcommand)]
pub enum ExportCommand {
    /// Write a system's evidence pack at its level, signed with the collector's key
    Evidence {
        #[command(flatten)]
        data: DataDir,
        /// The information system
        #[arg(long, value_name = "CODE")]
        system: String,
        /// html, pdf, csv or json (pdf needs a build with the `pdf` feature)
        #[arg(long, value_parser = parse_format)]
        format: Format,
        /// Language of the pack: vi or en
        #[arg(long, default_value = "vi", value_parser = parse_lang)]
        lang: Lang,
        /// Where to write it [default: <CODE>-<YYYY-MM-DD>.<format> in the current folder]
        #[arg(long, short, value_name = "FILE")]
        output: Option<PathBuf>,
        /// Policies folder, for the requirements' titles and checks
        #[arg(long, value_name = "DIR")]
        policies: Option<PathBuf>,
    },
    /// Print the public key that checks this collector's exports (hex), for `verify --public-key`
    PublicKey {
        #[command(flatten)]
        data: DataDir,
    },
}

#[derive(Debug, Args)]
pub struct VerifyArgs {
    #[command(flatten)]
    pub data: DataDir,
    /// The exported file
    pub file: PathBuf,
    /// A trusted public key: hex (as `export public-key` prints it), base64, or a file holding one
    /// (repeatable) [default: the key of the collector in --data-dir]
    #[arg(long, value_name = "FILE|HEX")]
    pub public_key: Vec<String>,
}

fn parse_format(s: &str) -> Result<Format, String> {
    s.parse().map_err(|e: export::UnknownFormat| e.to_string())
}

fn parse_lang(s: &str) -> Result<Lang, String> {
    s.parse().map_err(|e: export::UnknownLang| e.to_string())
}

pub async fn run(command: EvidenceCommand) -> anyhow::Result<()> {
    match command {
        EvidenceCommand::Export {
            command:
                ExportCommand::Evidence {
                    data,
                    system,
                    format,
                    lang,
                    output,
                    policies: policies_dir,
                },
        } => evidence(data, system, format, lang, output, policies_dir).await,
        EvidenceCommand::Export {
            command: ExportCommand::PublicKey { data },
        } => {
            let key = export::signing_key(&data.data_dir)?;
            println!("{}", export::public_key_hex(&PublicKey::of(&key)));
            Ok(())
        }
        EvidenceCommand::Verify(args) => verify(args),
    }
}

async fn evidence(
    data: DataDir,
    system: String,
    format: Format,
    lang: Lang,
    output: Option<PathBuf>,
    policies_dir: Option<PathBuf>,
) -> anyhow::Result<()> {
    // Refused before any work: a PDF would take the whole pack to build first.
    if format == Format::Pdf && !export::PDF_SUPPORTED {
        bail!(export::ExportError::PdfNotBuilt);
    }
    let settings = settings(&data)?;
    let key = export::signing_key(&settings.data_dir)?;
    let policies = policies(policies_dir.as_deref(), settings.policies_dir.as_deref())?;
    let store = Store::connect(&settings.database).await?;
    let now = Timestamp::now();
    let mut pack = export::evidence_pack(&store, &policies, &system, lang, now).await?;
    pack.collector = export::collector_info(&settings.url);
    let bytes = export::render_signed(&pack, format, &key)?;
    let path = output.unwrap_or_else(|| PathBuf::from(export::file_name(&pack.system.code, format, now)));
    std::fs::write(&path, &bytes).with_context(|| format!("writing {}", path.display()))?;
    println!(
        "Wrote the {format} evidence pack of {} ({} requirements, {} endpoints, {} bytes) to:",
        pack.system.code,
        pack.summary.requirements,
        pack.summary.endpoints,
        bytes.len()
    );
    println!("{}", path.display());
    // As `sha256sum` prints it, for a register of what was handed over.
    println!("sha256 {}", sha256_hex(&bytes));
    println!("signed by {}", export::public_key_hex(&PublicKey::of(&key)));
    Ok(())
}

/// A `--public-key` value: the key itself, or a file holding it as text or as 32 raw bytes.
fn trusted_key(arg: &str) -> anyhow::Result<PublicKey> {
    let path = Path::new(arg);
    if let Some(key) = export::parse_public_key(arg) {
        return Ok(key);
    }
    if path.is_file() {
        let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
        let key = PublicKey::from_bytes(&bytes).or_else(|| {
            std::str::from_utf8(&bytes)
                .ok()
                .and_then(|t| t.lines().map(str::trim).find(|l| !l.is_empty() && !l.starts_with('#')))
                .and_then(export::parse_public_key)
        });
        return key.with_context(|| format!("{}: no Ed25519 public key in hex (64 digits) or base64", path.display()));
    }
    bail!("--public-key {arg:?}: neither a file nor an Ed25519 public key in hex (64 digits) or base64")
}

fn verify(args: VerifyArgs) -> anyhow::Result<()> {
    let (trusted, whose) = if args.public_key.is_empty() {
        let key = export::signing_key(&args.data.data_dir)
            .context("no --public-key given, and this collector's own key cannot be read (a certifier passes --public-key)")?;
        (vec![PublicKey::of(&key)], "this collector's own key")
    } else {
        let keys = args.public_key.iter().map(|k| trusted_key(k)).collect::<anyhow::Result<Vec<_>>>()?;
        (keys, "a key given with --public-key")
    };
    let file = &args.file;
    let bytes = std::fs::read(file).with_context(|| format!("reading {}", file.display()))?;
    let v = export::verify(&bytes, &trusted).map_err(|e| {
        let hint = match &e {
            VerifyError::UnknownKey { key } => format!(
                " (hex {}); if it is the collector's, obtain its key with `khien-collector export public-key` and pass --public-key",
                export::public_key_hex(key)
            ),
            VerifyError::DigestMismatch { .. } => ": do not trust its content".to_string(),
            _ => String::new(),
        };
        anyhow::anyhow!("{}: NOT verified: {e}{hint}", file.display())
    })?;
    println!("{}: verified", file.display());
    println!("format  {}", v.format);
    println!("sha256  {} (of the signed content, before the trailer)", v.sha256);
    println!("key     {} ({whose})", export::public_key_hex(&v.key));
    Ok(())
}
