//! A GeoJSON FeatureCollection read as a table: one row per feature, one column per property
//! (in order of first appearance), `lon` and `lat` for Point geometries and `geometry` (the
//! geometry as GeoJSON text) for any other geometry, e.g. village boundaries.

use serde_json::Value;

use super::{Budget, ImportError, Limits, Row, Table};

pub(super) fn read(bytes: &[u8], limits: &Limits) -> Result<Table, ImportError> {
    let text = std::str::from_utf8(bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes)).map_err(
        |_| ImportError::NotFormat {
            expected: super::Format::Geojson,
            reason: "GeoJSON must be UTF-8 text".to_owned(),
        },
    )?;
    let value: Value = serde_json::from_str(text).map_err(|e| ImportError::NotFormat {
        expected: super::Format::Geojson,
        reason: format!("not valid JSON: {e}"),
    })?;
    let features =
        match value.get("type").and_then(Value::as_str) {
            Some("FeatureCollection") => value
                .get("features")
                .and_then(Value::as_array)
                .ok_or_else(|| ImportError::NotFormat {
                    expected: super::Format::Geojson,
                    reason: "a FeatureCollection needs a \"features\" array".to_owned(),
                })?,
            _ => {
                return Err(ImportError::NotFormat {
                    expected: super::Format::Geojson,
                    reason: "expected a GeoJSON FeatureCollection".to_owned(),
                });
            }
        };
    let mut headers: Vec<String> = Vec::new();
    let mut budget = Budget::new(limits);
    // First pass: the columns.
    let mut has_point = false;
    let mut has_other = false;
    for (i, f) in features.iter().enumerate() {
        if f.get("type").and_then(Value::as_str) != Some("Feature") {
            return Err(ImportError::Malformed {
                row: i + 1,
                reason: "every element of \"features\" must be a Feature".to_owned(),
            });
        }
        if let Some(props) = f.get("properties").and_then(Value::as_object) {
            for k in props.keys() {
                if !headers.iter().any(|h| h == k) {
                    headers.push(k.clone());
                }
            }
        }
        match f
            .get("geometry")
            .and_then(|g| g.get("type"))
            .and_then(Value::as_str)
        {
            Some("Point") => has_point = true,
            Some(_) => has_other = true,
            None => {}
        }
    }
    let n_props = headers.len();
    if has_point {
        headers.push("lon".to_owned());
        headers.push("lat".to_owned());
    }
    if has_other {
        headers.push("geometry".to_owned());
    }
    if headers.is_empty() {
        return Err(ImportError::Empty);
    }
    let mut rows = Vec::with_capacity(features.len());
    for (i, f) in features.iter().enumerate() {
        budget.take_row(headers.len())?;
        let mut cells = vec![String::new(); headers.len()];
        if let Some(props) = f.get("properties").and_then(Value::as_object) {
            for (k, v) in props {
                if let Some(j) = headers[..n_props].iter().position(|h| h == k) {
                    cells[j] = cell(v);
                }
            }
        }
        if let Some(g) = f.get("geometry").filter(|g| !g.is_null()) {
            if g.get("type").and_then(Value::as_str) == Some("Point") {
                let c = g.get("coordinates").and_then(Value::as_array);
                let x = c.and_then(|c| c.first()).and_then(Value::as_f64);
                let y = c.and_then(|c| c.get(1)).and_then(Value::as_f64);
                let (Some(x), Some(y)) = (x, y) else {
                    return Err(ImportError::Malformed {
                        row: i + 1,
                        reason: "a Point needs [lon, lat] coordinates".to_owned(),
                    });
                };
                cells[n_props] = x.to_string();
                cells[n_props + 1] = y.to_string();
            } else if let Some(j) = headers.iter().position(|h| h == "geometry") {
                cells[j] = g.to_string();
            }
        }
        rows.push(Row {
            number: i + 1,
            cells,
        });
    }
    Ok(Table { headers, rows })
}

fn cell(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::String(s) => s.trim().to_owned(),
        Value::Bool(b) => b.to_string(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn features_become_rows_with_points_as_lon_lat() {
        let text = r#"{"type":"FeatureCollection","features":[
            {"type":"Feature","properties":{"tag":"A1","n":3},"geometry":{"type":"Point","coordinates":[81.1,43.8]}},
            {"type":"Feature","properties":{"tag":"A2","extra":null},"geometry":null}]}"#;
        let t = read(text.as_bytes(), &Limits::default()).unwrap();
        // Properties in key order (serde_json sorts object keys).
        assert_eq!(t.headers, ["n", "tag", "extra", "lon", "lat"]);
        assert_eq!(t.rows[0].cells, ["3", "A1", "", "81.1", "43.8"]);
        assert_eq!(t.rows[1].number, 2);
        assert_eq!(t.rows[1].cells, ["", "A2", "", "", ""]);
    }

    #[test]
    fn not_a_feature_collection_is_refused() {
        let err = read(b"{\"type\":\"Point\"}", &Limits::default()).unwrap_err();
        assert!(err.to_string().contains("FeatureCollection"), "{err}");
        let err = read(b"\x00\x01garbage", &Limits::default()).unwrap_err();
        assert!(matches!(err, ImportError::NotFormat { .. }), "{err}");
    }
}
