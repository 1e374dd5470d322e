//! Migrations apply once, repeatably, and concurrently without colliding.

use anyhow::Result;
use customs_store::{MIGRATIONS, Store};
use customs_tests::empty_database;

async fn applied(store_url: &str) -> Result<i64> {
    let (c, conn) = tokio_postgres::connect(store_url, tokio_postgres::NoTls).await?;
    tokio::spawn(conn);
    Ok(c.query_one("SELECT count(*) FROM schema_migrations", &[])
        .await?
        .get(0))
}

#[tokio::test]
async fn migrations_apply_twice_without_error() -> Result<()> {
    let url = empty_database().await?;
    let store = Store::connect(&url, 2)?;
    assert_eq!(store.migrate().await?.len(), MIGRATIONS.len());
    assert!(store.migrate().await?.is_empty());
    assert_eq!(applied(&url).await?, MIGRATIONS.len() as i64);
    Ok(())
}

#[tokio::test]
async fn concurrent_migrators_take_turns() -> Result<()> {
    let url = empty_database().await?;
    let (a, b) = (Store::connect(&url, 1)?, Store::connect(&url, 1)?);
    let (ra, rb) = tokio::join!(a.migrate(), b.migrate());
    let (ra, rb) = (ra?, rb?);
    assert_eq!(
        ra.len() + rb.len(),
        MIGRATIONS.len(),
        "each migration applied exactly once: {ra:?} {rb:?}"
    );
    assert_eq!(applied(&url).await?, MIGRATIONS.len() as i64);
    Ok(())
}

/// An analysis of an image of digest `sha256:<d repeated>`, with `packages` and `files`.
fn analysis(d: char, packages: Vec<customs_model::package::Package>, files: customs_store::FileIndex) -> customs_store::AnalysisResult {
    customs_store::AnalysisResult {
        image_digest: format!("sha256:{}", d.to_string().repeat(64)),
        parent_digest: None,
        manifest_media_type: "application/vnd.oci.image.manifest.v1+json".into(),
        manifest: b"{}".to_vec(),
        config_digest: format!("sha256:{}", "8".repeat(64)),
        config: serde_json::json!({}),
        arch: Some("amd64".into()),
        os: Some("linux".into()),
        image_size: 1,
        layers: vec![],
        findings: serde_json::json!([]),
        file_count: 3000,
        distro: None,
        packages,
        catalog_unknowns: serde_json::json!([]),
        files,
    }
}

/// A file index recorded before V0210 (a json document) reads as it did, and recording an
/// analysis over it stores the compressed form, read back as the same JSON text; a json
/// document written over a compressed one (an analyze of before V0210, rolled back) wins
/// over the stale compressed one; damaged stored bytes are a clear error, not a panic.
#[tokio::test]
async fn file_indexes_recorded_before_and_after_v0210_read_back() -> Result<()> {
    let url = empty_database().await?;
    let store = Store::connect(&url, 2)?;
    store.migrate().await?;
    let (c, conn) = tokio_postgres::connect(&url, tokio_postgres::NoTls).await?;
    tokio::spawn(conn);
    let reference = customs_model::ImageRef::parse("registry.example/files/index:1")?;
    let added = store.add_image(customs_store::ADMIN_ACCOUNT, &reference, "linux/amd64", &serde_json::json!({}), false, None).await?;
    let id = added.image.id;
    let old_text = r#"[{"path":"etc/passwd","kind":"file","mode":420,"uid":0,"gid":0,"size":10,"layer":0}]"#;
    c.execute("INSERT INTO image_files (image_id, files) VALUES ($1, $2::text::json)", &[&id, &old_text]).await?;
    assert_eq!(store.image_files_text(id).await?.as_deref(), Some(old_text));

    let entries: Vec<serde_json::Value> =
        (0..3000).map(|i| serde_json::json!({ "path": format!("usr/share/file-{i}"), "kind": "file", "mode": 420, "size": i })).collect();
    store.begin_analysis(customs_store::ADMIN_ACCOUNT, id).await?;
    let result = analysis('7', vec![], customs_store::FileIndex::encode(&entries)?);
    store.complete_analysis(customs_store::ADMIN_ACCOUNT, id, &result).await?;
    let json_left: Option<String> = c.query_one("SELECT files::text FROM image_files WHERE image_id = $1", &[&id]).await?.get(0);
    assert_eq!(json_left, None, "recorded compressed only");
    assert_eq!(store.image_files_text(id).await?, Some(serde_json::to_string(&entries)?));

    // What an analyze of before V0210 writes over the row.
    c.execute("UPDATE image_files SET files = $2::text::json WHERE image_id = $1", &[&id, &old_text]).await?;
    assert_eq!(store.image_files_text(id).await?.as_deref(), Some(old_text));

    let whole = result.files.bytes();
    c.execute("UPDATE image_files SET files = NULL, files_lz4 = $2 WHERE image_id = $1", &[&id, &&whole[..whole.len() / 2]]).await?;
    let err = store.image_files_text(id).await.expect_err("damaged index");
    assert!(matches!(err, customs_store::StoreError::Corrupt(_)), "{err}");
    Ok(())
}

/// A large package (a dpkg package with its file list) is recorded compressed and a small
/// one as json, and both read back as recorded; a package recorded before V0230 (json)
/// reads as it did; damaged stored bytes are a clear error, not a panic.
#[tokio::test]
async fn packages_recorded_before_and_after_v0230_read_back() -> Result<()> {
    use customs_model::package::{Location, Package, PackageType};
    let url = empty_database().await?;
    let store = Store::connect(&url, 2)?;
    store.migrate().await?;
    let (c, conn) = tokio_postgres::connect(&url, tokio_postgres::NoTls).await?;
    tokio::spawn(conn);
    let reference = customs_model::ImageRef::parse("registry.example/packages/lz4:1")?;
    let added = store.add_image(customs_store::ADMIN_ACCOUNT, &reference, "linux/amd64", &serde_json::json!({}), false, None).await?;
    let id = added.image.id;
    let location = Location { path: "/var/lib/dpkg/status".into(), layer: 0 };
    let mut large = Package::new(PackageType::Dpkg, "coreutils", "9.1-1", "pkg:deb/debian/coreutils@9.1-1", location.clone());
    large.files = (0..400).map(|i| format!("/usr/share/doc/coreutils/file-{i}")).collect();
    large.file_digests = (0..400).map(|i| format!("md5:{i:032x}")).collect();
    let small = Package::new(PackageType::Npm, "left-pad", "1.3.0", "pkg:npm/left-pad@1.3.0", location);
    store.begin_analysis(customs_store::ADMIN_ACCOUNT, id).await?;
    let result = analysis('9', vec![large.clone(), small.clone()], customs_store::FileIndex::encode(&Vec::<String>::new())?);
    store.complete_analysis(customs_store::ADMIN_ACCOUNT, id, &result).await?;
    let stored: Vec<(Option<String>, bool)> = c
        .query("SELECT package::text, package_lz4 IS NOT NULL FROM image_packages WHERE image_id = $1 ORDER BY seq", &[&id])
        .await?
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    assert_eq!(stored.iter().map(|(j, z)| (j.is_some(), *z)).collect::<Vec<_>>(), [(false, true), (true, false)]);
    assert_eq!(store.image_packages(id).await?, [large.clone(), small.clone()]);

    // As an analyze of before V0230 recorded it.
    let text = serde_json::to_string(&large)?;
    c.execute("UPDATE image_packages SET package = $2::text::json, package_lz4 = NULL WHERE image_id = $1 AND seq = 0", &[&id, &text]).await?;
    assert_eq!(store.image_packages(id).await?, [large, small]);

    c.execute("UPDATE image_packages SET package = NULL, package_lz4 = '\\x04224d18'::bytea WHERE image_id = $1 AND seq = 0", &[&id]).await?;
    let err = store.image_packages(id).await.expect_err("damaged package");
    assert!(matches!(err, customs_store::StoreError::Corrupt(_)), "{err}");
    c.execute("UPDATE image_packages SET package = NULL, package_lz4 = NULL WHERE image_id = $1 AND seq = 0", &[&id]).await?;
    let err = store.image_packages(id).await.expect_err("no document");
    assert!(matches!(err, customs_store::StoreError::Corrupt(_)), "{err}");
    Ok(())
}
