use super::*;

fn hotspot_args(dir: &Path, input: &str) -> HotspotsArgs {
    let path = dir.join("places.csv");
    std::fs::write(&path, input).unwrap();
    HotspotsArgs {
        input: path,
        output: dir.join("cells.csv"),
        summary: Some(dir.join("summary.json")),
        resolution: 7,
        ring: 1,
        lon_column: "lon".into(),
        lat_column: "lat".into(),
        count_column: "cases".into(),
        population_column: "population".into(),
        variable: Variable::EbRate,
        permutations: 99,
        seed: 1,
        alpha: 0.05,
        correction: Correction::Fdr,
    }
}

/// Places on a small grid around Qapqal's seat, a few of them with many cases.
fn places_csv() -> String {
    let mut s = String::from("name,lon,lat,population,cases\n");
    for i in 0..12 {
        for j in 0..8 {
            let hot = i < 4 && j < 4;
            s.push_str(&format!(
                "p{i}_{j},{},{},{},{}\n",
                81.0 + 0.02 * f64::from(i),
                43.7 + 0.015 * f64::from(j),
                500 + 10 * i,
                if hot { 20 } else { (i + j) % 3 }
            ));
        }
    }
    s
}

/// The files left in `dir` besides the input.
fn outputs(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n != "places.csv")
        .collect();
    v.sort();
    v
}

#[test]
fn hotspots_writes_one_row_per_occupied_cell_with_the_documented_columns_and_a_summary() {
    let dir = tempfile::tempdir().unwrap();
    let mut args = hotspot_args(dir.path(), &places_csv());
    args.permutations = 999;
    hotspots(&args).unwrap();
    assert_eq!(outputs(dir.path()), ["cells.csv", "summary.json"]);
    let mut r = csv::Reader::from_path(&args.output).unwrap();
    assert_eq!(
        r.headers().unwrap().iter().collect::<Vec<_>>(),
        HOTSPOT_COLUMNS
    );
    let rows: Vec<csv::StringRecord> = r.records().map(Result::unwrap).collect();
    assert!(rows.len() > 5);
    let n_points: u32 = rows.iter().map(|r| r[1].parse::<u32>().unwrap()).sum();
    assert_eq!(n_points, 96);
    assert!(rows.iter().any(|r| &r[15] == "HH"));
    assert!(
        rows.iter()
            .all(|r| r[0].len() == 15 && r[0] == r[0].to_lowercase())
    );
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("summary.json")).unwrap())
            .unwrap();
    assert_eq!(summary["n"], rows.len());
    assert!(summary["moran"]["i"].as_f64().unwrap() > 0.0);
    for key in ["expected", "variance", "z", "p_sim"] {
        assert!(summary["moran"][key].is_number(), "{key}");
    }
    assert!(summary["eb_prior"]["m"].is_number());
    assert!(summary["significant"]["gi_star_bins"]["3"].is_number());
    assert!(summary["significant"]["lisa_hh"].as_u64().unwrap() > 0);
}

fn error_of(input: &str, change: impl FnOnce(&mut HotspotsArgs)) -> (String, Vec<String>) {
    let dir = tempfile::tempdir().unwrap();
    let mut args = hotspot_args(dir.path(), input);
    change(&mut args);
    let e = hotspots(&args).unwrap_err();
    (format!("{e:#}"), outputs(dir.path()))
}

#[test]
fn a_non_numeric_value_names_the_row_and_column_and_leaves_no_output() {
    let input = "lon,lat,population,cases\n81.0,43.7,100,1\n81.1,43.7,many,2\n";
    let (e, files) = error_of(input, |_| {});
    assert!(
        e.contains("row 2 (line 3), column \"population\": not a number: \"many\""),
        "{e}"
    );
    assert!(files.is_empty(), "{files:?}");
}

#[test]
fn a_negative_population_and_a_bad_coordinate_name_the_row_and_column() {
    let (e, files) = error_of(
        "lon,lat,pop,cases\n81.0,43.7,100,1\n81.1,43.7,-4,2\n",
        |a| a.population_column = "pop".into(),
    );
    assert!(
        e.contains("row 2 (line 3), column \"pop\": -4 is negative"),
        "{e}"
    );
    assert!(files.is_empty());
    let (e, _) = error_of("lon,lat,population,cases\n81.0,93.7,100,1\n", |_| {});
    assert!(e.contains("row 1 (line 2), column \"lat\""), "{e}");
}

#[test]
fn a_missing_column_an_empty_file_and_a_bad_resolution_are_clear_errors() {
    let (e, _) = error_of("lon,lat,population,count\n81.0,43.7,100,1\n", |_| {});
    assert!(e.contains("no column \"cases\""), "{e}");
    let (e, _) = error_of("", |_| {});
    assert!(e.contains("is empty"), "{e}");
    let (e, _) = error_of("lon,lat,population,cases\n", |_| {});
    assert!(e.contains("no data rows"), "{e}");
    let (e, files) = error_of(&places_csv(), |a| a.resolution = 16);
    assert!(e.contains("resolution 16 is outside 0–15"), "{e}");
    assert!(files.is_empty());
}

#[test]
fn an_existing_output_survives_a_failed_run() {
    let dir = tempfile::tempdir().unwrap();
    let args = hotspot_args(dir.path(), "lon,lat,population,cases\n81.0,43.7,x,1\n");
    std::fs::write(&args.output, "old\n").unwrap();
    assert!(hotspots(&args).is_err());
    assert_eq!(std::fs::read_to_string(&args.output).unwrap(), "old\n");
}

fn scan_args(dir: &Path, input: &str, model: Model) -> ScanArgs {
    let path = dir.join("places.csv");
    std::fs::write(&path, input).unwrap();
    ScanArgs {
        input: path,
        output: dir.join("clusters.csv"),
        id_column: "name".into(),
        lon_column: "lon".into(),
        lat_column: "lat".into(),
        count_column: "cases".into(),
        population_column: "population".into(),
        model,
        max_population_fraction: 0.5,
        max_radius_km: None,
        replications: 99,
        seed: 1,
        max_clusters: 5,
    }
}

#[test]
fn scan_writes_the_clusters_with_the_documented_columns() {
    let dir = tempfile::tempdir().unwrap();
    let args = scan_args(dir.path(), &places_csv(), Model::Poisson);
    scan_command(&args).unwrap();
    let mut r = csv::Reader::from_path(&args.output).unwrap();
    assert_eq!(
        r.headers().unwrap().iter().collect::<Vec<_>>(),
        SCAN_COLUMNS
    );
    let rows: Vec<csv::StringRecord> = r.records().map(Result::unwrap).collect();
    assert!(!rows.is_empty());
    assert_eq!(&rows[0][0], "1");
    let members: Vec<&str> = rows[0][4].split(';').collect();
    assert_eq!(members.len(), rows[0][3].parse::<usize>().unwrap());
    assert!(members.contains(&"p0_0") || members.contains(&"p1_1"));
    let p: f64 = rows[0][10].parse().unwrap();
    assert!(p <= 0.05);
}

#[test]
fn a_bernoulli_count_above_the_population_names_the_row_and_column() {
    let dir = tempfile::tempdir().unwrap();
    let args = scan_args(
        dir.path(),
        "name,lon,lat,population,cases\na,81.0,43.7,10,1\nb,81.1,43.7,10,12\n",
        Model::Bernoulli,
    );
    let e = format!("{:#}", scan_command(&args).unwrap_err());
    assert!(
        e.contains("row 2 (line 3), column \"cases\": 12 cases exceed the population of 10"),
        "{e}"
    );
    assert_eq!(outputs(dir.path()), Vec::<String>::new());
}
