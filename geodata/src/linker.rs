//! The one village linker: every register row, whether it arrives through the API or an import,
//! is attached to a village here, and keeps how ([`LinkMethod`]) and how far ([`Link::distance_m`]).
//!
//! Three ways in:
//! - [`Linker::link_code`]: the 12-digit village code (full-width digits accepted);
//! - [`Linker::link_name`]: the name, optionally within a township (code or name): exact, then
//!   normalised ([`normalise_name`]), then fuzzy (normalised Levenshtein ≥ [`FUZZY_MIN_SCORE`] and
//!   at least [`FUZZY_MIN_LEAD`] ahead of the runner-up); a name that fits several villages is an
//!   error listing them;
//! - [`Linker::link_point`]: the village boundary containing the point, else the nearest village
//!   position within `max_distance_m` (haversine); a point outside the county is an error.
//!
//! [`Linker::locate`] answers `GET /api/villages/locate`. All indexes are built once in
//! [`Linker::new`]: hash maps by code and by (normalised) name, an R-tree of village positions as
//! unit vectors on the sphere (so that the R-tree's Euclidean nearest neighbour is also the
//! great-circle nearest), and an R-tree of boundary bounding boxes.

use std::collections::HashMap;
use std::fmt;

use echinomap_domain::{DomainError, VillageCode};
use geo::{BoundingRect, Distance, Haversine, Intersects, MultiPolygon, Point, Polygon, Rect};
use rstar::RTree;
use rstar::primitives::{GeomWithData, Rectangle};
use serde::Serialize;
use unicode_normalization::UnicodeNormalization;

use crate::gazetteer::Gazetteer;
use crate::gcj02::{CoordinateError, LonLat};

/// The default of `max_distance_m`: a point farther than this from every village is not linked.
pub const DEFAULT_MAX_DISTANCE_M: f64 = 3_000.0;

/// A fuzzy match needs at least this normalised Levenshtein similarity (1 − edits / length of the
/// longer normalised name). 0.65 lets one wrong character through in names of 3 or more characters
/// and two in names of 6 or more, never one in a 2-character name (安定 vs 安宁 is 0.5).
pub const FUZZY_MIN_SCORE: f64 = 0.65;

/// …and must beat every other village in scope by at least this much; otherwise the name is
/// ambiguous and the error lists the contenders.
pub const FUZZY_MIN_LEAD: f64 = 0.1;

/// Place names that may precede a village name in an address-like cell
/// ("察布查尔锡伯自治县察布查尔镇安定村"); they are removed before matching. Township names are
/// removed too (from the linker's own list), and a township found that way restricts the search.
const REGION_PREFIXES: &[&str] = &[
    "新疆维吾尔自治区",
    "新疆",
    "伊犁哈萨克自治州",
    "伊犁州",
    "察布查尔锡伯自治县",
    "察布查尔县",
];

/// Administrative suffixes removed from the end of a village name, longest first, repeatedly
/// (so 托布社区居民委员会 → 托布社区 → 托布 and 七连连队生活区 → 七连连队 → 七连), but never
/// down to nothing.
const VILLAGE_SUFFIXES: &[&str] = &[
    "社区居民委员会",
    "社区居委会",
    "社区委员会",
    "村民委员会",
    "居民委员会",
    "农村社区",
    "村委会",
    "居委会",
    "委员会",
    "生活区",
    "片区",
    "连队",
    "社区",
    "村",
];

/// Suffixes removed from township names (米粮泉回族乡 → 米粮泉, 察布查尔镇 → 察布查尔).
const TOWNSHIP_SUFFIXES: &[&str] = &["街道办事处", "回族乡", "民族乡", "街道", "镇", "乡"];

/// Separators dropped from names besides whitespace (after NFKC, so full-width forms are covered).
const SEPARATORS: &[char] = &[
    '·', '•', '・', '‧', '-', '_', '、', '.', ',', '，', '。', '/',
];

/// A village as the linker sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct LinkVillage {
    /// 12 digits.
    pub code: String,
    /// 9 digits.
    pub township_code: String,
    pub township_name: String,
    pub name: String,
    /// EPSG:4326: the village seat (surveyed or synthetic).
    pub position: Point<f64>,
    /// EPSG:4326, when a real boundary is known.
    pub boundary: Option<MultiPolygon<f64>>,
}

/// How a record was attached to its village: the SQL enum `link_method`
/// (`migrations/20261125000002_places.sql`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LinkMethod {
    Code,
    Name,
    NameFuzzy,
    PointInPolygon,
    Nearest,
}

impl LinkMethod {
    /// The SQL enum label.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Code => "code",
            Self::Name => "name",
            Self::NameFuzzy => "name_fuzzy",
            Self::PointInPolygon => "point_in_polygon",
            Self::Nearest => "nearest",
        }
    }
}

impl fmt::Display for LinkMethod {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A record's village and how it was found.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Link {
    /// The village's 12-digit code.
    pub code: String,
    pub method: LinkMethod,
    /// Metres from the point to the village: 0 inside its boundary, the haversine distance to its
    /// position for `nearest`; `None` for links by code or name.
    pub distance_m: Option<f64>,
    /// The similarity (0–1) of a `name_fuzzy` link; `None` otherwise.
    pub score: Option<f64>,
}

/// A village named in an error: which one, so that the user can pick.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Candidate {
    pub code: String,
    pub name: String,
    pub township_name: String,
}

impl fmt::Display for Candidate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {} ({})", self.code, self.name, self.township_name)
    }
}

/// The village most similar to an unknown name, and how similar (0–1).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Similar {
    pub village: Candidate,
    pub score: f64,
}

/// A village near a point.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NearVillage {
    pub code: String,
    pub name: String,
    pub township_code: String,
    pub township_name: String,
    /// Haversine metres from the point to the village position (0 for the village whose boundary
    /// contains the point, in [`Located::village`]).
    pub distance_m: f64,
}

/// What [`Linker::locate`] finds at a point.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Located {
    /// The village [`Linker::link_point`] would link the point to, if any.
    pub village: Option<NearVillage>,
    /// How: `point_in_polygon` or `nearest`; `None` with `village`.
    pub method: Option<LinkMethod>,
    /// True when the point lies inside the village's boundary.
    pub inside: bool,
    /// Metres to `village` (0 when inside); `None` with `village`.
    pub distance_m: Option<f64>,
    /// True when the point lies inside the county.
    pub in_county: bool,
    /// The nearest village positions, nearest first, however far (at most the number asked).
    pub nearest: Vec<NearVillage>,
}

/// Why a record could not be linked. Every message names the input.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum LinkError {
    #[error("village code {code:?} is malformed: {source}")]
    MalformedCode {
        code: String,
        #[source]
        source: DomainError,
    },
    #[error("no village has code {0}")]
    UnknownCode(String),
    #[error("the village name is empty")]
    EmptyName,
    #[error("no township has code or name {0:?}")]
    UnknownTownship(String),
    #[error(
        "no village named {name:?}{}{}{}",
        in_township(.township.as_ref()),
        closest_hint(.closest.as_deref()),
        elsewhere_hint(.elsewhere)
    )]
    UnknownName {
        name: String,
        /// The township searched (code and name), when the search was restricted.
        township: Option<String>,
        /// The most similar village in scope, below the fuzzy threshold.
        closest: Option<Box<Similar>>,
        /// Villages of that (normalised) name in other townships.
        elsewhere: Vec<Candidate>,
    },
    #[error(
        "village name {name:?}{} is ambiguous: {}; give the township or the village code",
        in_township(.township.as_ref()),
        list(.candidates)
    )]
    AmbiguousName {
        name: String,
        township: Option<String>,
        candidates: Vec<Candidate>,
    },
    #[error("cannot link the point: {0}")]
    Coordinate(#[from] CoordinateError),
    #[error("point (lon {lon}, lat {lat}) lies outside the county")]
    OutsideCounty { lon: f64, lat: f64 },
    #[error(
        "no village within {max_distance_m} m of (lon {lon}, lat {lat}): the nearest, {nearest}, is {distance_m:.0} m away"
    )]
    TooFar {
        lon: f64,
        lat: f64,
        nearest: Candidate,
        distance_m: f64,
        max_distance_m: f64,
    },
    #[error("the linker has no villages")]
    NoVillages,
}

fn in_township(t: Option<&String>) -> String {
    t.map(|t| format!(" in township {t}")).unwrap_or_default()
}

fn closest_hint(c: Option<&Similar>) -> String {
    c.map(|c| {
        format!(
            "; the most similar is {}, similarity {:.2}, below {FUZZY_MIN_SCORE}",
            c.village, c.score
        )
    })
    .unwrap_or_default()
}

fn elsewhere_hint(e: &[Candidate]) -> String {
    if e.is_empty() {
        String::new()
    } else {
        format!("; other townships have {}", list(e))
    }
}

fn list(cs: &[Candidate]) -> String {
    cs.iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

struct TownshipEntry {
    code: String,
    name: String,
    /// `compact(name)`: what a township prefix of a village name is compared with.
    compact_name: String,
    /// Indexes into `Linker::villages`.
    villages: Vec<usize>,
}

type PositionEntry = GeomWithData<[f64; 3], usize>;
type BoundaryEntry = GeomWithData<Rectangle<[f64; 2]>, usize>;

/// The village linker over one set of villages and the county (or counties) they lie in.
pub struct Linker {
    villages: Vec<LinkVillage>,
    /// `normalise_name` of each village, same order.
    normalised: Vec<String>,
    by_code: HashMap<String, usize>,
    by_name: HashMap<String, Vec<usize>>,
    by_normalised: HashMap<String, Vec<usize>>,
    townships: Vec<TownshipEntry>,
    township_by_code: HashMap<String, usize>,
    /// Exact and normalised township names; `None` when two townships share the key.
    township_by_name: HashMap<String, Option<usize>>,
    positions: RTree<PositionEntry>,
    boundaries: RTree<BoundaryEntry>,
    county: Vec<(Rect<f64>, Polygon<f64>)>,
    max_distance_m: f64,
}

impl fmt::Debug for Linker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Linker")
            .field("villages", &self.villages.len())
            .field("townships", &self.townships.len())
            .field("boundaries", &self.boundaries.size())
            .field("max_distance_m", &self.max_distance_m)
            .finish_non_exhaustive()
    }
}

impl Linker {
    /// Builds the indexes. `county` is the area points must fall in; `max_distance_m` (NaN or
    /// negative counts as 0) bounds `nearest` links. When two villages share a code the first wins.
    pub fn new(villages: Vec<LinkVillage>, county: MultiPolygon<f64>, max_distance_m: f64) -> Self {
        let normalised: Vec<String> = villages.iter().map(|v| normalise_name(&v.name)).collect();
        let mut by_code = HashMap::new();
        let mut by_name: HashMap<String, Vec<usize>> = HashMap::new();
        let mut by_normalised: HashMap<String, Vec<usize>> = HashMap::new();
        let mut townships: Vec<TownshipEntry> = Vec::new();
        let mut township_by_code: HashMap<String, usize> = HashMap::new();
        for (i, v) in villages.iter().enumerate() {
            by_code.entry(v.code.clone()).or_insert(i);
            by_name.entry(v.name.trim().to_owned()).or_default().push(i);
            by_normalised
                .entry(normalised[i].clone())
                .or_default()
                .push(i);
            let t = *township_by_code
                .entry(v.township_code.clone())
                .or_insert_with(|| {
                    townships.push(TownshipEntry {
                        code: v.township_code.clone(),
                        name: v.township_name.clone(),
                        compact_name: compact(&v.township_name),
                        villages: Vec::new(),
                    });
                    townships.len() - 1
                });
            townships[t].villages.push(i);
        }
        let mut township_by_name: HashMap<String, Option<usize>> = HashMap::new();
        for (t, entry) in townships.iter().enumerate() {
            let exact = entry.compact_name.clone();
            let short = strip_suffixes(&exact, TOWNSHIP_SUFFIXES).to_owned();
            for key in [exact, short] {
                township_by_name
                    .entry(key)
                    .and_modify(|e| {
                        if *e != Some(t) {
                            *e = None;
                        }
                    })
                    .or_insert(Some(t));
            }
        }
        let positions = RTree::bulk_load(
            villages
                .iter()
                .enumerate()
                .map(|(i, v)| GeomWithData::new(unit_vector(v.position), i))
                .collect(),
        );
        let boundaries = RTree::bulk_load(
            villages
                .iter()
                .enumerate()
                .filter_map(|(i, v)| {
                    let r = v.boundary.as_ref()?.bounding_rect()?;
                    Some(GeomWithData::new(
                        Rectangle::from_corners([r.min().x, r.min().y], [r.max().x, r.max().y]),
                        i,
                    ))
                })
                .collect(),
        );
        let county = county
            .0
            .into_iter()
            .filter_map(|p| Some((p.bounding_rect()?, p)))
            .collect();
        Self {
            villages,
            normalised,
            by_code,
            by_name,
            by_normalised,
            townships,
            township_by_code,
            township_by_name,
            positions,
            boundaries,
            county,
            max_distance_m: max_distance_m.max(0.0),
        }
    }

    /// The linker over a gazetteer's villages (positions only, no boundaries) and all its
    /// counties.
    pub fn from_gazetteer(gazetteer: &Gazetteer, max_distance_m: f64) -> Self {
        let township_names: HashMap<&str, &str> = gazetteer
            .townships
            .iter()
            .map(|t| (t.code.as_str(), t.name.as_str()))
            .collect();
        let villages = gazetteer
            .villages
            .iter()
            .map(|v| LinkVillage {
                code: v.code.clone(),
                township_code: v.township_code.clone(),
                township_name: township_names
                    .get(v.township_code.as_str())
                    .map_or_else(|| v.township_code.clone(), |n| (*n).to_owned()),
                name: v.name.clone(),
                position: v.position,
                boundary: None,
            })
            .collect();
        let county = MultiPolygon(
            gazetteer
                .counties
                .iter()
                .flat_map(|c| c.geom.0.iter().cloned())
                .collect(),
        );
        Self::new(villages, county, max_distance_m)
    }

    /// The villages, in the order given to [`Linker::new`].
    pub fn villages(&self) -> &[LinkVillage] {
        &self.villages
    }

    /// The village with this code.
    pub fn village(&self, code: &str) -> Option<&LinkVillage> {
        self.by_code.get(code).map(|&i| &self.villages[i])
    }

    /// The bound on `nearest` links, metres.
    pub fn max_distance_m(&self) -> f64 {
        self.max_distance_m
    }

    /// Links by 12-digit village code (spaces and full-width digits tolerated).
    pub fn link_code(&self, code: &str) -> Result<Link, LinkError> {
        let folded: String = code.nfkc().collect();
        let parsed = VillageCode::parse(&folded).map_err(|source| LinkError::MalformedCode {
            code: code.to_owned(),
            source,
        })?;
        let i = *self
            .by_code
            .get(parsed.as_str())
            .ok_or_else(|| LinkError::UnknownCode(parsed.as_str().to_owned()))?;
        Ok(Link {
            code: self.villages[i].code.clone(),
            method: LinkMethod::Code,
            distance_m: None,
            score: None,
        })
    }

    /// Links by name, within `township` (a 9-digit code or a name, exact or without its 镇/乡
    /// suffix) when given: exact name, then [`normalise_name`], then fuzzy. See the module docs.
    pub fn link_name(&self, name: &str, township: Option<&str>) -> Result<Link, LinkError> {
        let mut scope = match township.map(str::trim).filter(|t| !t.is_empty()) {
            Some(t) => Some(self.resolve_township(t)?),
            None => None,
        };
        let raw = name.trim();
        if let Some(ix) = self.by_name.get(raw)
            && let Some(link) = self.pick(name, scope, ix)?
        {
            return Ok(link);
        }
        let compacted = compact(name);
        let (rest, prefix_township) = self.strip_place_prefixes(&compacted);
        if scope.is_none() {
            scope = prefix_township;
        }
        let key = strip_suffixes(rest, VILLAGE_SUFFIXES);
        if key.is_empty() {
            return Err(LinkError::EmptyName);
        }
        if let Some(ix) = self.by_normalised.get(key)
            && let Some(link) = self.pick(name, scope, ix)?
        {
            return Ok(link);
        }
        self.link_fuzzy(name, key, scope)
    }

    /// Links a WGS84 point: the village whose boundary contains it, else the nearest village
    /// position within `max_distance_m`.
    pub fn link_point(&self, lon: f64, lat: f64) -> Result<Link, LinkError> {
        let p = Point::from(LonLat::new(lon, lat)?);
        if !self.in_county(p) {
            return Err(LinkError::OutsideCounty { lon, lat });
        }
        match self.match_point(p) {
            PointMatch::Inside(i) => Ok(self.point_link(i, LinkMethod::PointInPolygon, 0.0)),
            PointMatch::Nearest(i, d) => Ok(self.point_link(i, LinkMethod::Nearest, d)),
            PointMatch::TooFar(i, distance_m) => Err(LinkError::TooFar {
                lon,
                lat,
                nearest: self.candidate(i),
                distance_m,
                max_distance_m: self.max_distance_m,
            }),
            PointMatch::NoVillages => Err(LinkError::NoVillages),
        }
    }

    /// The village at a WGS84 point as [`Linker::link_point`] would link it (none outside the
    /// county), and the `n_nearest` nearest village positions. Fails only on an invalid
    /// coordinate.
    pub fn locate(&self, lon: f64, lat: f64, n_nearest: usize) -> Result<Located, LinkError> {
        let p = Point::from(LonLat::new(lon, lat)?);
        let nearest = self
            .positions
            .nearest_neighbor_iter(&unit_vector(p))
            .take(n_nearest)
            .map(|e| {
                self.near(
                    e.data,
                    Haversine.distance(p, self.villages[e.data].position),
                )
            })
            .collect();
        let in_county = self.in_county(p);
        let (village, method) = if in_county {
            match self.match_point(p) {
                PointMatch::Inside(i) => {
                    (Some(self.near(i, 0.0)), Some(LinkMethod::PointInPolygon))
                }
                PointMatch::Nearest(i, d) => (Some(self.near(i, d)), Some(LinkMethod::Nearest)),
                PointMatch::TooFar(..) | PointMatch::NoVillages => (None, None),
            }
        } else {
            (None, None)
        };
        Ok(Located {
            inside: method == Some(LinkMethod::PointInPolygon),
            distance_m: village.as_ref().map(|v| v.distance_m),
            village,
            method,
            in_county,
            nearest,
        })
    }

    // -----------------------------------------------------------------------------------------

    fn in_county(&self, p: Point<f64>) -> bool {
        self.county
            .iter()
            .any(|(bbox, poly)| bbox.intersects(&p) && poly.intersects(&p))
    }

    fn match_point(&self, p: Point<f64>) -> PointMatch {
        let containing = self
            .boundaries
            .locate_all_at_point(&[p.x(), p.y()])
            .map(|e| e.data)
            .filter(|&i| {
                self.villages[i]
                    .boundary
                    .as_ref()
                    .is_some_and(|b| b.intersects(&p))
            });
        // Overlapping or touching boundaries: the village whose position is nearest wins.
        if let Some(i) = containing.min_by(|&a, &b| {
            let da = Haversine.distance(p, self.villages[a].position);
            let db = Haversine.distance(p, self.villages[b].position);
            da.total_cmp(&db).then(a.cmp(&b))
        }) {
            return PointMatch::Inside(i);
        }
        let Some(e) = self.positions.nearest_neighbor(&unit_vector(p)) else {
            return PointMatch::NoVillages;
        };
        let d = Haversine.distance(p, self.villages[e.data].position);
        if d <= self.max_distance_m {
            PointMatch::Nearest(e.data, d)
        } else {
            PointMatch::TooFar(e.data, d)
        }
    }

    fn point_link(&self, i: usize, method: LinkMethod, distance_m: f64) -> Link {
        Link {
            code: self.villages[i].code.clone(),
            method,
            distance_m: Some(distance_m),
            score: None,
        }
    }

    fn near(&self, i: usize, distance_m: f64) -> NearVillage {
        let v = &self.villages[i];
        NearVillage {
            code: v.code.clone(),
            name: v.name.clone(),
            township_code: v.township_code.clone(),
            township_name: v.township_name.clone(),
            distance_m,
        }
    }

    fn candidate(&self, i: usize) -> Candidate {
        let v = &self.villages[i];
        Candidate {
            code: v.code.clone(),
            name: v.name.clone(),
            township_name: v.township_name.clone(),
        }
    }

    fn township_label(&self, t: Option<usize>) -> Option<String> {
        t.map(|t| format!("{} {}", self.townships[t].code, self.townships[t].name))
    }

    fn resolve_township(&self, t: &str) -> Result<usize, LinkError> {
        let key = compact(t);
        let found = self.township_by_code.get(&key).copied().or_else(|| {
            self.township_by_name
                .get(&key)
                .or_else(|| {
                    self.township_by_name
                        .get(strip_suffixes(&key, TOWNSHIP_SUFFIXES))
                })
                .copied()
                .flatten()
        });
        found.ok_or_else(|| LinkError::UnknownTownship(t.to_owned()))
    }

    /// Removes leading region names and a leading township name (the longest that leaves
    /// something); returns the rest and the township found.
    fn strip_place_prefixes<'a>(&self, s: &'a str) -> (&'a str, Option<usize>) {
        let mut rest = s;
        for prefix in REGION_PREFIXES {
            if let Some(r) = rest.strip_prefix(prefix)
                && !r.is_empty()
            {
                rest = r;
            }
        }
        let township = self
            .townships
            .iter()
            .enumerate()
            .filter_map(|(t, entry)| {
                let r = rest.strip_prefix(entry.compact_name.as_str())?;
                (!r.is_empty()).then_some((t, entry.compact_name.len()))
            })
            .max_by_key(|&(_, len)| len);
        match township {
            Some((t, len)) => (rest.get(len..).unwrap_or(rest), Some(t)),
            None => (rest, None),
        }
    }

    fn in_scope(&self, i: usize, scope: Option<usize>) -> bool {
        scope.is_none_or(|t| self.villages[i].township_code == self.townships[t].code)
    }

    /// One village in scope among `ix` links; several are ambiguous; none is `None`.
    fn pick(
        &self,
        name: &str,
        scope: Option<usize>,
        ix: &[usize],
    ) -> Result<Option<Link>, LinkError> {
        let hits: Vec<usize> = ix
            .iter()
            .copied()
            .filter(|&i| self.in_scope(i, scope))
            .collect();
        match hits.as_slice() {
            [] => Ok(None),
            [i] => Ok(Some(Link {
                code: self.villages[*i].code.clone(),
                method: LinkMethod::Name,
                distance_m: None,
                score: None,
            })),
            _ => Err(LinkError::AmbiguousName {
                name: name.to_owned(),
                township: self.township_label(scope),
                candidates: hits.iter().map(|&i| self.candidate(i)).collect(),
            }),
        }
    }

    fn link_fuzzy(&self, name: &str, key: &str, scope: Option<usize>) -> Result<Link, LinkError> {
        let pool: Box<dyn Iterator<Item = usize>> = match scope {
            Some(t) => Box::new(self.townships[t].villages.iter().copied()),
            None => Box::new(0..self.villages.len()),
        };
        let mut scored: Vec<(f64, usize)> = pool
            .map(|i| (strsim::normalized_levenshtein(key, &self.normalised[i]), i))
            .collect();
        scored.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
        let Some(&(best, best_i)) = scored.first() else {
            return Err(self.unknown_name(name, key, scope, None));
        };
        if best < FUZZY_MIN_SCORE {
            let closest = (best > 0.0).then(|| {
                Box::new(Similar {
                    village: self.candidate(best_i),
                    score: best,
                })
            });
            return Err(self.unknown_name(name, key, scope, closest));
        }
        // A small epsilon so that a runner-up exactly FUZZY_MIN_LEAD behind is not a tie.
        let contenders: Vec<usize> = scored
            .iter()
            .take_while(|&&(s, _)| best - s < FUZZY_MIN_LEAD - 1e-9)
            .map(|&(_, i)| i)
            .collect();
        if let [i] = contenders.as_slice() {
            return Ok(Link {
                code: self.villages[*i].code.clone(),
                method: LinkMethod::NameFuzzy,
                distance_m: None,
                score: Some(best),
            });
        }
        Err(LinkError::AmbiguousName {
            name: name.to_owned(),
            township: self.township_label(scope),
            candidates: contenders.iter().map(|&i| self.candidate(i)).collect(),
        })
    }

    fn unknown_name(
        &self,
        name: &str,
        key: &str,
        scope: Option<usize>,
        closest: Option<Box<Similar>>,
    ) -> LinkError {
        let elsewhere = match scope {
            Some(_) => self
                .by_normalised
                .get(key)
                .map(|ix| ix.iter().map(|&i| self.candidate(i)).collect())
                .unwrap_or_default(),
            None => Vec::new(),
        };
        LinkError::UnknownName {
            name: name.to_owned(),
            township: self.township_label(scope),
            closest,
            elsewhere,
        }
    }
}

enum PointMatch {
    Inside(usize),
    Nearest(usize, f64),
    TooFar(usize, f64),
    NoVillages,
}

/// The point on the unit sphere: Euclidean distance between these is monotonic in great-circle
/// distance, so the R-tree's nearest neighbour is the haversine nearest, anywhere on Earth.
fn unit_vector(p: Point<f64>) -> [f64; 3] {
    let (lon, lat) = (p.x().to_radians(), p.y().to_radians());
    [lat.cos() * lon.cos(), lat.cos() * lon.sin(), lat.sin()]
}

/// NFKC (full-width letters, digits, parentheses and spaces become their ASCII forms), ASCII
/// lower case, whitespace and [`SEPARATORS`] removed.
fn compact(s: &str) -> String {
    s.nfkc()
        .filter(|c| !c.is_whitespace() && !SEPARATORS.contains(c))
        .map(|c| c.to_ascii_lowercase())
        .collect()
}

/// Removes the longest matching suffix, repeatedly, never leaving an empty string.
fn strip_suffixes<'a>(s: &'a str, suffixes: &[&str]) -> &'a str {
    let mut rest = s;
    loop {
        let next = suffixes
            .iter()
            .filter_map(|suffix| rest.strip_suffix(suffix))
            .filter(|r| !r.is_empty())
            .min_by_key(|r| r.len());
        match next {
            Some(r) => rest = r,
            None => return rest,
        }
    }
}

/// The form names are compared in after the exact match fails: NFKC (full/half width), ASCII
/// lower case, whitespace and separators (`·`, `-`, `、`, …) removed, then the administrative
/// suffixes 社区居民委员会, 社区居委会, 社区委员会, 村民委员会, 居民委员会, 农村社区, 村委会,
/// 居委会, 委员会, 生活区, 片区, 连队, 社区, 村 removed from the end, longest first and
/// repeatedly, never down to nothing: `"果尔敏东街 社区"` → `"果尔敏东街"`, `"安定村委会"` →
/// `"安定"`.
pub fn normalise_name(name: &str) -> String {
    strip_suffixes(&compact(name), VILLAGE_SUFFIXES).to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gazetteer::{GazetteerOptions, qapqal};
    use geo::{Coord, LineString};

    fn linker() -> Linker {
        Linker::from_gazetteer(
            &qapqal(&Default::default()).unwrap(),
            DEFAULT_MAX_DISTANCE_M,
        )
    }

    fn code_of(l: &Linker, name: &str, township: Option<&str>) -> String {
        match l.link_name(name, township) {
            Ok(link) => link.code,
            Err(e) => panic!("{name:?} in {township:?}: {e}"),
        }
    }

    /// The point `metres` from `p` towards `bearing_deg` (haversine destination).
    fn offset(p: Point<f64>, bearing_deg: f64, metres: f64) -> Point<f64> {
        use geo::Destination;
        Haversine.destination(p, bearing_deg, metres)
    }

    #[test]
    fn normalisation_folds_width_spaces_separators_and_administrative_suffixes() {
        assert_eq!(normalise_name("果尔敏东街社区"), "果尔敏东街");
        assert_eq!(normalise_name("果尔敏东街　社区"), "果尔敏东街");
        assert_eq!(normalise_name(" 安定村委会 "), "安定");
        assert_eq!(normalise_name("安定村民委员会"), "安定");
        assert_eq!(normalise_name("托布社区居民委员会"), "托布");
        assert_eq!(normalise_name("柏尔哈舍里社区委员会"), "柏尔哈舍里");
        assert_eq!(normalise_name("乌宗布拉克农村社区"), "乌宗布拉克");
        assert_eq!(normalise_name("七连连队生活区"), "七连");
        assert_eq!(normalise_name("阿热·吾斯塘村"), "阿热吾斯塘");
        assert_eq!(normalise_name("团结２村"), "团结2");
        assert_eq!(normalise_name("ＡＢ村"), "ab");
        // Never down to nothing.
        assert_eq!(normalise_name("村"), "村");
        assert_eq!(normalise_name("社区"), "社区");
        assert_eq!(normalise_name("坎村"), "坎");
    }

    #[test]
    fn link_method_labels_are_the_sql_enum_labels() {
        let labels: Vec<_> = [
            LinkMethod::Code,
            LinkMethod::Name,
            LinkMethod::NameFuzzy,
            LinkMethod::PointInPolygon,
            LinkMethod::Nearest,
        ]
        .iter()
        .map(|m| m.as_str())
        .collect();
        assert_eq!(
            labels,
            ["code", "name", "name_fuzzy", "point_in_polygon", "nearest"]
        );
        assert_eq!(
            serde_json::to_string(&LinkMethod::PointInPolygon).unwrap(),
            "\"point_in_polygon\""
        );
        let sql = include_str!("../../migrations/20261125000002_places.sql");
        assert!(sql.contains(
            "CREATE TYPE link_method AS ENUM ('code', 'name', 'name_fuzzy', 'point_in_polygon', 'nearest')"
        ));
    }

    #[test]
    fn an_exact_name_links_by_name() {
        let l = linker();
        let link = l.link_name("安定村", None).unwrap();
        assert_eq!(link.code, "654022100201");
        assert_eq!(link.method, LinkMethod::Name);
        assert_eq!((link.distance_m, link.score), (None, None));
        assert_eq!(code_of(&l, "托布社区居民委员会", None), "654022200001");
    }

    #[test]
    fn administrative_suffixes_may_be_added_or_left_out() {
        let l = linker();
        for name in ["安定村委会", "安定村民委员会", "安定", "安定 村"] {
            let link = l.link_name(name, None).unwrap();
            assert_eq!(
                (link.code.as_str(), link.method),
                ("654022100201", LinkMethod::Name),
                "{name}"
            );
        }
        assert_eq!(code_of(&l, "托布社区", None), "654022200001");
        assert_eq!(code_of(&l, "托布居委会", None), "654022200001");
        assert_eq!(code_of(&l, "乌宗布拉克村", None), "654022100202");
        assert_eq!(code_of(&l, "阿帕尔村民委员会", None), "654022102200");
    }

    #[test]
    fn full_width_characters_and_spaces_are_folded() {
        let l = linker();
        assert_eq!(code_of(&l, "果尔敏东街 社区", None), "654022100001");
        assert_eq!(code_of(&l, "果尔敏东街　社区", None), "654022100001");
        assert_eq!(code_of(&l, " 果尔敏 东街社区\t", None), "654022100001");
        // Full-width digits and brackets, as in the names of the synthetic county copies.
        let scaled = Linker::from_gazetteer(
            &qapqal(&Default::default()).unwrap().scaled(3),
            DEFAULT_MAX_DISTANCE_M,
        );
        assert_eq!(code_of(&scaled, "安定村(合成２)", None), "990002100201");
        assert_eq!(code_of(&scaled, "安定村（合成2）", None), "990002100201");
        // Full-width digits in a code.
        let link = l.link_code("６５４０２２１００２０１").unwrap();
        assert_eq!(
            (link.code.as_str(), link.method),
            ("654022100201", LinkMethod::Code)
        );
    }

    #[test]
    fn a_township_prefix_in_the_name_restricts_the_search() {
        let l = linker();
        assert_eq!(code_of(&l, "察布查尔镇安定村", None), "654022100201");
        assert_eq!(
            code_of(&l, "察布查尔锡伯自治县山区林场虚拟生活区", None),
            "654022404598"
        );
    }

    #[test]
    fn a_one_character_typo_is_found_fuzzily_within_its_township() {
        let l = linker();
        for township in ["孙扎齐牛录镇", "孙扎齐牛录", "654022102"] {
            let link = l.link_name("切提布拉可村", Some(township)).unwrap();
            assert_eq!(link.code, "654022102204");
            assert_eq!(link.method, LinkMethod::NameFuzzy);
            let score = link.score.unwrap();
            assert!((score - 0.8).abs() < 1e-9, "{score}");
        }
        // 纳旦芒坎村 with one character wrong, county-wide.
        let link = l.link_name("纳旦芒砍村", None).unwrap();
        assert_eq!(
            (link.code.as_str(), link.method),
            ("654022101203", LinkMethod::NameFuzzy)
        );
    }

    #[test]
    fn a_name_shared_by_two_townships_is_ambiguous_and_lists_both() {
        let l = linker();
        let err = l.link_name("虚拟生活区", None).unwrap_err();
        let LinkError::AmbiguousName { candidates, .. } = &err else {
            panic!("{err}");
        };
        let codes: Vec<_> = candidates.iter().map(|c| c.code.as_str()).collect();
        assert_eq!(codes, ["654022403598", "654022404598"]);
        let msg = err.to_string();
        assert!(
            msg.contains("654022403598 虚拟生活区 (伊犁州平原林场)"),
            "{msg}"
        );
        assert!(msg.contains("654022404598 虚拟生活区 (山区林场)"), "{msg}");
        // Normalised forms collide too: 虚拟 matches both.
        assert!(matches!(
            l.link_name("虚拟", None),
            Err(LinkError::AmbiguousName { .. })
        ));
        // The township settles it.
        assert_eq!(code_of(&l, "虚拟生活区", Some("山区林场")), "654022404598");
        assert_eq!(code_of(&l, "虚拟生活区", Some("654022403")), "654022403598");
    }

    #[test]
    fn with_the_regiments_one_company_name_normalises_alike_in_two_townships() {
        let all = qapqal(&GazetteerOptions { include_xpcc: true }).unwrap();
        let l = Linker::from_gazetteer(&all, DEFAULT_MAX_DISTANCE_M);
        // 一连连队 (67th) and 一连生活区 (69th) are both 一连 once normalised.
        let err = l.link_name("一连", None).unwrap_err();
        assert!(
            err.to_string().contains("654022503501") && err.to_string().contains("654022504501"),
            "{err}"
        );
        assert_eq!(code_of(&l, "一连", Some("兵团六十九团")), "654022504501");
        assert_eq!(code_of(&l, "一连连队", None), "654022503501");
    }

    #[test]
    fn a_fuzzy_tie_is_ambiguous() {
        let l = linker();
        // 中加尕斯台 is one edit from 上加尕斯台, 下加尕斯台 and 加尕斯台: 0.8 each.
        let err = l.link_name("中加尕斯台村", Some("加尕斯台镇")).unwrap_err();
        let LinkError::AmbiguousName { candidates, .. } = &err else {
            panic!("{err}");
        };
        let mut codes: Vec<_> = candidates.iter().map(|c| c.code.as_str()).collect();
        codes.sort_unstable();
        assert_eq!(codes, ["654022104200", "654022104201", "654022104202"]);
    }

    #[test]
    fn an_unknown_name_is_an_error_naming_it() {
        let l = linker();
        let err = l.link_name("不存在村", None).unwrap_err();
        assert!(matches!(err, LinkError::UnknownName { .. }), "{err}");
        assert!(err.to_string().contains("不存在村"), "{err}");
        assert_eq!(l.link_name("  ", None), Err(LinkError::EmptyName));
    }

    #[test]
    fn a_name_from_another_township_is_unknown_there_and_the_error_says_where_it_is() {
        let l = linker();
        let err = l.link_name("安定村", Some("坎乡")).unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("in township 654022206 坎乡"), "{msg}");
        assert!(msg.contains("654022100201 安定村 (察布查尔镇)"), "{msg}");
    }

    #[test]
    fn an_unknown_township_is_its_own_error() {
        let l = linker();
        for t in ["不存在乡", "654022999"] {
            let err = l.link_name("安定村", Some(t)).unwrap_err();
            assert_eq!(err, LinkError::UnknownTownship(t.into()));
            assert!(err.to_string().contains(t));
        }
        // An empty township means none.
        assert_eq!(code_of(&l, "安定村", Some(" ")), "654022100201");
    }

    #[test]
    fn every_real_village_links_to_itself_by_code_by_name_and_by_normalised_name() {
        let all = qapqal(&GazetteerOptions { include_xpcc: true }).unwrap();
        let l = Linker::from_gazetteer(&all, DEFAULT_MAX_DISTANCE_M);
        for v in &all.villages {
            assert_eq!(l.link_code(&v.code).unwrap().code, v.code);
            let t = Some(v.township_code.as_str());
            assert_eq!(code_of(&l, &v.name, t), v.code);
            assert_eq!(code_of(&l, &normalise_name(&v.name), t), v.code);
            let link = l.link_name(&format!("{}村委会", normalise_name(&v.name)), t);
            assert_eq!(link.unwrap().code, v.code, "{}", v.name);
        }
    }

    #[test]
    fn codes_valid_unknown_and_malformed() {
        let l = linker();
        let link = l.link_code(" 654022100201 ").unwrap();
        assert_eq!(
            link,
            Link {
                code: "654022100201".into(),
                method: LinkMethod::Code,
                distance_m: None,
                score: None
            }
        );
        assert_eq!(
            l.link_code("654022100999"),
            Err(LinkError::UnknownCode("654022100999".into()))
        );
        for bad in ["65402210020", "6540221002011", "65402210020x", ""] {
            let err = l.link_code(bad).unwrap_err();
            assert!(
                matches!(err, LinkError::MalformedCode { .. }),
                "{bad}: {err}"
            );
            assert!(err.to_string().contains(&format!("{bad:?}")), "{err}");
        }
    }

    #[test]
    fn a_point_at_a_village_links_to_it_as_nearest() {
        let l = linker();
        for v in l.villages() {
            let link = l.link_point(v.position.x(), v.position.y()).unwrap();
            assert_eq!(link.code, v.code);
            assert_eq!(link.method, LinkMethod::Nearest);
            assert!(link.distance_m.unwrap() < 1e-6);
        }
    }

    #[test]
    fn a_point_two_kilometres_from_a_village_links_to_it_with_the_distance() {
        let l = linker();
        let mut checked = 0;
        for v in l.villages() {
            for bearing in [0.0, 90.0, 180.0, 270.0] {
                let p = offset(v.position, bearing, 2_000.0);
                // Only where this village is still the nearest and the point is in the county.
                let others_farther = l
                    .villages()
                    .iter()
                    .all(|o| o.code == v.code || Haversine.distance(p, o.position) > 2_100.0);
                if !others_farther || !l.in_county(p) {
                    continue;
                }
                let link = l.link_point(p.x(), p.y()).unwrap();
                assert_eq!(
                    (link.code.as_str(), link.method),
                    (v.code.as_str(), LinkMethod::Nearest)
                );
                assert!((link.distance_m.unwrap() - 2_000.0).abs() < 0.01);
                checked += 1;
            }
        }
        assert!(checked > 20, "only {checked} points checked");
    }

    #[test]
    fn nearest_links_agree_with_a_brute_force_search() {
        let l = Linker::from_gazetteer(&qapqal(&Default::default()).unwrap(), 1e9);
        for i in 0..40 {
            for j in 0..25 {
                let p = Point::new(80.4 + f64::from(i) * 0.03, 43.3 + f64::from(j) * 0.025);
                if !l.in_county(p) {
                    continue;
                }
                let brute = l
                    .villages()
                    .iter()
                    .map(|v| (Haversine.distance(p, v.position), &v.code))
                    .min_by(|a, b| a.0.total_cmp(&b.0))
                    .unwrap();
                let link = l.link_point(p.x(), p.y()).unwrap();
                assert_eq!(&link.code, brute.1);
                assert!((link.distance_m.unwrap() - brute.0).abs() < 1e-6);
            }
        }
    }

    #[test]
    fn a_point_in_the_county_far_from_every_village_is_an_error_naming_the_distance() {
        let l = linker();
        // The first grid point inside the county 10 km or more from every village (the
        // southern mountains).
        let far = (0..200)
            .flat_map(|i| (0..200).map(move |j| (i, j)))
            .map(|(i, j)| Point::new(80.3 + f64::from(i) * 0.006, 43.2 + f64::from(j) * 0.004))
            .find(|&p| {
                l.in_county(p)
                    && l.villages()
                        .iter()
                        .all(|v| Haversine.distance(p, v.position) >= 10_000.0)
            })
            .expect("no point of the county is 10 km from every village");
        let err = l.link_point(far.x(), far.y()).unwrap_err();
        let LinkError::TooFar {
            distance_m,
            max_distance_m,
            ..
        } = &err
        else {
            panic!("{err}");
        };
        assert!(*distance_m >= 10_000.0);
        assert_eq!(*max_distance_m, 3_000.0);
        let msg = err.to_string();
        assert!(msg.contains(&format!("is {distance_m:.0} m away")), "{msg}");
        assert!(msg.contains("within 3000 m"), "{msg}");
    }

    #[test]
    fn a_point_outside_the_county_is_an_error() {
        let l = linker();
        let err = l.link_point(87.6, 43.8).unwrap_err();
        assert_eq!(
            err,
            LinkError::OutsideCounty {
                lon: 87.6,
                lat: 43.8
            }
        );
        assert!(err.to_string().contains("lon 87.6, lat 43.8"));
        assert!(matches!(
            l.link_point(f64::NAN, 43.8),
            Err(LinkError::Coordinate(_))
        ));
        assert!(matches!(
            l.link_point(81.0, 95.0),
            Err(LinkError::Coordinate(CoordinateError::Latitude { .. }))
        ));
    }

    fn square(centre: Point<f64>, half_deg: f64) -> MultiPolygon<f64> {
        let (x, y) = (centre.x(), centre.y());
        let ring = LineString::from(vec![
            Coord {
                x: x - half_deg,
                y: y - half_deg,
            },
            Coord {
                x: x + half_deg,
                y: y - half_deg,
            },
            Coord {
                x: x + half_deg,
                y: y + half_deg,
            },
            Coord {
                x: x - half_deg,
                y: y + half_deg,
            },
            Coord {
                x: x - half_deg,
                y: y - half_deg,
            },
        ]);
        MultiPolygon(vec![Polygon::new(ring, Vec::new())])
    }

    fn synthetic_village(
        code: &str,
        name: &str,
        township: (&str, &str),
        p: Point<f64>,
    ) -> LinkVillage {
        LinkVillage {
            code: code.into(),
            township_code: township.0.into(),
            township_name: township.1.into(),
            name: name.into(),
            position: p,
            boundary: None,
        }
    }

    #[test]
    fn a_point_inside_a_village_boundary_links_by_polygon_even_when_another_seat_is_nearer() {
        let county = square(Point::new(81.0, 43.8), 0.5);
        let mut a = synthetic_village(
            "654022100001",
            "甲村",
            ("654022100", "甲镇"),
            Point::new(81.0, 43.8),
        );
        // A's area stretches far east, past B's seat.
        a.boundary = Some(square(Point::new(81.05, 43.8), 0.06));
        let b = synthetic_village(
            "654022100002",
            "乙村",
            ("654022100", "甲镇"),
            Point::new(81.09, 43.8),
        );
        let l = Linker::new(vec![a, b], county, DEFAULT_MAX_DISTANCE_M);
        let p = Point::new(81.085, 43.8);
        let link = l.link_point(p.x(), p.y()).unwrap();
        assert_eq!(
            (link.code.as_str(), link.method, link.distance_m),
            ("654022100001", LinkMethod::PointInPolygon, Some(0.0))
        );
        let located = l.locate(p.x(), p.y(), 5).unwrap();
        assert!(located.inside && located.in_county);
        assert_eq!(located.method, Some(LinkMethod::PointInPolygon));
        assert_eq!(located.village.unwrap().code, "654022100001");
        assert_eq!(located.distance_m, Some(0.0));
        // The nearest seat is B's, and the list says so.
        assert_eq!(located.nearest[0].code, "654022100002");
        assert_eq!(located.nearest.len(), 2);
        // Outside A's boundary, B is nearest.
        let q = Point::new(81.12, 43.8);
        let link = l.link_point(q.x(), q.y()).unwrap();
        assert_eq!(
            (link.code.as_str(), link.method),
            ("654022100002", LinkMethod::Nearest)
        );
    }

    #[test]
    fn synthetic_duplicates_across_townships_are_ambiguous_until_the_township_is_given() {
        let county = square(Point::new(81.0, 43.8), 0.5);
        let villages = vec![
            synthetic_village(
                "654022100201",
                "团结村",
                ("654022100", "甲镇"),
                Point::new(81.0, 43.8),
            ),
            synthetic_village(
                "654022206201",
                "团结村委会",
                ("654022206", "乙乡"),
                Point::new(81.2, 43.8),
            ),
        ];
        let l = Linker::new(villages, county, DEFAULT_MAX_DISTANCE_M);
        // The exact name is unique, so it wins; the normalised one is shared.
        assert_eq!(code_of(&l, "团结村", None), "654022100201");
        let err = l.link_name("团结", None).unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("654022100201 团结村 (甲镇)"), "{msg}");
        assert!(msg.contains("654022206201 团结村委会 (乙乡)"), "{msg}");
        assert_eq!(code_of(&l, "团结", Some("乙乡")), "654022206201");
        assert_eq!(code_of(&l, "团结", Some("乙")), "654022206201");
    }

    #[test]
    fn locate_reports_the_village_and_the_nearest_in_order() {
        let l = linker();
        let v = &l.villages()[7];
        let located = l.locate(v.position.x(), v.position.y(), 3).unwrap();
        assert!(!located.inside && located.in_county);
        assert_eq!(located.method, Some(LinkMethod::Nearest));
        assert_eq!(located.village.as_ref().unwrap().code, v.code);
        assert_eq!(located.nearest.len(), 3);
        assert_eq!(located.nearest[0].code, v.code);
        assert!(
            located
                .nearest
                .windows(2)
                .all(|w| w[0].distance_m <= w[1].distance_m)
        );
        // Outside the county: no village, but the nearest are still listed.
        let far = l.locate(87.6, 43.8, 2).unwrap();
        assert!(far.village.is_none() && !far.in_county && far.distance_m.is_none());
        assert_eq!(far.nearest.len(), 2);
        assert!(far.nearest[0].distance_m > 400_000.0);
        assert!(l.locate(f64::NAN, 0.0, 1).is_err());
    }

    #[test]
    fn locate_takes_microseconds_with_ten_thousand_villages() {
        // A 100 × 100 grid of villages 1 km apart.
        let origin = Point::new(80.5, 43.4);
        let villages: Vec<LinkVillage> = (0..10_000_u32)
            .map(|k| {
                let (i, j) = (f64::from(k % 100), f64::from(k / 100));
                let p = Point::new(origin.x() + i * 0.0125, origin.y() + j * 0.009);
                let code = format!("654022{:03}{:03}", 100 + k / 1000, k % 1000);
                synthetic_village(&code, &format!("村{k}"), ("654022100", "甲镇"), p)
            })
            .collect();
        let l = Linker::new(
            villages,
            square(Point::new(81.1, 43.85), 1.0),
            DEFAULT_MAX_DISTANCE_M,
        );
        let start = std::time::Instant::now();
        let mut found = 0;
        for k in 0..10_000_u32 {
            let p = Point::new(
                80.5 + f64::from(k % 97) * 0.013,
                43.4 + f64::from(k % 89) * 0.01,
            );
            found += usize::from(l.locate(p.x(), p.y(), 5).unwrap().village.is_some());
        }
        let per_call = start.elapsed() / 10_000;
        eprintln!("locate with 10,000 villages: {per_call:?} per call");
        assert_eq!(found, 10_000);
        // Generous for unoptimised builds on a busy machine (rstar's generic code is compiled at
        // this crate's opt-level): about 100 µs here in a debug build, 10 µs in release
        // (`cargo test --release`), both under load.
        assert!(per_call.as_micros() < 1_000, "{per_call:?} per locate");
    }
}
