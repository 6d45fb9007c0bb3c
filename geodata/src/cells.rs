//! H3 cells of places: parents at coarser resolutions and cell outlines as WGS84 polygons, for
//! the cell-aggregated map layers.

use geo::{LineString, Polygon};
use h3o::{CellIndex, Resolution};

/// The parent of `cell` at `resolution` (coarser or equal), or `None` for an invalid cell or a
/// finer resolution.
pub fn parent(cell: u64, resolution: u8) -> Option<u64> {
    let cell = CellIndex::try_from(cell).ok()?;
    let res = Resolution::try_from(resolution).ok()?;
    cell.parent(res).map(u64::from)
}

/// The outline of `cell` as a closed polygon of (lon, lat).
pub fn outline(cell: u64) -> Option<Polygon<f64>> {
    let cell = CellIndex::try_from(cell).ok()?;
    let mut ring: Vec<(f64, f64)> = cell
        .boundary()
        .iter()
        .map(|ll| (ll.lng(), ll.lat()))
        .collect();
    let first = *ring.first()?;
    ring.push(first);
    Some(Polygon::new(LineString::from(ring), vec![]))
}

/// The resolution of `cell`.
pub fn resolution(cell: u64) -> Option<u8> {
    CellIndex::try_from(cell)
        .ok()
        .map(|c| u8::from(c.resolution()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use geo::{Contains, Point};

    #[test]
    fn a_cell_outline_contains_its_point_and_its_parent_is_coarser() {
        let p = Point::new(81.1513, 43.8407);
        let [r7, _, r9] = crate::h3_cells(p).unwrap();
        let r6 = parent(r7, 6).unwrap();
        assert_eq!(resolution(r6), Some(6));
        assert_eq!(parent(r9, 7), Some(r7));
        assert!(outline(r6).unwrap().contains(&p));
        assert!(outline(r7).unwrap().contains(&p));
        assert_eq!(parent(r6, 7), None);
    }
}
