//! The backup file: a tar of `database.dump`, `manifest.json` and `config/*`, written to a
//! `.partial` file, synced and renamed (a reader never sees a half-written backup), and read
//! back in full before a restore touches anything.
//!
//! The dump is streamed from pg_dump into the tar as it comes (hashed on the way), without a
//! copy: its tar header is written last, into the block kept for it, when its size is known.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use super::manifest::{FORMAT, Manifest};

/// The dump's name inside the archive.
pub const DUMP: &str = "database.dump";
/// The manifest's name inside the archive.
pub const MANIFEST: &str = "manifest.json";
/// The loaded configuration file's name inside the archive.
pub const CONFIG: &str = "config/echinomap.toml";
/// The secrets file's name inside the archive (with `--include-secrets`).
pub const SECRETS: &str = "config/secrets.toml";

const BLOCK: u64 = 512;
/// The most a configuration file in an archive may hold (they are small TOML files).
const MAX_CONFIG_BYTES: u64 = 1 << 20;

/// Why an archive cannot be restored; each says which file and what is wrong in one line.
#[derive(Debug, thiserror::Error)]
pub enum ArchiveError {
    #[error("{path} is not an echinomap backup ({why})")]
    NotABackup { path: String, why: String },
    #[error("{path} is truncated or damaged: {why}; nothing was restored")]
    Damaged { path: String, why: String },
    #[error(
        "{path} was made by a newer echinomap (backup format {format}, this one reads {FORMAT}); restore it with that version"
    )]
    NewerFormat { path: String, format: u32 },
    #[error("cannot read {path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
}

/// A backup file being written: `NAME.partial` beside its final name, mode 0600.
#[derive(Debug)]
pub struct Writer {
    file: File,
    partial: PathBuf,
    final_path: PathBuf,
    dump_size: u64,
    dump_sha256: String,
}

impl Writer {
    /// Creates `final_path` + `.partial` (which must not exist) and keeps the first block for
    /// the dump's header.
    pub fn create(final_path: &Path) -> std::io::Result<Self> {
        let mut partial = final_path.as_os_str().to_owned();
        partial.push(".partial");
        let partial = PathBuf::from(partial);
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .read(true)
            .create_new(true)
            .mode(0o600)
            .open(&partial)?;
        file.write_all(&[0; BLOCK as usize])?;
        Ok(Self {
            file,
            partial,
            final_path: final_path.to_owned(),
            dump_size: 0,
            dump_sha256: String::new(),
        })
    }

    /// Streams the dump from `dump` into the archive (hashing it), then writes its header.
    /// Returns its size and sha256.
    pub fn write_dump(&mut self, dump: &mut impl Read) -> std::io::Result<(u64, String)> {
        let mut hasher = Sha256::new();
        let mut buf = vec![0u8; 1 << 20];
        let mut size = 0u64;
        loop {
            let n = match dump.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            hasher.update(&buf[..n]);
            self.file.write_all(&buf[..n])?;
            size += n as u64;
        }
        let pad = (BLOCK - size % BLOCK) % BLOCK;
        self.file.write_all(&vec![0; pad as usize])?;
        let header = header(DUMP, size)?;
        self.file.seek(SeekFrom::Start(0))?;
        self.file.write_all(header.as_bytes())?;
        self.file.seek(SeekFrom::End(0))?;
        self.dump_size = size;
        self.dump_sha256 = hex(&hasher.finalize());
        Ok((self.dump_size, self.dump_sha256.clone()))
    }

    /// Appends the manifest and the configuration files, syncs, and renames the archive to its
    /// final name (then syncs its directory). `files` are (name in the archive, content).
    pub fn finish(
        mut self,
        manifest: &Manifest,
        files: &[(&str, Vec<u8>)],
    ) -> std::io::Result<PathBuf> {
        let json = serde_json::to_vec_pretty(manifest).map_err(std::io::Error::other)?;
        {
            let mut tar = tar::Builder::new(&mut self.file);
            let mut h = header(MANIFEST, json.len() as u64)?;
            tar.append(&h, json.as_slice())?;
            for (name, content) in files {
                h = header(name, content.len() as u64)?;
                tar.append(&h, content.as_slice())?;
            }
            tar.finish()?;
        }
        self.file.sync_all()?;
        std::fs::rename(&self.partial, &self.final_path)?;
        sync_dir(&self.final_path)?;
        Ok(self.final_path.clone())
    }

    /// The `.partial` file's path (removed when the writer is dropped unfinished).
    pub fn partial(&self) -> &Path {
        &self.partial
    }
}

impl Drop for Writer {
    fn drop(&mut self) {
        // Unfinished (an error on the way): no half-written file stays behind.
        let _ = std::fs::remove_file(&self.partial);
    }
}

fn header(name: &str, size: u64) -> std::io::Result<tar::Header> {
    let mut h = tar::Header::new_gnu();
    h.set_path(name)?;
    h.set_size(size);
    h.set_mode(0o600);
    h.set_entry_type(tar::EntryType::Regular);
    h.set_mtime(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs()),
    );
    h.set_cksum();
    Ok(h)
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}

/// Syncs the directory holding `path` (so that a rename into it survives a power cut).
pub fn sync_dir(path: &Path) -> std::io::Result<()> {
    match path.parent() {
        Some(dir) => File::open(if dir.as_os_str().is_empty() {
            Path::new(".")
        } else {
            dir
        })?
        .sync_all(),
        None => Ok(()),
    }
}

/// Copies `archive` into `dir` under the same name, through a `.partial` file, synced and
/// renamed as the original.
pub fn copy_to(archive: &Path, dir: &Path) -> std::io::Result<PathBuf> {
    let name = archive
        .file_name()
        .ok_or_else(|| std::io::Error::other("a backup path without a file name"))?;
    let target = dir.join(name);
    let mut partial = target.as_os_str().to_owned();
    partial.push(".partial");
    let partial = PathBuf::from(partial);
    let result = (|| {
        let mut out = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&partial)?;
        std::io::copy(&mut File::open(archive)?, &mut out)?;
        out.sync_all()?;
        std::fs::rename(&partial, &target)?;
        sync_dir(&target)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&partial);
    }
    result.map(|()| target)
}

/// An archive read in full and found whole: its manifest, where its dump is, and its
/// configuration files.
#[derive(Debug)]
pub struct Verified {
    pub path: PathBuf,
    pub manifest: Manifest,
    /// The dump's first byte in the archive file, and its size.
    pub dump_offset: u64,
    pub dump_size: u64,
    /// `config/*` entries: name, content.
    pub config: Vec<(String, Vec<u8>)>,
}

impl Verified {
    /// A reader of the dump's bytes in the archive.
    pub fn dump_reader(&self) -> std::io::Result<impl Read + use<>> {
        let mut file = File::open(&self.path)?;
        file.seek(SeekFrom::Start(self.dump_offset))?;
        Ok(file.take(self.dump_size))
    }
}

/// Reads the whole archive at `path`: a tar with `manifest.json` of a known format and
/// `database.dump` whose size and sha256 are the manifest's.
pub fn verify(path: &Path) -> Result<Verified, ArchiveError> {
    let shown = path.display().to_string();
    let io = |source: std::io::Error| ArchiveError::Io {
        path: shown.clone(),
        source,
    };
    let not_a_backup = |why: &str| ArchiveError::NotABackup {
        path: shown.clone(),
        why: why.to_owned(),
    };
    let damaged = |why: String| ArchiveError::Damaged {
        path: shown.clone(),
        why,
    };
    let file = File::open(path).map_err(io)?;
    if file.metadata().map_err(io)?.is_dir() {
        return Err(not_a_backup("a directory"));
    }
    let mut archive = tar::Archive::new(file);
    let mut manifest: Option<Vec<u8>> = None;
    let mut dump: Option<(u64, u64, String)> = None;
    let mut config = Vec::new();
    let entries = archive
        .entries()
        .map_err(|_| not_a_backup("not a tar file"))?;
    for (entries_seen, entry) in entries.enumerate() {
        let mut entry = match entry {
            Ok(e) => e,
            // A broken header after good entries is damage; before any, a foreign file.
            // (The tar error quotes the bytes it read: not for the operator's line.)
            Err(_) if entries_seen == 0 => return Err(not_a_backup("not a tar file")),
            Err(_) => {
                return Err(damaged(format!("entry {} is unreadable", entries_seen + 1)));
            }
        };
        let name = entry
            .path()
            .map(|p| p.to_string_lossy().into_owned())
            .unwrap_or_default();
        match name.as_str() {
            DUMP => {
                let offset = entry.raw_file_position();
                let mut hasher = Sha256::new();
                let mut buf = vec![0u8; 1 << 20];
                let mut size = 0u64;
                loop {
                    let n = entry
                        .read(&mut buf)
                        .map_err(|e| damaged(format!("reading {DUMP}: {e}")))?;
                    if n == 0 {
                        break;
                    }
                    hasher.update(&buf[..n]);
                    size += n as u64;
                }
                dump = Some((offset, size, hex(&hasher.finalize())));
            }
            MANIFEST => {
                let mut bytes = Vec::new();
                entry
                    .by_ref()
                    .take(16 << 20)
                    .read_to_end(&mut bytes)
                    .map_err(|e| damaged(format!("reading {MANIFEST}: {e}")))?;
                manifest = Some(bytes);
            }
            other if other.starts_with("config/") => {
                let mut bytes = Vec::new();
                entry
                    .by_ref()
                    .take(MAX_CONFIG_BYTES)
                    .read_to_end(&mut bytes)
                    .map_err(|e| damaged(format!("reading {other}: {e}")))?;
                config.push((other.to_owned(), bytes));
            }
            _ => {}
        }
    }
    let Some(manifest) = manifest else {
        return Err(if dump.is_some() {
            damaged(format!("{MANIFEST} is missing (the file ends early)"))
        } else {
            not_a_backup(&format!("no {MANIFEST}"))
        });
    };
    #[derive(serde::Deserialize)]
    struct FormatOnly {
        format: u32,
    }
    let format = serde_json::from_slice::<FormatOnly>(&manifest)
        .map_err(|e| damaged(format!("{MANIFEST} is not readable: {e}")))?
        .format;
    if format > FORMAT {
        return Err(ArchiveError::NewerFormat {
            path: shown.clone(),
            format,
        });
    }
    let manifest: Manifest = serde_json::from_slice(&manifest)
        .map_err(|e| damaged(format!("{MANIFEST} is not readable: {e}")))?;
    let Some((dump_offset, dump_size, sha256)) = dump else {
        return Err(damaged(format!("{DUMP} is missing")));
    };
    if dump_size != manifest.dump.size {
        return Err(damaged(format!(
            "{DUMP} has {dump_size} of its {} bytes",
            manifest.dump.size
        )));
    }
    if sha256 != manifest.dump.sha256 {
        return Err(damaged(format!(
            "{DUMP}'s sha256 is {sha256}, its manifest says {}",
            manifest.dump.sha256
        )));
    }
    for name in &manifest.config {
        if !config.iter().any(|(n, _)| n == name) {
            return Err(damaged(format!("{name} is missing")));
        }
    }
    Ok(Verified {
        path: path.to_owned(),
        manifest,
        dump_offset,
        dump_size,
        config,
    })
}
