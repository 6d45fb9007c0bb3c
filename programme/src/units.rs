//! The units the programme reports on: the county, its townships and its villages, each named
//! by its official code ([`PlaceCode`]). Indicators, the stage, report forms and work lists are
//! asked for a unit and list the units a level below it; this module finds them.

use echinomap_domain::{CountyCode, PlaceCode, TownshipCode, VillageCode};
use serde::Serialize;
use sqlx::PgPool;

/// The level of a unit, told by the length of its code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Level {
    County,
    Township,
    Village,
}

impl Level {
    /// The level of `code`.
    pub fn of(code: &PlaceCode) -> Self {
        match code {
            PlaceCode::County(_) => Self::County,
            PlaceCode::Township(_) => Self::Township,
            PlaceCode::Village(_) => Self::Village,
        }
    }

    /// `county`, `township` or `village`.
    pub fn parse(s: &str) -> Option<Self> {
        [Self::County, Self::Township, Self::Village]
            .into_iter()
            .find(|l| l.as_str() == s)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::County => "county",
            Self::Township => "township",
            Self::Village => "village",
        }
    }

    /// How many digits its codes have: the first that many digits of a village code name the
    /// unit of this level it lies in.
    pub fn digits(self) -> usize {
        match self {
            Self::County => CountyCode::DIGITS,
            Self::Township => TownshipCode::DIGITS,
            Self::Village => VillageCode::DIGITS,
        }
    }
}

/// A county, township or village that exists, with its name. Serialises as the API shows a
/// unit: `{"code", "name", "level"}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unit {
    pub code: PlaceCode,
    pub name: String,
}

impl Unit {
    pub fn level(&self) -> Level {
        Level::of(&self.code)
    }
}

impl Serialize for Unit {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        struct Shown<'a> {
            code: &'a str,
            name: &'a str,
            level: Level,
        }
        Shown {
            code: self.code.as_str(),
            name: &self.name,
            level: self.level(),
        }
        .serialize(s)
    }
}

/// The unit with `code`, or `None` when no county, township or village has it.
pub async fn find(pool: &PgPool, code: &PlaceCode) -> Result<Option<Unit>, sqlx::Error> {
    let name: Option<String> = sqlx::query_scalar(
        "SELECT name FROM counties WHERE code = $1
         UNION ALL SELECT name FROM townships WHERE code = $1
         UNION ALL SELECT name FROM villages WHERE code = $1",
    )
    .bind(code.as_str())
    .fetch_optional(pool)
    .await?;
    Ok(name.map(|name| Unit {
        code: code.clone(),
        name,
    }))
}

/// The units of `level` inside `parent` (itself included when it is of that level), by code.
pub async fn within(
    pool: &PgPool,
    parent: &PlaceCode,
    level: Level,
) -> Result<Vec<Unit>, sqlx::Error> {
    let rows: Vec<(String, String)> = sqlx::query_as(match level {
        Level::County => {
            "SELECT code::text, name FROM counties WHERE code LIKE $1 || '%' ORDER BY code"
        }
        Level::Township => {
            "SELECT code::text, name FROM townships WHERE code LIKE $1 || '%' ORDER BY code"
        }
        Level::Village => {
            "SELECT code::text, name FROM villages WHERE code LIKE $1 || '%' ORDER BY code"
        }
    })
    .bind(parent.as_str())
    .fetch_all(pool)
    .await?;
    rows.into_iter()
        .map(|(code, name)| {
            let code = PlaceCode::parse(&code).map_err(|e| sqlx::Error::Decode(Box::new(e)))?;
            Ok(Unit { code, name })
        })
        .collect()
}

/// The township `code` lies in, or the county itself: the area whose townships a list of
/// `code` names.
pub fn townships_area(code: &PlaceCode) -> PlaceCode {
    match code {
        PlaceCode::Village(v) => PlaceCode::Township(v.township()),
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_unit_shows_its_code_name_and_level() {
        let u = Unit {
            code: PlaceCode::parse("654022100").expect("code"),
            name: "x".into(),
        };
        assert_eq!(
            serde_json::to_value(&u).expect("json"),
            serde_json::json!({ "code": "654022100", "name": "x", "level": "township" })
        );
        assert_eq!(Level::parse("village"), Some(Level::Village));
        assert_eq!(Level::Village.digits(), 12);
        let v = PlaceCode::parse("654022100200").expect("code");
        assert_eq!(townships_area(&v).as_str(), "654022100");
    }
}
