//! Reading a layer for a caller: a [`Selection`] (layer, jurisdiction, period, township and the
//! largest hidden count) and what the exports and the OGC API ask of it: the period check, the
//! extent and number of rows, one page of features, one feature, and the whole layer as one
//! document streamed in chunks. Every statement binds the same `$1..$4` (see the parent module)
//! from the selection, so a handler never sees a parameter number.
//!
//! The rows are PostgreSQL's finished text (GeoJSON features, CSV lines); here they are only
//! joined and cut into chunks, so a streamed export holds one chunk in memory whatever its size.

use bytes::{Bytes, BytesMut};
use chrono::NaiveDate;
use echinomap_domain::TownshipCode;
use echinomap_domain::privacy::Audience;
use futures_util::{Stream, StreamExt, TryStreamExt, stream};
use serde_json::{Value, json};
use sqlx::postgres::PgArguments;
use sqlx::query::Query;
use sqlx::{PgPool, Postgres, Row};

use super::{ExportLayer, Format, count_sql, extent_sql, item_sql, page_sql};
use crate::auth::{Caller, Scope};
use crate::error::Error;

/// Bytes gathered before a chunk of a [`Selection::document`] is handed on.
pub const CHUNK: usize = 64 * 1024;

/// Who an export is for: outside the organisation when it is marked so, whoever asks (a role
/// with case access included); otherwise the caller's own audience.
pub fn audience(caller: &Caller, external: bool) -> Audience {
    if external {
        Audience::Outside
    } else {
        caller.audience()
    }
}

/// What an export or an OGC request reads.
#[derive(Debug, Clone)]
pub struct Selection {
    pub layer: &'static ExportLayer,
    /// The caller's jurisdiction (`$1`): no row outside it is read.
    pub scope: Scope,
    /// The period's first and last day (`$2`, `$3`).
    pub from: NaiveDate,
    pub to: NaiveDate,
    /// The period as asked for (`2025`, `2025Q2`, an OGC `datetime`), for messages and the
    /// GeoJSON `period` member.
    pub period_label: String,
    /// A township code inside the jurisdiction (`$4`), or all of it.
    pub township: Option<TownshipCode>,
    /// Counts of people from 1 to this are withheld; `None`: nothing is. Bound as a parameter,
    /// from [`crate::config::Programme::small_max`] for the request's [`audience`].
    pub suppress_max: Option<i64>,
}

/// The number of a layer's rows and their extent (west, south, east, north; 6 decimals),
/// `None` when there are no rows.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Extent {
    pub count: i64,
    pub bbox: Option<[f64; 4]>,
}

/// One page of GeoJSON features.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page {
    /// The features, comma-separated: the inside of a `features` array.
    pub features: String,
    pub returned: usize,
}

/// Why a streamed [`Selection::document`] stopped before its end. The body is already on its
/// way, so this is for the log; the client sees a cut transfer.
#[derive(Debug, thiserror::Error)]
pub enum StreamError {
    #[error("export of {layer} failed mid-stream: {source}")]
    Database {
        layer: &'static str,
        source: sqlx::Error,
    },
    #[error("export of {layer}: a row is not text")]
    NotText { layer: &'static str },
}

/// Rounded to 6 decimals (about 0.1 m), as the features are written.
fn round6(x: f64) -> f64 {
    (x * 1e6).round() / 1e6
}

/// A bbox from four nullable coordinates: all four or none.
fn bbox_of(w: Option<f64>, s: Option<f64>, e: Option<f64>, n: Option<f64>) -> Option<[f64; 4]> {
    match (w, s, e, n) {
        (Some(a), Some(b), Some(c), Some(d)) => Some([round6(a), round6(b), round6(c), round6(d)]),
        _ => None,
    }
}

/// A bbox filter as the four parameters `$5..$8` (all NULL for none).
fn corners(bbox: Option<[f64; 4]>) -> [Option<f64>; 4] {
    bbox.map_or([None; 4], |b| b.map(Some))
}

/// The extent of the villages in `scope`: every layer lies inside it (the OGC collections'
/// `extent`).
pub async fn jurisdiction_extent(pool: &PgPool, scope: &Scope) -> Result<Option<[f64; 4]>, Error> {
    let (w, s, e, n): (Option<f64>, Option<f64>, Option<f64>, Option<f64>) = sqlx::query_as(
        "SELECT ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e) FROM (SELECT ST_Extent(geom) e FROM villages WHERE code LIKE $1 || '%') x",
    )
    .bind(scope.prefix())
    .fetch_one(pool)
    .await?;
    Ok(bbox_of(w, s, e, n))
}

impl Selection {
    /// `sql` with the layer's `$1..$4` bound: jurisdiction, first and last day, township.
    fn query(&self, sql: String) -> Query<'_, Postgres, PgArguments> {
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(self.scope.prefix())
            .bind(self.from)
            .bind(self.to)
            .bind(self.township.as_ref().map(TownshipCode::as_str))
    }

    /// `sql` with `$1..$8` bound: the layer's parameters and the bbox filter.
    fn query_in(&self, sql: String, bbox: Option<[f64; 4]>) -> Query<'_, Postgres, PgArguments> {
        let [w, s, e, n] = corners(bbox);
        self.query(sql).bind(w).bind(s).bind(e).bind(n)
    }

    /// Refuses a period that has not started, and a period without any record of the layer
    /// within the jurisdiction (and township).
    pub async fn check_period(&self, pool: &PgPool) -> Result<(), Error> {
        let today = chrono::Local::now().date_naive();
        if self.layer.periodic && self.from > today {
            return Err(Error::invalid_param(
                "period",
                format!("the period {} has not started", self.period_label),
            ));
        }
        if let Some(sql) = self.layer.has_data_sql {
            let any = self.query(sql.to_owned()).fetch_optional(pool).await?;
            if any.is_none() {
                return Err(Error::not_found(
                    "no_data_for_period",
                    format!(
                        "{} has no records in {} within your jurisdiction",
                        self.layer.name, self.period_label
                    ),
                ));
            }
        }
        Ok(())
    }

    /// The number and extent of the rows within `bbox` (all of them for `None`).
    pub async fn extent(&self, pool: &PgPool, bbox: Option<[f64; 4]>) -> Result<Extent, Error> {
        let row = self
            .query_in(extent_sql(self.layer), bbox)
            .fetch_one(pool)
            .await?;
        Ok(Extent {
            count: row.try_get(0)?,
            bbox: bbox_of(
                row.try_get(1)?,
                row.try_get(2)?,
                row.try_get(3)?,
                row.try_get(4)?,
            ),
        })
    }

    /// The number of rows within `bbox` (all of them for `None`).
    pub async fn count(&self, pool: &PgPool, bbox: Option<[f64; 4]>) -> Result<i64, Error> {
        let row = self
            .query_in(count_sql(self.layer), bbox)
            .fetch_one(pool)
            .await?;
        Ok(row.try_get(0)?)
    }

    /// `limit` GeoJSON features from `offset` within `bbox`, in id order, suppressed; `risk` is
    /// the layer's risk columns (`super::risk_columns`; ignored for layers without them).
    pub async fn page(
        &self,
        pool: &PgPool,
        bbox: Option<[f64; 4]>,
        limit: i64,
        offset: i64,
        risk: &Value,
    ) -> Result<Page, Error> {
        let rows = self
            .rows(
                page_sql(self.layer, Format::GeoJson),
                bbox,
                Some(limit),
                offset,
                risk,
            )
            .fetch_all(pool)
            .await?;
        let mut features = String::with_capacity(rows.len() * 512);
        for (i, r) in rows.iter().enumerate() {
            if i > 0 {
                features.push(',');
            }
            features.push_str(r.try_get::<&str, _>(0)?);
        }
        Ok(Page {
            features,
            returned: rows.len(),
        })
    }

    /// The feature with the id `id` as GeoJSON, suppressed; `None` when the layer has no such
    /// row within the jurisdiction.
    pub async fn item(
        &self,
        pool: &PgPool,
        id: &str,
        risk: &Value,
    ) -> Result<Option<String>, Error> {
        let mut query = self
            .query(item_sql(self.layer))
            .bind(id.to_owned())
            .bind(self.suppress_max);
        if self.layer.has_risk() {
            query = query.bind(risk);
        }
        let row = query.fetch_optional(pool).await?;
        Ok(row.map(|r| r.try_get::<String, _>(0)).transpose()?)
    }

    /// [`page_sql`] in `format` with every parameter bound: `$1..$8` as [`Selection::query_in`],
    /// `limit` and `offset`, the largest hidden count and (for layers that have them) the risk
    /// columns.
    fn rows(
        &self,
        sql: String,
        bbox: Option<[f64; 4]>,
        limit: Option<i64>,
        offset: i64,
        risk: &Value,
    ) -> Query<'_, Postgres, PgArguments> {
        let query = self
            .query_in(sql, bbox)
            .bind(limit)
            .bind(offset)
            .bind(self.suppress_max);
        if self.layer.has_risk() {
            query.bind(risk)
        } else {
            query
        }
    }

    /// The start of the document in `format`: a GeoJSON FeatureCollection up to its `features`
    /// array (with the layer's name, the period and `bbox`), or a CSV's byte-order mark and
    /// header line (Chinese or English headers, then `lon`, `lat`, `suppressed`).
    fn head(&self, format: Format, bbox: Option<[f64; 4]>) -> String {
        match format {
            Format::GeoJson => {
                let mut h = format!(
                    "{{\"type\":\"FeatureCollection\",\"name\":{},\"period\":{},",
                    json!(self.layer.name),
                    json!(self.period_label)
                );
                if let Some(bb) = bbox {
                    h.push_str(&format!("\"bbox\":{},", json!(bb)));
                }
                h.push_str("\"features\":[");
                h
            }
            Format::Csv { english } => {
                let mut h = String::from("\u{feff}");
                let names: Vec<&str> = self
                    .layer
                    .columns
                    .iter()
                    .map(|c| if english { c.name } else { c.zh })
                    .chain(if english {
                        ["lon", "lat", "suppressed"]
                    } else {
                        ["经度", "纬度", "已抑制"]
                    })
                    .collect();
                h.push_str(&names.join(","));
                h.push_str("\r\n");
                h
            }
        }
    }

    /// Every row of the layer as one document in `format` (GeoJSON per RFC 7946 with `bbox`, the
    /// extent of [`Selection::extent`]; or CSV with its header line and CRLF line ends),
    /// suppressed, in chunks of about [`CHUNK`] bytes. The head comes first, before the query
    /// runs; the rows are read as the chunks are taken, so memory stays flat. `conn` runs the
    /// one statement (a [`crate::db::Cancellable`] of the long pool: a download takes minutes,
    /// and one the client gives up stops its statement).
    pub fn document<'a>(
        &'a self,
        conn: &'a mut sqlx::PgConnection,
        format: Format,
        bbox: Option<[f64; 4]>,
        risk: &'a Value,
    ) -> impl Stream<Item = Result<Bytes, StreamError>> + Send + 'a {
        let head = Bytes::from(self.head(format, bbox));
        let layer = self.layer.name;
        let geojson = format == Format::GeoJson;
        // The query starts when the first row is asked for, that is after the head is taken.
        let rows = self
            .rows(page_sql(self.layer, format), None, None, 0, risk)
            .fetch(conn);
        let state = (rows, BytesMut::with_capacity(CHUNK + 4096), true, false);
        let body = stream::try_unfold(
            state,
            move |(mut rows, mut buf, mut first, done)| async move {
                if done {
                    return Ok(None);
                }
                loop {
                    let row = rows
                        .try_next()
                        .await
                        .map_err(|source| StreamError::Database { layer, source })?;
                    let Some(row) = row else {
                        if geojson {
                            buf.extend_from_slice(b"]}");
                        }
                        let last = buf.split().freeze();
                        return Ok(Some((last, (rows, buf, first, true))));
                    };
                    let text = row
                        .try_get::<&str, _>(0)
                        .map_err(|_| StreamError::NotText { layer })?;
                    if geojson && !first {
                        buf.extend_from_slice(b",");
                    }
                    buf.extend_from_slice(text.as_bytes());
                    if !geojson {
                        buf.extend_from_slice(b"\r\n");
                    }
                    first = false;
                    if buf.len() >= CHUNK {
                        let chunk = buf.split().freeze();
                        return Ok(Some((chunk, (rows, buf, first, false))));
                    }
                }
            },
        );
        stream::once(async move { Ok(head) })
            .chain(body)
            .try_filter(|chunk| std::future::ready(!chunk.is_empty()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::{AuthVia, Role};
    use crate::config::{Programme, ProgrammeSettings};
    use echinomap_domain::PlaceCode;

    fn caller(role: Role) -> Caller {
        Caller {
            user_id: 1,
            username: "u".into(),
            role,
            scope: Scope::new(PlaceCode::parse("654022").expect("county code")),
            via: AuthVia::Token { token_id: 1 },
            must_change_password: false,
        }
    }

    #[test]
    fn an_export_for_outside_hides_one_to_nine_whoever_asks_and_inside_follows_the_role() {
        let programme = Programme::load(&ProgrammeSettings::default()).expect("defaults load");
        let max = |role, external| programme.small_max(audience(&caller(role), external));
        for role in [Role::Epidemiologist, Role::Planner] {
            assert_eq!(
                max(role, true),
                Some(9),
                "external audiences: 1–9 ({role:?})"
            );
        }
        assert_eq!(max(Role::Planner, false), Some(4), "planners: 1–4");
        assert_eq!(
            max(Role::Epidemiologist, false),
            None,
            "case access: nothing hidden"
        );
    }

    #[test]
    fn a_csv_head_names_the_columns_in_the_language_asked_for() {
        let sel = Selection {
            layer: super::super::layer("case_counts").expect("case_counts"),
            scope: caller(Role::Planner).scope,
            from: NaiveDate::from_ymd_opt(2025, 1, 1).expect("date"),
            to: NaiveDate::from_ymd_opt(2025, 12, 31).expect("date"),
            period_label: "2025".into(),
            township: None,
            suppress_max: Some(4),
        };
        assert_eq!(
            sel.head(Format::Csv { english: true }, None),
            "\u{feff}village_code,village_name,township_code,month,cases,ce,ae,lon,lat,suppressed\r\n"
        );
        assert!(
            sel.head(Format::Csv { english: false }, None)
                .ends_with(",经度,纬度,已抑制\r\n")
        );
        assert_eq!(
            sel.head(Format::GeoJson, Some([81.1, 43.5, 81.2, 43.6])),
            "{\"type\":\"FeatureCollection\",\"name\":\"case_counts\",\"period\":\"2025\",\"bbox\":[81.1,43.5,81.2,43.6],\"features\":["
        );
    }
}
