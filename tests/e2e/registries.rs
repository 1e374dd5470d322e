//! Registry credentials: validated, sealed at rest, never returned, used for analysis.

use anyhow::Result;
use customs_tests::{Stack, basic_registry};
use reqwest::Method;
use serde_json::{Value, json};

use crate::images::{add, by_tag, registry_truth};

const USER: &str = "customs";
const PASS: &str = "customs-pass";

#[tokio::test]
async fn basic_auth_registries_work_with_sealed_credentials() -> Result<()> {
    let stack = Stack::start().await?;
    let reg = basic_registry();
    let body = |pass: &str| json!({ "registry": reg, "registry_user": USER, "registry_pass": pass, "registry_verify": false });

    // Wrong password: refused at validation, nothing stored.
    let resp = stack
        .request(Method::POST, "/v1/registries?validate=True")
        .json(&body("wrong"))
        .send()
        .await?;
    assert_eq!(resp.status(), 400);
    let v: Value = resp.json().await?;
    assert!(
        v["message"]
            .as_str()
            .unwrap_or_default()
            .contains("failed validation"),
        "{v}"
    );
    let listed: Value = stack
        .request(Method::GET, "/v1/registries")
        .send()
        .await?
        .json()
        .await?;
    assert_eq!(listed, json!([]));

    // Right password: stored, shown without the password.
    let resp = stack
        .request(Method::POST, "/v1/registries?validate=true")
        .json(&body(PASS))
        .send()
        .await?;
    assert_eq!(resp.status(), 200);
    let text = resp.text().await?;
    assert!(!text.contains(PASS), "password leaked: {text}");
    let v: Value = serde_json::from_str(&text)?;
    assert_eq!(v[0]["registry"], reg);
    assert_eq!(v[0]["registry_user"], USER);
    let again = stack
        .request(Method::POST, "/v1/registries?validate=false")
        .json(&body(PASS))
        .send()
        .await?;
    assert_eq!(again.status(), 400, "duplicate add");

    // Sealed at rest.
    let (db, conn) =
        tokio_postgres::connect(&stack.app.settings.database_url, tokio_postgres::NoTls).await?;
    tokio::spawn(conn);
    let sealed: Vec<u8> = db
        .query_one("SELECT password_sealed FROM registries", &[])
        .await?
        .get(0);
    assert!(!sealed.windows(PASS.len()).any(|w| w == PASS.as_bytes()));

    // The analysis uses them.
    let tag = format!("{reg}/customs/tiny:latest");
    add(&stack, json!({ "tag": tag })).await?;
    stack.drain().await?;
    let img = by_tag(&stack, &tag).await?;
    assert_eq!(img["analysis_status"], "analyzed", "{img}");
    assert_eq!(
        img["imageDigest"],
        registry_truth("customs/tiny", "latest").await?.0
    );

    // Updated to a wrong password (unvalidated): the next analysis says so.
    let encoded = reg.replace(':', "%3A");
    let resp = stack
        .request(
            Method::PUT,
            &format!("/v1/registries/{encoded}?validate=false"),
        )
        .json(&body("wrong"))
        .send()
        .await?;
    assert_eq!(resp.status(), 200);
    add(
        &stack,
        json!({ "tag": format!("{reg}/customs/debian-app:latest") }),
    )
    .await?;
    stack.drain().await?;
    let img = by_tag(&stack, &format!("{reg}/customs/debian-app:latest")).await?;
    assert_eq!(img["analysis_status"], "analysis_failed", "{img}");
    assert!(
        img["analysis_error"]
            .as_str()
            .unwrap_or_default()
            .contains("refused the credentials"),
        "{img}"
    );

    let resp = stack
        .request(Method::DELETE, &format!("/v1/registries/{encoded}"))
        .send()
        .await?;
    assert_eq!(resp.status(), 200);
    let resp = stack
        .request(Method::GET, &format!("/v1/registries/{encoded}"))
        .send()
        .await?;
    assert_eq!(resp.status(), 404);
    Ok(())
}

/// A registry with `auth: token` (Debian's docker-registry and the local stack's token
/// service): the bearer challenge is answered with the stored credentials, for the
/// analysis and for the watch function's HEAD check; a wrong password is refused with the
/// token service's own reason, at validation and at analysis.
#[tokio::test]
async fn token_auth_registries_work_with_stored_credentials() -> Result<()> {
    let stack = Stack::start().await?;
    let reg = customs_tests::token_registry();
    let body = |pass: &str| json!({ "registry": reg, "registry_user": USER, "registry_pass": pass, "registry_verify": false });

    let resp = stack.request(Method::POST, "/v1/registries?validate=true").json(&body("wrong")).send().await?;
    assert_eq!(resp.status(), 400);
    let v: Value = resp.json().await?;
    let msg = v["message"].as_str().unwrap_or_default();
    assert!(msg.contains("failed validation") && msg.contains("token service refused"), "{v}");

    let resp = stack.request(Method::POST, "/v1/registries?validate=true").json(&body(PASS)).send().await?;
    assert_eq!(resp.status(), 200, "{}", resp.text().await?);

    let tag = format!("{reg}/customs/tiny:latest");
    add(&stack, json!({ "tag": tag })).await?;
    stack.drain().await?;
    let img = by_tag(&stack, &tag).await?;
    assert_eq!(img["analysis_status"], "analyzed", "{img}");
    let (digest, layers) = registry_truth("customs/tiny", "latest").await?;
    assert_eq!(img["imageDigest"], digest, "pushed with preserved digests");
    assert_eq!(img["layers"].as_array().map(Vec::len), Some(layers));

    // The watch function's HEAD path answers the same challenge itself.
    let r = customs_model::ImageRef::parse(&tag)?;
    let creds = customs_image::Credentials { username: USER.into(), password: PASS.into() };
    let headed = stack.app.registry.head_digest(&r, Some(&creds), false).await?;
    assert_eq!(headed, digest);
    let wrong = customs_image::Credentials { username: USER.into(), password: "wrong".into() };
    let refused = stack.app.registry.head_digest(&r, Some(&wrong), false).await;
    assert!(matches!(refused, Err(customs_image::RegistryError::Unauthorized { .. })), "{refused:?}");
    let anonymous = stack.app.registry.head_digest(&r, None, false).await;
    assert!(matches!(anonymous, Err(customs_image::RegistryError::Unauthorized { anonymous: true, .. })), "{anonymous:?}");

    // A wrong stored password: the analysis fails with the token service's reason.
    let encoded = reg.replace(':', "%3A");
    let resp = stack.request(Method::PUT, &format!("/v1/registries/{encoded}?validate=false")).json(&body("wrong")).send().await?;
    assert_eq!(resp.status(), 200);
    let app = format!("{reg}/customs/debian-app:latest");
    add(&stack, json!({ "tag": app })).await?;
    stack.drain().await?;
    let img = by_tag(&stack, &app).await?;
    assert_eq!(img["analysis_status"], "analysis_failed", "{img}");
    let err = img["analysis_error"].as_str().unwrap_or_default();
    assert!(
        err.contains("refused the credentials") && err.contains("token service refused them") && err.contains("invalid username or password"),
        "{err}"
    );
    Ok(())
}
