//! `faro identity`: makes what a cluster's processes need to trust each
//! other — a CA, one certificate and key it signed, a random cluster
//! secret — and the bearer token of the REST API and workers' `/metrics`,
//! in the layout the example configurations and the Kubernetes secret
//! expect (`ca.pem`, `node.pem`, `node.key`, `cluster-secret`,
//! `api-token`).
//!
//! Every process dials its peers with the TLS server name `localhost`, so
//! the certificate always carries that name; `--name` adds more.

use std::io::{Read, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use anyhow::Context;
use faro_transport::LocalCa;

/// Options of `faro identity`.
#[derive(clap::Args, Debug)]
pub struct IdentityArgs {
    /// Directory to write into (created if missing).
    #[arg(long)]
    out: PathBuf,
    /// More names the certificate is valid for (repeat).
    #[arg(long = "name")]
    names: Vec<String>,
    /// Replace files already there.
    #[arg(long)]
    force: bool,
}

const FILES: [&str; 5] = [
    "ca.pem",
    "node.pem",
    "node.key",
    "cluster-secret",
    "api-token",
];

/// 32 random bytes from the OS, as hex.
fn random_hex(what: &str) -> anyhow::Result<String> {
    let mut seed = [0u8; 32];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut random| random.read_exact(&mut seed))
        .with_context(|| format!("reading /dev/urandom for the {what}"))?;
    Ok(seed.iter().map(|b| format!("{b:02x}")).collect())
}

/// Writes `contents` to `path`, readable by its owner only when `secret`.
fn write(path: &Path, contents: &[u8], secret: bool, force: bool) -> anyhow::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).mode(if secret { 0o600 } else { 0o644 });
    if force {
        options.create(true).truncate(true);
    } else {
        options.create_new(true);
    }
    options
        .open(path)
        .and_then(|mut file| file.write_all(contents))
        .with_context(|| format!("writing {}", path.display()))
}

/// Writes a fresh identity and secret into `--out`.
pub fn run(args: &IdentityArgs) -> anyhow::Result<()> {
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("creating {}", args.out.display()))?;
    if !args.force {
        for file in FILES {
            let path = args.out.join(file);
            anyhow::ensure!(
                !path.exists(),
                "{} exists; pass --force to replace it",
                path.display()
            );
        }
    }
    let mut names: Vec<&str> = vec!["localhost"];
    names.extend(
        args.names
            .iter()
            .map(String::as_str)
            .filter(|n| *n != "localhost"),
    );
    let identity = LocalCa::generate()
        .and_then(|ca| ca.issue(&names))
        .context("issuing the certificate")?;
    let secret = random_hex("cluster secret")?;
    let token = random_hex("API token")?;
    let out = |file: &str| args.out.join(file);
    write(
        &out("ca.pem"),
        identity.ca_pem().as_bytes(),
        false,
        args.force,
    )?;
    write(
        &out("node.pem"),
        identity.cert_pem().as_bytes(),
        false,
        args.force,
    )?;
    write(
        &out("node.key"),
        identity.key_pem().as_bytes(),
        true,
        args.force,
    )?;
    write(&out("cluster-secret"), secret.as_bytes(), true, args.force)?;
    write(&out("api-token"), token.as_bytes(), true, args.force)?;
    println!(
        "faro identity: wrote {} for {}",
        FILES.join(", "),
        names.join(", ")
    );
    Ok(())
}
