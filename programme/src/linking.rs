//! The village linker of the service: `echinomap_geodata::linker::Linker` built from the
//! villages in the database (real positions and boundaries once imported, the demo's otherwise),
//! kept in memory and rebuilt when the data version of the villages, townships or counties
//! changes.

use std::sync::Arc;

use echinomap_geodata::linker::{LinkVillage, Linker};
use sqlx::PgPool;
use tokio::sync::RwLock;

/// The default distance within which a point outside every village boundary links to the
/// nearest village (issue 4: 3 km).
pub const MAX_DISTANCE_M: f64 = 3000.0;

/// The linker and the data versions it was built from.
type Versioned = Option<(Vec<i64>, Arc<Linker>)>;

/// The tables the linker is built from.
const TABLES: &[&str] = &["counties", "townships", "villages"];

#[derive(Default, Clone)]
pub struct LinkerCache {
    inner: Arc<RwLock<Versioned>>,
}

/// One village as the linker needs it: code, township code and name, name, lon, lat, boundary.
type VillageRow = (String, String, String, String, f64, f64, Option<String>);

impl std::fmt::Debug for LinkerCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LinkerCache")
    }
}

impl LinkerCache {
    /// The linker for the current villages; rebuilt after any change to them, by any process
    /// (the data versions come from [`crate::watch::Watch`], exact after the request's fence).
    pub async fn get(
        &self,
        pool: &PgPool,
        watch: &crate::watch::Watch,
    ) -> anyhow::Result<Arc<Linker>> {
        let versions = watch.versions(pool, TABLES).await?;
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

/// A linker from the villages in the database now.
pub async fn build(pool: &PgPool) -> anyhow::Result<Linker> {
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
