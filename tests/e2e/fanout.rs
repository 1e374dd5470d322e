//! Layers are staged in parallel: one stage-layer message per unstaged layer, and the
//! last layer to finish assembles the image exactly once.

use anyhow::Result;
use customs_tests::{registry, Stack};
use serde_json::json;

use crate::images::{add, by_tag};

/// Not in CI: how long the analysis of debian-app takes from add to `analyzed`, staging
/// every layer afresh (each test stack has its own bucket). Run by hand with
/// `cargo test --workspace --test e2e -- --ignored --nocapture analysis_time_of_debian_app`.
#[tokio::test]
#[ignore = "measurement"]
async fn analysis_time_of_debian_app() -> Result<()> {
    for _ in 0..3 {
        let stack = Stack::start().await?;
        let tag = format!("{}/customs/debian-app:latest", registry());
        let t0 = std::time::Instant::now();
        add(&stack, json!({ "tag": tag })).await?;
        stack.drain().await?;
        let wall = t0.elapsed();
        let img = by_tag(&stack, &tag).await?;
        assert_eq!(img["analysis_status"], "analyzed", "{img}");
        let id = img["imageDigest"].as_str().unwrap_or_default().to_owned();
        let rec = stack.app.store.list_images("admin", &customs_store::ImageFilter { digest: Some(id), ..Default::default() }).await?;
        let r = &rec[0];
        let analysis = r.analyzed_at.map(|a| a - r.created_at);
        println!("debian-app: add → analyzed {analysis:?}, add → queues idle {wall:?}");
    }
    Ok(())
}
