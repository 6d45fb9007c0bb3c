//! The bound parameters of every layer statement, by name: [`TileArgs`].
//!
//! One list (in [`tile_args!`] below) declares each parameter once, with its position, its
//! SQL type and its Rust type. From it come the struct, [`TileArgs::values`] (the values in
//! binding order, which the binder walks) and the `p` CTE that opens every layer's SQL
//! (`$n::type AS name`, so that a layer that ignores some parameters still plans). The
//! declaration, the SQL and the binding order therefore cannot disagree; the test below checks
//! that the positions written in the list count 1, 2, 3… and that each value binds as the type
//! its SQL declares.

use chrono::NaiveDate;

/// A value bound to a layer statement, as the type its `p` column declares.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum TileValue<'a> {
    /// `int`.
    Int(i32),
    /// `int8`, NULL for `None`.
    OptionalInt8(Option<i64>),
    Text(&'a str),
    Date(NaiveDate),
    Bool(bool),
    /// `int2[]`.
    Int2Array(&'a [i16]),
    /// `float8[]`.
    Float8Array(&'a [f64]),
    /// `int8[]`.
    Int8Array(&'a [i64]),
}

impl TileValue<'_> {
    /// The SQL type this value binds as.
    pub fn sql_type(&self) -> &'static str {
        match self {
            Self::Int(_) => "int",
            Self::OptionalInt8(_) => "int8",
            Self::Text(_) => "text",
            Self::Date(_) => "date",
            Self::Bool(_) => "bool",
            Self::Int2Array(_) => "int2[]",
            Self::Float8Array(_) => "float8[]",
            Self::Int8Array(_) => "int8[]",
        }
    }
}

/// Declares the parameters: `position name: RustType => TileValue variant as "sql type"`.
/// Generates [`TileArgs`], [`TileArgs::values`], [`TileArgs::COUNT`] and the `p_columns!`
/// macro (the select list of the `p` CTE) from the same list.
macro_rules! tile_args {
    (
        $(#[doc = $doc0:literal])*
        $n0:literal $name0:ident: $ty0:ty => $variant0:ident as $sql0:literal
        $(,
            $(#[doc = $doc:literal])*
            $n:literal $name:ident: $ty:ty => $variant:ident as $sql:literal
        )* $(,)?
    ) => {
        /// The parameters of a layer statement, by name. Fields for what a layer does not read
        /// still bind (the SQL of every layer declares them all): zero values do.
        #[derive(Debug, Clone, Copy)]
        pub struct TileArgs<'a> {
            $(#[doc = $doc0])*
            pub $name0: $ty0,
            $(
                $(#[doc = $doc])*
                pub $name: $ty,
            )*
        }

        const ARG_COUNT: usize = [stringify!($name0) $(, stringify!($name))*].len();

        impl<'a> TileArgs<'a> {
            /// How many parameters every layer statement takes.
            pub const COUNT: usize = ARG_COUNT;

            /// (name, value) in binding order: the `n`-th entry binds `$n+1`.
            pub fn values(&self) -> [(&'static str, TileValue<'a>); ARG_COUNT] {
                [
                    (stringify!($name0), TileValue::$variant0(self.$name0)),
                    $((stringify!($name), TileValue::$variant(self.$name)),)*
                ]
            }
        }

        /// The select list of the `p` CTE: `$1::int AS z, $2::int AS x, …`.
        macro_rules! p_columns {
            () => {
                concat!(
                    "$", $n0, "::", $sql0, " AS ", stringify!($name0)
                    $(, ", $", $n, "::", $sql, " AS ", stringify!($name))*
                )
            };
        }
    };
}

tile_args! {
    /// The tile's zoom.
    1 z: i32 => Int as "int",
    /// The tile's column.
    2 x: i32 => Int as "int",
    /// The tile's row (XYZ: southwards).
    3 y: i32 => Int as "int",
    /// The caller's jurisdiction code, a prefix of village codes ("" for unscoped layers).
    4 scope: &'a str => Text as "text",
    /// The largest count of people hidden from the caller (NULL: nothing is hidden): counts
    /// `BETWEEN 1 AND small_max` are withheld. NULL for layers that are not suppressible.
    5 small_max: Option<i64> => OptionalInt8 as "int8",
    /// The period's first day.
    6 d_from: NaiveDate => Date as "date",
    /// The period's last day.
    7 d_to: NaiveDate => Date as "date",
    /// The first day of the month whose deworming coverage is shown.
    8 m_from: NaiveDate => Date as "date",
    /// The last day of that month.
    9 m_to: NaiveDate => Date as "date",
    /// The hotspot source layer (`human_cases`, `dog_positivity`, `livestock_infection`).
    10 source: &'a str => Text as "text",
    /// The hotspot H3 resolution.
    11 resolution: i32 => Int as "int",
    /// A period was asked for (hotspots: match it, else the latest result).
    12 has_period: bool => Bool as "bool",
    /// Per village of the scope, indexed by `villages.id`: risk tier (1 low, 2 medium, 3 high,
    /// 0 none). This and the arrays below are computed by the service's risk model and
    /// indicator engine, so that the map and the API agree; empty for layers without
    /// [`super::TileLayer::uses_risk`]. Fixed width without NULLs (−1 stands for none), so that
    /// `a[f.id]` is a constant-time lookup.
    13 v_tier: &'a [i16] => Int2Array as "int2[]",
    /// Risk score.
    14 v_score: &'a [f64] => Float8Array as "float8[]",
    /// Cases reported in the period.
    15 v_cases: &'a [i64] => Int8Array as "int8[]",
    /// Dogs due for deworming in the coverage month.
    16 v_due: &'a [i64] => Int8Array as "int8[]",
    /// Dogs dosed in the coverage month.
    17 v_dosed: &'a [i64] => Int8Array as "int8[]",
    /// The latest year's population.
    18 v_population: &'a [i64] => Int8Array as "int8[]",
    /// The latest year's households.
    19 v_households: &'a [i64] => Int8Array as "int8[]",
}

/// The `p` CTE (the parameters by name) and the `env` CTE (the tile envelope) that open every
/// layer statement.
macro_rules! prelude {
    () => {
        concat!(
            "WITH p AS (SELECT ",
            p_columns!(),
            "),
        env AS MATERIALIZED (
            SELECT ST_TileEnvelope(z, x, y) AS e3857,
                   ST_Transform(ST_TileEnvelope(z, x, y, margin => 64.0 / 4096), 4326) AS e4326,
                   40075016.68557849 / (4096 * 2 ^ z) AS px
            FROM p)"
        )
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> TileArgs<'static> {
        let day = NaiveDate::from_ymd_opt(2024, 1, 1).unwrap();
        TileArgs {
            z: 9,
            x: 380,
            y: 186,
            scope: "654022",
            small_max: Some(4),
            d_from: day,
            d_to: day,
            m_from: day,
            m_to: day,
            source: "human_cases",
            resolution: 7,
            has_period: false,
            v_tier: &[],
            v_score: &[],
            v_cases: &[],
            v_due: &[],
            v_dosed: &[],
            v_population: &[],
            v_households: &[],
        }
    }

    #[test]
    fn the_p_cte_declares_each_parameter_at_its_binding_position_with_its_binding_type() {
        let values = sample().values();
        let columns: Vec<&str> = p_columns!().split(", ").collect();
        assert_eq!(columns.len(), TileArgs::COUNT);
        assert_eq!(values.len(), TileArgs::COUNT);
        for (i, (column, (name, value))) in columns.iter().zip(values).enumerate() {
            assert_eq!(
                *column,
                format!("${}::{} AS {name}", i + 1, value.sql_type()),
                "parameter {}",
                i + 1
            );
        }
        assert!(prelude!().starts_with("WITH p AS (SELECT $1::int AS z, "));
    }

    #[test]
    fn values_follow_the_fields_by_name() {
        let v = sample().values();
        let get = |n: &str| v.iter().find(|(name, _)| *name == n).map(|(_, v)| *v);
        assert_eq!(get("scope"), Some(TileValue::Text("654022")));
        assert_eq!(get("small_max"), Some(TileValue::OptionalInt8(Some(4))));
        assert_eq!(get("resolution"), Some(TileValue::Int(7)));
        assert_eq!(v[4].0, "small_max");
        let none = TileArgs {
            small_max: None,
            ..sample()
        };
        assert_eq!(none.values()[4].1, TileValue::OptionalInt8(None));
    }
}
