//! The tile cache. A tile is compressed once, when it enters the cache (gzip and brotli), and
//! served in the encoding the client accepts with a strong ETag per encoding and
//! `Vary: Accept-Encoding`. The key holds the data versions of every table the layer reads and
//! the caller's scope class, so a write makes the affected tiles fresh at once and a tile is
//! never served to a scope it was not made for. The cache is bounded by bytes.

use std::io::Write;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use bytes::Bytes;
use sha2::{Digest, Sha256};

/// One tile in every encoding, made once.
#[derive(Debug)]
pub struct CachedTile {
    pub raw: Bytes,
    pub gzip: Bytes,
    pub brotli: Bytes,
    /// Hex digest of the raw tile; each encoding's ETag derives from it.
    pub digest: String,
    /// `gzip` was made at the fast level ([`CachedTile::for_one`]): other bytes, another ETag.
    gzip_fast: bool,
}

/// The encodings we serve, best first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    Brotli,
    Gzip,
    Identity,
}

impl Encoding {
    /// Picks from an `Accept-Encoding` header: brotli, then gzip, then identity; `q=0` excludes.
    pub fn negotiate(accept: Option<&str>) -> Self {
        let accept = accept.unwrap_or("");
        let accepts = |name: &str| {
            accept.split(',').any(|part| {
                let mut it = part.split(';');
                let coding = it.next().unwrap_or("").trim();
                let q_zero = it.any(|p| {
                    p.trim()
                        .strip_prefix("q=")
                        .and_then(|q| q.trim().parse::<f32>().ok())
                        .is_some_and(|q| q == 0.0)
                });
                (coding.eq_ignore_ascii_case(name) || coding == "*") && !q_zero
            })
        };
        if accepts("br") {
            Self::Brotli
        } else if accepts("gzip") {
            Self::Gzip
        } else {
            Self::Identity
        }
    }

    pub fn header(self) -> Option<&'static str> {
        match self {
            Self::Brotli => Some("br"),
            Self::Gzip => Some("gzip"),
            Self::Identity => None,
        }
    }
}

thread_local! {
    /// gzip compressors per thread (default level, fast level), reset between tiles: making a
    /// new one allocates and zeroes a few hundred KiB, which cost as much as compressing a
    /// small tile.
    static GZIP: std::cell::RefCell<[Option<flate2::Compress>; 2]> =
        const { std::cell::RefCell::new([None, None]) };
}

/// gzip of `raw`: at the default level for a tile that is kept (compressed once, sent many
/// times), at level 1 for a tile made for one answer (about 10 % larger, and the compression
/// that every request pays when the cache is off costs less).
fn gzip(raw: &[u8], fast: bool) -> std::io::Result<Vec<u8>> {
    use flate2::{Compress, Compression, FlushCompress, Status};
    GZIP.with_borrow_mut(|slots| {
        let level = if fast {
            Compression::fast()
        } else {
            Compression::default()
        };
        let c = slots[usize::from(fast)].get_or_insert_with(|| Compress::new_gzip(level, 15));
        c.reset();
        let mut out = Vec::with_capacity(raw.len() / 2 + 64);
        loop {
            let consumed = usize::try_from(c.total_in()).unwrap_or(raw.len());
            let status = c
                .compress_vec(
                    &raw[consumed.min(raw.len())..],
                    &mut out,
                    FlushCompress::Finish,
                )
                .map_err(std::io::Error::other)?;
            match status {
                Status::StreamEnd => return Ok(out),
                Status::Ok | Status::BufError => out.reserve(out.capacity().max(256)),
            }
        }
    })
}

fn brotli(raw: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut out = Vec::new();
    {
        // Quality 9, window 22: most of brotli's gain at a fraction of quality 11's time.
        let mut w = brotli::CompressorWriter::new(&mut out, 4096, 9, 22);
        w.write_all(raw)?;
    }
    Ok(out)
}

impl CachedTile {
    /// A tile for the cache: compressed once into every encoding.
    pub fn new(raw: Vec<u8>) -> std::io::Result<Self> {
        Self::with_encodings(raw, &[Encoding::Gzip, Encoding::Brotli], false)
    }

    /// A tile that will not be cached: compressed only into the encoding asked for, gzip at
    /// the fast level.
    pub fn for_one(raw: Vec<u8>, enc: Encoding) -> std::io::Result<Self> {
        Self::with_encodings(raw, &[enc], true)
    }

    fn with_encodings(raw: Vec<u8>, encodings: &[Encoding], fast: bool) -> std::io::Result<Self> {
        let digest = Sha256::digest(&raw);
        let digest: String = digest[..12].iter().map(|b| format!("{b:02x}")).collect();
        let gzip = if encodings.contains(&Encoding::Gzip) {
            gzip(&raw, fast)?
        } else {
            Vec::new()
        };
        let brotli = if encodings.contains(&Encoding::Brotli) {
            brotli(&raw)?
        } else {
            Vec::new()
        };
        Ok(Self {
            raw: Bytes::from(raw),
            gzip: Bytes::from(gzip),
            brotli: Bytes::from(brotli),
            digest,
            gzip_fast: fast,
        })
    }

    pub fn is_empty(&self) -> bool {
        self.raw.is_empty()
    }

    pub fn body(&self, enc: Encoding) -> Bytes {
        match enc {
            Encoding::Brotli => self.brotli.clone(),
            Encoding::Gzip => self.gzip.clone(),
            Encoding::Identity => self.raw.clone(),
        }
    }

    /// A strong ETag that differs per encoding (the bytes differ), and for gzip per level.
    pub fn etag(&self, enc: Encoding) -> String {
        match (enc.header(), enc == Encoding::Gzip && self.gzip_fast) {
            (Some(e), false) => format!("\"{}-{e}\"", self.digest),
            (Some(e), true) => format!("\"{}-{e}1\"", self.digest),
            (None, _) => format!("\"{}\"", self.digest),
        }
    }

    fn weight(&self) -> u32 {
        u32::try_from(self.raw.len() + self.gzip.len() + self.brotli.len() + 128)
            .unwrap_or(u32::MAX)
    }
}

/// True when an `If-None-Match` header names `etag` (or is `*`).
pub fn matches_if_none_match(header: Option<&str>, etag: &str) -> bool {
    header.is_some_and(|h| {
        h.split(',')
            .map(|t| t.trim().trim_start_matches("W/"))
            .any(|t| t == etag || t == "*")
    })
}

/// Byte-bounded tile cache; `max_bytes` 0 disables it. Counts its hits and misses (`/metrics`).
#[derive(Clone)]
pub struct TileCache {
    inner: Option<moka::sync::Cache<String, Arc<CachedTile>>>,
    /// Lookups that found a tile and that did not, since start (shared by every clone).
    counts: Arc<[AtomicU64; 2]>,
}

/// What the tile cache holds and how it served, for `/metrics`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CacheStats {
    /// Lookups answered from the cache since start.
    pub hits: u64,
    /// Lookups that found nothing (the tile was rendered) since start; none while disabled.
    pub misses: u64,
    /// Tiles held now.
    pub entries: u64,
    /// Bytes held now (every encoding of every tile), as the byte bound weighs them.
    pub bytes: u64,
}

impl std::fmt::Debug for TileCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TileCache")
            .field("enabled", &self.inner.is_some())
            .finish()
    }
}

impl TileCache {
    pub fn new(max_bytes: u64) -> Self {
        let inner = (max_bytes > 0).then(|| {
            moka::sync::Cache::builder()
                .max_capacity(max_bytes)
                .weigher(|_k: &String, v: &Arc<CachedTile>| v.weight())
                .build()
        });
        Self {
            inner,
            counts: Arc::default(),
        }
    }

    pub fn is_enabled(&self) -> bool {
        self.inner.is_some()
    }

    pub fn get(&self, key: &str) -> Option<Arc<CachedTile>> {
        let found = self.inner.as_ref()?.get(key);
        let slot = usize::from(found.is_none());
        self.counts[slot].fetch_add(1, Ordering::Relaxed);
        found
    }

    /// Hits and misses since start, and what is held now.
    pub fn stats(&self) -> CacheStats {
        let (entries, bytes) = self.inner.as_ref().map_or((0, 0), |c| {
            // Counts settle after moka's pending maintenance (inserts, evictions).
            c.run_pending_tasks();
            (c.entry_count(), c.weighted_size())
        });
        CacheStats {
            hits: self.counts[0].load(Ordering::Relaxed),
            misses: self.counts[1].load(Ordering::Relaxed),
            entries,
            bytes,
        }
    }

    pub fn insert(&self, key: String, tile: Arc<CachedTile>) {
        if let Some(c) = &self.inner {
            c.insert(key, tile);
        }
    }
}

/// The cache key: layer, tile, filters, the caller's scope class (jurisdiction and the largest
/// small count hidden from it, by value, so that two rules never share a tile: never the user,
/// so users of one class share tiles) and the data versions of the tables the layer reads.
#[derive(Debug, Clone, Copy)]
pub struct CacheKey<'a> {
    pub layer: &'a str,
    pub coord: crate::TileCoord,
    pub filters: &'a str,
    pub scope: &'a str,
    /// The bound [`crate::layers::TileArgs::small_max`]: `None` when nothing is hidden.
    pub small_max: Option<i64>,
    pub versions: &'a [i64],
}

impl std::fmt::Display for CacheKey<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}/{}/{}/{}?{}|scope={}|s=",
            self.layer,
            self.coord.z(),
            self.coord.x(),
            self.coord.y(),
            self.filters,
            self.scope,
        )?;
        if let Some(max) = self.small_max {
            write!(f, "{max}")?;
        }
        write!(f, "|v=")?;
        for v in self.versions {
            write!(f, "{v}.")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_reused_gzip_compressor_makes_whole_independent_streams() {
        use std::io::Read;
        // Big (several output buffers), empty and small, one after the other on one thread.
        let big: Vec<u8> = (0..300_000u32)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
            .collect();
        for (raw, fast) in [
            (big.clone(), false),
            (Vec::new(), true),
            (b"tile".to_vec(), false),
            (big, true),
        ] {
            let gz = gzip(&raw, fast).unwrap();
            let mut out = Vec::new();
            flate2::read::GzDecoder::new(&gz[..])
                .read_to_end(&mut out)
                .unwrap();
            assert_eq!(out, raw);
        }
    }

    #[test]
    fn encodings_are_negotiated_brotli_first_and_q0_excludes() {
        assert_eq!(
            Encoding::negotiate(Some("gzip, deflate, br")),
            Encoding::Brotli
        );
        assert_eq!(Encoding::negotiate(Some("gzip")), Encoding::Gzip);
        assert_eq!(Encoding::negotiate(Some("br;q=0, gzip")), Encoding::Gzip);
        assert_eq!(Encoding::negotiate(None), Encoding::Identity);
        assert_eq!(Encoding::negotiate(Some("identity")), Encoding::Identity);
    }

    #[test]
    fn each_encoding_has_its_own_strong_etag_and_decodes_to_the_same_bytes() {
        let raw = b"some tile bytes, some tile bytes, some tile bytes".to_vec();
        let t = CachedTile::new(raw.clone()).unwrap();
        let tags = [
            t.etag(Encoding::Brotli),
            t.etag(Encoding::Gzip),
            t.etag(Encoding::Identity),
        ];
        assert!(tags[0] != tags[1] && tags[1] != tags[2] && tags[0] != tags[2]);
        assert!(
            tags.iter()
                .all(|e| e.starts_with('"') && !e.starts_with("W/"))
        );
        let mut gz = flate2::read::GzDecoder::new(&t.gzip[..]);
        let mut out = Vec::new();
        std::io::Read::read_to_end(&mut gz, &mut out).unwrap();
        assert_eq!(out, raw);
        let mut br = brotli::Decompressor::new(&t.brotli[..], 4096);
        let mut out = Vec::new();
        std::io::Read::read_to_end(&mut br, &mut out).unwrap();
        assert_eq!(out, raw);
        assert!(matches_if_none_match(Some(&tags[1]), &tags[1]));
        assert!(!matches_if_none_match(Some(&tags[0]), &tags[1]));
    }

    #[test]
    fn a_new_data_version_or_another_scope_is_another_key() {
        let coord = crate::TileCoord::new(9, 380, 186).unwrap();
        let key = |scope, small_max, versions: &[i64]| {
            CacheKey {
                layer: "case_density",
                coord,
                filters: "period=2024",
                scope,
                small_max,
                versions,
            }
            .to_string()
        };
        let base = key("654022", None, &[3, 4]);
        assert_ne!(base, key("654022", None, &[3, 5]));
        assert_ne!(base, key("654022100", None, &[3, 4]));
        assert_ne!(base, key("654022", Some(4), &[3, 4]));
        assert_eq!(base, key("654022", None, &[3, 4]));
        // Another rule is another key: a tile hiding 1–4 never answers one hiding 1–6.
        assert_ne!(
            key("654022", Some(4), &[3, 4]),
            key("654022", Some(6), &[3, 4])
        );
        // No run of digits can make one key look like another's.
        assert_ne!(key("654022", Some(1), &[13]), key("654022", Some(11), &[3]));
    }

    #[test]
    fn a_tile_that_is_not_kept_is_compressed_only_for_its_client() {
        use std::io::Read;
        let raw: Vec<u8> = (0..4000u32).map(|i| (i * 7 % 251) as u8).collect();
        let one = CachedTile::for_one(raw.clone(), Encoding::Gzip).unwrap();
        let kept = CachedTile::new(raw.clone()).unwrap();
        assert!(!one.gzip.is_empty() && one.brotli.is_empty());
        // The fast level makes other bytes, so another strong ETag; the same tile inside.
        assert_ne!(one.gzip, kept.gzip);
        assert_ne!(one.etag(Encoding::Gzip), kept.etag(Encoding::Gzip));
        assert_eq!(one.etag(Encoding::Identity), kept.etag(Encoding::Identity));
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(&one.gzip[..])
            .read_to_end(&mut out)
            .unwrap();
        assert_eq!(out, raw);
    }

    #[test]
    fn the_cache_is_bounded_by_bytes() {
        let cache = TileCache::new(10_000);
        for i in 0..100 {
            cache.insert(
                format!("k{i}"),
                Arc::new(CachedTile::new(vec![i as u8; 1000]).unwrap()),
            );
        }
        if let Some(c) = &cache.inner {
            c.run_pending_tasks();
            assert!(c.weighted_size() <= 10_000);
        }
        assert!(TileCache::new(0).get("k1").is_none());
    }

    #[test]
    fn the_cache_counts_its_hits_misses_entries_and_bytes() {
        let cache = TileCache::new(1_000_000);
        assert!(cache.get("a").is_none());
        cache.insert(
            "a".into(),
            Arc::new(CachedTile::new(vec![7u8; 500]).unwrap()),
        );
        assert!(cache.get("a").is_some());
        assert!(cache.clone().get("a").is_some());
        let stats = cache.stats();
        assert_eq!((stats.hits, stats.misses, stats.entries), (2, 1, 1));
        assert!(stats.bytes > 500, "{stats:?}");
        // A disabled cache is neither hit nor missed: every tile is rendered.
        let off = TileCache::new(0);
        assert!(off.get("a").is_none());
        assert_eq!(off.stats(), CacheStats::default());
    }
}
