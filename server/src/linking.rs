//! The village linker of the service: `echinomap_geodata::linker::Linker` built from the
//! villages in the database (real positions and boundaries once imported, the demo's otherwise),
//! kept in memory and rebuilt when the villages' or counties' data version changes.

use std::sync::Arc;

use echinomap_geodata::linker::{LinkVillage, Linker};
use sqlx::PgPool;
use tokio::sync::RwLock;

/// The default distance within which a point outside every village boundary links to the
/// nearest village (issue 4: 3 km).
pub const MAX_DISTANCE_M: f64 = 3000.0;

/// The linker and the data versions it was built from.
type Versioned = Option<(Vec<i64>, Arc<Linker>)>;

/// How long the linker is used without asking the database whether the villages changed: a
/// village edit by another process reaches the linker within this time; this process's own
/// village imports refresh it at once ([`LinkerCache::invalidate`]).
const FRESH_FOR: std::time::Duration = std::time::Duration::from_secs(1);

#[derive(Default, Clone)]
pub struct LinkerCache {
    inner: Arc<RwLock<Versioned>>,
    checked: Arc<std::sync::Mutex<Option<std::time::Instant>>>,
}

/// One village as the linker needs it: code, township code and name, name, lon, lat, boundary.
type VillageRow = (String, String, String, String, f64, f64, Option<String>);

impl std::fmt::Debug for LinkerCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LinkerCache")
    }
}

impl LinkerCache {
    /// The linker for the current villages; rebuilt after any change to them.
    pub async fn get(&self, pool: &PgPool) -> anyhow::Result<Arc<Linker>> {
        let recent = self
            .checked
            .lock()
            .map(|c| c.is_some_and(|t| t.elapsed() < FRESH_FOR))
            .unwrap_or(false);
        if recent && let Some((_, linker)) = self.inner.read().await.as_ref() {
            return Ok(linker.clone());
        }
        let linker = self.get_checked(pool).await?;
        if let Ok(mut c) = self.checked.lock() {
            *c = Some(std::time::Instant::now());
        }
        Ok(linker)
    }

    /// Forget the freshness check: the next [`LinkerCache::get`] asks the database.
    pub fn invalidate(&self) {
        if let Ok(mut c) = self.checked.lock() {
            *c = None;
        }
    }

    async fn get_checked(&self, pool: &PgPool) -> anyhow::Result<Arc<Linker>> {
        let versions: Vec<i64> = sqlx::query_scalar(
            "SELECT version FROM data_versions WHERE table_name IN ('villages', 'townships', 'counties') ORDER BY table_name",
        )
        .fetch_all(pool)
        .await?;
        if let Some((v, linker)) = self.inner.read().await.as_ref()
            && *v == versions
        {
            return Ok(linker.clone());
        }
        let linker = Arc::new(build(pool).await?);
        *self.inner.write().await = Some((versions, linker.clone()));
        Ok(linker)
    }
}

async fn build(pool: &PgPool) -> anyhow::Result<Linker> {
    let rows: Vec<VillageRow> = sqlx::query_as(
        "SELECT v.code::text, v.township_code::text, t.name, v.name, ST_X(v.geom), ST_Y(v.geom),
                ST_AsGeoJSON(v.boundary)
         FROM villages v JOIN townships t ON t.code = v.township_code ORDER BY v.code",
    )
    .fetch_all(pool)
    .await?;
    let villages = rows
        .into_iter()
        .map(
            |(code, township_code, township_name, name, lon, lat, boundary)| LinkVillage {
                code,
                township_code,
                township_name,
                name,
                position: geo::Point::new(lon, lat),
                boundary: boundary.as_deref().and_then(multipolygon),
            },
        )
        .collect();
    let county: Option<String> =
        sqlx::query_scalar("SELECT ST_AsGeoJSON(ST_Multi(ST_Union(geom))) FROM counties")
            .fetch_one(pool)
            .await?;
    let county = county
        .as_deref()
        .and_then(multipolygon)
        .ok_or_else(|| anyhow::anyhow!("no county outline in the database"))?;
    Ok(Linker::new(villages, county, MAX_DISTANCE_M))
}

fn multipolygon(text: &str) -> Option<geo::MultiPolygon<f64>> {
    let geometry: geojson::Geometry = text.parse().ok()?;
    match geo::Geometry::<f64>::try_from(geometry).ok()? {
        geo::Geometry::MultiPolygon(m) => Some(m),
        geo::Geometry::Polygon(p) => Some(geo::MultiPolygon(vec![p])),
        _ => None,
    }
}
