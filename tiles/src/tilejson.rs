//! TileJSON 3.0 for one layer.

use serde_json::{Value, json};

use echinomap_domain::privacy::Suppression;

use crate::layers::TileLayer;

/// Qapqal county's extent, west, south, east, north (WGS84), and a centre at the county seat.
pub const BOUNDS: [f64; 4] = [80.3, 43.0, 82.0, 44.3];
pub const CENTER: [f64; 3] = [81.15, 43.75, 9.0];
pub const ATTRIBUTION: &str =
    "边界 天地图 · 河流 GSHHG · 代码 国家统计局 2023 · 村位置为示意 (synthetic positions)";

/// `base` is the origin (`http://host:port`); `query` the canonical filter string (may be
/// empty), part of the tiles URL so that each filter is its own cacheable tile set; `rule` the
/// running small-count rule, named in the description.
pub fn tilejson(layer: &TileLayer, base: &str, query: &str, rule: Suppression) -> Value {
    let q = if query.is_empty() {
        String::new()
    } else {
        format!("?{query}")
    };
    let fields: serde_json::Map<String, Value> = layer
        .fields
        .iter()
        .map(|f| (f.name.to_owned(), json!(f.kind)))
        .collect();
    let description = layer.description(rule);
    json!({
        "tilejson": "3.0.0",
        "name": layer.id,
        "description": description,
        "tiles": [format!("{base}/tiles/{}/{{z}}/{{x}}/{{y}}.mvt{q}", layer.id)],
        "minzoom": layer.minzoom,
        "maxzoom": layer.maxzoom,
        "bounds": BOUNDS,
        "center": CENTER,
        "attribution": ATTRIBUTION,
        "scheme": "xyz",
        "vector_layers": [{
            "id": layer.id,
            "description": description,
            "minzoom": layer.minzoom,
            "maxzoom": layer.maxzoom,
            "fields": fields,
        }],
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layers::layer;

    #[test]
    fn tilejson_names_the_tiles_url_with_its_filters_and_the_fields() {
        let l = layer("case_density").unwrap();
        let t = tilejson(
            l,
            "http://127.0.0.1:8080",
            "period=2024",
            Suppression::DEFAULT,
        );
        assert_eq!(t["tilejson"], "3.0.0");
        assert_eq!(
            t["tiles"][0],
            "http://127.0.0.1:8080/tiles/case_density/{z}/{x}/{y}.mvt?period=2024"
        );
        assert_eq!(t["vector_layers"][0]["fields"]["cases"], "Number");
    }

    #[test]
    fn tilejson_describes_the_hidden_range_of_the_running_rule() {
        let l = layer("case_density").unwrap();
        let rule = Suppression::new(6, 11).unwrap();
        let t = tilejson(l, "http://127.0.0.1:8080", "", rule);
        for d in [&t["description"], &t["vector_layers"][0]["description"]] {
            let d = d.as_str().unwrap_or_default();
            assert!(d.contains("counts of 1–6 withheld"), "{d}");
        }
    }
}
